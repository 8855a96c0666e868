"""The dst-fallback case in headless Chromium: the real server in New York time, the repeated hour drawn as its own."""

from __future__ import annotations

import csv
import io
import re
import time
import urllib.request

import pytest

pytest.importorskip("selenium", reason="selenium not installed (pip install -r requirements-test.txt)")

from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from e2e_support import Server, screenshot  # noqa: E402
from logdata import dst_log  # noqa: E402

WAIT = 30
TIMELINE = "const g = document.querySelector('#history-timeline .js-plotly-plot');"


def wait_for(driver, condition, timeout: float = WAIT):
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d))


def drawn(driver) -> dict | None:
    """Per emotion: x values, faces per point and their pixel positions, as Plotly holds them."""
    return driver.execute_script(
        TIMELINE + "if (!g || !g.data || !g._fullLayout || !g._fullLayout.xaxis) return null;"
        "const xa = g._fullLayout.xaxis, out = {};"
        "for (const t of g.data) if (t.meta !== 'local-time') out[t.name] = "
        "{x: Array.from(t.x), faces: Array.from(t.customdata), px: Array.from(t.x).map(v => xa.d2p(v))};"
        "return Object.keys(out).length ? out : null;")


def tick_labels(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#history-timeline .xtick text')).map(e => e.textContent)")


@pytest.fixture
def new_york_server(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")  # the server's zone; the browser's own does not matter
    server = Server(dst_log(tmp_path / "dst.db"), tmp_path / "dashboard.log")
    yield server
    server.stop()


def test_dst_fallback_draws_the_repeated_hour_as_its_own(browser, new_york_server):
    browser.get(new_york_server.url + "/")
    traces = wait_for(browser, drawn)
    happy, sad = traces["happy"], traces["sad"]
    assert sum(happy["faces"]) == 180 and sum(sad["faces"]) == 180
    assert all(a < b for a, b in zip(happy["x"], happy["x"][1:])), "no x value drawn twice or back in time"
    assert all(a < b for a, b in zip(happy["px"], happy["px"][1:]))
    happy_px = [px for px, faces in zip(happy["px"], happy["faces"]) if faces]
    sad_px = [px for px, faces in zip(sad["px"], sad["faces"]) if faces]
    width = happy["px"][-1] - happy["px"][0]
    assert max(happy_px) < min(sad_px), "the EDT hour (happy) is left of the EST hour (sad), not under it"
    assert min(sad_px) - min(happy_px) > width / 12, "each of the two 01:00 hours takes a ninth of the night"
    labels = wait_for(browser, tick_labels)
    assert any("EDT" in label for label in labels) and any("EST" in label for label in labels), labels
    screenshot(browser, "history-dst-fallback")

    # Zoomed in, the server relabels the ticks for the shown stretch. Wait for the relayout that
    # the screenshot's window resizing sets off first: a newer relayout supersedes a pending one.
    time.sleep(1.5)
    browser.execute_script(TIMELINE + "Plotly.relayout(g, {'xaxis.range': "
                                      "['2025-11-02 04:40:00', '2025-11-02 06:20:00']});")
    zoomed = wait_for(browser, lambda d: "01:00 EST" in tick_labels(d) and tick_labels(d))
    assert zoomed == ["01:00 EDTNov 02, 2025", "01:30 EDT", "01:00 EST"], zoomed
    screenshot(browser, "history-dst-fallback-zoomed")

    export = browser.find_element("id", "history-export").get_attribute("href")
    with urllib.request.urlopen(export, timeout=30) as response:
        rows = list(csv.DictReader(io.StringIO(response.read().decode())))
    assert len(rows) == 1620 and len({row["local_time"] for row in rows}) == 1620
    assert all(re.search(r"[+-]0[45]:00$", row["local_time"]) for row in rows)
