"""Research views on a real log written by capture.log: the CSV export's media time and label
columns, the History sessions table's labels, face share, outages and video durations, and the
Sessions page's queries (summaries, curves, segments between markers, label filter, valence)."""

from __future__ import annotations

import csv
import io
import urllib.parse

import pytest

from capture.log import LogWriter, SessionDetails, add_markers, open_log, start_session
from dashboard import queries, sessions
from dashboard.app import create_app
from logdata import one_hot
from model.labels import EMOTIONS

BASE = 1_790_000_000.0


@pytest.fixture(scope="module")
def research_db(tmp_path_factory):
    """Session 1: a 60 s file (30 fps sampled at 1 fps), labelled P07/A, happy for 30 s then sad, two
    markers. Session 2: a live camera, P08/B, angry, one 5 s outage. Session 3: unlabelled, no faces."""
    path = tmp_path_factory.mktemp("research") / "moodlog.db"
    db = open_log(path)
    file_id = start_session(db, device="p07.mp4", model="m", detector="d", started_at=BASE, details=SessionDetails(
        kind="file", source_fps=30.0, source_frames=1800, source_duration=60.0,
        labels={"participant": "P07", "condition": "A"}))
    writer = LogWriter(db, file_id)
    for second in range(60):
        writer.add(BASE + second / 10, second * 30, 0, (0, 0, 50, 50), one_hot("happy" if second < 30 else "sad"),
                   track=1, media_time=float(second))
    writer.update_counters(frames_analysed=60, frames_without_face=0)
    writer.close("finished", ended_at=BASE + 6)
    add_markers(db, file_id, [(None, 10.0, "task one"), (None, 30.0, "bad news")], "csv")
    live_id = start_session(db, device="0", model="m", detector="d", started_at=BASE + 100, details=SessionDetails(
        kind="live", labels={"participant": "P08", "condition": "B"}))
    writer = LogWriter(db, live_id)
    for second in range(20):
        writer.add(BASE + 100 + second, second, 0, (0, 0, 50, 50), one_hot("angry", 0.4), track=2,
                   media_time=float(second))
    writer.add_gap(BASE + 105, BASE + 110, "source lost, reconnected")
    writer.update_counters(frames_analysed=40, frames_without_face=20, reconnects=1)
    writer.close("stopped", ended_at=BASE + 120)
    empty = start_session(db, device="1", model="m", detector="d", started_at=BASE + 200)
    LogWriter(db, empty).close("stopped", ended_at=BASE + 210)
    db.close()
    return path


def test_the_csv_export_has_media_time_and_a_column_per_label(research_db):
    with create_app(research_db).server.test_client() as client:
        rows = list(csv.DictReader(io.StringIO(client.get("/history/export.csv").get_data(as_text=True))))
    assert len(rows) == 80
    assert {"media_time", "label_participant", "label_condition"} <= set(rows[0])
    file_rows = [r for r in rows if r["session_id"] == "1"]
    assert [float(r["media_time"]) for r in file_rows] == [float(s) for s in range(60)]
    assert {(r["label_participant"], r["label_condition"]) for r in file_rows} == {("P07", "A")}
    assert {r["label_participant"] for r in rows if r["session_id"] == "2"} == {"P08"}


def test_the_sessions_table_shows_labels_face_share_outages_and_video_duration(research_db):
    connection = queries.connect(research_db)
    rows = {r["id"]: r for r in queries.session_table(connection, queries.Filters(), now=BASE + 1000)}
    assert rows[1]["duration"] == 60.0 and rows[1]["kind"] == "file"       # video time, not the 6 s it took
    assert rows[1]["labels"] == {"participant": "P07", "condition": "A"} and rows[1]["face_share"] == 1.0
    assert rows[2]["outages"] == 1 and rows[2]["outage_seconds"] == 5.0 and rows[2]["reconnects"] == 1
    assert rows[2]["face_share"] == 0.5 and rows[3]["face_share"] is None


def test_summaries_give_means_shares_valence_and_outages(research_db):
    connection = queries.connect(research_db)
    by_id = {s.id: s for s in sessions.summaries(connection, [1, 2, 3])}
    happy, rest = one_hot("happy")[3], one_hot("happy")[0]
    assert by_id[1].faces == 60 and by_id[1].share["happy"] == 0.5 and by_id[1].share["sad"] == 0.5
    assert by_id[1].mean["happy"] == pytest.approx((happy + rest) / 2)
    assert by_id[1].valence == pytest.approx(by_id[1].mean["happy"] - sum(by_id[1].mean[e] for e in sessions.NEGATIVE))
    assert by_id[1].markers == 2 and by_id[1].duration == 60.0
    assert by_id[2].outages == 1 and by_id[2].outage_seconds == 5.0 and by_id[2].face_share == 0.5
    assert by_id[2].valence == pytest.approx(0.1 - (0.4 + 0.1 + 0.1 + 0.1))     # happy - (angry + disgust + fear + sad)
    assert by_id[3].faces == 0 and by_id[3].mean == {} and by_id[3].valence is None


@pytest.mark.parametrize("query", ["sessions=99999999999999999999999", "sessions=-99999999999999999999999",
                                   "sessions=0", "sessions=abc", "start=nan", "end=1e999"])
def test_a_malformed_export_query_is_refused_as_a_bad_filter_never_a_server_error(research_db, query):
    """Found by a new user: a session id past SQLite's 64-bit integers gave HTTP 500 and a traceback."""
    with create_app(research_db).server.test_client() as client:
        response = client.get("/history/export.csv?" + query)
    assert response.status_code == 400 and response.get_data(as_text=True).startswith("bad filter")


def test_a_file_not_read_to_its_end_is_marked_in_the_summary_table_and_its_csv(tmp_path):
    """Found by a new user: a video stopped half-way showed the file's whole duration and nothing said
    its means and shares cover only the part read."""
    import sys

    path = tmp_path / "moodlog.db"
    db = open_log(path)
    ids = {}
    for name, kind, status in (("whole.mp4", "file", "finished"), ("half.mp4", "file", "stopped"),
                               ("0", "live", "stopped"), ("1", "live", None)):
        ids[name] = start_session(db, device=name, model="m", detector="d", started_at=BASE,
                                  details=SessionDetails(kind=kind, source_duration=60.0 if kind == "file" else None))
        writer = LogWriter(db, ids[name])
        writer.add(BASE + 1, 1, 0, (0, 0, 50, 50), one_hot("happy"), track=1, media_time=1.0)
        writer.update_counters(frames_analysed=1)
        if status:
            writer.close(status, ended_at=BASE + 30)
        else:
            writer.flush()
    db.close()
    app = create_app(path)
    page = sys.modules["pages.sessions"]
    connection = queries.connect(path)
    rows = {r.device: r for r in sessions.summaries(connection, list(ids.values()))}
    assert page.incomplete(rows["whole.mp4"]) is None and page.incomplete(rows["0"]) is None  # a live stop is its end
    assert "not read to its end" in page.incomplete(rows["half.mp4"])
    assert page.incomplete(rows["1"]).startswith("running")
    table = list(csv.DictReader(io.StringIO(page.summary_csv(list(rows.values())))))
    assert {r["device"]: r["status"] for r in table} == {"whole.mp4": "finished", "half.mp4": "stopped",
                                                         "0": "stopped", "1": "running"}
    with app.server.test_request_context("/sessions"):
        cells = {r.device: page._duration_cell(r) for r in rows.values()}
    assert cells["half.mp4"].title.startswith("stopped") and cells["whole.mp4"].children == "1:00"


def test_the_label_filter_matches_every_given_label(research_db):
    connection = queries.connect(research_db)
    assert sessions.session_ids(connection, {"participant": "P07"}) == [1]
    assert sessions.session_ids(connection, {"condition": "B", "participant": "P08"}) == [2]
    assert sessions.session_ids(connection, {"condition": "A", "participant": "P08"}) == []
    assert sessions.session_ids(connection) == [3, 2, 1]
    assert sessions.label_filter("participant=P07, condition = A") == {"participant": "P07", "condition": "A"}
    with pytest.raises(ValueError):
        sessions.label_filter("participant")
    with pytest.raises(ValueError, match="participant is given twice"):     # it kept the last, silently
        sessions.label_filter("participant=P07, participant=P08")


def test_curves_run_on_media_time_and_a_track_filter_keeps_one_person(research_db):
    connection = queries.connect(research_db)
    curve = sessions.series(connection, 1, 10.0)
    assert curve.seconds == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0] and curve.faces == [10] * 6
    assert curve.mean["happy"][:3] == pytest.approx([0.9] * 3) and curve.mean["sad"][3:] == pytest.approx([0.9] * 3)
    assert curve.uncertain == [0.0] * 6
    assert sessions.series(connection, 2, 10.0).uncertain == [1.0, 1.0]       # confidence 0.4 < 0.5
    assert sessions.series(connection, 1, 10.0, track=2).seconds == []
    assert sessions.tracks(connection, 1) == [(1, 60)]


def test_segments_cut_a_session_at_its_markers(research_db):
    connection = queries.connect(research_db)
    pieces = sessions.segments(connection, 1)
    assert [(p.label, p.start, p.end, p.faces) for p in pieces] == [
        ("start", 0.0, 10.0, 10), ("task one", 10.0, 30.0, 20), ("bad news", 30.0, None, 30)]
    assert pieces[1].share["happy"] == 1.0 and pieces[2].share["sad"] == 1.0
    assert sessions.gaps(connection, 2) == [(5.0, 10.0, "source lost, reconnected")]


def test_a_step_equal_to_the_sampling_interval_gives_one_point_per_frame(tmp_path):
    """Found by a new user: with --fps 5 the auto step is 0.2 s, and 0.6 / 0.2 = 2.9999999999999996
    put two frames in one step and none in the next (47 points for 67 faces)."""
    path = tmp_path / "moodlog.db"
    db = open_log(path)
    session = start_session(db, device="clip.mp4", model="m", detector="d", started_at=BASE,
                            details=SessionDetails(kind="file", source_fps=25.0, source_duration=13.4))
    writer = LogWriter(db, session)
    for k in range(67):
        writer.add(BASE + k, k * 5, 0, (0, 0, 50, 50), one_hot("happy"), track=1, media_time=k / 5)
    writer.close("finished", ended_at=BASE + 70)
    db.close()
    curve = sessions.series(queries.connect(path), session, 0.2)
    assert curve.faces == [1] * 67 and curve.seconds == pytest.approx([k * 0.2 for k in range(67)])


def test_face_less_steps_break_the_lines_and_are_shaded():
    from dashboard.session_figures import intensity_figure

    seconds = [0.0, 1.0, 2.0, 6.0, 7.0]                   # no face from 3 s to 6 s
    curve = sessions.Series(1, seconds, [1] * 5, {e: [0.1] * 5 for e in sessions.EMOTIONS}, [0.0] * 5, [0.0] * 5,
                            "detections", step=1.0)
    figure = intensity_figure(curve, ["happy"], markers=[(4.0, 0.0, "stimulus", "csv")], gaps=[(2.5, 3.5, "lost")])
    happy = figure["data"][0]
    assert happy["x"] == [0.0, 1.0, 2.0, 3.0, 6.0, 7.0] and happy["y"][3] is None
    shapes = figure["layout"]["shapes"]
    assert {"x0": 3.0, "x1": 6.0} == {k: shapes[0][k] for k in ("x0", "x1")} and shapes[0]["fillcolor"] == "#e9ecef"
    assert any(s.get("x0") == 2.5 and s["fillcolor"] == "#f8d7da" for s in shapes)
    assert "stimulus" in [a["text"] for a in figure["layout"]["annotations"]]


def test_a_long_session_is_cut_on_the_minute_rollup_as_on_its_rows(tmp_path, monkeypatch):
    """Sessions over DETAIL_FACES faces are segmented from the rollup; at minute-aligned markers the
    answer is the one the rows give."""
    path = tmp_path / "long.db"
    db = open_log(path)
    start = 1_790_000_040.0                       # a whole minute (29,833,334 x 60)
    session_id = start_session(db, device="0", model="m", detector="d", started_at=start)
    writer = LogWriter(db, session_id)
    for second in range(180):
        writer.add(start + second, second, 0, (0, 0, 9, 9), one_hot(("happy", "sad", "angry")[second // 60]),
                   media_time=float(second))
    writer.update_counters(faces=180)
    writer.close("stopped", ended_at=start + 180)
    add_markers(db, session_id, [(None, 60.0, "two"), (None, 120.0, "three")], "http")
    db.close()
    connection = queries.connect(path)
    from_rows = sessions.segments(connection, session_id)
    monkeypatch.setattr(sessions, "DETAIL_FACES", 100)
    from_rollup = sessions.segments(connection, session_id)
    assert [(p.label, p.faces, p.share) for p in from_rollup] == [(p.label, p.faces, p.share) for p in from_rows]
    assert [p.faces for p in from_rows] == [60, 60, 60]
    for a, b in zip(from_rollup, from_rows):
        assert a.mean == pytest.approx(b.mean) and a.valence == pytest.approx(b.valence)


def test_a_step_finer_than_the_sampling_does_not_break_the_lines():
    from dashboard.session_figures import intensity_figure

    seconds = [i * 0.2 for i in range(10)]                # --fps 5 charted with 0.1 s steps
    curve = sessions.Series(1, seconds, [1] * 10, {e: [0.1] * 10 for e in sessions.EMOTIONS}, [0.0] * 10,
                            [0.0] * 10, "detections", step=0.1)
    figure = intensity_figure(curve, ["happy"])
    assert None not in figure["data"][0]["y"] and not figure["layout"]["shapes"]


def test_a_long_file_is_charted_and_cut_on_media_time_never_on_the_rollup(tmp_path, monkeypatch):
    """A file analysed faster than it plays: on wall-clock minutes its 10 minutes of video would be
    drawn over the 1 minute it took; over DETAIL_FACES faces it must still use its media time."""
    path = tmp_path / "file.db"
    db = open_log(path)
    session_id = start_session(db, device="v.mp4", model="m", detector="d", started_at=BASE,
                               details=SessionDetails(kind="file", source_duration=600.0))
    writer = LogWriter(db, session_id)
    for second in range(600):
        writer.add(BASE + second / 10, second, 0, (0, 0, 9, 9), one_hot("happy" if second < 300 else "sad"),
                   media_time=float(second))
    writer.update_counters(faces=600)
    writer.close("finished", ended_at=BASE + 60)
    add_markers(db, session_id, [(None, 300.0, "sad part")], "csv")
    db.close()
    monkeypatch.setattr(sessions, "DETAIL_FACES", 100)
    connection = queries.connect(path)
    curve = sessions.series(connection, session_id, 60.0)
    assert curve.seconds == [60.0 * i for i in range(10)] and curve.resolution == "detections"
    pieces = sessions.segments(connection, session_id)
    assert [(p.label, p.faces) for p in pieces] == [("start", 300), ("sad part", 300)]
    assert pieces[1].share["sad"] == 1.0


def test_a_file_stopped_part_way_covers_the_video_read_not_the_whole_file(tmp_path):
    """A 100 s file stopped after 600 of its 3000 frames covers 20 s of video: the History table,
    the Sessions summary and its CSV must not claim 100 s. Read to its end, it covers all of it."""
    path = tmp_path / "moodlog.db"
    db = open_log(path)
    ids = []
    for status, frames_read in (("stopped", 600), ("finished", 3000)):
        session_id = start_session(db, device="p09.mp4", model="m", detector="d", started_at=BASE, details=SessionDetails(
            kind="file", source_fps=30.0, source_frames=3000, source_duration=100.0))
        writer = LogWriter(db, session_id)
        writer.add(BASE, 0, 0, (0, 0, 50, 50), one_hot("happy"), track=1, media_time=0.0)
        writer.update_counters(frames_read=frames_read, frames_analysed=frames_read)
        writer.close(status, ended_at=BASE + 5)
        ids.append(session_id)
    db.close()
    connection = queries.connect(path)
    table = {r["id"]: r["duration"] for r in queries.session_table(connection, queries.Filters(), now=BASE + 1000)}
    summary = {s.id: s.duration for s in sessions.summaries(connection, ids)}
    stopped, finished = ids
    assert table[stopped] == summary[stopped] == pytest.approx(20.0)
    assert table[finished] == summary[finished] == 100.0


@pytest.fixture(scope="module")
def study_db(tmp_path_factory):
    """Twelve 20 s file sessions labelled P01-P12 (P01 the oldest); in each, track 1 happy and track 2
    sad every second, and a marker at 10 s named like a spreadsheet formula."""
    path = tmp_path_factory.mktemp("study") / "moodlog.db"
    db = open_log(path)
    for number in range(1, 13):
        session_id = start_session(db, device=f"P{number:02}.mp4", model="m", detector="d", started_at=BASE + number,
                                   details=SessionDetails(kind="file", source_fps=1.0, source_frames=20,
                                                          source_duration=20.0,
                                                          labels={"participant": f"P{number:02}", "note": "=1+1"}))
        writer = LogWriter(db, session_id)
        for second in range(20):
            writer.add(BASE + second, second, 0, (0, 0, 50, 50), one_hot("happy"), track=1, media_time=float(second))
            writer.add(BASE + second, second, 1, (60, 0, 50, 50), one_hot("sad"), track=2, media_time=float(second))
        writer.update_counters(frames_read=20, frames_analysed=20)
        writer.close("finished", ended_at=BASE + 30)
        add_markers(db, session_id, [(None, 10.0, "=HYPERLINK(\"x\")")], "csv")
    db.close()
    return path


@pytest.fixture(scope="module")
def sessions_page(study_db):
    import sys

    app = create_app(study_db)
    return app, sys.modules["pages.sessions"]


def test_the_overlay_keeps_the_chosen_session_and_says_how_many_it_left_out(sessions_page):
    """Found in review: past ten sessions the overlay kept the ten newest, silently, even when the
    chosen session was older."""
    app, page = sessions_page
    options = [{"label": f"#{i} P{i:02}", "value": i} for i in range(12, 0, -1)]       # newest first, as listed
    with app.server.test_request_context("/sessions"):
        figure, note = page.overlay(options, page.measure_options(EMOTIONS)[0]["value"], None, "auto", 1)
    names = [trace["name"] for trace in figure["data"] if trace.get("name")]
    assert len(set(names)) == page.MOST_OVERLAID and "#1 P01" in names and "#3 P03" not in names
    text = " ".join(str(part.children) for part in note)
    assert "10 of these 12 sessions are overlaid" in text and "2 are not" in text


def test_segments_between_markers_follow_the_track_filter(sessions_page):
    """Found in review: the curves followed the chosen person (track) but the segments and their CSV
    averaged every face."""
    app, page = sessions_page
    with app.server.test_request_context("/sessions"):
        _, _, everyone = page.one_session(1, None, "auto")
        _, _, person = page.one_session(1, 2, "auto")
    rows = list(csv.DictReader(io.StringIO(urllib.parse.unquote(person.split(",", 1)[1]))))
    assert [(r["track"], r["from_s"], r["to_s"], r["faces"], r["share_sad"]) for r in rows] == [
        ("2", "0.0", "10.0", "10", "1.0"), ("2", "10.0", "20.0", "10", "1.0")]      # the last runs to the end
    rows = list(csv.DictReader(io.StringIO(urllib.parse.unquote(everyone.split(",", 1)[1]))))
    assert [(r["track"], r["faces"], r["share_sad"]) for r in rows] == [("", "20", "0.5"), ("", "20", "0.5")]


def test_free_text_in_the_csv_files_cannot_run_as_a_spreadsheet_formula(sessions_page, study_db):
    """Found in review: a label "=1+1" or a marker "=HYPERLINK(...)" was exported as it was typed, and a
    spreadsheet opening the CSV runs it. Such cells start with an apostrophe; numbers stay numbers."""
    app, page = sessions_page
    connection = queries.connect(study_db)
    summary = list(csv.DictReader(io.StringIO(page.summary_csv(sessions.summaries(connection, [1, 2])))))
    assert {r["label_note"] for r in summary} == {"'=1+1"} and float(summary[0]["valence"]) < 0   # a number stays one
    with app.server.test_request_context("/sessions"):
        _, _, href = page.one_session(1, None, "auto")
    assert [r["marker"] for r in csv.DictReader(io.StringIO(urllib.parse.unquote(href.split(",", 1)[1])))] == [
        "start", "'=HYPERLINK(\"x\")"]
    with app.server.test_client() as client:
        exported = list(csv.DictReader(io.StringIO(client.get("/history/export.csv").get_data(as_text=True))))
    assert {r["label_note"] for r in exported} == {"'=1+1"} and {r["label_participant"][0] for r in exported} == {"P"}
    assert queries.spreadsheet_safe("-0.5") == "'-0.5" and queries.spreadsheet_safe("@x") == "'@x"


@pytest.mark.parametrize("sent, step", [("1", 1.0), ("5", 5.0), ("30", 30.0), ("300", 300.0), (5.0, 5.0)])
def test_a_step_chosen_in_the_page_is_the_step_drawn(sessions_page, sent, step):
    """Found in review: the Select sends "5" for 5.0, and a check against "5.0" read every choice as auto."""
    app, page = sessions_page
    assert page.step_for(sent, 20.0) == step
    with app.server.test_request_context("/sessions"):
        figure, _, _ = page.one_session(1, None, sent)
    xs = next(trace["x"] for trace in figure["data"] if trace.get("x") is not None and len(trace["x"]))
    assert len(xs) == max(1, int(-(-20 // step)))


@pytest.mark.parametrize("bucket", ["0", "abc", "-5", "1e999", None, 7])
def test_a_step_the_page_does_not_offer_is_read_as_auto_never_a_server_error(sessions_page, bucket):
    app, page = sessions_page
    assert page.step_for(bucket, 20.0) == page.step_for("auto", 20.0)
    with app.server.test_request_context("/sessions"):
        figure, _, _ = page.one_session(1, None, bucket)
    assert figure["data"]


def test_a_password_an_older_moodlog_stored_in_a_device_never_reaches_the_browser(tmp_path):
    """Logs written before capture masked URL passwords hold them in sessions.device; the dashboard
    shows and filters such a device masked (found in review: the filter menus showed the password)."""
    path = tmp_path / "moodlog.db"
    db = open_log(path)
    secret = start_session(db, device="rtsp://admin:s3cret@cam/live?token=abc", model="m", detector="d", started_at=BASE)
    LogWriter(db, secret).close("stopped", ended_at=BASE + 10)
    other = start_session(db, device="0", model="m", detector="d", started_at=BASE + 20)
    LogWriter(db, other).close("stopped", ended_at=BASE + 30)
    db.close()
    shown = "rtsp://admin:***@cam/live?token=***"
    connection = queries.connect(path)
    assert {c["device"] for c in queries.session_choices(connection)} == {shown, "0"}
    assert {r["device"] for r in queries.session_table(connection, queries.Filters(), now=BASE + 100)} == {shown, "0"}
    assert {s.device for s in sessions.summaries(connection, [secret, other])} == {shown, "0"}
    assert queries.sessions_of_devices(connection, [shown]) == (secret,)
    app = create_app(path)
    with app.server.test_client() as client:
        pages = "".join(client.get(page).get_data(as_text=True) for page in ("/", "/history", "/sessions"))
    assert "s3cret" not in pages and "abc" not in pages
