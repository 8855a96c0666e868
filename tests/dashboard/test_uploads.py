"""Upload recognition in memory: limits before decoding, clear refusals, faces on real photos."""

from __future__ import annotations

import base64
import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from dashboard import uploads
from dashboard.uploads import UploadError


def data_uri(data: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels: a decompression bomb's calling card."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


class NoFaces:
    def recognize(self, image):
        return []


def test_size_limit_is_checked_before_decoding():
    too_big = "data:image/jpeg;base64," + "A" * (uploads.MAX_UPLOAD_BYTES * 4 // 3 + 8)
    with pytest.raises(UploadError, match="limit is 10 MB"):
        uploads.decode_upload(too_big)


@pytest.mark.parametrize("contents, message", [
    ("not a data uri", "did not arrive as a file"),
    ("data:image/png;base64,@@@@", "damaged"),
    (None, "did not arrive as a file"),
    (12, "did not arrive as a file"),                    # only a hand-made request sends these
    ({"contents": "data:image/png;base64,"}, "did not arrive as a file"),
    (["data:image/png;base64,"], "did not arrive as a file"),
])
def test_malformed_uploads_are_refused(contents, message):
    with pytest.raises(UploadError, match=message):
        uploads.decode_upload(contents)


def test_text_file_named_jpg_is_not_an_image():
    with pytest.raises(UploadError, match="not an image"):
        uploads.analyse(NoFaces(), data_uri(b"hello, I am a text file\n" * 20), "notes.jpg")


@pytest.mark.parametrize("width, height", [(8000, 6250), (30_000, 30_000)])
def test_decompression_bomb_is_refused_without_decoding(width, height):
    began = time.perf_counter()
    with pytest.raises(UploadError, match="megapixels|too many pixels"):
        uploads.analyse(NoFaces(), data_uri(png_header_claiming(width, height), "image/png"), "bomb.png")
    assert time.perf_counter() - began < 2  # decoding 50-900 megapixels would take far longer


def test_blank_image_gives_no_face_and_a_preview():
    buffer = io.BytesIO()
    Image.fromarray(np.full((300, 400, 3), 180, np.uint8)).save(buffer, "PNG")
    analysis = uploads.analyse(NoFaces(), data_uri(buffer.getvalue(), "image/png"))
    assert analysis.faces == [] and (analysis.width, analysis.height) == (400, 300)
    assert analysis.image.startswith("data:image/jpeg;base64,")


def test_real_face_is_boxed_with_probabilities(recognizer, face_photos):
    photo = sorted((face_photos / "cfd" / "happy").glob("*.jpg"))[0]
    analysis = uploads.analyse(recognizer, data_uri(photo.read_bytes()), photo.name)
    assert len(analysis.faces) >= 1
    face = analysis.faces[0]
    assert face["number"] == 1 and face["thumbnail"].startswith("data:image/jpeg")
    assert abs(sum(face["probabilities"].values()) - 1) < 0.01
    assert face["emotion"] in face["probabilities"]


def test_colours_convert_to_opencv_order():
    assert uploads.bgr("#D55E00") == (0x00, 0x5E, 0xD5)


def test_min_face_applies_to_one_upload_and_leaves_the_shared_recognizer_alone(face_photos):
    """A group photo whose 44 faces are 18-31 px (as the dashboard's photo detector finds them): none
    read at the default 32 px, all at 16 px."""
    from dashboard.context import build_recognizer
    from model.classifier import DEFAULT_MODEL

    recognizer = build_recognizer(DEFAULT_MODEL)
    photo = face_photos / "group_photos" / "linzaer_imgs_1.jpg"
    contents = data_uri(photo.read_bytes())
    default = uploads.analyse(recognizer, contents, photo.name)
    small = uploads.analyse(recognizer, contents, photo.name, min_face=16)
    assert default.min_face == 32 and {face["status"] for face in default.faces} == {"too small"}
    assert small.min_face == 16 and len(small.faces) == len(default.faces)
    assert all(face["probabilities"] for face in small.faces)
    assert recognizer.finder.min_face == 32 and uploads.with_min_face(recognizer, 32) is recognizer
    with pytest.raises(UploadError, match="at least 1 pixel"):
        uploads.analyse(recognizer, contents, photo.name, min_face=0)


def test_a_large_group_photo_is_read_as_predict_reads_it_and_its_own_size_is_given(face_photos):
    """A 4096x3072 JPEG of 16 copies of a group photo: decoded at reduced scale for speed, its faces
    would be too small to read; the page then reads it whole, as `predict` does, and says its size."""
    import cv2

    from dashboard.context import build_recognizer
    from model.classifier import DEFAULT_MODEL
    from model.recognizer import OK

    photo = cv2.imread(str(face_photos / "group_photos" / "linzaer_imgs_15.jpg"))
    mosaic = cv2.resize(np.tile(photo, (4, 4, 1)), (4096, 3072), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", mosaic, [cv2.IMWRITE_JPEG_QUALITY, 90])
    recognizer = build_recognizer(DEFAULT_MODEL)
    read_by_predict = [face for face in recognizer.recognize(mosaic) if face.status == OK]
    analysis = uploads.analyse(recognizer, data_uri(encoded.tobytes()), "mosaic.jpg")
    assert (analysis.width, analysis.height) == (4096, 3072)
    readable = [face for face in analysis.faces if face["status"] == OK]
    assert len(read_by_predict) >= 16 and len(readable) == len(read_by_predict)


def test_a_large_portrait_keeps_the_quick_reduced_decode_and_says_its_own_size(recognizer, face_photos):
    import cv2

    photo = cv2.imread(str(sorted((face_photos / "cfd" / "happy").glob("*.jpg"))[0]))
    big = cv2.resize(photo, (photo.shape[1] * 4000 // photo.shape[0], 4000), interpolation=cv2.INTER_CUBIC)
    ok, encoded = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    image, faces = uploads.read_faces(recognizer, encoded.tobytes())
    assert max(image.shape[:2]) < 4000 and faces and faces[0].status == "ok"       # the quick path sufficed
    assert uploads.photo_size(encoded.tobytes(), image) == (big.shape[1], big.shape[0])
