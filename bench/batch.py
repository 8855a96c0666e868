"""Batch throughput: files analysed by 1 and 2 local worker processes and by a local Dask cluster
of 2, in one run, on the same files; the ratio 2-workers / 1-worker is issue 14's target (>= 1.7).

The files are the real clip ../shared/datasets/faces/videos/huimiang_1543684773.avi (720x480 MJPG,
67 frames) looped LOOPS times into each of FILES files (written once into bench/out/batch_videos),
so each file takes seconds, as a participant video takes minutes. Every run is end to end: workers
start (spawned processes import the model), analyse, send rows; this process writes one session per
file to a fresh log. Configurations alternate round by round; medians are printed. The rows of every
configuration are checked identical (same file, same rows).

    python bench/batch.py [--files 8] [--loops 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from capture.batch import run_batch  # noqa: E402
from capture.daemon import CaptureOptions  # noqa: E402
from mjpeg_server import read_video  # noqa: E402  (bench/ is on the path when run as a script)

CLIP = ROOT.parent / "shared" / "datasets" / "faces" / "videos" / "huimiang_1543684773.avi"
CONFIGURATIONS = (("1 local worker", "local", 1), ("2 local workers", "local", 2), ("Dask LocalCluster, 2", "dask", 2))


def make_files(folder: Path, files: int, loops: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    frames = read_video(str(CLIP))
    paths = []
    for index in range(files):
        path = folder / f"participant{index:02d}_{loops}.avi"
        if not path.exists():
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, frames[0].shape[1::-1])
            for _ in range(loops):
                for frame in frames:
                    writer.write(frame)
            writer.release()
        paths.append(path)
    return paths


def rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT s.device, d.frame, d.face, d.emotion, round(d.confidence, 6) FROM detections d "
                                  "JOIN sessions s ON s.id = d.session_id ORDER BY s.device, d.frame, d.face").fetchall()


def batch_arguments(description: str, rounds: int = 3) -> argparse.Namespace:
    """--files, --loops and --rounds, shared with bench/cluster_engines.py."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--loops", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=rounds)
    return parser.parse_args()


def main() -> None:
    args = batch_arguments(__doc__.splitlines()[0])
    if not CLIP.is_file():
        sys.exit(f"needs {CLIP}")
    files = make_files(ROOT / "bench" / "out" / "batch_videos", args.files, args.loops)
    frames = args.files * args.loops * 67
    seconds: dict[str, list[float]] = {name: [] for name, _, _ in CONFIGURATIONS}
    reference = None
    with tempfile.TemporaryDirectory() as scratch:
        for round_number in range(args.rounds):
            for name, engine, workers in CONFIGURATIONS:
                db = Path(scratch) / f"{engine}{workers}_{round_number}.db"
                began = time.perf_counter()
                summary = run_batch(files, CaptureOptions("", db=db, quiet=True), workers=workers, engine=engine)
                seconds[name].append(time.perf_counter() - began)
                assert not summary.failed, summary.failed
                logged = rows(db)
                reference = reference or logged
                assert logged == reference, f"{name}: rows differ from the first run's"
                print(f"round {round_number + 1}, {name}: {seconds[name][-1]:.1f} s", flush=True)
    print(f"\n{args.files} files x {args.loops * 67} frames ({frames} frames, {len(reference)} faces logged), "
          f"{args.rounds} rounds, medians:")
    one = statistics.median(seconds[CONFIGURATIONS[0][0]])
    for name, _, _ in CONFIGURATIONS:
        median = statistics.median(seconds[name])
        print(f"| {name} | {median:.1f} s | {frames / median:.0f} frames/s | x{one / median:.2f} against 1 worker |")


if __name__ == "__main__":
    main()
