"""Does the whole pipeline read a face the same way when the camera sees it differently?

On the labelled real portraits (CFD, Yale; bench/real_photos.py), through `Recognizer` as
`predict` (photo detector) or `start` (video detector) runs it:
- tilt: the photo rotated in-plane by -45 to 45 degrees; share of faces that read the same emotion as
  upright (a face not found or not classified counts as different). Target (issue 13): >= 0.90.
- light: every pixel x0.25 and x2 (clipped at white); share reading the same as the original. >= 0.90.
- close-up: a square frame cut around the face so that the face box fills 50-90% of its side, moved
  a little off centre (as a laptop user leaning in); share of frames whose face is classified, and
  accuracy. Also each frame of faces/videos zoomed the same way. Target: >= 0.95 classified.
- fill: on those close-ups, how each way of filling the crop beyond the frame reads them against the
  same face cut from the full photo (agreement).
- edge: accuracy as more of the face box is cut off by the frame edge (chooses MAX_FACE_OUTSIDE).
Usage: python bench/robustness.py [--detector NAME] [--every N] [--parts tilt light closeup fill edge]
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from common import faces_path, one_core
from real_photos import frame_sized, labelled_photos

ANGLES = (-45, -30, -15, 15, 30, 45)
GAINS = (0.25, 2.0)
FILLS = {"replicate": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT_101, "constant": cv2.BORDER_CONSTANT}


def emotion(recognizer, image) -> int | None:
    """The largest readable face's emotion index, or None."""
    faces = [face for face in recognizer.recognize(image) if face.status == "ok"]
    return int(np.argmax(faces[0].probabilities)) if faces else None


def rotated(image: np.ndarray, angle: float) -> np.ndarray:
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


def tilt(recognizer, photos) -> None:
    upright = [emotion(recognizer, image) for image, _ in photos]
    same_all = []
    for angle in ANGLES:
        same = [emotion(recognizer, rotated(image, angle)) == base
                for (image, _), base in zip(photos, upright) if base is not None]
        same_all += same
        print(f"tilt {angle:+d} deg: {np.mean(same):.3f} read as upright ({len(same)} faces)")
    print(f"tilt, all angles: {np.mean(same_all):.3f} read as upright")


def light(recognizer, photos) -> None:
    base = [emotion(recognizer, image) for image, _ in photos]
    for gain in GAINS:
        same = [emotion(recognizer, np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)) == b
                for (image, _), b in zip(photos, base) if b is not None]
        print(f"light x{gain}: {np.mean(same):.3f} read as the original ({len(same)} faces)")


def close_up(image: np.ndarray, box, fill: float, rng: np.random.Generator) -> np.ndarray:
    """A square frame in which the face box fills `fill` of the side, its centre moved up to 10% of the
    side off the face's; the frame may reach past the photo (replicated), as a camera sees a face
    that leans in."""
    side = round(max(box.w, box.h) / fill)
    centre_x = box.x + box.w / 2 + rng.uniform(-0.1, 0.1) * side
    centre_y = box.y + box.h / 2 + rng.uniform(-0.1, 0.1) * side
    matrix = np.float32([[1, 0, side / 2 - centre_x], [0, 1, side / 2 - centre_y]])
    frame = cv2.warpAffine(image, matrix, (side, side), borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(frame, (512, 512), interpolation=cv2.INTER_AREA if side > 512 else cv2.INTER_LINEAR)


def close_ups(recognizer, photos, rng) -> list[tuple[np.ndarray, int]]:
    frames = []
    for image, label in photos:
        faces = [face for face in recognizer.finder.find(image) if face.status == "ok"]
        for fill in (0.5, 0.6, 0.7, 0.8, 0.9):
            if faces:
                frames.append((close_up(image, faces[0].box, fill, rng), label))
    return frames


def video_close_ups(recognizer, rng) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(faces_path() / "videos" / "huimiang_1543684773.avi"))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        faces = [face for face in recognizer.finder.find(frame) if face.status == "ok"]
        if faces:
            frames.append(close_up(frame, faces[0].box, rng.uniform(0.5, 0.9), rng))
    return frames


def closeup_part(recognizer, photos, rng) -> None:
    frames = close_ups(recognizer, photos, rng)
    read = [emotion(recognizer, frame) for frame, _ in frames]
    classified = np.mean([r is not None for r in read])
    correct = np.mean([r == label for r, (_, label) in zip(read, frames)])
    print(f"close-ups from portraits: {classified:.3f} classified, accuracy {correct:.3f} ({len(frames)} frames)")
    video = video_close_ups(recognizer, rng)
    print(f"close-ups from faces/videos: {np.mean([emotion(recognizer, f) is not None for f in video]):.3f} "
          f"classified ({len(video)} frames)")


def fill_part(recognizer, photos, rng) -> None:
    from model import alignment

    frames = close_ups(recognizer, photos, rng)
    reference = [emotion(recognizer, image) for image, _ in photos for _ in range(5)]
    for name, mode in FILLS.items():
        alignment.FILL = mode
        read = [emotion(recognizer, frame) for frame, _ in frames]
        agree = [r == ref for r, ref in zip(read, reference) if ref is not None and r is not None]
        print(f"fill {name}: {np.mean(agree):.3f} of close-ups read as the face in the full photo ({len(agree)})")
    alignment.FILL = FILLS["replicate"]


def edge_part(recognizer, photos) -> None:
    from model import recognizer as recognizer_module

    recognizer_module.MAX_FACE_OUTSIDE = 1.0
    for cut in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3):
        right = []
        for image, label in photos:
            faces = [face for face in recognizer.finder.find(image) if face.status == "ok"]
            if not faces:
                continue
            box = faces[0].box
            bottom = box.y + round(box.h * (1 - cut))           # the chin leaves the frame first
            right.append(emotion(recognizer, image[:max(bottom, 1)]) == label)
        print(f"edge: face box cut by {cut:.0%} at the bottom: accuracy {np.mean(right):.3f} ({len(right)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", help="default: the photo detector (predict's)")
    parser.add_argument("--model", help="a .keras model (default: the shipped one)")
    parser.add_argument("--every", type=int, default=1, help="use every Nth photo (quicker runs)")
    parser.add_argument("--parts", nargs="+", default=["tilt", "light", "closeup", "fill", "edge"])
    args = parser.parse_args()
    one_core()
    from model.classifier import EmotionClassifier
    from model.faces import PHOTO_DETECTOR
    from model.recognizer import Recognizer

    recognizer = Recognizer(EmotionClassifier(args.model), args.detector or PHOTO_DETECTOR)
    photos = [(frame_sized(path), label) for _, path, label in labelled_photos()][::args.every]
    print(f"{len(photos)} labelled portraits, detector {recognizer.detector_name}")
    rng = np.random.default_rng(0)
    parts = {"tilt": lambda: tilt(recognizer, photos), "light": lambda: light(recognizer, photos),
             "closeup": lambda: closeup_part(recognizer, photos, rng),
             "fill": lambda: fill_part(recognizer, photos, rng), "edge": lambda: edge_part(recognizer, photos)}
    for part in args.parts:
        parts[part]()


if __name__ == "__main__":
    main()
