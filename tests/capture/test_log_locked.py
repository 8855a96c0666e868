"""Another program holding the log's write lock (DB Browser for SQLite with unsaved edits holds
`BEGIN IMMEDIATE` for as long as it likes): capture goes on with its rows in memory, and commands
that write once wait for the lock, then say in one line that it is taken."""

from __future__ import annotations

import io
import queue
import sqlite3
import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest

from capture.daemon import Books, CaptureOptions
from capture.log import BUSY_TIMEOUT_MS, LogWriter, open_log, start_session
from capture.source import ReaderCounters
from capture.status import StatusLine
from capture_helpers import (ROOT, background, count_rows, db_rows, face_stream_frames, run_in_background, wait_for,
                             write_video)

sys.path.insert(0, str(ROOT / "bench"))
from mjpeg_server import MjpegServer, encode_frames  # noqa: E402  (a real HTTP MJPEG camera)

LOCK_SECONDS = 4.0


def hold_write_lock(db_path) -> sqlite3.Connection:
    """Another program's connection holding the write lock until it commits or rolls back."""
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


@pytest.fixture(scope="module")
def face_jpegs(fer2013, recognizer):
    return encode_frames(face_stream_frames(fer2013, recognizer))


def test_a_live_source_is_analysed_on_while_another_program_holds_the_log(face_jpegs, tmp_path, recognizer):
    """Found by a review: each flush waited out a 30 s busy timeout on the analysis thread, so
    analysis stopped for as long as the lock was held, and a live source's frames were dropped."""
    camera = MjpegServer(face_jpegs, fps=15).start()
    db, stop = tmp_path / "moodlog.db", threading.Event()
    thread, result = run_in_background(CaptureOptions(camera.url, db=db, quiet=True), recognizer, stop)
    assert wait_for(lambda: count_rows(db) > 5, 60)
    other = hold_write_lock(db)
    locked_at = time.time()
    time.sleep(LOCK_SECONDS)
    other.rollback()
    released_at = time.time()
    assert wait_for(lambda: db_rows(db, "SELECT count(*) AS n FROM detections WHERE ts > ?",
                                    [released_at])[0]["n"] > 5, 60)
    stop.set()
    thread.join(30)
    camera.stop()
    # Frames were analysed all through the lock (15 a second come in; at least half are expected
    # after the first batch due in it), and their rows written once the lock was gone.
    during = db_rows(db, "SELECT count(*) AS n FROM detections WHERE ts BETWEEN ? AND ?",
                     [locked_at + 1.5, released_at - 0.2])[0]["n"]
    assert during >= 0.5 * 15 * (LOCK_SECONDS - 1.7), during
    session, = db_rows(db, "SELECT * FROM sessions")
    assert session["status"] == "stopped" and count_rows(db) == session["faces"] == result["summary"].counters["faces"]
    assert db_rows(db, "SELECT * FROM gaps") == []


def test_the_status_line_says_rows_wait_for_the_locked_log_until_they_are_written(tmp_path):
    """It said 'N rows waiting for the disk' for a lock, and kept saying it after the rows were written."""
    path = tmp_path / "moodlog.db"
    db = open_log(path)
    writer = LogWriter(db, start_session(db, device="0", model="m", detector="d"), batch_seconds=0)
    reader = types.SimpleNamespace(counters=ReaderCounters(), measured=dict, gaps=queue.SimpleQueue(),
                                   lost_since=None, live=True)
    stream = io.StringIO()
    books = Books(writer, reader, StatusLine(stream=stream, log_every=0), str(path))
    probabilities = np.full(7, 1 / 7, np.float32)
    other = hold_write_lock(path)
    began = time.monotonic()
    for number in range(3):
        books.log(types.SimpleNamespace(ts=1.0e9 + number, number=number, media_time=number / 30), 0,
                  (0, 0, 40, 40), probabilities, 1)
    books.tick()
    assert time.monotonic() - began < 2.0, "the writes waited for the lock on the analysis thread"
    assert stream.getvalue().splitlines()[-1].endswith("0 rows written | 3 rows waiting for the log "
                                                       "(locked by another program)")
    other.rollback()
    books.tick()
    assert stream.getvalue().splitlines()[-1].endswith("| 3 rows written")
    assert count_rows(path) == 3 and writer.failures == 0 and writer.last_error is None


def _marker_csv(tmp_path):
    csv = tmp_path / "events.csv"
    csv.write_text("time,label\n1.0,start\n2.5,task\n")
    return csv


def _log_with_a_session(tmp_path):
    path = tmp_path / "moodlog.db"
    db = open_log(path)
    LogWriter(db, start_session(db, device="talk.mp4", model="m", detector="d", started_at=time.time() - 60)).close()
    db.close()
    return path


def _app(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "app.py"), *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_markers_and_start_wait_for_another_programs_lock_and_go_on_when_it_is_let_go(tmp_path):
    """Found by a review: both failed about a second in with a traceback ('database is locked'): their
    transactions read before they wrote, and SQLite refuses such a write at once, without waiting."""
    path = _log_with_a_session(tmp_path)
    video = write_video(tmp_path / "room.avi", [background(i) for i in range(5)])
    other = hold_write_lock(path)
    markers = _app("markers", _marker_csv(tmp_path), "--session", 1, "--db", path)
    start = _app("start", video, "--db", path, "--quiet")
    time.sleep(3.0)
    assert markers.poll() is None and start.poll() is None, "a command did not wait for the lock"
    other.rollback()
    (markers_out, markers_err), (_, start_err) = markers.communicate(timeout=120), start.communicate(timeout=300)
    assert markers.returncode == 0, markers_err[-2000:]
    assert start.returncode == 0, start_err[-2000:]
    assert markers_out.startswith("2 markers added to session 1")
    assert [row["label"] for row in db_rows(path, "SELECT label FROM markers ORDER BY ts")] == ["start", "task"]
    assert [(row["device"], row["status"]) for row in db_rows(path, "SELECT device, status FROM sessions")] == [
        ("talk.mp4", "stopped"), (str(video), "finished")]


def test_a_lock_that_outlasts_the_wait_ends_markers_and_start_with_one_line_and_exit_2(tmp_path):
    path = _log_with_a_session(tmp_path)
    video = write_video(tmp_path / "room.avi", [background(i) for i in range(5)])
    other = hold_write_lock(path)
    began = time.monotonic()
    markers = _app("markers", _marker_csv(tmp_path), "--session", 1, "--db", path)
    start = _app("start", video, "--db", path, "--quiet")
    (_, markers_err), (_, start_err) = markers.communicate(timeout=300), start.communicate(timeout=300)
    other.rollback()
    assert time.monotonic() - began >= BUSY_TIMEOUT_MS / 1000
    for process, stderr, doing in [(markers, markers_err, "add markers to session 1"),
                                   (start, start_err, "start a session")]:
        assert process.returncode == 2 and "Traceback" not in stderr, stderr[-2000:]
        assert stderr.strip().splitlines() == [
            f"error: cannot {doing}: {path} is locked by another program, still after 30 s (a database browser "
            "with unsaved changes? write or revert them, then try again)"]
    assert db_rows(path, "SELECT count(*) AS n FROM markers")[0]["n"] == 0
    assert len(db_rows(path, "SELECT * FROM sessions")) == 1
