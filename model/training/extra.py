"""extra-images/<emotion>/*: users' own labelled photos, cropped exactly as at run time."""

from __future__ import annotations

from pathlib import Path

from model.classifier import to_model_input
from model.training.dataset import LoadReport, Split, read_emotion_folders
from model.errors import DatasetError
from model.recognizer import FaceFinder


def load_extra_images(folder: Path, detector: str | None, report: LoadReport) -> Split:
    """Find the largest classifiable face in each photo and frame it like FER2013.

    Photos where no face is found are dropped and counted in `report` ("no face found").
    """
    if not folder.is_dir():
        raise DatasetError(f"--extra: no folder {folder}; create {folder}/<emotion>/ with photos")
    finder = FaceFinder(detector)

    def face_48(image):
        crop = finder.largest_face_crop(image)
        return None if crop is None else to_model_input([crop])[0, :, :, 0]

    split = read_emotion_folders(folder, report, prepare=face_48)
    if len(split) == 0:
        raise DatasetError(f"--extra: no usable face photo in {folder}/<emotion>/")
    return split
