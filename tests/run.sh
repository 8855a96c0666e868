#!/usr/bin/env bash
# Set up and run every test on a fresh Debian machine: Chromium for the browser tests, a virtual
# environment from requirements-test.txt (run time, training and test tools), then pytest. Extra arguments go to pytest.
# pytest's own exit code is returned, so a run that collects no test (exit 5) fails.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! { command -v chromium && command -v chromedriver; } >/dev/null 2>&1; then
    echo "installing Debian's chromium and chromium-driver for the browser tests" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-test.txt

exec .venv/bin/python -m pytest -ra "${@:-tests}"
