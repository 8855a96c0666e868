"""Real browser, real server: headless Debian Chromium driven by Selenium against `app.py dashboard`.

Set-up: `apt-get install -y chromium chromium-driver` and `pip install -r requirements-test.txt`
(selenium). Tests skip with a reason when either is missing. Screenshots go to
tests/artifacts/ (git-ignored), one per page and width.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from e2e_support import ARTIFACTS, CHROMEDRIVER, CHROMIUM, FLAGS, LAPTOP, ROOT, Server

sys.path.insert(0, str(ROOT / "tests" / "dashboard"))  # logdata: logs written by the real writer


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run, with a fresh profile."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install -r requirements-test.txt)")
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Chromium not installed: apt-get install -y chromium chromium-driver")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="moodlog-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + (f"--user-data-dir={profile}", f"--window-size={LAPTOP[0]},{LAPTOP[1]}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def log_db(tmp_path_factory):
    """The known two-session log (tests/dashboard/logdata.py), written by capture.log's writer."""
    from logdata import known_log

    path, rows = known_log(tmp_path_factory.mktemp("e2e") / "moodlog.db")
    return path, rows


@pytest.fixture(scope="session")
def server(log_db, tmp_path_factory):
    running = Server(log_db[0], tmp_path_factory.mktemp("server") / "dashboard.log")
    yield running
    running.stop()
