"""Any image in, an answer out (issue 13): 16-bit, float and palette photos read like the 8-bit one,
degenerate images give no face in every detector, one bad file never stops `predict`, and one
Recognizer shared by many threads answers as it does alone."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.faces import DETECTORS, PHOTO_DETECTOR, get_detector
from model.images import load_image

ROOT = Path(__file__).resolve().parents[2]
THREADS = 8                        # as many as the dashboard's waitress serves with


@pytest.fixture(scope="module")
def portrait(face_photos) -> Image.Image:
    """A happy CFD portrait at 600x600 RGB, as the case grey16-png makes it."""
    path = sorted((face_photos / "cfd" / "happy").glob("*.jpg"))[0]
    return Image.open(path).convert("RGB").resize((600, 600), Image.LANCZOS)


@pytest.fixture(scope="module")
def photo_recognizer(recognizer):
    """The shipped model behind the photo detector, as `predict` and the dashboard run it."""
    from model.recognizer import Recognizer

    return Recognizer(recognizer.classifier, PHOTO_DETECTOR)


def encoded(image: Image.Image, format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def assert_same_faces(found, expected, tolerance=1e-6):
    """Same boxes and statuses, probabilities within `tolerance`."""
    assert [(f.box.x, f.box.y, f.box.w, f.box.h, f.status) for f in found] == \
           [(f.box.x, f.box.y, f.box.w, f.box.h, f.status) for f in expected]
    for mine, theirs in zip(found, expected):
        if theirs.probabilities is not None:
            assert np.allclose(mine.probabilities, theirs.probabilities, atol=tolerance)


def test_16_bit_and_float_photos_read_like_the_8_bit_one(photo_recognizer, portrait):
    grey = np.asarray(portrait.convert("L"))
    expected = photo_recognizer.recognize(load_image(encoded(Image.fromarray(grey), "PNG")))
    assert len(expected) == 1 and expected[0].emotion == "happy"
    wide = {"16-bit PNG": encoded(Image.fromarray(grey.astype(np.uint16) * 257), "PNG"),
            "16-bit TIFF": encoded(Image.fromarray(grey.astype(np.uint16) * 257), "TIFF"),
            "0..1 float TIFF": encoded(Image.fromarray(grey.astype(np.float32) / 255, "F"), "TIFF")}
    for name, data in wide.items():
        assert_same_faces(photo_recognizer.recognize(load_image(data)), expected), name
    colour = photo_recognizer.recognize(load_image(encoded(portrait, "PNG")))
    assert len(colour) == 1 and colour[0].emotion == "happy"
    assert np.abs(colour[0].probabilities - expected[0].probabilities).max() < 0.1   # grey loses only colour


def test_a_colour_float_tiff_is_refused_by_name_in_a_file_and_in_bytes(portrait, tmp_path):
    """Pillow reads grey float TIFFs but not colour ones (OpenCV writes those): refused with what to do."""
    import cv2

    from model.errors import ImageError

    path = tmp_path / "float.tiff"
    cv2.imwrite(str(path), np.asarray(portrait, np.float32)[:, :, ::-1] / 255)
    for source in (path, path.read_bytes()):
        with pytest.raises(ImageError, match="a TIFF that Moodlog cannot read: damaged, or in a pixel format .*8- or 16-bit"):
            load_image(source)
    with pytest.raises(ImageError, match="not an image"):
        load_image(b"II not a TIFF at all")


def test_palette_photo_reads_through_its_palette(photo_recognizer, portrait):
    """As JAFFE's palette TIFFs: pixels are indices into a palette of greys (here shuffled, so that
    reading the indices as brightness would show noise)."""
    grey = np.asarray(portrait.convert("L"))
    order = np.random.default_rng(0).permutation(256).astype(np.uint8)
    palette = Image.fromarray(np.argsort(order).astype(np.uint8)[grey], "P")
    palette.putpalette(np.repeat(order, 3).tolist())
    expected = photo_recognizer.recognize(load_image(encoded(Image.fromarray(grey), "PNG")))
    assert_same_faces(photo_recognizer.recognize(load_image(encoded(palette, "TIFF"))), expected)


@pytest.mark.parametrize("name", DETECTORS)
def test_degenerate_images_give_no_face_in_every_detector(name):
    detector = get_detector(name)
    for shape in [(10, 4000, 3), (4000, 10, 3), (1, 40_000, 3), (1, 1, 3), (1, 1), (0, 0, 3), (0, 50, 3)]:
        assert detector.detect(np.full(shape, 128, np.uint8)) == [], shape


@pytest.mark.parametrize("width, height", [(4000, 10), (1, 1)])
def test_degenerate_photos_give_no_face_through_the_recognizer(photo_recognizer, width, height):
    banner = encoded(Image.new("RGB", (width, height), (200, 180, 160)), "PNG")
    assert photo_recognizer.recognize(load_image(banner)) == []


def test_predict_goes_on_after_bad_and_degenerate_files_and_exits_2(portrait, tmp_path):
    Image.new("RGB", (4000, 10), "white").save(tmp_path / "banner.png")
    Image.new("RGB", (1, 1), "white").save(tmp_path / "dot.png")
    (tmp_path / "broken.jpg").write_text("not a photo at all")
    portrait.save(tmp_path / "good.jpg", quality=90)
    paths = [tmp_path / name for name in ("banner.png", "dot.png", "broken.jpg", "good.jpg")]
    result = subprocess.run([sys.executable, "app.py", "predict", *map(str, paths)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert f"{paths[0]}: no face found" in result.stdout and f"{paths[1]}: no face found" in result.stdout
    assert f"error: {paths[2]}: not an image" in result.stderr
    assert f"{paths[3]}: 1 face" in result.stdout and "happy" in result.stdout


def test_predict_json_names_each_file_that_failed(photo_recognizer, portrait, tmp_path, capsys):
    from model.predict import predict_files

    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    portrait.save(tmp_path / "good.png")
    failures = predict_files([tmp_path / "broken.png", tmp_path / "good.png"], photo_recognizer, None, True)
    printed = capsys.readouterr()
    report = json.loads(printed.out)
    assert failures == 1 and "broken.png" in report[0]["error"] and "faces" not in report[0]
    assert report[1]["faces"][0]["emotion"] == "happy"
    assert printed.err.count("error: ") == 1


def run_in_threads(work, items, rounds=2) -> tuple[list, list]:
    """Call `work(item)` from THREADS threads at once, each going through `items` `rounds` times from
    its own starting point; returns ([(index, result)], [exceptions])."""
    results, errors = [], []

    def worker(start):
        for step in range(rounds * len(items)):
            index = (start + step) % len(items)
            try:
                results.append((index, work(items[index])))
            except Exception as error:      # collected so the test can show what went wrong
                errors.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=worker, args=(start,)) for start in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def shared_photos(face_photos) -> list[np.ndarray]:
    """Four portraits of different emotions and a group photo."""
    portraits = [sorted((face_photos / "cfd" / emotion).glob("*.jpg"))[0] for emotion in
                 ("happy", "neutral", "angry", "fear")]
    return [load_image(path, max_side=600) for path in portraits] + \
        [load_image(face_photos / "group_photos" / "linzaer_imgs_1.jpg")]


def test_concurrent_recognitions_agree_with_single_ones(photo_recognizer, face_photos):
    photos = shared_photos(face_photos)
    alone = [photo_recognizer.recognize(photo) for photo in photos]
    assert sum(len(faces) for faces in alone) > len(photos)
    results, errors = run_in_threads(photo_recognizer.recognize, photos)
    assert errors == []
    assert len(results) == THREADS * 2 * len(photos)
    for index, faces in results:
        assert_same_faces(faces, alone[index])


@pytest.mark.parametrize("name", ["haar", "blazeface"])
def test_one_detector_serves_many_threads(name, face_photos):
    """The other detectors, as the capture daemon and `--detector` use them. Haar's boxes are compared
    as sets: OpenCV merges its parallel strips in no fixed order, in one thread as in many."""
    detector = get_detector(name)
    photos = shared_photos(face_photos)[-3:]              # two portraits and the group photo
    alone = [sorted(detector.detect(photo), key=corner) for photo in photos]
    results, errors = run_in_threads(detector.detect, photos, rounds=1)
    assert errors == []
    assert all(sorted(boxes, key=corner) == alone[index] for index, boxes in results)


def corner(box) -> tuple[int, int, int, int]:
    return box.x, box.y, box.w, box.h


class Counted:
    """The real inner detector, counting how often a TiledDetector runs it."""

    def __init__(self, inner):
        self.inner, self.runs = inner, 0
        self.input_size = getattr(inner, "input_size", 128)

    def detect(self, image):
        self.runs += 1
        return self.inner.detect(image)


def test_a_thin_strip_is_not_cut_into_tiles_by_its_length(face_photos):
    """Found in review: the number of tiles grew with the long side, so a 39,000,000x1 banner (a
    38 KB PNG) was 180,000 detections, minutes of a dashboard thread. A strip too thin to hold a
    readable face gets the whole-image pass alone; a panorama that can hold faces is still tiled and
    its faces found."""
    from model.faces import SMALLEST_FACE, TiledDetector, get_detector

    tiles = get_detector(PHOTO_DETECTOR)
    inner = Counted(tiles.inner)
    tiled = TiledDetector(inner, "counted")
    for shape in [(1, 400_000), (SMALLEST_FACE - 1, 100_000), (400_000, 3), (40, 400_000)]:
        inner.runs = 0
        assert tiled.detect(np.full(shape, 128, np.uint8)) == []
        assert inner.runs == 1, shape
    face = np.asarray(Image.open(sorted((face_photos / "cfd" / "happy").glob("*.jpg"))[0]).convert("RGB")
                      .resize((120, 120)))[:, :, ::-1]
    panorama = np.full((160, 6000, 3), 200, np.uint8)
    for left in (500, 3000, 5500):
        panorama[20:140, left - 60:left + 60] = face
    inner.runs = 0
    found = tiled.detect(panorama)
    assert 1 < inner.runs <= 1 + 2 * 37 and sorted(round(b.x + b.w / 2, -2) for b in found) == [500, 3000, 5500]
