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


def shared_folder(name: str, what: str) -> Path:
    """../shared/datasets/<name>, or a skip that says what is missing and where it was looked for."""
    path = SHARED / name
    if not path.is_dir():
        pytest.skip(f"{what} not found at ../shared/datasets/{name}")
    return path


@pytest.fixture(scope="session")
def face_photos() -> Path:
    """Real full-frame face photos (../shared/datasets/faces: cfd/, yale/, group_photos/, nonface/, videos/)."""
    return shared_folder("faces", "real face photos")


@pytest.fixture(scope="session")
def crossdomain_photos() -> Path:
    """Labelled photos from other face datasets (../shared/datasets/crossdomain: jaffe/, faces/), for measuring only."""
    return shared_folder("crossdomain", "cross-domain face photos")


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


@pytest.fixture
def crossdomain_figures() -> dict:
    """A small crossdomain.json as bench/crossdomain.py writes it (two sets and pooled, Moodlog and the fer
    peer), with no model_sha256: tests add the one they need."""
    def one_set(photos, read, accuracy, macro_f1, recall):
        return {"photos": photos, "read": read, "accuracy": accuracy, "macro_f1": macro_f1, "recall": recall}

    return {"date": "2026-11-29", "commit": "365ac02", "model": "model/weights/moodnet.keras",
            "detector": "blazeface-tiles",
            "Moodlog": {"crossdomain/jaffe": one_set(107, 107, 0.486, 0.4254, {"happy": 0.8824, "sad": 0.5625}),
                        "crossdomain/faces": one_set(54, 53, 0.5185, 0.5266, {"disgust": 0.037, "happy": 1.0}),
                        "pooled": one_set(161, 160, 0.4969, 0.4101, {"disgust": 0.037, "happy": 0.95})},
            "fer": {"crossdomain/jaffe": one_set(107, 107, 0.4579, 0.4041, {"happy": 0.6471, "sad": 0.9375}),
                    "crossdomain/faces": one_set(54, 54, 0.8704, 0.9255, {"disgust": 0.7407, "happy": 1.0}),
                    "pooled": one_set(161, 161, 0.5963, 0.5557, {"disgust": 0.7407, "happy": 0.84})}}
