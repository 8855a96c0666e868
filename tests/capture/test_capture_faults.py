"""A live stream that drops and comes back, or drops for good; a log that is busy for a while,
or is no log at all (a folder, a file that is not SQLite, another program's database)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from capture.daemon import CaptureOptions
from capture.log import SCHEMA_VERSION, LogError, LogWriter, open_log, start_session
from capture_helpers import (ROOT, background, count_rows, db_rows, face_stream_frames, run_in_background, wait_for,
                             write_video)

sys.path.insert(0, str(ROOT / "bench"))
from mjpeg_server import MjpegServer, encode_frames  # noqa: E402  (a real HTTP MJPEG camera)


@pytest.fixture(scope="module")
def face_jpegs(fer2013, recognizer):
    return encode_frames(face_stream_frames(fer2013, recognizer))


def test_a_stream_that_drops_is_reopened_and_the_gap_logged(face_jpegs, tmp_path, recognizer):
    camera = MjpegServer(face_jpegs, fps=15).start()
    db, stop = tmp_path / "moodlog.db", threading.Event()
    thread, result = run_in_background(CaptureOptions(camera.url, db=db, reconnect=30, quiet=True), recognizer, stop)
    assert wait_for(lambda: count_rows(db) > 5, 60)
    camera.stop()                                  # the camera goes off the network for 2 s
    time.sleep(2.0)
    camera.start()
    back_at = time.time()
    assert wait_for(lambda: db_rows(db, "SELECT count(*) AS n FROM detections WHERE ts > ?", [back_at])[0]["n"] > 5, 60)
    stop.set()
    thread.join(30)
    camera.stop()
    summary = result["summary"]
    gap, = db_rows(db, "SELECT * FROM gaps")
    session, = db_rows(db, "SELECT * FROM sessions")
    assert summary.status == "stopped" and summary.error is None and session["status"] == "stopped"
    assert gap["reason"] == "source lost, reconnected" and 1.5 < gap["ended_at"] - gap["started_at"] < 15
    assert session["reconnects"] == 1
    # Live: the newest frame is analysed, stale ones dropped and counted (one may be in hand at stop).
    assert 0 <= session["frames_read"] - session["frames_analysed"] - session["frames_dropped"] <= 1
    # The gap begins at the last frame before it (its row has that time).
    before = db_rows(db, "SELECT count(*) AS n FROM detections WHERE ts <= ?", [gap["started_at"]])[0]["n"]
    after = db_rows(db, "SELECT count(*) AS n FROM detections WHERE ts > ?", [gap["ended_at"]])[0]["n"]
    assert before > 5 and after > 5 and before + after == count_rows(db) == session["faces"]


class FreezingCamera(MjpegServer):
    """An MJPEG camera that can hang: while `frozen` is set its connections stay open and send nothing."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.frozen = threading.Event()

    def _stream(self, out, running) -> None:
        super()._stream(_Held(out, self.frozen), running)


class _Held:
    """A writer whose writes wait while `frozen` is set."""

    def __init__(self, out, frozen: threading.Event):
        self.out, self.frozen = out, frozen

    def write(self, data: bytes) -> None:
        while self.frozen.is_set():
            time.sleep(0.02)
        self.out.write(data)

    def flush(self) -> None:
        self.out.flush()


def test_a_stream_that_stalls_logs_a_gap_from_its_last_frame(face_jpegs, tmp_path, recognizer):
    """Found by a review: a frozen server is noticed when a read times out, 5 s later, and the gap
    began there, as if frames had come in those 5 s."""
    camera = FreezingCamera(face_jpegs, fps=15).start()
    db, stop = tmp_path / "moodlog.db", threading.Event()
    thread, result = run_in_background(CaptureOptions(camera.url, db=db, reconnect=30, quiet=True), recognizer, stop)
    assert wait_for(lambda: count_rows(db) > 5, 60)
    camera.frozen.set()
    frozen_at = time.time()
    time.sleep(7.0)
    camera.frozen.clear()
    back_at = time.time()
    assert wait_for(lambda: db_rows(db, "SELECT count(*) AS n FROM detections WHERE ts > ?", [back_at])[0]["n"] > 5, 60)
    stop.set()
    thread.join(30)
    camera.stop()
    gap, = db_rows(db, "SELECT * FROM gaps")
    assert gap["reason"] == "source lost, reconnected" and abs(gap["started_at"] - frozen_at) < 1.0
    assert back_at - 0.5 < gap["ended_at"] < back_at + 10
    last_before, = db_rows(db, "SELECT max(ts) AS ts FROM detections WHERE ts <= ?", [gap["started_at"]])
    assert gap["started_at"] - last_before["ts"] < 0.5
    assert db_rows(db, "SELECT count(*) AS n FROM detections WHERE ts > ? AND ts < ?",
                   [gap["started_at"], gap["ended_at"]])[0]["n"] == 0
    assert result["summary"].status == "stopped"


def test_a_stream_gone_for_good_is_given_up_after_the_reconnect_window(face_jpegs, tmp_path, recognizer):
    camera = MjpegServer(face_jpegs, fps=15).start()
    db, stop = tmp_path / "moodlog.db", threading.Event()
    thread, result = run_in_background(CaptureOptions(camera.url, db=db, reconnect=2, quiet=True), recognizer, stop)
    assert wait_for(lambda: count_rows(db) > 5, 60)
    camera.stop()
    lost_at = time.time()
    thread.join(60)
    summary = result["summary"]
    assert summary.status == "source lost" and "could not reopen it within 2 s" in str(summary.error)
    assert time.time() - lost_at < 15
    session, = db_rows(db, "SELECT * FROM sessions")
    gap, = db_rows(db, "SELECT * FROM gaps")
    assert session["status"] == "source lost" and session["ended_at"] is not None
    assert gap["reason"] == "source lost, gave up" and gap["ended_at"] - gap["started_at"] >= 2
    assert count_rows(db) == session["faces"] == summary.counters["faces"]


def test_rows_wait_in_memory_while_the_log_is_locked_and_none_is_lost(tmp_path):
    db_path = tmp_path / "moodlog.db"
    db = open_log(db_path)
    writer = LogWriter(db, start_session(db, device="d", model="m", detector="haar"), batch_seconds=0)
    blocker = sqlite3.connect(db_path)
    blocker.execute("BEGIN IMMEDIATE")           # another process holds the write lock
    probabilities = [0.1, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1]
    for frame in range(10):
        writer.add(time.time(), frame, 0, (1, 2, 3, 4), probabilities)
    assert writer.failures > 0 and len(writer.pending) == 10 and count_rows(db_path) == 0
    blocker.rollback()
    writer.close()
    assert count_rows(db_path) == 10 and writer.written == 10
    assert {r["emotion"] for r in db_rows(db_path, "SELECT emotion FROM detections")} == {"happy"}


def test_a_version_1_log_is_migrated_in_place(tmp_path):
    db_path = tmp_path / "old.db"
    old = sqlite3.connect(db_path)
    old.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, device TEXT, started_at FLOAT, ended_at FLOAT, "
                "updated_at FLOAT, model TEXT, detector TEXT, host TEXT, pid INTEGER, status TEXT, "
                "frames_read INTEGER DEFAULT 0, frames_analysed INTEGER DEFAULT 0, faces INTEGER DEFAULT 0, fps FLOAT)")
    old.execute("INSERT INTO sessions (device, started_at, ended_at, status) VALUES ('0', 1, 2, 'stopped')")
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()
    open_log(db_path)
    session, = db_rows(db_path, "SELECT * FROM sessions")
    assert session["faces_unclassified"] == 0 and session["device"] == "0"
    assert db_rows(db_path, "PRAGMA user_version")[0][0] == SCHEMA_VERSION


def _foreign_database(path):
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE notes (body TEXT)")
    other.execute("INSERT INTO notes VALUES ('keep me')")
    other.commit()
    other.close()


@pytest.mark.parametrize("kind, reason", [
    ("random bytes", "file is not a database"),
    ("text", "file is not a database"),
    ("folder", "it is a folder"),
    ("under a file", "a folder on its path is a file"),
    ("another program's database", "another program's database (tables: notes)"),
])
def test_a_path_that_cannot_be_a_log_is_refused_by_name_and_left_as_it_was(tmp_path, kind, reason):
    path = tmp_path / "moodlog.db"
    if kind == "random bytes":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    elif kind == "text":
        path.write_text("my notes\n")
    elif kind == "folder":
        path.mkdir()
    elif kind == "under a file":
        (tmp_path / "plain").write_text("x")
        path = tmp_path / "plain" / "moodlog.db"
    else:
        _foreign_database(path)
    before = sorted((p.name, p.read_bytes() if p.is_file() else None) for p in tmp_path.iterdir())
    with pytest.raises(LogError) as refused:
        open_log(path)
    assert str(path) in str(refused.value) and reason in str(refused.value)
    assert sorted((p.name, p.read_bytes() if p.is_file() else None) for p in tmp_path.iterdir()) == before


def test_start_with_a_log_that_is_not_a_database_exits_2_with_a_message_not_a_traceback(tmp_path):
    video = write_video(tmp_path / "room.avi", [background(i) for i in range(5)])
    db = tmp_path / "notes.db"
    db.write_text("my notes\n")
    done = subprocess.run([sys.executable, str(ROOT / "app.py"), "start", str(video), "--db", str(db), "--quiet"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"cannot use {db} as the Moodlog log: file is not a database" in done.stderr
    assert db.read_text() == "my notes\n"
