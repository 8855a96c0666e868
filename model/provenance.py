"""Where a reading came from: the Moodlog version and the model's identity, for the log and the
Model page, so that every session can be traced to the code and the exact weights that made it.

The model is identified by its content (the first 20 hex digits of its SHA-256, the same digest
that names its int8 file, model/lite.py), not by its file name or modification time, which a
clone or a copy changes. Its training date is the one Keras 3 writes into every `.keras` file
(`metadata.json`, "date_saved").
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from model.labels import EMOTIONS

VERSION = "0.4.0"
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ModelIdentity:
    """`name` (file name), `sha256` (20 hex digits of the file's SHA-256), `trained` (ISO 8601
    date and time the file was saved by Keras, None if it does not say), `labels` (class names in
    output order)."""
    name: str
    sha256: str
    trained: str | None
    labels: tuple[str, ...] = EMOTIONS

    def as_dict(self) -> dict:
        return {**asdict(self), "labels": list(self.labels)}


def model_identity(path: str | Path) -> ModelIdentity:
    """The identity of a model file; raises OSError when it cannot be read."""
    from model.labels import model_labels
    from model.lite import digest

    path = Path(path)
    return ModelIdentity(path.name, digest(path), saved_date(path), model_labels(path))


def saved_date(path: Path) -> str | None:
    """"2026-11-25@12:02:29" in a `.keras` file's metadata.json -> "2026-11-25T12:02:29"."""
    try:
        with zipfile.ZipFile(path) as archive:
            saved = json.loads(archive.read("metadata.json")).get("date_saved")
        return datetime.strptime(saved, "%Y-%m-%d@%H:%M:%S").isoformat()
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile):
        return None


@lru_cache(maxsize=1)
def moodlog_version() -> str:
    """VERSION, plus the git commit when run from a checkout ("0.4.0+g9eac56b", ".dirty" appended when the
    tracked files differ from it), so two runs of "the same version" can still be told apart."""
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return VERSION
    return f"{VERSION}+g{commit}" + (".dirty" if dirty else "")
