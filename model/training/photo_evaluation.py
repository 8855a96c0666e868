"""`evaluate` on labelled photos: each photo read as `predict` reads it, through `Recognizer.recognize`.

A photo (a head and shoulders, a webcam frame) is scored by what the whole pipeline makes of it:
the photo detector, the crop, the classifier, the largest readable face. A photo without a readable
face is wrong, as it would be for a user. Folders of 48x48 face crops (FER2013) skip detection and
go to the classifier directly (`model/evaluate_cli.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from model.training.dataset import SIZE, SPLITS, LoadReport
from model.errors import DatasetError, ImageError
from model.training.evaluate import Metrics, score
from model.images import IMAGE_SUFFIXES, load_image
from model.labels import EMOTIONS


@dataclass
class PhotoSet:
    """Labelled photos of one split: `paths` and their labels `(N,) int64` in FER2013 order."""
    paths: list[Path]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.paths)


def holds_photos(location: Path) -> bool:
    """True when a folder's labelled images (`<emotion>/*` or `<split>/<emotion>/*`) are not all 48x48
    face crops, so that they need a face detector (`first_photo` names the image that decided it)."""
    return first_photo(location) is not None


def first_photo(location: Path) -> tuple[Path, tuple[int, int]] | None:
    """The first labelled image that is not a 48x48 face crop, with its (width, height); None when
    all are crops.

    Only image headers are read (about 1.5 s for all 35,887 FER2013 faces). The size alone decides:
    a 48x48 image is a face crop whatever its colour mode, and anything else is a photo. A CSV file,
    an empty folder or a missing path gives None, so the FER2013 loader reports on it as before.
    """
    if not location.is_dir():
        return None
    folders = [location / emotion for emotion in EMOTIONS]
    folders += [location / split / emotion for split in SPLITS for emotion in EMOTIONS]
    for folder in folders:
        for path in sorted(folder.glob("*")) if folder.is_dir() else ():
            size = _image_size(path) if path.suffix.lower() in IMAGE_SUFFIXES else None
            if size not in (None, (SIZE, SIZE)):
                return path, size
    return None


def _image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the header, or None for a file PIL cannot open (the loaders report it)."""
    try:
        with Image.open(path) as image:
            return image.size
    except (UnidentifiedImageError, OSError):
        return None


def photo_splits(root: Path, labels: tuple[str, ...] = EMOTIONS) -> dict[str, PhotoSet]:
    """`<root>/<label>/*` as one split named after the folder, or `<root>/<split>/<label>/*` for
    each of train, validation and test there is; `labels` the model's (default the seven emotions).
    Raises DatasetError for any other layout."""
    present = [name for name in SPLITS if (root / name).is_dir()]
    if present:
        return {name: labelled_photos(root / name, labels) for name in present}
    if any((root / label).is_dir() for label in labels):
        return {root.name: labelled_photos(root, labels)}
    kind = "emotion" if labels == EMOTIONS else "label of the model"
    raise DatasetError(f"{root}: expected one folder per {kind} ({', '.join(labels)}), or train/ and "
                       f"test/ folders holding them")


def labelled_photos(folder: Path, names: tuple[str, ...] = EMOTIONS) -> PhotoSet:
    """Every image in `<folder>/<label>/` for each label of `names`, sorted by label then name.

    Raises DatasetError when a sub-folder is not a label name (a typo would silently drop a class).
    """
    unknown = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in names)
    if unknown:
        kind = "emotion names" if names == EMOTIONS else "labels of the model"
        raise DatasetError(f"{folder}: sub-folder(s) {', '.join(unknown)} are not {kind}; use {', '.join(names)}")
    paths, labels = [], []
    for index, name in enumerate(names):
        found = sorted(p for p in (folder / name).glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += found
        labels += [index] * len(found)
    return PhotoSet(paths, np.asarray(labels, dtype=np.int64))


def largest_face(recognizer, image: np.ndarray) -> np.ndarray | None:
    """`(K,) float32` probabilities of the largest face `recognizer` could read in a BGR or grey
    uint8 image, or None when it read none (no face, or only small, cut or turned-away ones)."""
    for face in recognizer.recognize(image):        # largest first
        if face.probabilities is not None:
            return face.probabilities
    return None


def read_photos(recognizer, images: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The largest readable face of each image: probabilities `(N, K) float32`, K the recognizer's
    labels (zeros where none was read), and `read` `(N,) bool`, ready for `score(labels, probabilities, read)`."""
    classes = len(recognizer.labels)
    rows, read = [], []
    for image in images:
        probabilities = largest_face(recognizer, image)
        read.append(probabilities is not None)
        rows.append(np.zeros(classes, np.float32) if probabilities is None else probabilities)
    return np.asarray(rows, np.float32).reshape(-1, classes), np.asarray(read, bool)


def evaluate_photos(recognizer, photos: PhotoSet, report: LoadReport, name: str, *,
                    quiet: bool = False) -> tuple[Metrics, list[Path]]:
    """Score `recognizer` on labelled photos, each decoded as `predict` decodes it (`load_image`).

    Returns the metrics and the photos in which no face was read: those stay in and count as
    wrong. A file that is not a readable image is left out and noted in `report`, as the FER2013
    loader does. Photos are decoded one at a time: a 1718x1718 portrait takes 9 MB.
    """
    from tqdm import tqdm

    kept: list[tuple[Path, int]] = []

    def decoded_photos():
        for path, label in tqdm(list(zip(photos.paths, photos.labels)), desc=f"reading {name}", unit="photo",
                                disable=quiet):
            image = _decode(path, report)
            if image is not None:
                kept.append((path, label))
                yield image

    probabilities, read = read_photos(recognizer, decoded_photos())
    labels = np.asarray([label for _, label in kept], dtype=np.int64)
    unread = [path for (path, _), was_read in zip(kept, read) if not was_read]
    names = recognizer.labels
    report.kept[name] = dict(zip(names, np.bincount(labels, minlength=len(names)).tolist()))
    return score(labels, probabilities, read, names=names), unread


def _decode(path: Path, report: LoadReport) -> np.ndarray | None:
    try:
        return load_image(path)
    except ImageError:
        report.drop("unreadable image", str(path))
        return None
