"""`predict --out`: annotated copies never overwrite each other within a run, and an unusable --out is
refused in one line with exit 2 before any photo is read (issue 15; case out-name-collision)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT.parent / "shared" / "cases" / "out-name-collision"


def predict(*args, cwd=ROOT):
    return subprocess.run([sys.executable, str(ROOT / "app.py"), "predict", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_two_photos_of_the_same_name_get_two_annotated_copies(tmp_path):
    for folder, grey in (("a", 60), ("b", 200)):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "photo.png"), np.full((120, 160, 3), grey, np.uint8))
    out = tmp_path / "out"
    done = predict(tmp_path / "a" / "photo.png", tmp_path / "b" / "photo.png", "--out", out)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["photo-2.annotated.jpg", "photo.annotated.jpg"]
    assert f"annotated image: {out / 'photo.annotated.jpg'}" in done.stdout
    assert f"annotated image: {out / 'photo-2.annotated.jpg'}" in done.stdout
    first, second = (cv2.imread(str(out / name)) for name in ("photo.annotated.jpg", "photo-2.annotated.jpg"))
    assert abs(float(first.mean()) - 60) < 5 and abs(float(second.mean()) - 200) < 5   # each copy is its own photo


def test_the_out_name_collision_case_keeps_the_happy_and_the_angry_copy(tmp_path):
    if not CASE.is_dir():
        pytest.skip("../shared/cases/out-name-collision not found")
    done = predict(CASE / "a" / "photo.jpg", CASE / "b" / "photo.jpg", "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.iterdir())) == 2
    blocks = done.stdout.split(str(CASE / "b" / "photo.jpg"))
    assert ": happy" in blocks[0] and ": angry" in blocks[1]


@pytest.mark.parametrize("kind", ["file", "unmakeable", "read-only"])
def test_an_unusable_out_is_refused_in_one_line_before_any_photo(kind, tmp_path):
    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), np.full((60, 60, 3), 128, np.uint8))
    if kind == "file":
        out = tmp_path / "taken"
        out.write_text("x")
    elif kind == "unmakeable":
        blocker = tmp_path / "blocker"
        blocker.write_text("x")
        out = blocker / "sub"
    else:
        if os.geteuid() == 0:
            pytest.skip("root may write into a read-only folder")
        out = tmp_path / "ro"
        out.mkdir()
        out.chmod(0o500)
    done = predict(photo, "--out", out)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and done.stderr.startswith("error: --out")
    assert done.stdout == ""                         # refused before reading the photo
