"""Group photos through `predict` (issue 15): faces too small to read are counted on one line, labels
on the annotated copy never cover another face, and --max-megapixels raises the decoding limit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from model.annotate import annotate
from model.faces import Box
from model.recognizer import Face

ROOT = Path(__file__).resolve().parents[2]
CROWD = ROOT.parent / "shared" / "datasets" / "faces" / "group_photos" / "linzaer_imgs_1.jpg"


def predict(*args):
    return subprocess.run([sys.executable, str(ROOT / "app.py"), "predict", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_a_crowd_of_small_faces_is_counted_on_one_line_not_listed():
    if not CROWD.is_file():
        pytest.skip("../shared/datasets/faces/group_photos not found")
    done = predict(CROWD)
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    small = [line for line in lines if "too small" in line]
    assert len(small) == 1 and small[0].startswith("  + 44 faces too small to read (under 32 px)")
    assert len(lines) == 2                              # the header and the count: no line per tiny face
    smaller = predict(CROWD, "--min-face", "16").stdout
    assert sum(line.startswith("  ") and ". at x=" in line for line in smaller.splitlines()) > 0


def test_a_label_never_covers_a_neighbouring_face():
    """Two faces side by side, the left one's label would fall on the right one's box if drawn inside it:
    the label goes above, and the right face's pixels stay as they were."""
    image = np.full((300, 400, 3), 90, np.uint8)
    happy, sad = np.full(7, 0.05, np.float32), np.full(7, 0.05, np.float32)
    happy[3], sad[4] = 0.7, 0.7
    faces = [Face(Box(40, 120, 120, 120, 0.9), "ok", happy), Face(Box(170, 120, 120, 120, 0.9), "ok", sad),
             Face(Box(330, 10, 12, 12, 0.9), "too small")]
    drawn = annotate(image, faces)
    inside = (slice(125, 235), slice(175, 285))          # the right face, inside its box's lines
    assert np.array_equal(drawn[inside], image[inside])
    above = drawn[60:118, 40:200]
    assert (above != 90).any()                           # the left face's label is above it
    small = drawn[5:30, 325:350]
    assert (small != 90).any(axis=2).sum() < 60          # a too-small face: a thin box (48 px), no label band


def test_max_megapixels_raises_the_limit_and_the_message_names_it(tmp_path):
    photo = tmp_path / "wide.png"
    cv2.imwrite(str(photo), np.zeros((1500, 4000, 3), np.uint8))        # 6 megapixels
    refused = predict(photo, "--max-megapixels", "5")
    assert refused.returncode == 2 and "--max-megapixels raises the limit" in refused.stderr
    assert predict(photo, "--max-megapixels", "7").returncode == 0
    assert predict(photo, "--max-megapixels", "500").returncode == 2          # bounded, by name
