"""Flicker: how often the logged emotion of one steady face changes, with and without --smooth.

A still face (a real photo, with fresh sensor noise in every frame as a webcam gives) is
served as a 30 fps MJPEG camera; the daemon captures it for `--seconds`, once plain and once
with `--smooth`; flicker is label changes per second along the face's track in the log.

    nice -n 15 .venv/bin/python bench/flicker.py [--seconds 20] [--emotions fear,neutral]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import threading
from pathlib import Path

import numpy as np

from common import one_core
from capture_video import SIZE, face_photo
from mjpeg_server import MjpegServer, encode_frames


def steady_face_frames(emotion: str, index: int, count: int = 90, noise: float = 4.0) -> list[np.ndarray]:
    """A person sitting still: the head sways by a pixel or two, the light flickers a little,
    and every frame has fresh sensor noise."""
    random = np.random.default_rng(7)
    face = face_photo(emotion, index, side=240)
    frames = []
    for _ in range(count):
        frame = np.full((SIZE[1], SIZE[0], 3), 235, np.float32)
        dx, dy = random.integers(-2, 3, size=2)
        frame[110 + dy:350 + dy, 200 + dx:440 + dx] = face * random.uniform(0.96, 1.04)
        frames.append(np.clip(frame + random.normal(0, noise, frame.shape), 0, 255).astype(np.uint8))
    return frames


def label_changes_per_second(db_path: Path) -> tuple[float, int, str]:
    """Changes along the longest track, per second of that track; also its rows and commonest label."""
    connection = sqlite3.connect(db_path)
    track, = connection.execute("SELECT track FROM detections GROUP BY track ORDER BY count(*) DESC LIMIT 1").fetchone()
    rows = connection.execute("SELECT ts, emotion FROM detections WHERE track = ? ORDER BY ts", [track]).fetchall()
    changes = sum(a[1] != b[1] for a, b in zip(rows, rows[1:]))
    labels = [emotion for _, emotion in rows]
    return changes / max(rows[-1][0] - rows[0][0], 1e-9), len(rows), max(set(labels), key=labels.count)


def capture_for(url: str, seconds: float, smooth: bool, recognizer, folder: Path) -> Path:
    from capture.daemon import CaptureOptions, run

    db = folder / f"flicker_{'smooth' if smooth else 'plain'}.db"
    stop = threading.Event()
    threading.Timer(seconds, stop.set).start()
    run(CaptureOptions(url, db=db, smooth=smooth, quiet=True), recognizer=recognizer, stop=stop)
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--emotions", default="fear,neutral")
    parser.add_argument("--faces", type=int, default=3, help="CFD photos per emotion")
    parser.add_argument("--detector", default="blazeface")
    args = parser.parse_args()
    one_core()
    from model.recognizer import Recognizer

    recognizer = Recognizer(detector=args.detector)
    totals = {False: [], True: []}
    for emotion in args.emotions.split(","):
        for index in range(args.faces):
            camera = MjpegServer(encode_frames(steady_face_frames(emotion, index)), fps=30).start()
            with tempfile.TemporaryDirectory() as folder:
                for smooth in (False, True):
                    db = capture_for(camera.url, args.seconds, smooth, recognizer, Path(folder))
                    rate, rows, label = label_changes_per_second(db)
                    totals[smooth].append(rate)
                    print(f"steady {emotion} face #{index}, {'--smooth' if smooth else 'plain   '}: "
                          f"{rate:.2f} label changes/s over {rows} rows (mostly {label})")
            camera.stop()
    for smooth, rates in totals.items():
        print(f"mean over {len(rates)} faces, {'--smooth' if smooth else 'plain'}: {np.mean(rates):.2f} label changes/s")


if __name__ == "__main__":
    main()
