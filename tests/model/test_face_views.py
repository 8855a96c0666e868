"""Every face a camera shows is read, and read the same way: close-ups, tight crops, tilted heads,
dim and bright light, images that are already one face (issue 13; ../shared/cases tight-crop,
head-roll, low-light)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from model.alignment import roll_degrees, yaw_ratio
from model.faces import PHOTO_DETECTOR, Box
from model.images import load_image
from model.recognizer import CUT_BY_EDGE, OK, Recognizer

CASES = ["happy", "neutral"]


@pytest.fixture(scope="module")
def photo_recognizer(recognizer):
    return Recognizer(recognizer.classifier, PHOTO_DETECTOR)


def portraits(face_photos, emotion: str, count: int) -> list[np.ndarray]:
    """`count` CFD portraits of one emotion, shrunk to a webcam's 640 pixels."""
    paths = sorted((face_photos / "cfd" / emotion).glob("*"))[::7][:count]
    return [cv2.resize(load_image(path), (640, 640), interpolation=cv2.INTER_AREA) for path in paths]


def reading(recognizer, image) -> tuple[str | None, str | None]:
    """(status, emotion) of the largest face; (None, None) when there is no face."""
    faces = recognizer.recognize(image)
    return (faces[0].status, faces[0].emotion) if faces else (None, None)


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


def face_box(recognizer, image) -> Box:
    faces = [face for face in recognizer.finder.find(image) if face.status == OK]
    assert faces, "the upright portrait must have a readable face"
    return faces[0].box


def test_a_close_up_whose_crop_leaves_the_frame_is_classified(face_photos, recognizer):
    """The face box fills 80% of the frame and lies inside it; only the crop's margin leaves the
    frame. Before, this was "cut by edge" (241 of 354 frames of a real close-up clip)."""
    for image in portraits(face_photos, "happy", 3):
        box = face_box(recognizer, image)
        side = round(box.w / 0.8)
        left, top = box.x + box.w // 2 - side // 2, box.y + box.h // 2 - side // 2
        frame = np.ascontiguousarray(image[max(top, 0):top + side, max(left, 0):left + side])
        assert reading(recognizer, frame) == (OK, "happy")


def test_a_face_cut_well_past_the_frame_edge_is_refused_not_guessed(face_photos, recognizer):
    """A third of the face box below the frame (mouth and chin gone): found but not classified."""
    statuses = []
    for image in portraits(face_photos, "neutral", 3):
        box = face_box(recognizer, image)
        cut = np.ascontiguousarray(image[:box.y + round(box.h * 0.65)])
        statuses += [face.status for face in recognizer.recognize(cut)]
    assert statuses and set(statuses) == {CUT_BY_EDGE}, statuses


@pytest.mark.parametrize("detector", ["video", "photo"])
def test_a_photo_that_is_only_the_face_is_found(face_photos, recognizer, photo_recognizer, detector):
    """../shared/cases/tight-crop: the photo cut to the detector's own box gave "no face found"
    (photo detector) or "cut by edge" (video detector)."""
    chosen = recognizer if detector == "video" else photo_recognizer
    for image in portraits(face_photos, "happy", 3):
        box = face_box(recognizer, image)
        crop = np.ascontiguousarray(image[box.y:box.y + box.h, box.x:box.x + box.w])
        assert reading(chosen, crop) == (OK, "happy")


@pytest.mark.parametrize("degrees", [-45, -30, 30, 45])
def test_a_rolled_head_reads_like_the_upright_one(face_photos, photo_recognizer, degrees):
    """../shared/cases/head-roll: a 45-degree roll was "turned away"."""
    for emotion in CASES:
        for image in portraits(face_photos, emotion, 2):
            upright = reading(photo_recognizer, image)
            assert upright[0] == OK
            assert reading(photo_recognizer, rotated(image, degrees)) == upright, (emotion, degrees)


@pytest.mark.parametrize("gain", [0.25, 0.15])
def test_a_dim_face_reads_like_the_well_lit_one(face_photos, recognizer, gain):
    """../shared/cases/low-light: at a quarter of the brightness 5 of 6 faces read sad."""
    rng = np.random.default_rng(0)
    for emotion in CASES:
        for image in portraits(face_photos, emotion, 3):
            dim = image.astype(np.float32) * gain + rng.normal(0, 1.5, image.shape)
            dim = np.clip(dim, 0, 255).astype(np.uint8)
            assert reading(recognizer, dim) == reading(recognizer, image), (emotion, gain)


def test_the_whole_image_option_reads_fer2013_faces_without_detection(fer2013, recognizer):
    """FER2013's own 48x48 faces through predict's path gave "no face found" for 37 of 40."""
    whole = Recognizer(recognizer.classifier, whole_image=True)
    paths = sorted((fer2013 / "test" / "happy").glob("*"))[:40]
    faces = [whole.recognize(load_image(path))[0] for path in paths]
    assert all(face.status == OK and (face.box.w, face.box.h) == (48, 48) for face in faces)
    assert sum(face.emotion == "happy" for face in faces) >= 34


def frontal_landmarks(roll: float) -> tuple[tuple[float, float], ...]:
    """Eyes, nose and mouth of a frontal face (eye distance 40 px) rolled by `roll` degrees about (100, 100)."""
    points = np.array([[-20, -10], [20, -10], [0, 10], [0, 30]], float)
    turn = np.radians(roll)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    return tuple(map(tuple, points @ rotation.T + 100))


@pytest.mark.parametrize("roll", [-60, -45, 0, 30, 45])
def test_yaw_is_judged_in_the_face_own_frame_not_confused_with_roll(roll):
    box = Box(60, 60, 80, 80, 0.9, frontal_landmarks(roll))
    assert roll_degrees(box) == pytest.approx(roll, abs=1e-6)
    assert yaw_ratio(box) == pytest.approx(0.0, abs=1e-6)


def test_a_turned_head_still_counts_as_turned_when_also_rolled():
    points = list(frontal_landmarks(0))
    points[2] = (points[2][0] + 30, points[2][1])           # the nose 0.75 eye distances aside
    rolled = np.array(points) - 100
    turn = np.radians(40)
    rolled = rolled @ np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]]).T + 100
    assert yaw_ratio(Box(60, 60, 80, 80, 0.9, tuple(map(tuple, rolled)))) == pytest.approx(0.75, abs=1e-6)


def test_predict_whole_image_reads_a_fer2013_face_that_detection_misses(fer2013, tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    face = sorted((fer2013 / "test" / "happy").glob("*"))[0]
    app = Path(__file__).resolve().parents[2] / "app.py"
    result = subprocess.run([sys.executable, str(app), "predict", str(face), "--whole-image", "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-1500:]
    [entry] = json.loads(result.stdout)
    assert [f["box"] for f in entry["faces"]] == [{"x": 0, "y": 0, "w": 48, "h": 48}]
    assert entry["faces"][0]["emotion"] == "happy"
    both = subprocess.run([sys.executable, str(app), "predict", str(face), "--whole-image", "--detector", "haar"],
                          capture_output=True, text=True, timeout=300)
    assert both.returncode == 2 and "drop --detector" in both.stderr and "Traceback" not in both.stderr


def test_arrays_that_are_not_8_bit_read_like_the_8_bit_image(face_photos, recognizer):
    """The Python API takes 16-bit and 0..1 float images as load_image does: scaled, not clipped."""
    image = portraits(face_photos, "happy", 1)[0]
    plain = recognizer.recognize(image)[0]
    for wide in (image.astype(np.uint16) * 257, image.astype(np.float32) / 255):
        face = recognizer.recognize(wide)[0]
        assert face.box == plain.box
        np.testing.assert_allclose(face.probabilities, plain.probabilities, atol=1e-6)
    crop = recognizer.finder.crop(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), plain.box)
    np.testing.assert_allclose(recognizer.classifier.predict([crop.astype(np.uint16) * 257]),
                               recognizer.classifier.predict([crop]), atol=1e-6)
