"""Dashboard queries on real SQLite files written by the real writer, with known answers."""

from __future__ import annotations

import collections
import sqlite3
import urllib.parse

import pytest

from capture.log import LogWriter, open_log, start_session
from dashboard import live, queries
from dashboard.queries import Filters
from logdata import BASE, known_log, local_bucket_start, one_hot, write_session


@pytest.fixture
def log(tmp_path):
    return known_log(tmp_path / "known.db")


def expected(rows_by_session, bucket, start=None, end=None, sessions=None, emotions=None):
    """The answer computed by brute force in Python from the rows we wrote, in buckets of the
    local clock (the same as UTC multiples in a whole-hour zone without daylight saving)."""
    counts = collections.Counter()
    for session_id, rows in rows_by_session.items():
        if sessions is not None and session_id not in sessions:
            continue
        for ts, emotion in rows:
            if (start is None or ts >= start) and (end is None or ts < end) and \
                    (emotions is None or emotion in emotions):
                counts[(local_bucket_start(ts, bucket), emotion)] += 1
    return sorted((s, e, n) for (s, e), n in counts.items())


def test_another_programs_database_gives_pages_and_exports_a_clear_answer(tmp_path):
    """Found in review: an export from another program's SQLite file (with a table named sessions)
    failed mid-stream with HTTP 500, and the Sessions page told the user to upgrade it."""
    import sys

    from dashboard.app import create_app

    path = tmp_path / "other.db"
    foreign = sqlite3.connect(path)
    foreign.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, foo TEXT)")
    foreign.commit()
    foreign.close()
    before = path.read_bytes()
    app = create_app(path)
    with app.server.test_client() as client:
        for query in ("", "?start=0", "?sessions=1"):
            response = client.get("/history/export.csv" + query)
            assert response.status_code == 404, response.get_data(as_text=True)
            assert "not a Moodlog log" in response.get_data(as_text=True)
    with app.server.app_context():
        shown = sys.modules["pages.sessions"].summary("", None)[-1]
    assert "not a Moodlog log" in str(shown) and "upgrade" not in str(shown)
    assert path.read_bytes() == before


def test_describe_tells_missing_empty_foreign_and_ok(tmp_path, log):
    assert queries.describe(tmp_path / "nope.db").state == "missing"
    assert not (tmp_path / "nope.db").exists(), "reading must not create the file"
    open_log(tmp_path / "empty.db").close()
    assert queries.describe(tmp_path / "empty.db").state == "empty"
    foreign = sqlite3.connect(tmp_path / "other.db")
    foreign.execute("CREATE TABLE notes (text TEXT)")
    foreign.commit()
    assert queries.describe(tmp_path / "other.db").state == "not-moodlog"
    (tmp_path / "text.db").write_text("not a database at all " * 100)
    assert queries.describe(tmp_path / "text.db").state == "unreadable"
    status = queries.describe(log[0])
    assert (status.state, status.first_ts, status.last_ts) == ("ok", BASE, BASE + 3600 + 59.5)


def test_connection_is_read_only(log):
    connection = queries.connect(log[0])
    with pytest.raises(sqlite3.OperationalError):
        connection.execute("DELETE FROM detections")


@pytest.mark.parametrize("seconds, bucket", [(60, 1), (300, 1), (3600, 5), (86400, 120), (30 * 86400, 3600)])
def test_bucket_adapts_to_range(seconds, bucket):
    assert queries.choose_bucket(seconds) == bucket


@pytest.mark.parametrize("bucket", [1, 10, 60, 120, 3600])
def test_counts_match_brute_force_over_everything(log, bucket):
    path, rows = log
    counts, last_id = queries.bucket_counts(queries.connect(path), Filters(), bucket)
    assert counts == expected(rows, bucket)
    assert last_id == 420


@pytest.mark.parametrize("start, end, bucket", [
    (BASE + 7, BASE + 67, 1),            # one minute, seconds, not minute-aligned
    (BASE + 7, BASE + 3700, 60),         # rollup for whole minutes, detections for both edges
    (BASE - 1000, BASE + 250, 120),      # starts before the log
    (BASE + 30, BASE + 50, 60),          # shorter than a minute with a minute bucket
    (BASE - 4000, BASE + 3630, 3600),    # hour buckets: cached hours of ended sessions plus edges
    (BASE + 100, BASE + 3650, 3600),     # no whole hour inside: rollup and detections only
])
def test_counts_of_a_range_match_brute_force(log, start, end, bucket):
    path, rows = log
    counts, _ = queries.bucket_counts(queries.connect(path), Filters(start, end), bucket)
    assert counts == expected(rows, bucket, start, end)


def test_counts_follow_session_and_emotion_filters(log):
    path, rows = log
    a, b = sorted(rows)
    connection = queries.connect(path)
    only_a, _ = queries.bucket_counts(connection, Filters(sessions=(a,)), 60)
    assert only_a == expected(rows, 60, sessions={a})
    sad, _ = queries.bucket_counts(connection, Filters(emotions=("sad",)), 60)
    assert sum(n for *_, n in sad) == 100
    nothing, _ = queries.bucket_counts(connection, Filters(sessions=()), 60)
    assert nothing == []
    assert queries.sessions_of_devices(connection, ["cam"]) == (b,)


def test_live_refresh_adds_only_new_rows(log):
    path, rows = log
    connection = queries.connect(path)
    state = live.full_state(connection, Filters(), None, now=BASE + 4000)
    before = live.totals(state)
    assert (before["happy"], before["sad"], before["angry"]) == (200, 100, 120)

    db = open_log(path)
    write_session(db, "0", [(BASE + 3700 + i, "surprise") for i in range(5)])
    state = live.advance_state(connection, state, now=BASE + 4010)
    assert live.totals(state)["surprise"] == 5
    assert state["last_id"] == 425
    fresh = live.full_state(connection, Filters(), None, now=BASE + 4010)
    assert live.totals(fresh) == live.totals(state)
    unchanged = live.advance_state(connection, state, now=BASE + 4020)
    assert live.totals(unchanged) == live.totals(fresh)


def test_new_counts_ask_only_past_the_last_id(log):
    path, _ = log
    connection = queries.connect(path)
    rows, last_id = queries.new_bucket_counts(connection, Filters(), 60, after_id=410)
    assert sum(n for *_, n in rows) == 10 and last_id == 420
    assert queries.new_bucket_counts(connection, Filters(), 60, after_id=420) == ([], 420)


def test_sliding_window_drops_old_buckets(log):
    path, _ = log
    connection = queries.connect(path)
    state = live.full_state(connection, Filters(BASE + 3600, BASE + 3900), 300, now=BASE + 3900)
    assert live.totals(state)["angry"] == 120
    state = live.advance_state(connection, state, now=BASE + 3600 + 300 + 120)
    assert live.totals(state)["angry"] == 0


def test_session_table_has_faces_dominant_and_duration(log):
    path, rows = log
    a, b = sorted(rows)
    table = queries.session_table(queries.connect(path), Filters())
    assert [row["id"] for row in table] == [b, a]
    newest, oldest = table
    assert (newest["device"], newest["faces"], newest["dominant"], newest["duration"]) == ("cam", 120, "angry", 60)
    assert (oldest["faces"], oldest["dominant"], oldest["frames"], oldest["status"]) == (300, "happy", 300, "stopped")
    in_range = queries.session_table(queries.connect(path), Filters(BASE + 3000, BASE + 4000))
    assert [row["id"] for row in in_range] == [b]


def test_export_streams_the_filtered_rows_in_time_order(log):
    path, rows = log
    exported = list(queries.export_rows(queries.connect(path), Filters(BASE, BASE + 60, emotions=("happy",))))
    assert len(exported) == 20
    ts_at = queries.EXPORT_COLUMNS.index("ts")
    assert [row[ts_at] for row in exported] == sorted(row[ts_at] for row in exported)
    assert {row[queries.EXPORT_COLUMNS.index("emotion")] for row in exported} == {"happy"}


def test_filters_survive_the_export_url():
    for filters in (Filters(), Filters(1.5, 2.5, (1, 2), ("happy",)), Filters(sessions=(), emotions=())):
        query = dict(urllib.parse.parse_qsl(live.filters_to_query(filters), keep_blank_values=True))
        assert live.filters_from_query(query) == filters
    with pytest.raises(ValueError):
        live.filters_from_query({"emotions": "bored"})


def test_filter_controls_resolve_to_sessions_and_emotions(log):
    path, rows = log
    a, b = sorted(rows)
    connection = queries.connect(path)
    filters = live.resolve_filters(connection, "5m", None, None, ["cam"], [], ["happy", "sad"], now=BASE + 1000)
    assert filters == Filters(BASE + 700, BASE + 1000, (b,), ("happy", "sad"))
    everything = live.resolve_filters(connection, "all", None, None, [], [], list(live.EMOTIONS), now=BASE)
    assert everything == Filters()


def test_running_sessions_are_recounted_and_ended_ones_remembered(tmp_path):
    db = open_log(tmp_path / "live.db")
    ended = write_session(db, "0", [(BASE + i, "sad") for i in range(5)], started_at=BASE, ended_at=BASE + 5)
    running = start_session(db, device="1", model="test", detector="haar")
    writer = LogWriter(db, running)
    for i in range(3):
        writer.add(BASE + 10 + i, i, 0, (0, 0, 40, 40), one_hot("fear"))
    writer.flush()
    connection = queries.connect(tmp_path / "live.db")
    first = {row["id"]: row["faces"] for row in queries.session_table(connection, Filters())}
    for i in range(4):
        writer.add(BASE + 20 + i, 3 + i, 0, (0, 0, 40, 40), one_hot("fear"))
    writer.flush()
    again = {row["id"]: row["faces"] for row in queries.session_table(connection, Filters())}
    assert first[ended] == again[ended] == 5
    assert (first[running], again[running]) == (3, 7)


def test_hour_buckets_count_running_and_ended_sessions(tmp_path):
    db = open_log(tmp_path / "mixed.db")
    rows = {write_session(db, "0", [(BASE + 60 * i, "happy") for i in range(200)], started_at=BASE,
                          ended_at=BASE + 12000): [(BASE + 60 * i, "happy") for i in range(200)]}
    running_rows = [(BASE + 30 * i, "sad") for i in range(300)]
    rows[write_session(db, "1", running_rows, close=False)] = running_rows
    connection = queries.connect(tmp_path / "mixed.db")
    for _ in range(2):  # the second time from the cache of ended sessions
        counts, _ = queries.bucket_counts(connection, Filters(BASE - 100, BASE + 9000), 3600)
        assert counts == expected(rows, 3600, BASE - 100, BASE + 9000)
    sad_only, _ = queries.bucket_counts(connection, Filters(emotions=("sad",)), 3600)
    assert sad_only == expected(rows, 3600, emotions={"sad"})


def test_rows_long_after_the_rest_make_a_coarser_bucket(log):
    path, _ = log
    connection = queries.connect(path)
    state = live.full_state(connection, Filters(), None, now=BASE + 4000)
    assert state["bucket"] == 10 and not live.needs_recount(state)
    write_session(open_log(path), "0", [(BASE + 30 * 86400, "fear")])
    state = live.advance_state(connection, state, now=BASE + 30 * 86400)
    assert live.needs_recount(state)
    recounted = live.full_state(connection, Filters(), None, now=BASE + 30 * 86400)
    assert recounted["bucket"] == 3600 and live.totals(recounted)["fear"] == 1
