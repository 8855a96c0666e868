"""Real videos through the real daemon into a real SQLite file, checked against what was placed."""

from __future__ import annotations

import collections
import csv
import io
import re
import signal
import threading
import urllib.request

import numpy as np
import pytest

from capture.daemon import CaptureOptions, run
from capture_helpers import (background, count_rows, db_rows, detectable_fer_faces, moving_face_video, overlap, place,
                             read_video, start_app, wait_for, write_video)
from model.labels import EMOTIONS
from model.faces import DEFAULT_DETECTOR

EMOTIONS_PLACED = ("happy", "surprise", "angry", "neutral")
FRAMES_EACH = 12


@pytest.fixture(scope="module")
def fer_video(tmp_path_factory, fer2013, recognizer):
    faces = detectable_fer_faces(fer2013, recognizer, 1, EMOTIONS_PLACED)
    assert len(faces) == len(EMOTIONS_PLACED), "too few FER2013 test faces found by the detector"
    path = tmp_path_factory.mktemp("video") / "fer_faces.avi"
    return path, moving_face_video(path, faces, FRAMES_EACH), fer2013


@pytest.fixture(scope="module")
def fer_run(fer_video, tmp_path_factory, recognizer):
    path, placed, _ = fer_video
    db = tmp_path_factory.mktemp("db") / "moodlog.db"
    summary = run(CaptureOptions(str(path), db=db, quiet=True), recognizer=recognizer)
    return db, summary, placed


def test_every_frame_of_a_file_is_analysed_and_the_session_closed(fer_run):
    db, summary, placed = fer_run
    session, = db_rows(db, "SELECT * FROM sessions")
    assert summary.status == "finished" and session["status"] == "finished"
    assert session["ended_at"] >= session["started_at"]
    assert session["frames_read"] == session["frames_analysed"] == len(placed)
    assert session["frames_dropped"] == 0
    assert session["detector"] == DEFAULT_DETECTOR and session["model"].startswith("moodnet.keras")


def test_each_placed_face_is_logged_once_per_frame_on_its_box(fer_run):
    db, summary, placed = fer_run
    rows = db_rows(db, "SELECT * FROM detections ORDER BY frame, face")
    by_frame = collections.defaultdict(list)
    for row in rows:
        by_frame[row["frame"]].append(row)
    # Compression may hide a face from the detector in a rare frame; no frame may hold two.
    assert len(by_frame) >= 0.9 * len(placed)
    assert all(len(frame_rows) == 1 for frame_rows in by_frame.values())
    for frame, (frame_row,) in by_frame.items():
        assert overlap((frame_row["x"], frame_row["y"], frame_row["w"], frame_row["h"]), placed[frame][1]) > 0.5
    assert summary.counters["faces"] == len(rows)
    session, = db_rows(db, "SELECT faces, frames_without_face FROM sessions")
    assert session["faces"] == len(rows)
    assert session["frames_without_face"] + len(by_frame) <= len(placed)


def test_logged_emotions_are_what_the_recognizer_reads_in_those_frames(fer_run, fer_video, recognizer):
    db, _, placed = fer_run
    frames = read_video(fer_video[0])
    for row in db_rows(db, "SELECT * FROM detections"):
        face, = [f for f in recognizer.recognize(frames[row["frame"]]) if f.status == "ok"]
        logged = np.array([row[name] for name in EMOTIONS])
        np.testing.assert_allclose(logged, face.probabilities, atol=1e-4)
        assert row["emotion"] == face.emotion and row["confidence"] == pytest.approx(face.confidence, abs=1e-5)
        assert logged.sum() == pytest.approx(1.0, abs=1e-4)


def test_each_placed_face_reads_as_the_recognizer_reads_it_in_a_clean_still(fer_run, fer_video, recognizer):
    """Moving and compressing a face must not change its emotion: per placed face, the emotion
    logged most often is the one the recognizer gives the uncompressed face on the backdrop."""
    db, _, placed = fer_run
    faces = detectable_fer_faces(fer_video[2], recognizer, 1, EMOTIONS_PLACED)
    for number, (emotion, face) in enumerate(faces):
        still = background()
        place(still, face, 40 if number % 2 == 0 else 170, 50)
        expected, = [f.emotion for f in recognizer.recognize(still) if f.status == "ok"]
        logged = [r["emotion"] for r in db_rows(db, "SELECT emotion FROM detections WHERE frame / ? = ?",
                                                [FRAMES_EACH, number])]
        assert logged and collections.Counter(logged).most_common(1)[0][0] == expected, (emotion, logged)


def test_a_face_keeps_one_track_and_the_next_face_gets_another(fer_run):
    db, _, placed = fer_run
    tracks_per_face = collections.defaultdict(set)
    for row in db_rows(db, "SELECT frame, track FROM detections"):
        tracks_per_face[row["frame"] // FRAMES_EACH].add(row["track"])
    tracks = [tracks_per_face[i] for i in range(len(EMOTIONS_PLACED))]
    assert all(len(face_tracks) == 1 for face_tracks in tracks)
    assert all(a != b for a, b in zip(tracks, tracks[1:]))


def test_the_minute_rollup_matches_the_rows(fer_run):
    db, _, _ = fer_run
    rollup = {(r["minute"], r["emotion"]): r["faces"] for r in db_rows(db, "SELECT * FROM emotion_minutes")}
    counted = {(r["minute"], r["emotion"]): r["n"] for r in db_rows(
        db, "SELECT CAST(ts / 60 AS INTEGER) AS minute, emotion, count(*) AS n FROM detections GROUP BY 1, 2")}
    assert rollup == counted
    sums = ", ".join(f"sum({e}) AS {e}" for e in EMOTIONS)
    detected = db_rows(db, f"SELECT emotion, {sums} FROM detections GROUP BY emotion ORDER BY emotion")
    rolled = db_rows(db, f"SELECT emotion, {', '.join(f'sum(sum_{e}) AS {e}' for e in EMOTIONS)} "
                         "FROM emotion_minutes GROUP BY emotion ORDER BY emotion")
    assert [r["emotion"] for r in detected] == [r["emotion"] for r in rolled]
    for d, r in zip(detected, rolled):
        assert [d[e] for e in EMOTIONS] == pytest.approx([r[e] for e in EMOTIONS], rel=1e-9)


def test_a_video_without_faces_logs_no_rows_and_counts_its_frames(tmp_path, recognizer):
    frames = [background(i) for i in range(30)]
    video = write_video(tmp_path / "empty_room.avi", frames)
    db = tmp_path / "moodlog.db"
    summary = run(CaptureOptions(str(video), db=db, quiet=True), recognizer=recognizer)
    session, = db_rows(db, "SELECT * FROM sessions")
    assert db_rows(db, "SELECT count(*) AS n FROM detections")[0]["n"] == 0
    assert session["frames_read"] == session["frames_analysed"] == session["frames_without_face"] == 30
    assert session["faces"] == 0 and summary.status == "finished"


def test_a_corrupt_frame_in_a_file_is_skipped_and_counted(tmp_path, recognizer):
    video = write_video(tmp_path / "damaged.avi", [background(i) for i in range(30)])
    data = bytearray(video.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    data[starts[10]:starts[11] - 8] = bytes(starts[11] - 8 - starts[10])   # frame 10's JPEG wiped out
    video.write_bytes(data)
    db = tmp_path / "moodlog.db"
    summary = run(CaptureOptions(str(video), db=db, quiet=True), recognizer=recognizer)
    session, = db_rows(db, "SELECT * FROM sessions")
    assert summary.status == "finished"
    assert session["frames_corrupt"] == 1 and session["frames_read"] == session["frames_analysed"] == 29


def test_fps_on_a_file_samples_by_position_in_the_video(fer_video, tmp_path, recognizer):
    path, placed, _ = fer_video
    db = tmp_path / "moodlog.db"
    run(CaptureOptions(str(path), db=db, fps=10, quiet=True), recognizer=recognizer)
    session, = db_rows(db, "SELECT * FROM sessions")
    # The video is 30 fps: at most every third frame is analysed, and every frame still read.
    assert session["frames_read"] == len(placed)
    assert session["frames_analysed"] == pytest.approx(len(placed) / 3, abs=1)
    frames = [r["frame"] for r in db_rows(db, "SELECT DISTINCT frame FROM detections ORDER BY frame")]
    assert frames and all(b - a >= 3 for a, b in zip(frames, frames[1:]))


def test_no_pixels_are_stored_only_numbers(fer_run):
    """Privacy: the log holds boxes and probabilities, never an image or a crop."""
    db, _, _ = fer_run
    for table in ("sessions", "detections", "gaps", "emotion_minutes"):
        types = {row["type"].upper() for row in db_rows(db, f"PRAGMA table_info([{table}])")}
        assert types <= {"INTEGER", "FLOAT", "REAL", "TEXT"}, (table, types)
    assert db_rows(db, "SELECT count(*) AS n FROM detections WHERE typeof(emotion) = 'blob'")[0]["n"] == 0


def test_a_model_given_to_start_is_the_one_that_runs_and_is_named(fer_run, fer_video, model_copy, tmp_path):
    """`start --model`: a copy of the shipped model (and its int8 file) under another name logs the
    same emotions as the shipped model did, and the session names the copy."""
    db = tmp_path / "moodlog.db"
    summary = run(CaptureOptions(str(fer_video[0]), db=db, quiet=True, model=str(model_copy)))
    session, = db_rows(db, "SELECT * FROM sessions")
    assert summary.status == "finished" and session["model"].startswith("mine.keras")
    columns = "frame, face, emotion, " + ", ".join(EMOTIONS)
    ours = db_rows(db, f"SELECT {columns} FROM detections ORDER BY frame, face")
    shipped = db_rows(fer_run[0], f"SELECT {columns} FROM detections ORDER BY frame, face")
    assert len(ours) == len(shipped) > 0
    for mine_row, shipped_row in zip(ours, shipped):
        assert mine_row["emotion"] == shipped_row["emotion"]
        assert np.allclose([mine_row[e] for e in EMOTIONS], [shipped_row[e] for e in EMOTIONS], atol=1e-6)


def test_start_with_the_dashboard_serves_the_log_it_writes_until_ctrl_c(fer_video, tmp_path):
    """The README's first command, `start --dashboard`, on a file: the dashboard comes up on the
    log the daemon writes and stays up once the file has ended, its CSV export holds every row
    logged, and Ctrl+C ends the process cleanly."""
    db = tmp_path / "moodlog.db"
    process = start_app(fer_video[0], "--db", db, "--dashboard", "--port", "0", "--quiet")
    printed: list[str] = []
    threading.Thread(target=lambda: [printed.append(line) for line in process.stdout], daemon=True).start()
    try:
        assert wait_for(lambda: any("dashboard stays up until Ctrl+C" in line for line in printed), 180), printed
        url = re.search(r"http://127\.0\.0\.1:\d+/", "".join(printed)).group(0)
        with urllib.request.urlopen(url + "history/export.csv", timeout=60) as response:
            exported = list(csv.DictReader(io.StringIO(response.read().decode())))
        assert len(exported) == count_rows(db) > 0
        assert {row["emotion"] for row in exported} == {row["emotion"] for row in db_rows(db, "SELECT emotion FROM detections")}
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
