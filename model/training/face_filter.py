"""--filter-faces: drop FER2013 training images in which the face detector finds no face.

The original Moodlog design cleaned FER2013 this way (it holds some cartoons, text and blank
images). Each 48x48 image is enlarged 3x with a replicated border before detection, since
both detectors are built for faces well above 48 pixels in a wider frame.
"""

from __future__ import annotations

import cv2
import numpy as np
from tqdm import tqdm

from model.training.dataset import LoadReport, Split
from model.faces import get_detector

SCALE = 3
BORDER = 0.25


def has_face(detector, face48: np.ndarray) -> bool:
    big = cv2.resize(face48, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC)
    pad = int(big.shape[0] * BORDER)
    framed = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return len(detector.detect(cv2.cvtColor(framed, cv2.COLOR_GRAY2BGR))) > 0


def keep_detectable(split: Split, detector_name: str | None, report: LoadReport, *, quiet: bool = False) -> Split:
    """The training images in which a face is found; the dropped ones are counted in `report`."""
    detector = get_detector(detector_name)
    keep = np.array([has_face(detector, face) for face in
                     tqdm(split.images, desc="filtering faces", unit="img", disable=quiet)], dtype=bool)
    for index in np.flatnonzero(~keep):
        report.drop("no face found by the detector (--filter-faces)", f"train image #{index}")
    return split.subset(keep)
