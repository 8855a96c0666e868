"""`evaluate` on labelled photos: each photo read as `predict` reads it, through `Recognizer.recognize`.

A photo (a head and shoulders, a webcam frame) is scored by what the whole pipeline makes of it:
the photo detector, the crop, the classifier, the largest readable face. A photo without a readable
face is wrong, as it would be for a user. A 48x48 image among them is a face crop and is classified
whole, undetected; folders of nothing but 48x48 face crops (FER2013) go to the classifier as one
batch (`model/training/evaluate_cli.py`). Images in sub-folders of a label folder (one per participant,
say) carry that folder's label.
"""

from __future__ import annotations

import os

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
    """Labelled photos of one split: `paths` and their labels `(N,) int64` in the model's label order
    (FER2013's for the emotions), read from `folder`."""
    paths: list[Path]
    labels: np.ndarray
    folder: Path | None = None

    def __len__(self) -> int:
        return len(self.paths)


def holds_photos(location: Path) -> bool:
    """True when a folder's labelled images (`<emotion>/**` or `<split>/<emotion>/**`) are not all 48x48
    face crops, so that they need a face detector (`first_photo` names the image that decided it)."""
    return first_photo(location) is not None


def first_photo(location: Path) -> tuple[Path, tuple[int, int]] | None:
    """The first labelled image that is not a 48x48 face crop, with its (width, height); None when
    all are crops.

    Only image headers are read (about 1.5 s for all 35,887 FER2013 faces). The size alone decides:
    a 48x48 image is a face crop whatever its colour mode, and anything else is a photo. A CSV file,
    an empty folder or a missing path gives None, so the FER2013 loader reports on it as before.
    """
    for _, path in _labelled_files(location):
        size = _image_size(path)
        if size not in (None, (SIZE, SIZE)):
            return path, size
    return None


def first_nested_image(location: Path) -> Path | None:
    """The first labelled image in a sub-folder of its emotion folder (`happy/anna/1.jpg`), which the
    FER2013 loader does not read; None when every image sits directly in its emotion folder."""
    return next((path for folder, path in _labelled_files(location) if path.parent != folder), None)


def _labelled_files(location: Path) -> Iterable[tuple[Path, Path]]:
    """(emotion folder, image file) for every image under `<emotion>/` or `<split>/<emotion>/`,
    sub-folders included; nothing for a file or a missing path."""
    if not location.is_dir():
        return
    folders = [location / emotion for emotion in EMOTIONS]
    folders += [location / split / emotion for split in SPLITS for emotion in EMOTIONS]
    for folder in folders:
        for path in _image_files(folder):
            yield folder, path


def _image_files(folder: Path) -> list[Path]:
    """Image files in `folder` and its sub-folders, sorted; none when it is not a folder. Linked
    sub-folders are followed (a study folder of links to each participant's photos), each real folder
    once, so a link loop ends; hidden files and folders (.thumbnails, macOS's ._ files) are left out."""
    if not folder.is_dir():
        return []
    found, seen = [], set()
    for top, folders, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:
            folders[:] = []
            continue
        seen.add(real)
        folders[:] = [name for name in folders if not name.startswith(".")]
        found += [Path(top) / name for name in files
                  if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES
                  and (Path(top) / name).is_file()]
    return sorted(found)


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
    """Every image in `<folder>/<label>/` and its sub-folders for each label of `names`, sorted by
    label then path.

    Raises DatasetError when a sub-folder is not a label name (a typo would silently drop a class).
    """
    unknown = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in names)
    if unknown:
        kind = "emotion names" if names == EMOTIONS else "labels of the model"
        raise DatasetError(f"{folder}: sub-folder(s) {', '.join(unknown)} are not {kind}; use {', '.join(names)}")
    paths, labels = [], []
    for index, name in enumerate(names):
        found = _image_files(folder / name)
        paths += found
        labels += [index] * len(found)
    return PhotoSet(paths, np.asarray(labels, dtype=np.int64), folder)


def no_images(folder: Path, names: tuple[str, ...] = EMOTIONS, unreadable: int = 0) -> DatasetError:
    """The error for a split with nothing to score: where it looked, and what it looked for."""
    present = [f"{name}/" for name in names if (folder / name).is_dir()]
    kind = "emotion" if names == EMOTIONS else "label"
    looked = (f"looked in {', '.join(present)} (sub-folders included) for {', '.join(IMAGE_SUFFIXES)} files"
              if present else f"it has no {kind} folder ({', '.join(names)})")
    cannot = f"; {unreadable} file(s) there could not be read as images" if unreadable else ""
    return DatasetError(f"no images to score in {folder}: {looked}{cannot}")


def is_face_crop(image: np.ndarray) -> bool:
    """A 48x48 image is a face crop as FER2013 frames it, read whole rather than searched for a face."""
    return image.shape[:2] == (SIZE, SIZE)


def largest_face(recognizer, image: np.ndarray, *, whole_image: bool | None = None) -> np.ndarray | None:
    """`(K,) float32` probabilities of the largest face `recognizer` could read in a BGR or grey
    uint8 image, or None when it read none (no face, or only small, cut or turned-away ones);
    `whole_image` as in `Recognizer.recognize` (None: the recognizer's own setting)."""
    for face in recognizer.recognize(image, whole_image=whole_image):        # largest first
        if face.probabilities is not None:
            return face.probabilities
    return None


def read_photos(recognizer, images: Iterable[np.ndarray], *,
                crops_whole: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The largest readable face of each image: probabilities `(N, K) float32`, K the recognizer's
    labels (zeros where none was read), and `read` `(N,) bool`, ready for `score(labels, probabilities, read)`.
    With `crops_whole`, a 48x48 image is classified whole as one face (`is_face_crop`)."""
    classes = len(recognizer.labels)
    rows, read = [], []
    for image in images:
        whole = True if crops_whole and is_face_crop(image) else None      # None: the recognizer's own setting
        probabilities = largest_face(recognizer, image, whole_image=whole)
        read.append(probabilities is not None)
        rows.append(np.zeros(classes, np.float32) if probabilities is None else probabilities)
    return np.asarray(rows, np.float32).reshape(-1, classes), np.asarray(read, bool)


@dataclass
class PhotoScores:
    """What `evaluate_photos` found: the scores, the photos in which no face was read (they count as
    wrong), and how many of the scored images were 48x48 face crops classified whole."""
    metrics: Metrics
    unread: list[Path]
    crops: int


def evaluate_photos(recognizer, photos: PhotoSet, report: LoadReport, name: str, *,
                    quiet: bool = False, crops_whole: bool = False) -> PhotoScores:
    """Score `recognizer` on labelled photos, each decoded as `predict` decodes it (`load_image`).

    With `crops_whole`, a 48x48 image is classified whole as one face and the others go through
    the detector. A file that is not a readable image is left out and noted in `report`, as the
    FER2013 loader does. Photos are decoded one at a time: a 1718x1718 portrait takes 9 MB.
    """
    from tqdm import tqdm

    kept: list[tuple[Path, int]] = []
    crops = 0

    def decoded_photos():
        nonlocal crops
        for path, label in tqdm(list(zip(photos.paths, photos.labels)), desc=f"reading {name}", unit="photo",
                                disable=quiet):
            image = _decode(path, report)
            if image is not None:
                kept.append((path, label))
                crops += crops_whole and is_face_crop(image)
                yield image

    probabilities, read = read_photos(recognizer, decoded_photos(), crops_whole=crops_whole)
    labels = np.asarray([label for _, label in kept], dtype=np.int64)
    unread = [path for (path, _), was_read in zip(kept, read) if not was_read]
    names = recognizer.labels
    report.kept[name] = dict(zip(names, np.bincount(labels, minlength=len(names)).tolist()))
    return PhotoScores(score(labels, probabilities, read, names=names), unread, crops)


def _decode(path: Path, report: LoadReport) -> np.ndarray | None:
    try:
        return load_image(path)
    except ImageError:
        report.drop("unreadable image", str(path))
        return None
