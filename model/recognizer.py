"""Recognizer: image -> faces -> crops framed like FER2013 -> emotions.

This is the one path from pixels to emotions: the predict command, the capture daemon and
the dashboard's upload page all call `Recognizer.recognize`, so a face is cropped and
classified the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

import os
import sys

from model.classifier import TRIM, EmotionClassifier, to_model_input
from model.errors import ImageError, MoodlogError
from model.alignment import aligned_crop, beyond_frame, roll_degrees, yaw_ratio
from model.faces import Box, DEFAULT_DETECTOR, get_detector, moved, shrunk
from model.images import MAX_PIXELS, eight_bit, load_image
from model.labels import EMOTIONS, colours_for, model_details

OK, TOO_SMALL, CUT_BY_EDGE, TURNED_AWAY = "ok", "too small", "cut by edge", "turned away"

# Smallest face side, in pixels of the input image, that is classified. FER2013 faces are
# 48x48; below about 2/3 of that, up-scaling invents the detail the classifier relies on.
MIN_FACE = 32

# How each detector's box is turned into a FER2013-like crop: a square around the box centre,
# its side (1 + 2 * margin) times the face's side (upright_face_side: the box's longer side, grown
# for roll), its centre moved down the face by `shift` face sides.
# The medians of each detector's box on 1,500 FER2013 training faces (bench/fer_framing.py): a
# camera's face is framed as the faces the model learnt from, whatever the detector. Chosen on
# FER2013 alone, never on the real photos we measure with; bench/RESULTS.md ("Framed as FER2013
# frames faces") has what it bought. The earlier margins (0.20-0.25, tuned on CFD and Yale) framed
# faces 1.2-1.3 times looser than FER2013 does, and posed disgust then read as anger.
CROP = {
    "haar": (0.093, 0.009),
    "blazeface": (0.066, -0.083),
    "blazeface-full": (0.065, -0.036),
    "blazeface-tiles": (0.065, -0.036),   # the full-range model's boxes, found on tiles
}


def refuse_detector_with_whole_image(whole_image: bool, detector: str | None) -> None:
    """MoodlogError when both are asked for (predict, evaluate): --whole-image reads each image as one
    face, without a detector."""
    if whole_image and detector:
        raise MoodlogError("--whole-image reads each image without a detector; drop --detector")


def framing(detector: str) -> dict:
    """How `detector`'s boxes are framed (its CROP entry), as JSON: what `teach` records in a taught
    model, so that a later change of the crop it learnt from is seen."""
    margin, shift = CROP.get(detector, (0.0, 0.0))
    return {"detector": detector, "margin": margin, "shift": shift}


def framing_problem(path) -> str | None:
    """Why a taught model may read faces worse than it did when taught, or None: the crop of the
    detector it was taught through (CROP) has changed since (models taught before 2026-11-30 recorded
    no framing; CROP changed that day). Each detector's crop frames faces as FER2013 does, so a model
    taught through one detector reads the faces of another alike. A model made by `train`: None."""
    details = model_details(path) if path is not None else {}
    if details.get("task") != "taught":
        return None
    recorded = details.get("framing")
    if isinstance(recorded, dict) and recorded == framing(str(recorded.get("detector"))):
        return None
    when = f" (taught {details['taught_at'][:10]})" if isinstance(details.get("taught_at"), str) else ""
    return (f"{path} was taught on faces framed otherwise than Moodlog frames them now{when}, so it may read "
            "faces worse than its report says; teach it again from the same photos (`python app.py teach`)")


def warn_of_problems(recognizer) -> list[str]:
    """Print each of a recognizer's `problems` to stderr as a "warning: ..." line, before its work
    begins (predict, evaluate, start, the dashboard); returns the lines. Objects without `problems`
    (a test's stand-in) have none."""
    lines = [f"warning: {problem}" for problem in getattr(recognizer, "problems", ())]
    for line in lines:
        print(line, file=sys.stderr, flush=True)
    return lines


# A face counts as cut by the frame edge when its box reaches past the image by more than this
# share of its side: detectors place the box of a face whose chin or brow is just out of frame a
# little past the edge, and such faces still read as they do uncut (bench/robustness.py, "edge").
# Only the crop's margin beyond the face box may leave the frame freely (alignment.FILL fills it).
MAX_FACE_OUTSIDE = 0.10

# BlazeFace landmarks: the nose's sideways offset from the eyes' midpoint, in eye distances and
# in the face's own frame (alignment.yaw_ratio), beyond which a face is too far turned for a
# model trained on mostly frontal faces.
MAX_TURN = 0.45

# BlazeFace draws a rolled face's box smaller than the same face upright: the box's side over the eye
# distance falls from 2.5 upright to 2.1 at 45 degrees (median of CFD and Yale portraits rotated
# in-plane, bench/robustness.py). A crop side of `1 + ROLL_GROWTH * sin|roll|` box sides restores
# the upright framing.
ROLL_GROWTH = 0.28

# A photo that is only a face (a face crop, a close-up filling the frame) gives a detector no
# context around the face, and BlazeFace then finds nothing. When a frame yields no face, it is
# looked at again inside a border of this share of its longer side on each side.
CLOSE_UP_BORDER = 0.5
# The detectors see at most 192 pixels; a face that fills the frame needs no more than this.
CLOSE_UP_SIDE = 384


@dataclass
class Face:
    """One detected face: its box, whether it could be classified, and if so its emotions.

    `probabilities` is `(K,) float32`, one per entry of `labels` (the classifier's: the seven
    emotions in FER2013 order, or a taught label set), when `status == "ok"`, else None.
    """
    box: Box
    status: str
    probabilities: np.ndarray | None = None
    labels: tuple[str, ...] = EMOTIONS

    @property
    def emotion(self) -> str | None:
        return None if self.probabilities is None else self.labels[int(np.argmax(self.probabilities))]

    @property
    def colour(self) -> str | None:
        """The chart colour ("#RRGGBB") of the face's label, None when it was not read."""
        return None if self.probabilities is None else colours_for(self.labels)[self.emotion]

    @property
    def confidence(self) -> float | None:
        return None if self.probabilities is None else float(np.max(self.probabilities))

    def as_dict(self) -> dict:
        return {"box": {"x": self.box.x, "y": self.box.y, "w": self.box.w, "h": self.box.h},
                "detector_score": round(self.box.score, 4), "status": self.status,
                "emotion": self.emotion, "confidence": None if self.confidence is None else round(self.confidence, 4),
                "probabilities": None if self.probabilities is None else
                {name: round(float(p), 4) for name, p in zip(self.labels, self.probabilities)}}


class FaceFinder:
    """Detects faces, decides which can be classified, and crops them as FER2013 frames faces:
    turned upright by the eyes' landmarks, so that a tilted head reads like an upright one.

    Shared by `Recognizer` (run time) and `train --extra` (training), so that both see faces
    cropped the same way.
    """

    def __init__(self, detector: str | None = None, *, min_face: int = MIN_FACE):
        self.detector_name = detector or DEFAULT_DETECTOR
        self.detector = get_detector(self.detector_name)
        self.margin, self.shift = CROP.get(self.detector_name, (0.0, 0.0))
        self.min_face = min_face

    def find(self, image: np.ndarray, *, look_closer: bool = True) -> list[Face]:
        """Every detected face, largest first, with its status; no probabilities yet.
        `look_closer`: when the detector finds nothing, look again for a face that fills the frame
        (`detect_close_up`, a second detection)."""
        boxes = self.detector.detect(image)
        if not boxes and look_closer:
            boxes = self.detect_close_up(image)
        boxes = sorted(boxes, key=lambda b: b.w * b.h, reverse=True)
        return [Face(box, self.assess(box, image.shape[:2])) for box in boxes]

    def detect_close_up(self, image: np.ndarray) -> list[Box]:
        """Faces found once the image sits inside a border (CLOSE_UP_BORDER), in the image's own
        coordinates: how a face that fills the whole frame is found.

        Only for images that could be one face (at least `min_face` pixels, sides at most 2:1 apart),
        and on a copy at most CLOSE_UP_SIDE pixels long, so the extra detection of a face-less
        frame costs little and a thin or huge upload cannot blow the border up to gigabytes.
        """
        height, width = image.shape[:2]
        if min(height, width) < self.min_face or max(height, width) > 2 * min(height, width):
            return []
        factor = min(1.0, CLOSE_UP_SIDE / max(height, width))
        small = shrunk(image, factor) if factor < 1.0 else image
        border = round(CLOSE_UP_BORDER * max(small.shape[:2]))
        framed = cv2.copyMakeBorder(small, border, border, border, border, cv2.BORDER_REPLICATE)
        return [moved(box, -border, -border).scaled(1 / factor) for box in self.detector.detect(framed)]

    def assess(self, box: Box, shape: tuple[int, int]) -> str:
        if min(box.w, box.h) < self.min_face:
            return TOO_SMALL
        if beyond_frame(box, shape) > MAX_FACE_OUTSIDE:
            return CUT_BY_EDGE
        if yaw_ratio(box) > MAX_TURN:
            return TURNED_AWAY
        return OK

    def crop_square(self, box: Box) -> tuple[tuple[float, float], int, float]:
        """(centre (x, y), side, roll in degrees) of the square crop for a box, in image pixels; the
        square may reach past the image. The face's side is the box's longer side, grown for a rolled
        face (ROLL_GROWTH); the crop adds `margin` face sides on each side, and its centre moves
        `shift` face sides down the face (along the face's own vertical, for a rolled face)."""
        face_side, roll = upright_face_side(box)
        down = np.radians(roll)
        side = max(round(face_side * (1 + 2 * self.margin)), 1)
        centre_x = box.x + box.w / 2 - np.sin(down) * self.shift * face_side
        centre_y = box.y + box.h / 2 + np.cos(down) * self.shift * face_side
        return (centre_x, centre_y), side, roll

    def crop(self, grey: np.ndarray, box: Box) -> np.ndarray:
        """The face as an upright grey square, filled (alignment.FILL) where it reaches past the image."""
        centre, side, roll = self.crop_square(box)
        return aligned_crop(grey, centre, side, roll)

    def largest_face_crop(self, image: np.ndarray) -> np.ndarray | None:
        """The crop of the largest classifiable face, or None: how training photos are read."""
        readable = [face for face in self.find(image) if face.status == OK]
        return self.crop(to_grey(image), readable[0].box) if readable else None


def upright_face_side(box: Box) -> tuple[float, float]:
    """(the face's side in pixels, its roll in degrees): the box's longer side, grown for a rolled face
    (ROLL_GROWTH), so that a crop of it frames the face as it would the same face upright."""
    roll = roll_degrees(box)
    return max(box.w, box.h) * (1 + ROLL_GROWTH * abs(np.sin(np.radians(roll)))), roll


# Photos to teach from are decoded with their longer side at least this long: faces stay far above the
# 32 pixels the classifier needs, and a 12-megapixel JPEG decodes several times faster at a reduced scale.
TEACHING_SIDE = 1024
NO_READABLE_FACE = "no readable face (too small, cut by the edge, turned away, or none)"


def framed_face(finder: FaceFinder, source: str | os.PathLike | bytes,
                max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray | None, str]:
    """A photo's (a path, or an upload's bytes) largest readable face as the classifier sees it,
    `(48, 48, 1) uint8`, and "", or None and why not. How `teach` reads each photo, and how the
    Teach page decides whether an upload is worth keeping: the two cannot disagree."""
    try:
        image = load_image(source, max_pixels=max_pixels, max_side=TEACHING_SIDE)
    except ImageError as error:
        name = "upload" if isinstance(source, (bytes, bytearray)) else os.fspath(source)
        return None, str(error).removeprefix(f"{name}: ")
    crop = finder.largest_face_crop(image)
    if crop is None:
        return None, NO_READABLE_FACE
    return to_model_input([crop], TRIM)[0], ""


class Recognizer:
    """Find every face in a BGR (or grey) image and read its emotion.

    `whole_image=True` skips detection and reads each image as one face already cropped (a face
    dataset, FER2013's own 48x48 faces): the box is the whole image and nothing is aligned.
    `problems` lists, as sentences, what may make this recognizer read faces worse than its model's
    report says (a taught model that learnt another framing: `framing_problem`), for the caller to show.
    """

    def __init__(self, classifier: EmotionClassifier | None = None, detector: str | None = None, *,
                 min_face: int = MIN_FACE, whole_image: bool = False):
        self.classifier = classifier or EmotionClassifier()
        self.finder = FaceFinder(detector, min_face=min_face)
        self.detector_name = "whole image" if whole_image else self.finder.detector_name
        self.whole_image = whole_image
        problem = None if whole_image else framing_problem(getattr(self.classifier, "path", None))
        self.problems = [problem] if problem else []

    @property
    def labels(self) -> tuple[str, ...]:
        """What the classifier's outputs are: the seven emotions, or a taught label set."""
        return getattr(self.classifier, "labels", EMOTIONS)

    def recognize(self, image: np.ndarray, *, whole_image: bool | None = None,
                  look_closer: bool = True) -> list[Face]:
        """All faces, largest first; faces that cannot be classified keep their box and a status.
        `whole_image` overrides the recognizer's own setting for this image; `look_closer` as in
        `FaceFinder.find`. Images that are not 8-bit (16-bit, float) are brought to 8 bits first."""
        image = as_eight_bit(image)
        if self.whole_image if whole_image is None else whole_image:
            return self.recognize_whole(image)
        faces = self.finder.find(image, look_closer=look_closer)
        readable = [face for face in faces if face.status == OK]
        if readable:
            grey = to_grey(image)
            crops = [self.finder.crop(grey, face.box) for face in readable]
            for face, probabilities in zip(readable, self.classifier.predict(crops)):
                face.probabilities, face.labels = probabilities, self.labels
        return faces

    def recognize_whole(self, image: np.ndarray) -> list[Face]:
        """The image as one face: `[Face]` whose box is the whole image."""
        height, width = image.shape[:2]
        face = Face(Box(0, 0, width, height), TOO_SMALL if min(height, width) < self.finder.min_face else OK)
        if face.status == OK:
            face.probabilities, face.labels = self.classifier.predict([to_grey(image)])[0], self.labels
        return [face]


def as_eight_bit(image: np.ndarray) -> np.ndarray:
    """A uint8 image as it is; any other dtype scaled to 8 bits as `load_image` scales wide samples."""
    return image if image.dtype == np.uint8 else eight_bit(np.asarray(image), "image")


def to_grey(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
