"""The dashboard in headless Chromium against the real server and a log written by the real writer."""

from __future__ import annotations

import json
import os
import time
import urllib.request

import pytest

pytest.importorskip("selenium", reason="selenium not installed (pip install -r requirements-test.txt)")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.expected_conditions import staleness_of  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from capture.log import open_log  # noqa: E402
from e2e_support import LAPTOP, PHONE, Server, screenshot  # noqa: E402
from logdata import write_session  # noqa: E402

WAIT = 30


def distribution(driver) -> dict[str, float] | None:
    """Faces per emotion as drawn in the distribution chart (read from Plotly's own data)."""
    data = driver.execute_script(
        "const g = document.querySelector('#history-distribution .js-plotly-plot');"
        "if (!g || !g.data || !g.data.length) return null;"
        "return {y: Array.from(g.data[0].y), x: Array.from(g.data[0].x)};")
    return None if data is None else dict(zip(data["y"], data["x"]))


def timeline_traces(driver) -> list[str]:
    """The emotions drawn in the timeline (not its invisible first trace, which holds the hover's local time)."""
    return driver.execute_script(
        "const g = document.querySelector('#history-timeline .js-plotly-plot');"
        "return g && g.data ? g.data.filter(t => t.meta !== 'local-time').map(t => t.name) : [];")


def texts(driver, css: str) -> list[str]:
    """Inner text of every element matching `css`, read in one go (the page may redraw between reads)."""
    return driver.execute_script("return Array.from(document.querySelectorAll(arguments[0])).map(e => e.innerText)", css)


def wait_for(driver, condition, timeout: float = WAIT):
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d))


def pick_from_dropdown(driver, dropdown_id: str, option_xpath: str) -> None:
    """Open a Dash dropdown, click the option `option_xpath` finds inside its open menu (e.g.
    "//label[.//span[text()='cam']]"), and close the menu."""
    driver.find_element(By.ID, dropdown_id).click()
    wait_for(driver, lambda d: d.find_element(
        By.XPATH, "//div[contains(@class, 'dash-dropdown-content')]" + option_xpath)).click()
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)


def open_history(driver, server) -> dict[str, float]:
    driver.get(server.url + "/")
    return wait_for(driver, lambda d: distribution(d))


def test_history_renders_charts_from_the_log(browser, server, log_db):
    shown = open_history(browser, server)
    assert sum(shown.values()) == 420
    assert (shown["happy"], shown["sad"], shown["angry"]) == (200, 100, 120)
    assert len(timeline_traces(browser)) == 7
    rows = wait_for(browser, lambda d: texts(d, "#history-sessions tbody tr"))
    assert len(rows) == 2 and "angry" in rows[0] and "happy" in rows[1]
    export = browser.find_element(By.ID, "history-export").get_attribute("href")
    with urllib.request.urlopen(export, timeout=30) as response:
        lines = response.read().decode().splitlines()
    assert lines[0].startswith("local_time,id,session_id,ts,") and len(lines) == 1 + 420
    screenshot(browser, "history-laptop")
    screenshot(browser, "history-phone", PHONE)


def test_filters_change_what_is_shown(browser, server):
    open_history(browser, server)
    browser.find_element(By.XPATH, "//label[.//span[text()='angry']]").click()
    wait_for(browser, lambda d: sum(distribution(d).values()) == 300)
    assert "angry" not in distribution(browser)
    assert "angry" not in timeline_traces(browser)

    browser.find_element(By.XPATH, "//label[.//span[text()='angry']]").click()
    pick_from_dropdown(browser, "history-devices", "//label[.//span[text()='cam']]")
    wait_for(browser, lambda d: (distribution(d) or {}).get("happy") == 0 and sum(distribution(d).values()) == 120)
    wait_for(browser, lambda d: len(texts(d, "#history-sessions tbody tr")) == 1)
    screenshot(browser, "history-filtered")

    Select(browser.find_element(By.ID, "history-range")).select_by_value("1h")
    message = wait_for(browser, lambda d: texts(d, "#history-none"))[0]
    assert "No faces in this range" in message


def test_live_refresh_shows_rows_added_after_opening(browser, server, log_db):
    before = open_history(browser, server)
    assert "fear" in before
    db = open_log(log_db[0])
    now = time.time()
    write_session(db, "live-camera", [(now + i * 0.1, "fear") for i in range(12)], close=False)
    db.close()
    wait_for(browser, lambda d: (distribution(d) or {}).get("fear") == before["fear"] + 12)
    assert "live" in texts(browser, "#history-status")[0]
    screenshot(browser, "history-live")


def test_session_filter_lists_sessions_begun_after_opening(browser, tmp_path):
    """The Session and Device menus gain a session that begins while the page is open (the live tick),
    and choosing it shows its faces alone."""
    from logdata import known_log

    path, _ = known_log(tmp_path / "moodlog.db")
    server = Server(path, tmp_path / "dashboard.log")
    try:
        open_history(browser, server)
        db = open_log(path)
        late = write_session(db, "late-cam", [(time.time() + i * 0.1, "surprise") for i in range(9)], close=False)
        db.close()
        pick_from_dropdown(browser, "history-sessions-filter",
                           f"//label[.//span[starts-with(text(), '#{late} · late-cam')]]")
        wait_for(browser, lambda d: sum((distribution(d) or {}).values()) == 9 and distribution(d)["surprise"] == 9)
        browser.find_element(By.ID, "history-devices").click()
        assert wait_for(browser, lambda d: "late-cam" in texts(d, ".dash-dropdown-content label"))
    finally:
        server.stop()


def upload(driver, server, path) -> None:
    driver.get(server.url + "/recognize")
    field = wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#recognize-upload input[type=file]"))
    field.send_keys(str(path))


def test_recognize_boxes_a_real_face_with_probabilities(browser, server, face_photos):
    photo = sorted((face_photos / "cfd" / "happy").glob("*.jpg"))[0]
    upload(browser, server, photo)
    cards = wait_for(browser, lambda d: texts(d, "#recognize-faces .face-card"), timeout=90)
    assert browser.find_element(By.ID, "recognize-image").get_attribute("src").startswith("data:image/jpeg")
    assert "found" in texts(browser, "#recognize-summary")[0]
    assert "Face 1:" in cards[0], cards
    bars = wait_for(browser, lambda d: d.execute_script(   # the chart draws just after the card appears
        "const g = document.querySelector('#recognize-faces .js-plotly-plot');"
        "return g && g.data ? Array.from(g.data[0].x) : null;"))
    assert len(bars) == 7 and abs(sum(bars) - 1) < 0.01
    screenshot(browser, "recognize-laptop")
    screenshot(browser, "recognize-phone", PHONE)


def test_recognize_reads_a_face_crop_whole_when_asked(browser, server, fer2013):
    """A FER2013 face (48x48, nothing around the face): with the option ticked it is read as one face."""
    face = sorted((fer2013 / "test" / "happy").glob("*.jpg"))[0]
    browser.get(server.url + "/recognize")
    field = wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#recognize-face-upload input[type=file]"))
    field.send_keys(str(face))
    cards = wait_for(browser, lambda d: texts(d, "#recognize-faces .face-card"), timeout=90)
    assert len(cards) == 1 and "Face 1: happy" in cards[0], cards
    assert "1 face found (48×48" in texts(browser, "#recognize-summary")[0]


def test_recognize_summarises_small_faces_and_offers_a_smaller_face_size(browser, server, face_photos, fer2013):
    """A group photo whose 44 faces are under 32 px: one line instead of 44 "too small" cards; 16 px
    reads them all. A new size reads the latest upload again, the face crop when that came last."""
    upload(browser, server, face_photos / "group_photos" / "linzaer_imgs_1.jpg")
    note = wait_for(browser, lambda d: texts(d, "#recognize-too-small"), timeout=90)[0]
    assert note == "44 faces were too small to read (under 32 px); choose a smaller face size to try them."
    assert not texts(browser, "#recognize-faces .face-card")
    assert "44 faces found, 0 readable" in texts(browser, "#recognize-summary")[0]
    Select(browser.find_element(By.ID, "recognize-min-face")).select_by_value("16")
    cards = wait_for(browser, lambda d: len(texts(d, "#recognize-faces .face-card")) == 44 and
                     texts(d, "#recognize-faces .face-card"), timeout=90)
    assert all("not classified" not in card for card in cards) and not texts(browser, "#recognize-too-small")
    screenshot(browser, "recognize-group-16px")
    face = sorted((fer2013 / "test" / "happy").glob("*.jpg"))[0]
    browser.find_element(By.CSS_SELECTOR, "#recognize-face-upload input[type=file]").send_keys(str(face))
    wait_for(browser, lambda d: "1 face found (48×48" in (texts(d, "#recognize-summary") or [""])[0], timeout=90)
    shown = browser.find_element(By.ID, "recognize-summary")
    Select(browser.find_element(By.ID, "recognize-min-face")).select_by_value("24")
    wait_for(browser, staleness_of(shown), timeout=90)   # read again: redrawn, and not the group photo
    assert "1 face found (48×48" in wait_for(browser, lambda d: texts(d, "#recognize-summary"))[0]


def test_recognize_refuses_a_text_file_and_keeps_serving(browser, server, tmp_path):
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is a text file wearing a .jpg name\n" * 50)
    upload(browser, server, fake)
    error = wait_for(browser, lambda d: texts(d, "#recognize-error"), timeout=90)[0]
    assert "not an image" in error
    screenshot(browser, "recognize-error")
    blank = tmp_path / "blank.png"
    blank.write_bytes(_blank_png())
    upload(browser, server, blank)
    summary = wait_for(browser, lambda d: texts(d, "#recognize-summary"), timeout=90)[0]
    assert "No face found" in summary


def test_model_page_shows_report_or_says_it_is_missing(browser, server):
    browser.get(server.url + "/model")
    found = wait_for(browser, lambda d: d.find_elements(By.ID, "model-report") or
                     d.find_elements(By.ID, "model-no-report"))
    assert found[0].text.strip()
    # The content hash every session records, so sessions can be traced to this model.
    from model.classifier import DEFAULT_MODEL
    from model.provenance import model_identity

    identity = model_identity(DEFAULT_MODEL)
    assert browser.find_element(By.ID, "model-sha256").text == identity.sha256
    assert identity.trained.replace("T", " ") in browser.find_element(By.ID, "model-identity").text
    screenshot(browser, "model-laptop")
    screenshot(browser, "model-phone", PHONE)


def test_model_page_shows_cross_dataset_figures_or_that_they_are_stale(browser, log_db, model_copy, tmp_path,
                                                                       crossdomain_figures):
    from model.lite import digest
    from model.report import crossdomain_section, with_section

    beside = model_copy.parent / "crossdomain.json"
    beside.write_text(json.dumps({**crossdomain_figures, "model_sha256": digest(model_copy)}))
    (model_copy.parent / "REPORT.md").write_text(with_section("# Model report: mine.keras\n",
                                                              crossdomain_section(crossdomain_figures)))
    server = Server(log_db[0], tmp_path / "dashboard.log", model=model_copy)
    try:
        browser.get(server.url + "/model")
        rows = wait_for(browser, lambda d: texts(d, "#model-crossdomain tbody tr"))
        assert texts(browser, "#model-crossdomain h3") == ["All sets pooled", "crossdomain/jaffe", "crossdomain/faces"]
        assert rows[:2] == ["Moodlog\t161\t160\t49.7%\t41.0%", "fer (peer)\t161\t161\t59.6%\t55.6%"]
        assert "2026-11-29 at commit 365ac02" in texts(browser, "#model-crossdomain-measured")[0]
        assert "Real photos" not in texts(browser, "#model-report")[0]  # shown once, in the checked card
        screenshot(browser, "model-crossdomain-laptop")
        screenshot(browser, "model-crossdomain-phone", PHONE)
        browser.set_window_size(*PHONE)
        assert all(table.find_element(By.XPATH, "..").value_of_css_property("overflow-x") == "auto"
                   for table in browser.find_elements(By.CSS_SELECTOR, "#model-crossdomain table"))
        wait_for(browser, lambda d: d.execute_script("return document.documentElement.scrollWidth <= innerWidth"), 5)
        beside.write_text(json.dumps({**crossdomain_figures, "model_sha256": "0" * 20}))
        browser.get(server.url + "/model")
        stale = wait_for(browser, lambda d: texts(d, "#model-crossdomain-stale"))[0]
        assert "Stale" in stale and "0" * 20 in stale and digest(model_copy) in stale
        assert not texts(browser, "#model-crossdomain tbody tr")
    finally:
        browser.set_window_size(*LAPTOP)
        server.stop()


# Each table with the nearest box that scrolls sideways (the table itself, or its .table-responsive):
# whether its content is wider than that box (it scrolls), and whether the box and the table's visible
# part stay inside the window.
TABLES = """return Array.from(document.querySelectorAll(arguments[0])).map(table => {
    let box = table;
    while (box && getComputedStyle(box).overflowX !== 'auto') { box = box.parentElement; }
    const edge = (box || table).getBoundingClientRect();
    return {scrolls: !!box && box.scrollWidth > box.clientWidth + 1,
            inside: edge.left >= 0 && edge.right <= innerWidth + 0.5};
});"""


@pytest.mark.parametrize("page, tables", [("/model", "#model-report table"), ("/", "#history-sessions table"),
                                          ("/sessions", "#sessions-table")])
def test_phone_pages_fit_and_tables_scroll_inside_their_card(browser, server, page, tables):
    """At 390 px the page never scrolls sideways: a table wider than the phone scrolls in its own box."""
    browser.set_window_size(*PHONE)
    try:
        browser.get(server.url + page)
        wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, tables))
        time.sleep(0.5)   # let charts and tables lay out at this width
        assert browser.execute_script("return document.documentElement.scrollWidth <= innerWidth")
        shown = browser.execute_script(TABLES, tables)
        assert any(table["scrolls"] for table in shown), shown   # there is something to fit at this width
        assert all(table["inside"] for table in shown), shown
    finally:
        browser.set_window_size(*LAPTOP)


def test_phone_menu_closes_after_a_tap_on_a_link(browser, server):
    browser.set_window_size(*PHONE)
    try:
        browser.get(server.url + "/")
        menu = wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".navbar-collapse"))
        assert not menu.is_displayed()
        browser.find_element(By.CSS_SELECTOR, ".navbar-toggler").click()
        link = wait_for(browser, lambda d: d.find_element(By.LINK_TEXT, "Sessions").is_displayed() and
                        d.find_element(By.LINK_TEXT, "Sessions"))
        time.sleep(0.5)   # Bootstrap's opening transition
        link.click()
        wait_for(browser, lambda d: d.current_url.endswith("/sessions"))
        wait_for(browser, lambda d: not d.find_element(By.CSS_SELECTOR, ".navbar-collapse").is_displayed(), 5)
        assert browser.find_element(By.CSS_SELECTOR, ".navbar-toggler").is_displayed()
    finally:
        browser.set_window_size(*LAPTOP)


def test_empty_log_shows_how_to_start(browser, tmp_path):
    server = Server(tmp_path / "not-yet.db", tmp_path / "dashboard.log")
    try:
        browser.get(server.url + "/")
        message = wait_for(browser, lambda d: texts(d, "#history-empty"))[0]
        assert "Nothing captured yet" in message and "python app.py start 0" in message
        screenshot(browser, "history-empty")
    finally:
        server.stop()


def _blank_png() -> bytes:
    import cv2
    import numpy as np

    ok, encoded = cv2.imencode(".png", np.full((240, 320, 3), 200, np.uint8))
    assert ok
    return encoded.tobytes()


@pytest.mark.parametrize("megabytes", [10.2, 10.8, 40.0])
def test_an_upload_over_the_limit_always_gets_the_limit_message(browser, server, tmp_path, megabytes):
    """Case upload-over-limit: 10.2 MB got the message, 10.8 MB a silent page (HTTP 413). Now every
    size gets it in the browser, before anything is sent, and a stale result is cleared."""
    big = tmp_path / f"noise_{megabytes}MB.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(int(megabytes * 1024 * 1024)))
    upload(browser, server, big)
    alert = wait_for(browser, lambda d: texts(d, "#recognize-limit"), timeout=60)[0]
    assert f"{big.name}: the file is {megabytes:.1f} MB; the limit is 10 MB" in alert
    assert "damaged" not in alert and not browser.find_elements(By.CSS_SELECTOR, "#recognize-result *")
