"""The Teach page end to end in headless Chromium: name two labels, drop real portraits into each,
teach in the background, see the cross-validated result, and recognise with the taught model."""

from __future__ import annotations

import pytest

pytest.importorskip("selenium", reason="selenium not installed (pip install -r requirements-test.txt)")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.expected_conditions import alert_is_present  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from e2e_support import Server, screenshot  # noqa: E402
from test_dashboard_browser import texts, wait_for  # noqa: E402

PER_LABEL = 5


@pytest.fixture
def teach_server(tmp_path, monkeypatch, log_db):
    monkeypatch.setenv("MOODLOG_TEACH_DIR", str(tmp_path / "teach"))
    running = Server(log_db[0], tmp_path / "dashboard.log")
    yield running, tmp_path / "teach"
    running.stop()


def add_label(driver, name: str) -> None:
    field = driver.find_element(By.ID, "teach-name")
    field.clear()
    field.send_keys(name)
    click(driver, "teach-add")


def click(driver, element_id: str) -> None:
    """Click a button as the page's script sees a click (a chart's hover layer may lie over it in a resized window)."""
    button = wait_for(driver, lambda d: d.find_element(By.ID, element_id))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", button)


def drop(driver, label_index: int, paths) -> None:
    """Drop files on the upload zone of the label_index-th card (labels are shown sorted)."""
    fields = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#teach-labels input[type=file]")
                      if len(d.find_elements(By.CSS_SELECTOR, "#teach-labels input[type=file]")) > label_index else None)
    fields[label_index].send_keys("\n".join(str(path) for path in paths))


def test_teach_two_labels_from_real_photos_and_recognize_with_them(browser, teach_server, face_photos):
    server, folder = teach_server
    cfd = face_photos / "cfd"
    teeth = sorted((cfd / "happy").glob("*-HO.jpg"))[:PER_LABEL]
    neutral = sorted((cfd / "neutral").glob("*.jpg"))[:PER_LABEL]
    browser.get(server.url + "/teach")
    wait_for(browser, lambda d: d.find_element(By.ID, "teach-privacy"))
    assert str(folder) in texts(browser, "#teach-privacy")[0]

    add_label(browser, "../x")
    assert "cannot be a label name" in wait_for(browser, lambda d: texts(d, "#teach-error"))[0]
    add_label(browser, "teeth")
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#teach-labels input[type=file]")) == 1)
    add_label(browser, "neutral")
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#teach-labels input[type=file]")) == 2)

    drop(browser, 0, neutral + [sorted((face_photos / "nonface").iterdir())[0]])     # labels sorted: neutral, teeth
    assert wait_for(browser, lambda d: any("5 photo(s) kept" in t for t in texts(d, "#teach-labels .card")), timeout=90)
    assert any("no readable face" in t for t in texts(browser, "#teach-labels .card"))
    drop(browser, 1, teeth)
    wait_for(browser, lambda d: sum("5 photos: 15 more advised" in t for t in texts(d, "#teach-labels .card")) == 2,
             timeout=90)
    assert sorted(p.name for p in (folder / "photos").iterdir()) == ["neutral", "teeth"]
    assert len(list((folder / "photos" / "teeth").iterdir())) == PER_LABEL

    click(browser, "teach-start")
    score = wait_for(browser, lambda d: texts(d, "#teach-score"), timeout=240)[0]
    assert "cross-validated accuracy" in score and f"on {2 * PER_LABEL} faces" in score
    bars = wait_for(browser, lambda d: d.execute_script(
        "const g = document.querySelector('#teach-recall .js-plotly-plot'); return g && g.data ? g.data[0].y : null;"))
    assert sorted(bars) == ["neutral", "teeth"]
    screenshot(browser, "teach-laptop")
    browser.get(server.url + "/teach")                          # a reload keeps the result and its button
    assert "cross-validated accuracy" in wait_for(browser, lambda d: texts(d, "#teach-score"))[0]

    click(browser, "teach-use")
    wait_for(browser, lambda d: texts(d, "#teach-in-use"))
    browser.get(server.url + "/recognize")
    photo = sorted((cfd / "happy").glob("*-HO.jpg"))[-1]
    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#recognize-upload input[type=file]")).send_keys(str(photo))
    cards = wait_for(browser, lambda d: texts(d, "#recognize-faces .face-card"), timeout=90)
    assert "Face 1: teeth" in cards[0] or "Face 1: neutral" in cards[0], cards
    probabilities = wait_for(browser, lambda d: d.execute_script(
        "const g = document.querySelector('#recognize-faces .js-plotly-plot'); return g && g.data ? g.data[0].y : null;"))
    assert sorted(probabilities) == ["neutral", "teeth"]


def test_an_empty_label_is_refused_a_run_cancels_and_empty_deletes_the_photos(browser, teach_server, face_photos):
    server, folder = teach_server
    browser.get(server.url + "/teach")
    wait_for(browser, lambda d: d.find_element(By.ID, "teach-name"))
    for name in ("neutral", "teeth"):
        add_label(browser, name)
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#teach-labels input[type=file]")) == 2)
    drop(browser, 0, sorted((face_photos / "cfd" / "neutral").glob("*.jpg"))[:PER_LABEL])
    wait_for(browser, lambda d: any("5 photo(s) kept" in t for t in texts(d, "#teach-labels .card")), timeout=90)
    click(browser, "teach-start")
    # one label has no photos: teach refuses, and says so on the page
    assert "teeth hold no photos" in wait_for(browser, lambda d: texts(d, "#teach-error"), timeout=120)[0]

    drop(browser, 1, sorted((face_photos / "cfd" / "happy").glob("*-HO.jpg"))[:PER_LABEL])
    wait_for(browser, lambda d: sum("5 photos: 15 more advised" in t for t in texts(d, "#teach-labels .card")) == 2,
             timeout=90)
    click(browser, "teach-start")
    wait_for(browser, lambda d: d.find_element(By.ID, "teach-cancel").is_enabled())     # running: cancel offered
    click(browser, "teach-cancel")
    assert "Teaching cancelled" in wait_for(browser, lambda d: texts(d, "#teach-message .alert"))[0]
    assert not list((folder / "models").glob("*/*.keras"))

    click(browser, "teach-empty")
    # the confirm dialog opens after a round trip to the server: wait for it to be there
    WebDriverWait(browser, 30).until(alert_is_present()).accept()
    wait_for(browser, lambda d: texts(d, "#teach-none"))
    assert not (folder / "photos").exists()
