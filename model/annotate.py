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
    """A copy of `image` (BGR) with every face boxed and labelled; line widths scale with the image.

    A label goes above its box, else below it, else inside its top edge: the first place that covers
    no other face (in a group photo a label drawn over a neighbour hides the face it describes).
    Faces too small to read get a thin box and no label; `predict` counts them on one line."""
    canvas = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    thickness = max(2, round(max(canvas.shape[:2]) / 400))
    scale = max(0.5, max(canvas.shape[:2]) / 1200)
    boxes = [(face.box.x, face.box.y, face.box.w, face.box.h) for face in faces]
    placed: list[tuple[int, int, int, int]] = []       # labels drawn so far: later ones avoid them too
    for index, face in enumerate(faces, start=1):
        box = face.box
        colour = bgr(COLOURS[face.emotion]) if face.emotion else UNREAD_COLOUR
        if face.status == "too small":
            cv2.rectangle(canvas, (box.x, box.y), (box.x + box.w, box.y + box.h), colour, 1)
            continue
        cv2.rectangle(canvas, (box.x, box.y), (box.x + box.w, box.y + box.h), colour, thickness)
        text = f"{index} {face.emotion} {face.confidence:.0%}" if face.emotion else f"{index} {face.status}"
        others = boxes[:index - 1] + boxes[index:] + placed
        # A label about as wide as its face: a crowd's small faces get small labels, not a wall of text.
        size = min(scale, max(MIN_LABEL_SCALE, box.w / LABEL_WIDTH_PER_SCALE))
        placed.append(_label(canvas, text, (box.x, box.y, box.w, box.h), others, colour, size,
                             max(1, min(thickness, round(size * 2)))))
    return canvas


MIN_LABEL_SCALE = 0.35          # OpenCV font scale: still legible at 100% zoom
LABEL_WIDTH_PER_SCALE = 110     # face width (px) that gets a label at scale 1.0


def _label(canvas, text, box, others, colour, scale, thickness) -> tuple[int, int, int, int]:
    """Draw `text` on a filled band near `box`; returns the band (x, y, w, h)."""
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    tall = height + baseline + 4
    x, y, w, h = box
    x = min(max(0, x), max(0, canvas.shape[1] - width - 4))
    candidates = [y - tall, y + h, y]                    # above, below, inside the top edge
    fits = [top for top in candidates if 0 <= top <= canvas.shape[0] - tall]
    clear = [top for top in fits if not any(_overlaps((x, top, width + 4, tall), other) for other in others)]
    top = (clear or fits or [max(0, y)])[0]
    cv2.rectangle(canvas, (x, top), (x + width + 4, top + tall), colour, -1)
    cv2.putText(canvas, text, (x + 2, top + height + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                max(1, thickness // 2), cv2.LINE_AA)
    return x, top, width + 4, tall


def _overlaps(a, b) -> bool:
    """Whether two (x, y, w, h) rectangles share any area."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
