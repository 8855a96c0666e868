"""`Recognizer.recognize` on a 640x480 frame with one face, one CPU core, detection included.

Target (issue 2): at most 10 ms median. The frames are real CFD portraits (one face each),
shrunk to 480 pixels high and centred on a 640x480 grey canvas, as a webcam would frame a
person at a desk. Prints the median per detector, and the share spent detecting.
Usage: python bench/recognize_speed.py [--photos 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np

from common import one_core
from real_photos import labelled_photos
from model.images import load_image


def webcam_frame(path) -> np.ndarray:
    photo = load_image(path)
    scale = 480 / photo.shape[0]
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)[:, :640]
    frame = np.full((480, 640, 3), 128, np.uint8)
    left = (640 - photo.shape[1]) // 2
    frame[:, left:left + photo.shape[1]] = photo
    return frame


def median_ms(call, frames, repeats: int) -> float:
    for frame in frames[:3]:
        call(frame)
    times = []
    for _ in range(repeats):
        for frame in frames:
            started = time.perf_counter()
            call(frame)
            times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--detectors", default="blazeface,blazeface-full,haar")
    args = parser.parse_args()
    one_core()
    from model.recognizer import Recognizer

    paths = [path for _, path, _ in labelled_photos(("cfd",))][::7][:args.photos]
    frames = [webcam_frame(path) for path in paths]
    print(f"{len(frames)} CFD portraits as 640x480 frames, {args.repeats} passes, one core")
    print("| detector | recognize, median ms | of which detection, median ms | faces classified |")
    print("|---|---:|---:|---:|")
    for name in args.detectors.split(","):
        recognizer = Recognizer(detector=name)
        total = median_ms(recognizer.recognize, frames, args.repeats)
        detect = median_ms(recognizer.finder.detector.detect, frames, args.repeats)
        classified = sum(face.status == "ok" for frame in frames for face in recognizer.recognize(frame))
        print(f"| {name} | {total:.2f} | {detect:.2f} | {classified}/{len(frames)} |")


if __name__ == "__main__":
    main()
