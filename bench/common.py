"""Shared by the bench scripts: one-core settings, median timing, and where the data is."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "datasets"


def one_core() -> None:
    """Pin TensorFlow and OpenCV to one thread each, as the speed targets are stated for one core."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import cv2
    import tensorflow as tf

    cv2.setNumThreads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def median_seconds(call, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def fer2013_path() -> Path:
    env = os.environ.get("MOODLOG_FER2013")
    path = Path(env) if env else SHARED / "fer2013"
    if not path.exists():
        sys.exit(f"FER2013 not found at {path}: set MOODLOG_FER2013")
    return path


def faces_path() -> Path:
    path = SHARED / "faces"
    if not path.is_dir():
        sys.exit(f"real face photos not found at {path}")
    return path
