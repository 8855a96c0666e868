"""FER+ crowd votes (10 taggers per FER2013 face) as training targets and as a second test label.

Why: FER2013's own labels are one annotator's and agree with the crowd's top choice on only about
two faces in three; FER+ (Barsoum et al. 2016, arXiv:1608.01041, MIT licence) asked ten taggers per
face. Training towards the crowd's distribution teaches how much of each emotion a face shows, and
its majority is a cleaner test label. `../shared/datasets/ferplus/labels.csv` joins the votes to the
files of the FER2013 image folders (`file` = `train/angry/Training_10118481.jpg`).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from model.errors import DatasetError
from model.labels import EMOTIONS

# FER+ vote columns for the seven FER2013 emotions, in FER2013 order; FER+ also has contempt,
# unknown and NF (not a face), which no FER2013 class matches.
SEVEN = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
OTHER = ("contempt", "unknown", "NF")


NEEDS_FOLDERS = ("--ferplus needs FER2013 as image folders (train/<emotion>/...), whose file names "
                 "FER+ votes are joined by; the CSV has none")


def check_ferplus(path: str | os.PathLike, data: Path) -> None:
    """DatasetError before the data loads: no votes file at `path`, or FER2013 `data` given as the CSV,
    whose faces have no file names to join the votes by."""
    require_votes_file(Path(path))
    if data.is_file():
        raise DatasetError(NEEDS_FOLDERS)


def require_votes_file(path: Path) -> None:
    if not path.is_file():
        raise DatasetError(f"--ferplus: no file at {path}; expected FER+ labels.csv (file, the 10 vote columns)")


def read_votes(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """`file -> (10,) float32` vote counts: the seven emotions in FER2013 order, then contempt,
    unknown, not-a-face. Raises DatasetError when the file is missing or has other columns."""
    path = Path(path)
    require_votes_file(path)
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"file", *SEVEN, *OTHER} - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        return {row["file"]: np.array([float(row[name]) for name in SEVEN + OTHER], np.float32)
                for row in reader}


def crowd_majority(votes: np.ndarray) -> int | None:
    """The emotion (FER2013 index) with the most votes when exactly one category leads and it is
    one of the seven; None for ties, contempt, unknown and not-a-face."""
    top = votes.max()
    leaders = np.flatnonzero(votes == top)
    return int(leaders[0]) if len(leaders) == 1 and leaders[0] < len(EMOTIONS) and top > 0 else None


def majority_labels(files: list[str], votes: dict[str, np.ndarray]) -> np.ndarray:
    """`(N,) int64`: each face's crowd majority, -1 where there is none or the face has no votes."""
    return np.array([-1 if file not in votes or (label := crowd_majority(votes[file])) is None else label
                     for file in files], np.int64)


def crowd_targets(split, votes: dict[str, np.ndarray], weight: float) -> tuple[np.ndarray, np.ndarray, dict]:
    """Training targets `(N, 7) float32` blending each face's FER2013 label with the crowd:
    `(1 - weight) * one-hot + weight * votes over the seven emotions / their sum`.

    Faces the crowd calls not-a-face (NF leads) are dropped: the returned mask `(N,) bool` says
    which to keep. Faces without votes, or with none among the seven, keep their one-hot label.
    Returns (targets, keep, counts of each case for the training log).
    """
    if split.files is None:
        raise DatasetError(NEEDS_FOLDERS)
    if not 0.0 <= weight <= 1.0:
        raise DatasetError(f"--ferplus-weight must lie in [0, 1], not {weight}")
    targets = np.eye(len(EMOTIONS), dtype=np.float32)[split.labels]
    keep = np.ones(len(split), bool)
    counts = {"blended": 0, "no votes": 0, "not a face (dropped)": 0}
    for i, file in enumerate(split.files):
        face_votes = votes.get(file)
        if face_votes is not None and face_votes[-1] > 0 and face_votes[-1] == face_votes.max():
            keep[i] = False
            counts["not a face (dropped)"] += 1
        elif face_votes is None or face_votes[:len(EMOTIONS)].sum() == 0:
            counts["no votes"] += 1
        else:
            seven = face_votes[:len(EMOTIONS)]
            targets[i] = (1.0 - weight) * targets[i] + weight * seven / seven.sum()
            counts["blended"] += 1
    return targets, keep, counts
