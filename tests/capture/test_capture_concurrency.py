"""Two daemons on two "cameras" write one log while a reader queries it, as the dashboard does."""

from __future__ import annotations

import shutil
import sqlite3
import threading

import pytest

from capture_helpers import db_rows, detectable_fer_faces, moving_face_video, start_app, summary_number

DASHBOARD_QUERIES = [
    "SELECT emotion, count(*) FROM detections WHERE ts > strftime('%s', 'now') - 3600 GROUP BY emotion",
    "SELECT minute, emotion, sum(faces) FROM emotion_minutes GROUP BY minute, emotion",
    "SELECT * FROM sessions ORDER BY started_at DESC",
]


@pytest.fixture(scope="module")
def two_videos(tmp_path_factory, fer2013, recognizer):
    faces = detectable_fer_faces(fer2013, recognizer, 1, ("happy", "surprise", "neutral"))
    folder = tmp_path_factory.mktemp("video")
    moving_face_video(folder / "camera_a.avi", faces, frames_each=40)
    shutil.copy(folder / "camera_a.avi", folder / "camera_b.avi")
    return folder / "camera_a.avi", folder / "camera_b.avi", 120


def keep_reading(db_path, stop: threading.Event, outcome: dict) -> None:
    """Query like the dashboard, as often as possible, until told to stop; count what fails."""
    connection = sqlite3.connect(db_path, timeout=30)
    while not stop.is_set():
        for sql in DASHBOARD_QUERIES:
            try:
                connection.execute(sql).fetchall()
                outcome["queries"] = outcome.get("queries", 0) + 1
            except sqlite3.OperationalError as error:
                if "no such table" not in str(error):
                    outcome.setdefault("errors", []).append(str(error))
        stop.wait(0.02)
    connection.close()


def test_two_writers_and_a_reader_share_the_log_without_locks_or_losses(two_videos, tmp_path):
    video_a, video_b, frames = two_videos
    db = tmp_path / "moodlog.db"
    stop, outcome = threading.Event(), {}
    reader = threading.Thread(target=keep_reading, args=(db, stop, outcome))
    reader.start()
    daemons = [start_app(video, "--db", db) for video in (video_a, video_b)]
    results = [process.communicate(timeout=240) for process in daemons]
    stop.set()
    reader.join()
    for process, (stdout, stderr) in zip(daemons, results):
        assert process.returncode == 0, stderr[-2000:]
        assert "locked" not in stderr
    assert not outcome.get("errors") and outcome["queries"] > 10
    sessions = db_rows(db, "SELECT * FROM sessions ORDER BY id")
    assert len(sessions) == 2 and {s["status"] for s in sessions} == {"finished"}
    assert {s["device"] for s in sessions} == {str(video_a), str(video_b)}
    logged = {s["device"]: s["faces"] for s in sessions}
    for video, (stdout, _) in zip((video_a, video_b), results):
        session_rows = db_rows(db, "SELECT count(*) AS n FROM detections d JOIN sessions s ON s.id = d.session_id "
                                   "WHERE s.device = ?", [str(video)])[0]["n"]
        assert session_rows == logged[str(video)] == summary_number(stdout, "faces logged:") > 0.8 * frames
    assert all(s["frames_analysed"] == frames for s in sessions)
