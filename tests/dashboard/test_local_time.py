"""Local time on the History page and in the CSV: daylight-saving changes, half-hour zones, offsets.

Every test sets the server's zone (TZ) itself, writes its log through the real writer into
tmp_path and reads it back through the dashboard's own queries, figures and Flask app.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import datetime
import io
import re
import sys
import time
from pathlib import Path

import pytest

from capture.log import open_log
from dashboard import figures, live, localtime, queries
from dashboard.app import create_app
from dashboard.queries import Filters
from logdata import (BASE, DST_END, DST_START, EDT_1AM, EST_1AM, dst_log, dst_rows, known_log, local_bucket_start,
                     utc, write_session)

CASE = Path(__file__).resolve().parents[3] / "shared" / "cases" / "dst-fallback" / "dst.db"
OFFSET = re.compile(r"[+-]\d\d:\d\d$")


@contextlib.contextmanager
def local_zone(monkeypatch, name: str):
    """Run the block with the process's local zone set to `name`, then restore it."""
    try:
        with monkeypatch.context() as patch:
            patch.setenv("TZ", name)
            time.tzset()
            yield
    finally:
        time.tzset()


@pytest.fixture
def new_york(monkeypatch):
    with local_zone(monkeypatch, "America/New_York"):
        yield


@pytest.fixture
def dst_db(tmp_path):
    return dst_log(tmp_path / "dst.db")


def emotion_traces(figure: dict) -> dict[str, dict]:
    return {trace["name"]: trace for trace in figure["data"] if trace.get("meta") != "local-time"}


def test_the_built_log_is_the_cases_log(dst_db):
    if not CASE.is_file():
        pytest.skip(f"{CASE} absent (../shared not mounted); the tests below build the same log themselves")
    case = queries.connect(CASE).execute("SELECT ts, emotion FROM detections ORDER BY ts").fetchall()
    assert case == queries.connect(dst_db).execute("SELECT ts, emotion FROM detections ORDER BY ts").fetchall()


def test_dst_timeline_draws_every_real_minute_once(new_york, dst_db):
    state = live.full_state(queries.connect(dst_db), Filters(), None, now=DST_END + 60)
    figure = figures.timeline_figure(state["counts"], state["bucket"], state["range"])
    traces = emotion_traces(figure)
    x = traces["happy"]["x"]
    assert state["bucket"] == 60 and len(x) == 541
    assert all(earlier < later for earlier, later in zip(x, x[1:])), "x must only move forward in real time"
    assert {name: sum(trace["customdata"]) for name, trace in traces.items() if sum(trace["customdata"])} == \
        {"happy": 180, "sad": 180, "neutral": 1260}
    happy = [t for t, faces in zip(x, traces["happy"]["customdata"]) if faces]
    sad = [t for t, faces in zip(x, traces["sad"]["customdata"]) if faces]
    assert (happy[0], happy[-1], sad[0], sad[-1]) == (
        "2025-11-02T05:00:00Z", "2025-11-02T05:59:00Z", "2025-11-02T06:00:00Z", "2025-11-02T06:59:00Z")
    when = dict(zip(x, figure["data"][0]["text"]))
    assert (when[happy[0]], when[sad[0]]) == ("Sun 2025-11-02 01:00 EDT", "Sun 2025-11-02 01:00 EST")


def test_dst_ticks_are_local_readings_of_their_instants(new_york, dst_db):
    state = live.full_state(queries.connect(dst_db), Filters(), None, now=DST_END + 60)
    axis = figures.timeline_figure(state["counts"], state["bucket"], state["range"])["layout"]["xaxis"]
    assert axis["range"] == ["2025-11-02T02:00:00Z", "2025-11-02T11:00:00Z"]
    assert axis["ticktext"] == ["22:00 EDT<br>Nov 01, 2025", "00:00 EDT<br>Nov 02, 2025", "02:00 EST", "04:00 EST",
                                "06:00 EST"]
    # Two local hours apart, three real ones: the repeated hour lies between 00:00 and 02:00.
    assert axis["tickvals"] == ["2025-11-02T02:00:00Z", "2025-11-02T04:00:00Z", "2025-11-02T07:00:00Z",
                                "2025-11-02T09:00:00Z", "2025-11-02T11:00:00Z"]
    zoomed = figures.local_ticks(utc(2025, 11, 2, 4, 55), utc(2025, 11, 2, 6, 5))
    assert [text.split("<br>")[0] for text in zoomed["ticktext"]] == [
        "01:00 EDT", "01:15 EDT", "01:30 EDT", "01:45 EDT", "01:00 EST"]


def test_zoom_ranges_are_read_as_utc():
    create_app("unused.db")
    page = sys.modules["pages.history"]
    assert page._zoomed_range({"xaxis.range[0]": "2025-11-02 04:40:00", "xaxis.range[1]": "2025-11-02 06:20:00.5"}) \
        == (utc(2025, 11, 2, 4, 40), utc(2025, 11, 2, 6, 20) + 0.5)
    assert page._zoomed_range({"xaxis.range": ["2025-11-02T04:40:00Z", "2025-11-02 06:20"]}) == \
        (utc(2025, 11, 2, 4, 40), utc(2025, 11, 2, 6, 20))
    assert page._zoomed_range({"autosize": True}) is None
    assert page._zoomed_range({"xaxis.range[0]": "not a date", "xaxis.range[1]": "2025-11-02"}) is None


def test_dst_hours_and_days_follow_the_local_clock(new_york, dst_db):
    connection = queries.connect(dst_db)
    hours, _ = queries.bucket_counts(connection, Filters(), 3600)
    assert [(localtime.iso(start), emotion, faces) for start, emotion, faces in hours][3:5] == [
        ("2025-11-02T01:00:00-04:00", "happy", 180), ("2025-11-02T01:00:00-05:00", "sad", 180)]
    assert len(hours) == 9 and {faces for *_, faces in hours} == {180}
    days, _ = queries.bucket_counts(connection, Filters(), 86400)
    assert [(localtime.iso(start), emotion, faces) for start, emotion, faces in days] == [
        ("2025-11-01T00:00:00-04:00", "neutral", 360), ("2025-11-02T00:00:00-04:00", "happy", 180),
        ("2025-11-02T00:00:00-04:00", "neutral", 900), ("2025-11-02T00:00:00-04:00", "sad", 180)]
    day = localtime.LocalBuckets(86400, utc(2025, 3, 1, 0), utc(2025, 12, 1, 0))
    assert day.following(days[1][0]) - days[1][0] == 25 * 3600
    spring = day.floor(utc(2025, 3, 9, 12))
    assert localtime.iso(spring) == "2025-03-09T00:00:00-05:00" and day.following(spring) - spring == 23 * 3600


def test_csv_local_time_carries_its_offset(new_york, dst_db):
    with create_app(dst_db).server.test_client() as client:
        text = client.get("/history/export.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1620
    assert len({row["local_time"] for row in rows}) == len({row["ts"] for row in rows}) == 1620
    assert all(OFFSET.search(row["local_time"]) for row in rows)
    assert all(datetime.datetime.fromisoformat(row["local_time"]).timestamp() == float(row["ts"]) for row in rows)
    by_ts = {float(row["ts"]): row["local_time"] for row in rows}
    assert (by_ts[EDT_1AM + 1800], by_ts[EST_1AM + 1800]) == ("2025-11-02T01:30:00.000-04:00",
                                                              "2025-11-02T01:30:00.000-05:00")


@pytest.mark.parametrize("zone, offset", [("Asia/Kolkata", 19800), ("Asia/Kathmandu", 20700)])
def test_hours_start_at_local_00_in_a_zone_off_the_hour(monkeypatch, tmp_path, zone, offset):
    path, rows = known_log(tmp_path / "known.db")
    with local_zone(monkeypatch, zone):
        connection = queries.connect(path)
        for _ in range(2):  # the second time from the cache of ended sessions
            hours, _ = queries.bucket_counts(connection, Filters(BASE - 4000, BASE + 9000), 3600)
            assert hours and all((start + offset) % 3600 == 0 for start, *_ in hours)
            assert {localtime.label(start, "%M:%S") for start, *_ in hours} == {"00:00"}
        state = live.full_state(connection, Filters(BASE - 3 * 3600, BASE + 5 * 3600), None, now=BASE + 5 * 3600)
        axis = figures.timeline_figure(state["counts"], state["bucket"], state["range"])["layout"]["xaxis"]
        assert [text[2:5] for text in axis["ticktext"]] == [":00"] * len(axis["ticktext"])
        days, _ = queries.bucket_counts(connection, Filters(), 86400)
        assert {localtime.label(start, "%H:%M") for start, *_ in days} == {"00:00"}
    assert sum(len(r) for r in rows.values()) == sum(faces for *_, faces in hours) == 420


def _changes_log(path: Path) -> dict[int, list[tuple[float, str]]]:
    """Three sessions around clock changes, a face every 7 min 13 s: New York's spring change
    (ended), Lord Howe's half-hour autumn change (ended) and New York's autumn change (running)."""
    emotions = ("happy", "sad", "angry", "neutral")
    db = open_log(path)
    sessions = {}
    for start, running in ((utc(2025, 3, 8, 20), False), (utc(2025, 4, 5, 3), False), (utc(2025, 11, 1, 20), True)):
        rows = [(start + 433 * i + 0.25, emotions[i % 4]) for i in range(300)]
        session = write_session(db, "0", rows, started_at=start, ended_at=None if running else rows[-1][0] + 1,
                                close=not running)
        sessions[session] = rows
    db.close()
    return sessions


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"])
def test_buckets_match_a_brute_force_local_clock(monkeypatch, tmp_path, zone):
    rows = _changes_log(tmp_path / "changes.db")
    everything = [(ts, emotion) for session in rows.values() for ts, emotion in session]
    with local_zone(monkeypatch, zone):
        connection = queries.connect(tmp_path / "changes.db")
        for bucket in (60, 900, 3600, 7200, 21600, 86400):
            for start, end in ((None, None), (utc(2025, 4, 5, 9) + 17.5, utc(2025, 4, 6, 1) + 41),
                               (utc(2025, 11, 1, 22) + 3, utc(2025, 11, 2, 15))):
                counts, _ = queries.bucket_counts(connection, Filters(start, end), bucket)
                wanted = collections.Counter((local_bucket_start(ts, bucket), emotion) for ts, emotion in everything
                                             if (start is None or ts >= start) and (end is None or ts < end))
                assert counts == sorted((s, e, n) for (s, e), n in wanted.items()), (bucket, start, end)


@pytest.mark.parametrize("margin, bucket", [(86400, 300), (10 * 86400, 3600), (200 * 86400, 86400)])
def test_live_refresh_puts_new_rows_in_the_same_local_buckets(new_york, tmp_path, margin, bucket):
    rows = dst_rows()
    db = open_log(tmp_path / "live.db")
    write_session(db, "0", rows[:600], close=False)
    connection = queries.connect(tmp_path / "live.db")
    shown = Filters(DST_START - margin, DST_END + margin)
    state = live.full_state(connection, shown, None, now=DST_START)
    assert state["bucket"] == bucket
    write_session(db, "1", rows[600:], close=False)
    state = live.advance_state(connection, state, now=DST_END)
    fresh = live.full_state(connection, shown, None, now=DST_END)
    assert state["counts"] == fresh["counts"]
    assert sum(live.totals(fresh).values()) == 1620
    if bucket == 3600:
        assert fresh["counts"][str(int(EST_1AM))] == {"sad": 180}


def test_emotion_filter_keeps_shares_of_all_faces(tmp_path):
    db = open_log(tmp_path / "mixed.db")
    write_session(db, "0", [(BASE + i / 100, "angry" if i < 53 else "happy") for i in range(100)],  # one second
                  started_at=BASE, ended_at=BASE + 100)
    db.close()
    app = create_app(tmp_path / "mixed.db")
    page = sys.modules["pages.history"]
    with app.server.test_request_context("/"):
        state = page.counted_state(False, None, BASE + 200, "all", None, None, None, None, ["angry"])
        timeline, distribution, hidden, message, _, export = page.draw(state, ["angry"])
        _, _, none_hidden, none_message, _, _ = page.draw(state, [])
    assert not hidden and message is None
    assert list(emotion_traces(timeline)) == ["angry"]
    assert max(emotion_traces(timeline)["angry"]["y"]) == 0.53
    bars = distribution["data"][0]
    assert (bars["y"], bars["x"], bars["text"]) == (["angry"], [53], ["53%"])
    assert "of all faces" in bars["hovertemplate"] and "share of all faces" in timeline["data"][0]["hovertemplate"]
    assert "emotions=angry" in export
    assert none_hidden and "No emotion is ticked" in str(none_message)
