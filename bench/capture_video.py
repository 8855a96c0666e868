"""The benchmark video: 640x480, two real faces (Chicago Face Database photos) moving a little
in front of a real indoor scene.

Shared by capture_throughput.py, flicker.py and memory_flatness.py so that every capture
figure is measured on the same pixels. Written to bench/out/ (git-ignored), never committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from common import ROOT, faces_path

OUT = ROOT / "bench" / "out"
SIZE = (640, 480)


def face_photo(emotion: str, index: int = 0, side: int = 220) -> np.ndarray:
    path = sorted((faces_path() / "cfd" / emotion).glob("*.jpg"))[index]
    return cv2.resize(cv2.imread(str(path)), (side, side), interpolation=cv2.INTER_AREA)


def room() -> np.ndarray:
    """A real indoor scene (a SUN photo without people) as the backdrop: texture that a
    detector must search through, as in a real room, unlike a flat wall."""
    path = sorted((faces_path() / "nonface").glob("*.jpg"))[3]
    return cv2.resize(cv2.imread(str(path)), SIZE, interpolation=cv2.INTER_CUBIC)


def two_face_frames(count: int, noise: float = 2.0, still: bool = False, seed: int = 1):
    """A happy face on the left and a neutral one on the right in a room, with sensor noise."""
    random = np.random.default_rng(seed)
    left, right = face_photo("happy"), face_photo("neutral")
    backdrop = room()
    for i in range(count):
        frame = backdrop.copy()
        shift = 0 if still else int(8 * np.sin(i / 15))
        frame[120 + shift // 2:340 + shift // 2, 60 + shift:280 + shift] = left
        frame[130:350, 360 - shift:580 - shift] = right
        if noise:
            frame = np.clip(frame + random.normal(0, noise, frame.shape), 0, 255).astype(np.uint8)
        yield frame


def write(path: Path, frames, fps: float = 30.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE)
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def benchmark_video(frames: int = 300) -> Path:
    path = OUT / f"two_faces_in_room_{frames}.avi"
    if not path.exists():
        write(path, two_face_frames(frames))
    return path


if __name__ == "__main__":
    print(benchmark_video(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
