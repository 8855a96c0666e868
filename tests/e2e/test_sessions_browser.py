"""The Sessions page in headless Chromium, on a log written by the real daemon: a labelled file session
with markers from a CSV, and a live MJPEG stream session with a marker made over HTTP while it ran."""

from __future__ import annotations

import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest

pytest.importorskip("selenium", reason="selenium not installed (pip install -r requirements-test.txt)")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from e2e_support import ROOT, Server, screenshot  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "capture"))
sys.path.insert(0, str(ROOT / "bench"))
from capture_helpers import count_rows, happy_then_neutral_frames, wait_for, write_video  # noqa: E402
from mjpeg_server import MjpegServer, encode_frames  # noqa: E402

WAIT = 40


def until(driver, condition, timeout: float = WAIT):
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d))


@pytest.fixture(scope="module")
def research_log(fer2013, recognizer, tmp_path_factory):
    from capture.daemon import CaptureOptions, run
    from capture.log import add_markers, open_log
    from capture.markers import read_marker_csv

    folder = tmp_path_factory.mktemp("research")
    frames = happy_then_neutral_frames(fer2013, recognizer)
    video = write_video(folder / "p07.avi", frames)
    db = folder / "moodlog.db"
    run(CaptureOptions(str(video), db=db, quiet=True, label=[("participant", "P07"), ("condition", "A")]),
        recognizer=recognizer)
    (folder / "events.csv").write_text("time,label\n0:02,task one\n4.5,laugh\n")
    add_markers(open_log(db), 1, read_marker_csv(folder / "events.csv"), source="csv")

    camera = MjpegServer(encode_frames(frames[:30]), fps=15).start()
    stop = threading.Event()
    options = CaptureOptions(camera.url, db=db, quiet=True, markers_port=0, label=[("participant", "P08")])
    thread = threading.Thread(target=run, args=(options,), kwargs={"recognizer": recognizer, "stop": stop})
    thread.start()
    try:
        assert wait_for(lambda: count_rows(db) > 200, 60)
        port = _marker_port()
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/marker",
                                                      data=b"label=stimulus+shown"), timeout=10)
        time.sleep(1.5)
    finally:
        stop.set()
        thread.join(30)
        camera.stop()
    return db


def _marker_port() -> int:
    import gc
    from http.server import ThreadingHTTPServer

    return [o for o in gc.get_objects() if isinstance(o, ThreadingHTTPServer)][-1].server_address[1]


@pytest.fixture(scope="module")
def sessions_server(research_log, tmp_path_factory):
    server = Server(research_log, tmp_path_factory.mktemp("server") / "dashboard.log")
    yield server
    server.stop()


def table_rows(driver, table_id: str) -> list[list[str]]:
    return driver.execute_script(
        f"return Array.from(document.querySelectorAll('#{table_id} tbody tr')).map("
        "r => Array.from(r.cells).map(c => c.textContent))")


def graph(driver, graph_id: str):
    return driver.execute_script(
        f"const g = document.querySelector('#{graph_id} .js-plotly-plot');"
        "if (!g || !g.data || !g.data.length) return null;"
        "return {names: g.data.map(t => t.name), "
        "notes: (g.layout.annotations || []).map(a => a.text), shapes: (g.layout.shapes || []).length};")


def test_sessions_page_summarises_filters_and_draws_markers(browser, sessions_server):
    browser.get(sessions_server.url + "/sessions")
    rows = until(browser, lambda d: len(table_rows(d, "sessions-table")) == 2 and table_rows(d, "sessions-table"))
    labels = {row[1] for row in rows}
    assert labels == {"participant=P08", "condition=A, participant=P07"}
    headers = browser.execute_script("return Array.from(document.querySelectorAll('#sessions-table th'))"
                                     ".map(h => h.textContent)")
    assert headers[-1] == "Markers"
    assert {row[1]: row[-1] for row in rows} == {"participant=P08": "1", "condition=A, participant=P07": "2"}
    assert "valence = mean P(happy)" in browser.find_element(By.ID, "sessions-valence-definition").text

    # The newest session (the live one) is drawn first: its HTTP marker is on the timeline.
    drawn = until(browser, lambda d: graph(d, "sessions-intensity"))
    assert {"happy", "neutral", "valence"} <= set(drawn["names"]) and "stimulus shown" in drawn["notes"]
    overlay = until(browser, lambda d: graph(d, "sessions-overlay"))
    assert len(overlay["names"]) == 2

    # Filter by label: only P07, its CSV markers drawn and its segments listed.
    box = browser.find_element(By.ID, "sessions-labels")
    box.send_keys("participant=P07" + Keys.ENTER)
    until(browser, lambda d: len(table_rows(d, "sessions-table")) == 1)
    drawn = until(browser, lambda d: (g := graph(d, "sessions-intensity")) and "task one" in g["notes"] and g)
    assert "laugh" in drawn["notes"]
    segments = until(browser, lambda d: table_rows(d, "sessions-segments-table"))
    assert [s[2] for s in segments] == ["start", "task one", "laugh"]
    assert [s[0] for s in segments] == ["0:00", "0:02", "0:04.5"] and segments[-1][1] == "end"
    screenshot(browser, "sessions-laptop")
    segments_href = browser.find_element(By.ID, "sessions-segments-export").get_attribute("href")
    exported_segments = urllib.parse.unquote(segments_href.split(",", 1)[1]).splitlines()
    header = exported_segments[0].split(",")
    assert [line.split(",")[header.index("marker")] for line in exported_segments[1:]] == ["start", "task one", "laugh"]

    href = browser.find_element(By.ID, "sessions-export").get_attribute("href")
    exported = urllib.parse.unquote(href.split(",", 1)[1]).splitlines()
    header = exported[0].split(",")
    assert "label_participant" in header and "label_condition" in header and "mean_happy" in header
    assert len(exported) == 2 and exported[1].split(",")[header.index("label_participant")] == "P07"


def test_a_bad_label_filter_says_how_to_write_it(browser, sessions_server):
    browser.get(sessions_server.url + "/sessions")
    until(browser, lambda d: table_rows(d, "sessions-table"))
    browser.find_element(By.ID, "sessions-labels").send_keys("participant" + Keys.ENTER)
    until(browser, lambda d: "NAME=VALUE" in d.find_element(By.ID, "sessions-message").text)
