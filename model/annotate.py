"""Draw faces on an image: a box in the emotion's colour and a label, or the reason it was not read."""

from __future__ import annotations

import cv2
import numpy as np


UNREAD_COLOUR = (160, 160, 160)


def bgr(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    red, green, blue = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return blue, green, red


def annotate(image: np.ndarray, faces) -> np.ndarray:
    """A copy of `image` (BGR) with every face boxed and labelled; line widths scale with the image.

    A label goes above its box, else below, left, right or inside its top edge: the first place that
    covers no other face or label (in a group photo a label drawn over a neighbour hides the face it
    describes); where the text fits nowhere, the face's number alone, which `predict` prints.
    Faces too small to read get a thin box and no label; `predict` counts them on one line."""
    canvas = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    thickness = max(2, round(max(canvas.shape[:2]) / 400))
    scale = max(0.5, max(canvas.shape[:2]) / 1200)
    boxes = [(face.box.x, face.box.y, face.box.w, face.box.h) for face in faces]
    placed: list[tuple[int, int, int, int]] = []       # labels drawn so far: later ones avoid them too
    for index, face in enumerate(faces, start=1):
        box = face.box
        colour = bgr(face.colour) if face.emotion else UNREAD_COLOUR
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
    """Draw `text` on a filled band near `box` where it covers no other face or label: above, below,
    left or right of the box, or inside its own top edge; if the full text fits nowhere, the face's
    number alone ("12"), then the number inside its own box. Returns the band (x, y, w, h)."""
    x, y, w, h = box
    number = text.split(" ", 1)[0]
    for shown in (text, number):
        (width, height), baseline = cv2.getTextSize(shown, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        band_w, tall = width + 4, height + baseline + 4
        spots = [(x, y - tall), (x, y + h), (x - band_w, y), (x + w, y), (x, y)]
        for left, top in spots:
            left = min(max(0, left), max(0, canvas.shape[1] - band_w))
            band = (left, top, band_w, tall)
            if 0 <= top <= canvas.shape[0] - tall and not any(_overlaps(band, other) for other in others):
                return _draw_band(canvas, shown, band, height, colour, scale, thickness)
    (width, height), baseline = cv2.getTextSize(number, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    band = (max(0, x), max(0, y), width + 4, height + baseline + 4)      # inside its own box: covers only itself
    return _draw_band(canvas, number, band, height, colour, scale, thickness)


def _draw_band(canvas, text, band, height, colour, scale, thickness) -> tuple[int, int, int, int]:
    left, top, width, tall = band
    cv2.rectangle(canvas, (left, top), (left + width, top + tall), colour, -1)
    cv2.putText(canvas, text, (left + 2, top + height + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                max(1, thickness // 2), cv2.LINE_AA)
    return band


def _overlaps(a, b) -> bool:
    """Whether two (x, y, w, h) rectangles share any area."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
