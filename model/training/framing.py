"""How FER2013 frames its faces, in a face detector's terms: where model/recognizer.py CROP comes from.

The model learnt from FER2013's 48x48 crops, so a camera's face reads best framed as those crops
frame theirs. Each FER2013 face is enlarged and handed to the detector as a photo (`FaceFinder.find`
puts a border around a face that fills the frame, as for any close-up); the 48x48 frame is then
written in the terms of the largest box found, as CROP writes a crop.
"""

from __future__ import annotations

import cv2
import numpy as np

from model.recognizer import upright_face_side

ENLARGE = 4


def fer2013_framing(finder, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(margins, shifts)`, each `(M,) float64`, for the M of the `(N, 48, 48) uint8` faces in which
    `finder` (a model.recognizer.FaceFinder) finds a face, in the terms of `FaceFinder.crop_square`:
    margin, the share of the face's side (the box's longer side, grown for roll) that the frame adds
    on each side; shift, how far the frame's centre lies below the box's centre along the face's own
    vertical, in face sides (negative: above)."""
    margins, shifts = [], []
    side = faces.shape[1] * ENLARGE
    for face in faces:
        image = cv2.cvtColor(cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)
        found = finder.find(image)
        if found:
            box = found[0].box
            face_side, roll = upright_face_side(box)     # as FaceFinder.crop_square measures the face
            down = np.radians(roll)
            # The frame's centre relative to the box's, projected on the face's own downward axis,
            # which is where crop_square moves a crop's centre by `shift` face sides.
            across, below = side / 2 - (box.x + box.w / 2), side / 2 - (box.y + box.h / 2)
            margins.append((side / face_side - 1) / 2)
            shifts.append((np.cos(down) * below - np.sin(down) * across) / face_side)
    return np.array(margins), np.array(shifts)
