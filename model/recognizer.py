"""Recognizer: image -> faces -> crops framed like FER2013 -> emotions.

This is the one path from pixels to emotions: the predict command, the capture daemon and
the dashboard's upload page all call `Recognizer.recognize`, so a face is cropped and
classified the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from model.classifier import EmotionClassifier
from model.faces import Box, get_detector, DEFAULT_DETECTOR
from model.labels import EMOTIONS

OK, TOO_SMALL, CUT_BY_EDGE, TURNED_AWAY = "ok", "too small", "cut by edge", "turned away"

# Smallest face side, in pixels of the input image, that is classified. FER2013 faces are
# 48x48; below about 2/3 of that, up-scaling invents the detail the classifier relies on.
MIN_FACE = 32

# How each detector's box is turned into a FER2013-like crop: a square around the box centre,
# its side (1 + 2 * margin) times the box side, its centre moved down by `shift` box sides.
# Chosen by bench/crop_margin.py (accuracy on labelled real photos), see bench/RESULTS.md.
CROP = {
    "haar": (0.20, 0.05),
    "blazeface": (0.25, 0.05),
    "blazeface-full": (0.20, 0.0),
    "blazeface-tiles": (0.20, 0.0),   # the full-range model's boxes, found on tiles
}

# A crop may stick out of the image by this share of its side (filled by replicating the
# border) before the face counts as cut by the frame edge.
MAX_OUTSIDE = 0.15

# BlazeFace landmarks: nose offset from the eyes' midpoint, in eye distances, beyond which a
# face is too far turned for a model trained on mostly frontal faces.
MAX_TURN = 0.45


@dataclass
class Face:
    """One detected face: its box, whether it could be classified, and if so its emotions.

    `probabilities` is `(7,) float32` in FER2013 label order when `status == "ok"`, else None.
    """
    box: Box
    status: str
    probabilities: np.ndarray | None = None

    @property
    def emotion(self) -> str | None:
        return None if self.probabilities is None else EMOTIONS[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float | None:
        return None if self.probabilities is None else float(np.max(self.probabilities))

    def as_dict(self) -> dict:
        return {"box": {"x": self.box.x, "y": self.box.y, "w": self.box.w, "h": self.box.h},
                "detector_score": round(self.box.score, 4), "status": self.status,
                "emotion": self.emotion, "confidence": None if self.confidence is None else round(self.confidence, 4),
                "probabilities": None if self.probabilities is None else
                {name: round(float(p), 4) for name, p in zip(EMOTIONS, self.probabilities)}}


class FaceFinder:
    """Detects faces, decides which can be classified, and crops them as FER2013 frames faces.

    Shared by `Recognizer` (run time) and `train --extra` (training), so that both see faces
    cropped the same way.
    """

    def __init__(self, detector: str | None = None, *, min_face: int = MIN_FACE):
        self.detector_name = detector or DEFAULT_DETECTOR
        self.detector = get_detector(self.detector_name)
        self.margin, self.shift = CROP.get(self.detector_name, (0.0, 0.0))
        self.min_face = min_face

    def find(self, image: np.ndarray) -> list[Face]:
        """Every detected face, largest first, with its status; no probabilities yet."""
        boxes = sorted(self.detector.detect(image), key=lambda b: b.w * b.h, reverse=True)
        return [Face(box, self.assess(box, image.shape[:2])) for box in boxes]

    def assess(self, box: Box, shape: tuple[int, int]) -> str:
        if min(box.w, box.h) < self.min_face:
            return TOO_SMALL
        left, top, side = self.crop_square(box)
        outside = max(0, -left, -top, left + side - shape[1], top + side - shape[0])
        if outside > MAX_OUTSIDE * side:
            return CUT_BY_EDGE
        if turn(box) > MAX_TURN:
            return TURNED_AWAY
        return OK

    def crop_square(self, box: Box) -> tuple[int, int, int]:
        """(left, top, side) of the square crop for a box, possibly reaching outside the image."""
        side = round(max(box.w, box.h) * (1 + 2 * self.margin))
        centre_x = box.x + box.w / 2
        centre_y = box.y + box.h / 2 + self.shift * box.h
        return round(centre_x - side / 2), round(centre_y - side / 2), max(side, 1)

    def crop(self, grey: np.ndarray, box: Box) -> np.ndarray:
        """The face as a grey square, border-replicated where it reaches past the image."""
        left, top, side = self.crop_square(box)
        pad = max(0, -left, -top, left + side - grey.shape[1], top + side - grey.shape[0])
        if pad:
            grey = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
            left, top = left + pad, top + pad
        return grey[top:top + side, left:left + side]

    def largest_face_crop(self, image: np.ndarray) -> np.ndarray | None:
        """The crop of the largest classifiable face, or None: how training photos are read."""
        readable = [face for face in self.find(image) if face.status == OK]
        return self.crop(to_grey(image), readable[0].box) if readable else None


class Recognizer:
    """Find every face in a BGR (or grey) image and read its emotion."""

    def __init__(self, classifier: EmotionClassifier | None = None, detector: str | None = None, *,
                 min_face: int = MIN_FACE):
        self.classifier = classifier or EmotionClassifier()
        self.finder = FaceFinder(detector, min_face=min_face)
        self.detector_name = self.finder.detector_name

    def recognize(self, image: np.ndarray) -> list[Face]:
        """All faces, largest first; faces that cannot be classified keep their box and a status."""
        faces = self.finder.find(image)
        readable = [face for face in faces if face.status == OK]
        if readable:
            grey = to_grey(image)
            crops = [self.finder.crop(grey, face.box) for face in readable]
            for face, probabilities in zip(readable, self.classifier.predict(crops)):
                face.probabilities = probabilities
        return faces


def to_grey(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def turn(box: Box) -> float:
    """Head turn from BlazeFace landmarks: 0 frontal, about 0.5 at 45 degrees; 0 without landmarks."""
    if len(box.landmarks) < 3:
        return 0.0
    (right_x, right_y), (left_x, left_y), (nose_x, _) = box.landmarks[:3]
    eye_distance = float(np.hypot(left_x - right_x, left_y - right_y))
    if eye_distance < 1e-6:
        return 1.0
    return abs(nose_x - (right_x + left_x) / 2) / eye_distance
