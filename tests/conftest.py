"""Shared fixtures: where the real data lives, and skips with a reason when it does not."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED = ROOT.parent / "shared" / "datasets"


def fer2013_location() -> Path | None:
    """FER2013 from $MOODLOG_FER2013, else ../shared/datasets/fer2013; None when neither exists."""
    env = os.environ.get("MOODLOG_FER2013")
    for candidate in ([Path(env)] if env else []) + [SHARED / "fer2013"]:
        if candidate.exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def fer2013() -> Path:
    path = fer2013_location()
    if path is None:
        pytest.skip("FER2013 not found: set MOODLOG_FER2013 or put it at ../shared/datasets/fer2013")
    return path


@pytest.fixture(scope="session")
def face_photos() -> Path:
    """Real full-frame face photos (../shared/datasets/faces: cfd/, yale/, group_photos/, nonface/, videos/)."""
    path = SHARED / "faces"
    if not path.is_dir():
        pytest.skip("real face photos not found at ../shared/datasets/faces")
    return path


@pytest.fixture(scope="session")
def recognizer():
    """The shipped model behind the default detector, loaded once for the whole run."""
    from model.recognizer import Recognizer

    return Recognizer()


@pytest.fixture
def model_copy(tmp_path) -> Path:
    """The shipped model and its int8 file, copied under another name: a user's own model that
    must give exactly the shipped model's results wherever it is used."""
    import shutil

    from model.classifier import DEFAULT_MODEL
    from model.lite import int8_path

    mine = tmp_path / "mine" / "mine.keras"
    mine.parent.mkdir()
    shutil.copy(DEFAULT_MODEL, mine)
    shutil.copy(int8_path(DEFAULT_MODEL), int8_path(mine))
    return mine
