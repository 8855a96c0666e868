"""Face geometry from a detector's landmarks: in-plane roll, yaw, and the aligned crop.

A face rolled in the image plane (a tilted head) is still a frontal face: rotating the crop so
that the eyes are level gives the classifier the upright face FER2013 is made of. Yaw (a head
turned left or right) cannot be undone by rotating, so it is judged in the face's own frame,
after the roll is taken out, never confused with a tilt.
"""

from __future__ import annotations

import cv2
import numpy as np

from model.faces import Box

# How the crop reaches past the image border. Chosen by bench/robustness.py ("fill"), which reads
# close-ups whose crop leaves the frame: replicating the edge pixels reads them as the same face
# uncut more often than a mirrored or a flat grey border (bench/RESULTS.md, "Close-ups").
FILL = cv2.BORDER_REPLICATE


def eyes(box: Box) -> tuple[np.ndarray, np.ndarray] | None:
    """(first eye, second eye) as (x, y) float arrays in BlazeFace's landmark order, in which the
    vector from the first to the second points right (+x) on an upright face (checked on the
    upright CFD portraits: median roll -0.5 degrees); None without landmarks (Haar)."""
    if len(box.landmarks) < 3:
        return None
    first, second = np.array(box.landmarks[0], float), np.array(box.landmarks[1], float)
    return first, second


def roll_degrees(box: Box) -> float:
    """In-plane rotation of the face in degrees (positive: the second eye lower than the first,
    in image coordinates, y down); 0 without landmarks."""
    pair = eyes(box)
    if pair is None:
        return 0.0
    (x0, y0), (x1, y1) = pair
    return float(np.degrees(np.arctan2(y1 - y0, x1 - x0)))


def yaw_ratio(box: Box) -> float:
    """Head turn: the nose tip's sideways offset from the eyes' midpoint, in eye distances, measured
    along the line of the eyes (so a tilted head reads as frontal): 0 frontal, about 0.5 at 45
    degrees of yaw; 0 without landmarks, 1 when the eyes coincide."""
    pair = eyes(box)
    if pair is None:
        return 0.0
    first, second = pair
    nose = np.array(box.landmarks[2], float)
    across = second - first
    distance = float(np.hypot(*across))
    if distance < 1e-6:
        return 1.0
    return abs(float(np.dot(nose - (first + second) / 2, across / distance))) / distance


def aligned_crop(grey: np.ndarray, centre: tuple[float, float], side: int, roll: float,
                 fill: int | None = None) -> np.ndarray:
    """The `(side, side)` square centred on `centre` (x, y in pixels), turned by `roll` degrees so that
    the face in it stands upright; where it reaches past the image, filled by `fill` (an OpenCV
    border mode, default FILL). Same dtype as `grey`."""
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), roll, 1.0)
    matrix[:, 2] += (side / 2 - centre[0], side / 2 - centre[1])
    return cv2.warpAffine(grey, matrix, (side, side), flags=cv2.INTER_LINEAR,
                          borderMode=FILL if fill is None else fill)


def beyond_frame(box: Box, shape: tuple[int, int]) -> float:
    """How far the face box reaches past the image, as a share of the box's longer side (0 inside)."""
    height, width = shape
    outside = max(0, -box.x, -box.y, box.x + box.w - width, box.y + box.h - height)
    return outside / max(box.w, box.h, 1)
