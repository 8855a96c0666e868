"""The labelled real photos in ../shared/datasets/faces, read once for the bench scripts.

CFD and Yale hold one person per photo, so each photo has exactly one true face; nonface/
holds none. Photos are shrunk so that their longer side is at most 640 pixels, the size of
a webcam frame, which is what Moodlog sees at run time.
"""

from __future__ import annotations

from pathlib import Path

import cv2

from common import faces_path
from model.images import load_image
from model.labels import INDEX

WORK_SIDE = 640


def frame_sized(path: Path):
    image = load_image(path)
    factor = WORK_SIDE / max(image.shape[:2])
    if factor < 1:
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    return image


def labelled_photos(sets=("cfd", "yale")) -> list[tuple[str, Path, int]]:
    """(set, path, label) for every one-face photo with an emotion label."""
    root = faces_path()
    return [(name, path, INDEX[path.parent.name])
            for name in sets for path in sorted((root / name).glob("*/*"))
            if path.parent.name in INDEX]


def face_free_photos() -> list[Path]:
    return sorted((faces_path() / "nonface").glob("*"))


def group_photos() -> list[Path]:
    return sorted((faces_path() / "group_photos").glob("*"))
