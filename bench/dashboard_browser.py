"""Time from opening the history page to its charts being drawn, in headless Chromium (target: 2 s).

Starts the real server (`app.py dashboard`) on the big log and a headless Debian Chromium
(launcher shared with tests/e2e/e2e_support.py), opens the page `--visits` times and reads,
in the page, `performance.now()` (ms since navigation start) at the moment both the timeline
and the distribution hold Plotly data. The first visit has a cold browser cache and a server
that has not yet counted any session.

    nice -n 15 .venv/bin/python bench/dashboard_browser.py --db bench/out/big.db
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT))

from e2e_support import CHROMEDRIVER, CHROMIUM, FLAGS, Server  # noqa: E402

CHARTS_DRAWN = """
const drawn = id => { const g = document.querySelector('#' + id + ' .js-plotly-plot');
                      return g && g.data && g.data.length > 0; };
return drawn('history-timeline') && drawn('history-distribution') ? performance.now() : null;
"""


def time_to_charts(driver, url: str, timeout: float = 60) -> float:
    driver.get(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at = driver.execute_script(CHARTS_DRAWN)
        if at is not None:
            return at
        time.sleep(0.02)
    raise TimeoutError("charts not drawn")


def main(argv=None) -> int:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="bench/out/big.db")
    parser.add_argument("--visits", type=int, default=6)
    parser.add_argument("--settle", type=float, default=0,
                        help="seconds to wait after the server answers before the first visit (default 0)")
    args = parser.parse_args(argv)
    server = Server(Path(args.db).resolve(), Path(tempfile.gettempdir()) / "moodlog-bench-dashboard.log")
    profile = tempfile.mkdtemp(prefix="moodlog-bench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + (f"--user-data-dir={profile}", "--window-size=1366,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    time.sleep(args.settle)
    try:
        times = [time_to_charts(driver, server.url + "/") for _ in range(args.visits)]
    finally:
        driver.quit()
        server.stop()
        shutil.rmtree(profile, ignore_errors=True)
    print(f"{args.db}: time to charts, ms since navigation start: first visit {times[0]:.0f}, "
          f"later visits median {statistics.median(times[1:]):.0f} (all: {', '.join(f'{t:.0f}' for t in times)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
