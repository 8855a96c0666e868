"""End-to-end capture throughput: frames analysed per second through the real daemon, one core.

The whole path is timed: the reader thread decoding the file, detection, classification,
tracking and batched SQLite logging (to a fresh database each repeat), with TensorFlow and
OpenCV pinned to one thread. The model is loaded and warmed up before timing, as a daemon
pays that once per run. The peer, the `fer` package's FER(mtcnn=False).detect_emotions on
every frame of the same video, runs in the same invocation from bench/.venv-fer.

    nice -n 15 .venv/bin/python bench/capture_throughput.py [--frames 300] [--repeats 3] [--model PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, one_core
from capture_video import benchmark_video

FER_PYTHON = ROOT / "bench" / ".venv-fer" / "bin" / "python"


def moodlog_fps(video: Path, detector: str, repeats: int, model: str | None = None) -> tuple[float, float, int]:
    """Median frames analysed per wall-clock second and per CPU second (all of this process's
    threads: reading, analysis, logging) over `repeats` runs, and faces logged per run.

    The CPU-second figure is what one free core would give; the wall-clock one is what this
    (possibly shared) machine gave while the benchmark ran."""
    from capture.daemon import CaptureOptions, run
    from model.classifier import EmotionClassifier
    from model.recognizer import Recognizer

    recognizer = Recognizer(EmotionClassifier(model), detector=detector)
    recognizer.recognize(next(iter(_first_frame(video))))     # warm-up: trace the model once
    rates, cpu_rates, faces = [], [], 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            started, cpu_started = time.perf_counter(), time.process_time()
            summary = run(CaptureOptions(str(video), db=Path(folder) / "bench.db", detector=detector, quiet=True,
                                         model=model),
                          recognizer=recognizer)
            frames = summary.counters["frames_analysed"]
            rates.append(frames / (time.perf_counter() - started))
            cpu_rates.append(frames / (time.process_time() - cpu_started))
            faces = summary.counters["faces"]
    return statistics.median(rates), statistics.median(cpu_rates), faces


def _first_frame(video: Path):
    import cv2

    capture = cv2.VideoCapture(str(video))
    yield capture.read()[1]


def fer_fps(video: Path, repeats: int) -> dict | None:
    """The peer's median run (by fps), or None when its venv is missing or cannot run it."""
    if not FER_PYTHON.exists():
        return None
    results = []
    for _ in range(repeats):
        done = subprocess.run([str(FER_PYTHON), str(ROOT / "bench" / "fer_peer.py"), str(video)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            print(f"fer peer failed: {done.stderr.strip().splitlines()[-1:]}")
            return None
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return sorted(results, key=lambda r: r["fps"])[len(results) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description="capture throughput vs the fer package")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--detectors", default="haar,blazeface")
    parser.add_argument("--model", help="a .keras model made by train or ensemble (default: the shipped one)")
    parser.add_argument("--no-peer", action="store_true", help="skip the fer peer")
    args = parser.parse_args()
    one_core()
    video = benchmark_video(args.frames)
    print(f"video: {video.name}, 640x480, {args.frames} frames, two faces; TF and OpenCV on 1 thread; "
          f"median of {args.repeats}")
    rates = {}
    for detector in args.detectors.split(","):
        rates[detector], per_cpu_second, faces = moodlog_fps(video, detector, args.repeats, args.model)
        print(f"moodlog --detector {detector}: {rates[detector]:.1f} frames analysed/s wall-clock, "
              f"{per_cpu_second:.1f} per CPU-second; {faces} faces logged")
    peer = None if args.no_peer else fer_fps(video, args.repeats)
    if peer is None:
        print("fer peer: not measured (bench/.venv-fer missing or failing; see bench/setup_fer_peer.sh)")
        return
    print(f"fer FER(mtcnn=False).detect_emotions: {peer['fps']:.1f} frames/s wall-clock, "
          f"{peer['fps_per_cpu_second']:.1f} per CPU-second; {peer['faces']} faces found")
    for detector, rate in rates.items():
        print(f"ratio moodlog ({detector}) / fer, wall-clock: {rate / peer['fps']:.1f}x")


if __name__ == "__main__":
    main()
