"""Label sets: the seven FER2013 emotions, in label order, with one colour each for every chart, and
the user's own label sets that `teach` writes into a model file.

A model file says which labels its outputs are: a `.keras` file made by `teach` carries them in a
`moodlog.json` member of its zip (Keras ignores members it does not know), which also changes the
file's content hash and so the name of its int8 file. A model file without it is a seven-emotion
model. Reading the labels needs neither Keras nor TensorFlow.
"""

from __future__ import annotations

import copy
import json
import os
import re
import unicodedata
import zipfile
from functools import lru_cache
from pathlib import Path

from model.errors import ModelFileError, MoodlogError

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# Colours chosen to stay distinguishable for the common colour-vision deficiencies
# (Okabe-Ito palette plus grey for neutral), so that charts never rely on red/green alone.
COLOURS = {
    "angry": "#D55E00",
    "disgust": "#009E73",
    "fear": "#CC79A7",
    "happy": "#E69F00",
    "sad": "#0072B2",
    "surprise": "#56B4E9",
    "neutral": "#8C8C8C",
}
# Custom labels take the Okabe-Ito colours in turn (then Paul Tol's "muted" set for label sets of
# more than eight), so a two- or three-label set is as readable for colour-blind users as the emotions.
CUSTOM_COLOURS = ("#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00", "#F0E442", "#8C8C8C",
                  "#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255")

INDEX = {name: i for i, name in enumerate(EMOTIONS)}

LABELS_MEMBER = "moodlog.json"
# Fewest usable faces per label that `teach` takes: each of five cross-validation folds needs one.
MIN_FACES_PER_LABEL = 5
# How many a label is advised to have: with 20 per label the CFD smile task reads about 0.9 (bench/teach.py).
ADVISED_FACES_PER_LABEL = 20
MAX_LABELS = len(CUSTOM_COLOURS)
# A label is a folder name, a chart legend, a CSV column and a JSON key: letters (any script),
# digits, spaces, '-' and '_', starting with a letter or digit; no path separators, no dots.
LABEL_PATTERN = re.compile(r"^[^\W_][\w \-]{0,39}$")


class LabelError(MoodlogError):
    """A label name or label set that Moodlog cannot use."""


def check_label(name: str) -> str:
    """`name` stripped and in Unicode NFC (macOS names files in NFD: "café" as "cafe" and a combining
    accent), or LabelError saying why it cannot be a label (1-40 characters: letters, digits, spaces,
    '-' and '_', starting with a letter or digit; so never '..', '/x' or empty)."""
    stripped = unicodedata.normalize("NFC", str(name)).strip()
    if not LABEL_PATTERN.match(stripped):
        raise LabelError(f"{name!r} cannot be a label name: use 1-40 letters, digits, spaces, '-' or '_', "
                         "starting with a letter or digit")
    return stripped


def check_label_set(labels) -> tuple[str, ...]:
    """A tuple of 2 to MAX_LABELS distinct, valid label names (compared ignoring case), or LabelError."""
    labels = tuple(check_label(name) for name in labels)
    if len(labels) < 2:
        raise LabelError(f"a label set needs at least two labels, got {len(labels)}: {', '.join(labels) or 'none'}")
    if len(labels) > MAX_LABELS:
        raise LabelError(f"at most {MAX_LABELS} labels, got {len(labels)}")
    folded = [name.casefold() for name in labels]
    if len(set(folded)) != len(folded):
        raise LabelError(f"labels must differ (ignoring case): {', '.join(labels)}")
    return labels


def colours_for(labels) -> dict[str, str]:
    """One colour per label: the emotions keep theirs, any other label takes CUSTOM_COLOURS in turn."""
    labels = tuple(labels)
    if set(labels) <= set(COLOURS):
        return {name: COLOURS[name] for name in labels}
    return {name: CUSTOM_COLOURS[i % len(CUSTOM_COLOURS)] for i, name in enumerate(labels)}


def is_emotions(labels) -> bool:
    return tuple(labels) == EMOTIONS


def model_labels(path: str | Path) -> tuple[str, ...]:
    """The class names of a model file's outputs, in order: those `teach` wrote into it, else EMOTIONS.
    Raises ModelFileError when the file's label member is unreadable."""
    details = model_details(path)
    if not details:
        return EMOTIONS
    try:
        return check_label_set(details["labels"])
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: its label set ({LABELS_MEMBER}) cannot be read: {error}") from None


def model_details(path: str | Path) -> dict:
    """What `write_model_labels` wrote into a model file ({"labels": [...], and how it was taught}), or
    {} for a model without it (one made by `train`). Raises ModelFileError when it is unreadable.

    Read once per version of the file (its path, inode, size and modification time): the classifier, the
    recognizer's framing check and the dashboard's Model page all ask, and each gets its own copy."""
    try:
        stat = os.stat(path)
        details = _read_details(str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    except (OSError, zipfile.BadZipFile, ValueError) as error:
        raise ModelFileError(f"{path}: its label set ({LABELS_MEMBER}) cannot be read: {error}") from None
    if not isinstance(details, dict):
        raise ModelFileError(f"{path}: its label set ({LABELS_MEMBER}) cannot be read: not a JSON object")
    return copy.deepcopy(details)


@lru_cache(maxsize=16)
def _read_details(path: str, inode: int, size: int, modified_ns: int):
    # inode, size and modified_ns are only the cache key: a file replaced or rewritten is read again.
    with zipfile.ZipFile(path) as archive:
        if LABELS_MEMBER not in archive.namelist():
            return {}
        return json.loads(archive.read(LABELS_MEMBER))


def write_model_labels(path: str | Path, labels, details: dict | None = None) -> None:
    """Add the label set (and any JSON-able `details`, such as how it was taught) to a `.keras` file."""
    labels = check_label_set(labels)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(LABELS_MEMBER, json.dumps({"labels": list(labels), **(details or {})}, indent=1))
