"""Logs of more than one label set (issue 16) in headless Chromium against the real server: the History
page's Label set menu, and the Sessions page's tables and overlay, with a session of a taught model
beside a seven-emotion one (logs written by capture.log's writer, tests/dashboard/logdata.py)."""

from __future__ import annotations

import time
import urllib.request

import pytest

pytest.importorskip("selenium", reason="selenium not installed (pip install -r requirements-test.txt)")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from capture.log import open_log  # noqa: E402
from dashboard.live import label_set_key  # noqa: E402
from e2e_support import Server, screenshot  # noqa: E402
from logdata import TAUGHT, known_log, mixed_log, write_taught_session  # noqa: E402
from test_dashboard_browser import distribution, pick_from_dropdown, texts, timeline_traces, wait_for  # noqa: E402
from test_sessions_browser import graph, table_rows  # noqa: E402


@pytest.fixture(scope="module")
def mixed_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mixed")
    path, emotion_id, taught_id = mixed_log(folder / "moodlog.db")
    server = Server(path, folder / "dashboard.log")
    yield server, emotion_id, taught_id
    server.stop()


def label_set_menu_shown(driver) -> bool:
    return driver.execute_script("const box = document.getElementById('history-label-set-box');"
                                 "return !!box && !box.hidden && box.offsetParent !== null;")


def test_history_charts_one_label_set_at_a_time(browser, mixed_server):
    server, _, taught_id = mixed_server
    browser.get(server.url + "/")
    shown = wait_for(browser, lambda d: distribution(d))
    assert label_set_menu_shown(browser)
    assert (shown["happy"], shown["neutral"], sum(shown.values())) == (10, 5, 15) and "teeth" not in shown

    Select(browser.find_element(By.ID, "history-label-set")).select_by_value(label_set_key(TAUGHT))
    wait_for(browser, lambda d: distribution(d) == {"teeth": 12, "closed smile": 6, "neutral": 2})
    assert timeline_traces(browser) == list(TAUGHT)
    assert texts(browser, "#history-emotions label") == list(TAUGHT)
    rows = wait_for(browser, lambda d: (found := texts(d, "#history-sessions tbody tr")) and
                    len(found) == 1 and f"#{taught_id}" in found[0] and found)
    assert "teeth" in rows[0] and "20" in rows[0]
    screenshot(browser, "history-taught-labels")

    export = browser.find_element(By.ID, "history-export").get_attribute("href")
    with urllib.request.urlopen(export, timeout=30) as response:
        lines = response.read().decode().splitlines()
    header = lines[0].split(",")
    assert {"teeth", "closed smile", "neutral"} <= set(header) and "angry" not in header and len(lines) == 1 + 20

    browser.find_element(By.XPATH, "//label[.//span[text()='closed smile']]").click()
    wait_for(browser, lambda d: "closed smile" not in (distribution(d) or {"closed smile": 0}))
    assert timeline_traces(browser) == ["teeth", "neutral"]
    export = browser.find_element(By.ID, "history-export").get_attribute("href")
    with urllib.request.urlopen(export, timeout=30) as response:
        assert len(response.read().decode().splitlines()) == 1 + 14


def test_a_session_of_a_new_label_set_shows_the_menu_and_is_not_summed(browser, tmp_path):
    """A seven-emotion log has no Label set menu; a taught model's session beginning while the page is
    open brings the menu and its faces stay out of the emotions' charts."""
    path, _ = known_log(tmp_path / "moodlog.db")
    server = Server(path, tmp_path / "dashboard.log")
    try:
        browser.get(server.url + "/")
        before = wait_for(browser, lambda d: distribution(d))
        assert not label_set_menu_shown(browser)
        db = open_log(path)
        now = time.time()
        write_taught_session(db, "clip.mp4", [(now + i * 0.1, "neutral") for i in range(8)], started_at=now)
        db.close()
        wait_for(browser, label_set_menu_shown)
        time.sleep(3)  # a tick or two more: the taught rows must still be left out
        assert distribution(browser) == before
        Select(browser.find_element(By.ID, "history-label-set")).select_by_value(label_set_key(TAUGHT))
        wait_for(browser, lambda d: distribution(d) == {"teeth": 0, "closed smile": 0, "neutral": 8})
    finally:
        server.stop()


def choose_session(driver, label_start: str) -> None:
    pick_from_dropdown(driver, "sessions-one", f"//*[starts-with(normalize-space(.), '{label_start}')]")


def test_sessions_page_keeps_each_label_set_apart(browser, mixed_server):
    server, emotion_id, taught_id = mixed_server
    browser.get(server.url + "/sessions")
    emotion_rows = wait_for(browser, lambda d: table_rows(d, "sessions-table"))
    taught_rows = table_rows(browser, "sessions-table-2")
    assert [r[0] for r in emotion_rows] == [f"#{emotion_id}"] and [r[0] for r in taught_rows] == [f"#{taught_id}"]
    assert texts(browser, ".sessions-label-set") == ["The seven emotions", "Labels: teeth, closed smile, neutral"]
    headers = browser.execute_script("return Array.from(document.querySelectorAll('#sessions-table-2 th'))"
                                     ".map(h => h.textContent)")
    assert headers[6:9] == list(TAUGHT) and "happy" not in headers
    assert taught_rows[0][6] == "0.52 · 60%" and taught_rows[0][-3] == "—"      # no valence

    # The newest session, the taught one, is drawn first: its labels, no valence; the overlay holds it alone.
    drawn = wait_for(browser, lambda d: (g := graph(d, "sessions-intensity")) and "teeth" in g["names"] and g)
    assert drawn["names"][:3] == list(TAUGHT) and "valence" not in drawn["names"]
    overlay = wait_for(browser, lambda d: graph(d, "sessions-overlay"))
    assert len(overlay["names"]) == 1
    assert "1 listed session of other label sets is not" in texts(browser, "#sessions-overlay-mixed")[0]
    measures = [o.get_attribute("value") for o in Select(browser.find_element(By.ID, "sessions-measure")).options]
    assert [value for value in measures if value] == list(TAUGHT)
    screenshot(browser, "sessions-taught-labels")

    choose_session(browser, f"#{emotion_id}")
    wait_for(browser, lambda d: (g := graph(d, "sessions-intensity")) and "valence" in g["names"])
    wait_for(browser, lambda d: Select(d.find_element(By.ID, "sessions-measure")).first_selected_option
             .get_attribute("value") == "valence")
    wait_for(browser, lambda d: "seven emotions" in (texts(d, "#sessions-overlay-mixed") or [""])[0])
