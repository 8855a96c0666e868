"""FER2013 (as the challenge CSV or as image folders) and extra-images/, as arrays.

Whatever the source, the result is one `Split` per official partition of 48x48 grey
uint8 faces with integer labels in FER2013 order, plus a `LoadReport` that counts what
was kept and what was dropped, and why, so that a silent data problem cannot hide.
"""

from __future__ import annotations

import csv
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from model.errors import DatasetError, ImageError
from model.images import IMAGE_SUFFIXES, load_image
from model.labels import EMOTIONS, INDEX

SIZE = 48
SPLITS = ("train", "validation", "test")
CSV_USAGE = {"Training": "train", "PublicTest": "validation", "PrivateTest": "test"}
WHERE_TO_GET = ("FER2013 is on Kaggle (challenges-in-representation-learning-facial-expression-"
                "recognition-challenge, fer2013.csv) or as folders (msambare/fer2013); put fer2013.csv "
                "or the train/ and test/ folders in data/, pass --data PATH, or set MOODLOG_FER2013")


@dataclass
class Split:
    """Faces `(N, 48, 48) uint8` and labels `(N,) int64` of one partition.

    `files`: each face's path relative to the dataset folder (`train/angry/Training_1.jpg`) when
    it was read from folders, None from the CSV; FER+ votes are joined to faces by it.
    """
    images: np.ndarray
    labels: np.ndarray
    files: list[str] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, keep: np.ndarray) -> "Split":
        """The faces at `keep` (indices or a boolean mask), file names kept in step."""
        indices = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep)
        files = None if self.files is None else [self.files[i] for i in indices]
        return Split(self.images[indices], self.labels[indices], files)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(EMOTIONS))
        return {name: int(n) for name, n in zip(EMOTIONS, counts)}


@dataclass
class LoadReport:
    """What was kept per split, what was dropped per reason, and the first few dropped paths."""
    kept: dict[str, dict[str, int]] = field(default_factory=dict)
    dropped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def drop(self, reason: str, where: str) -> None:
        self.dropped[reason] += 1
        if len(self.examples[reason]) < 3:
            self.examples[reason].append(where)

    def lines(self) -> list[str]:
        out = [f"{split}: {sum(c.values())} kept ({', '.join(f'{k} {v}' for k, v in c.items())})"
               for split, c in self.kept.items()]
        for reason, n in self.dropped.items():
            out.append(f"dropped {n} ({reason}), e.g. {', '.join(self.examples[reason])}")
        return out


def default_location() -> Path:
    """Where FER2013 is looked for when no --data is given: $MOODLOG_FER2013, then data/."""
    env = os.environ.get("MOODLOG_FER2013")
    if env:
        return Path(env)
    data = Path(__file__).resolve().parents[2] / "data"
    csv_file = data / "fer2013.csv"
    if csv_file.is_file():
        return csv_file
    return data / "fer2013" if (data / "fer2013").is_dir() else data


def load_fer2013(path: str | os.PathLike | None = None) -> tuple[dict[str, Split], LoadReport]:
    """Read FER2013 from a CSV file or a folder of splits; returns splits by name and a report."""
    path = Path(path) if path is not None else default_location()
    if path.is_file():
        splits, report = _read_csv(path)
    elif path.is_dir():
        splits, report = _read_folders(path)
    else:
        raise DatasetError(f"no dataset at {path}. {WHERE_TO_GET}")
    for name, split in splits.items():
        report.kept[name] = split.class_counts()
    return splits, report


def require_classes(split: Split, name: str) -> None:
    """Refuse to train on a split where some emotion has no example at all."""
    empty = [emotion for emotion, n in split.class_counts().items() if n == 0]
    if empty:
        raise DatasetError(f"{name} split has no images of {', '.join(empty)}; every emotion needs some")


def _read_csv(path: Path) -> tuple[dict[str, Split], LoadReport]:
    report = LoadReport()
    images, labels = defaultdict(list), defaultdict(list)
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"emotion", "pixels"} - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected "
                               f"emotion,pixels,Usage as in the challenge's fer2013.csv")
        for line, row in enumerate(reader, start=2):
            split = CSV_USAGE.get(row.get("Usage") or "Training")
            face = _parse_pixels(row["pixels"])
            label = _parse_label(row["emotion"])
            if split is None or face is None or label is None:
                report.drop("bad CSV row (Usage, pixels or emotion)", f"{path.name}:{line}")
                continue
            images[split].append(face)
            labels[split].append(label)
    if not images:
        raise DatasetError(f"{path}: no usable rows")
    return {s: _stack(images[s], labels[s]) for s in SPLITS if images[s]}, report


def _parse_pixels(text: str) -> np.ndarray | None:
    values = text.split()
    if len(values) != SIZE * SIZE:
        return None
    try:
        face = np.array(values, dtype=np.int32)
    except ValueError:
        return None
    if face.min() < 0 or face.max() > 255:
        return None
    return face.astype(np.uint8).reshape(SIZE, SIZE)


def _parse_label(text: str) -> int | None:
    try:
        label = int(text)
    except ValueError:
        return None
    return label if 0 <= label < len(EMOTIONS) else None


def _read_folders(root: Path) -> tuple[dict[str, Split], LoadReport]:
    present = [s for s in SPLITS if (root / s).is_dir()]
    if not present and any((root / emotion).is_dir() for emotion in EMOTIONS):
        report = LoadReport()
        return {root.name: read_emotion_folders(root, report)}, report
    if "train" not in present and "test" not in present:
        raise DatasetError(f"{root}: expected sub-folders train/ and test/ (and optionally "
                           f"validation/), each with one folder per emotion. {WHERE_TO_GET}")
    report = LoadReport()
    splits = {s: read_emotion_folders(root / s, report) for s in present}
    for name, split in splits.items():
        split.files = [f"{name}/{file}" for file in split.files]
    return splits, report


def read_emotion_folders(folder: Path, report: LoadReport, prepare=None) -> Split:
    """Read `<folder>/<emotion>/*`; `prepare(image_bgr, path)` may turn a photo into a face crop."""
    unknown = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in INDEX)
    if unknown:
        raise DatasetError(f"{folder}: sub-folder(s) {', '.join(unknown)} are not emotion names; "
                           f"use {', '.join(EMOTIONS)}")
    images, labels, files = [], [], []
    for emotion in EMOTIONS:
        for path in _image_files(folder / emotion):
            face = _read_face(path, report, prepare)
            if face is not None:
                images.append(face)
                labels.append(INDEX[emotion])
                files.append(f"{emotion}/{path.name}")
    split = _stack(images, labels)
    split.files = files
    return split


def _image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _read_face(path: Path, report: LoadReport, prepare) -> np.ndarray | None:
    try:
        image = load_image(path, grey=prepare is None)
    except ImageError:
        report.drop("unreadable image", str(path))
        return None
    if prepare is not None:
        face = prepare(image)
        if face is None:
            report.drop("no face found", str(path))
        return face
    if image.shape != (SIZE, SIZE):
        image = cv2.resize(image, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    return image


def light_normalised(split: Split) -> Split:
    """The split with every face through `normalise_light`, as inference sees faces: the shared
    JPEGs span the grey range already (little changes), the challenge's fer2013.csv may not."""
    from model.classifier import normalise_light

    images = np.stack([normalise_light(face) for face in split.images]) if len(split) else split.images
    return Split(images, split.labels, split.files)


def _stack(images: list, labels: list) -> Split:
    if not images:
        return Split(np.zeros((0, SIZE, SIZE), np.uint8), np.zeros((0,), np.int64))
    return Split(np.stack(images).astype(np.uint8), np.asarray(labels, dtype=np.int64))
