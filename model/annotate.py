"""Draw faces on an image: a box in the emotion's colour and a label, or the reason it was not read."""

from __future__ import annotations

import cv2
import numpy as np

from model.labels import COLOURS

UNREAD_COLOUR = (160, 160, 160)


def bgr(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    red, green, blue = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return blue, green, red


def annotate(image: np.ndarray, faces) -> np.ndarray:
    """A copy of `image` (BGR) with every face boxed and labelled; line widths scale with the image."""
    canvas = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    thickness = max(2, round(max(canvas.shape[:2]) / 400))
    scale = max(0.5, max(canvas.shape[:2]) / 1200)
    for index, face in enumerate(faces, start=1):
        box = face.box
        colour = bgr(COLOURS[face.emotion]) if face.emotion else UNREAD_COLOUR
        cv2.rectangle(canvas, (box.x, box.y), (box.x + box.w, box.y + box.h), colour, thickness)
        text = f"{index} {face.emotion} {face.confidence:.0%}" if face.emotion else f"{index} {face.status}"
        _label(canvas, text, (box.x, box.y), colour, scale, thickness)
    return canvas


def _label(canvas, text, corner, colour, scale, thickness) -> None:
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x, y = corner
    top = y - height - baseline - 4 if y - height - baseline - 4 >= 0 else y
    cv2.rectangle(canvas, (x, top), (x + width + 4, top + height + baseline + 4), colour, -1)
    cv2.putText(canvas, text, (x + 2, top + height + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                max(1, thickness // 2), cv2.LINE_AA)
