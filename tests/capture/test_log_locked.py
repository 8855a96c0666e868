"""Another program holding the log's write lock (DB Browser for SQLite with unsaved edits holds
`BEGIN IMMEDIATE` for as long as it likes): capture goes on with its rows in memory."""

from __future__ import annotations

import io
import queue
import sqlite3
import sys
import threading
import time
import types

import numpy as np
import pytest

from capture.daemon import Books, CaptureOptions
from capture.log import LogWriter, open_log, start_session
from capture.source import ReaderCounters
from capture.status import StatusLine
from capture_helpers import ROOT, count_rows, db_rows, face_stream_frames, run_in_background, wait_for

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

