"""Safe image decoding: bombs refused before decoding, damaged files named, EXIF honoured."""

import io

import numpy as np
import pytest
from PIL import Image

from model.errors import ImageError
from model.images import load_image


def png_bytes(width, height, mode="L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_decompression_bomb_is_refused_before_decoding():
    bomb = png_bytes(9000, 5000)  # 45 megapixels that compress to a few kilobytes
    assert len(bomb) < 200_000
    with pytest.raises(ImageError, match="megapixels"):
        load_image(bomb)


def test_text_and_truncated_files_are_refused(tmp_path):
    text = tmp_path / "photo.jpg"
    text.write_text("hello, I am not a photo")
    with pytest.raises(ImageError, match="not an image"):
        load_image(text)
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(buffer, "JPEG")
    with pytest.raises(ImageError, match="damaged"):
        load_image(buffer.getvalue()[:2000])


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "absent.png")


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    assert load_image(buffer.getvalue()).shape == (40, 20, 3)


def test_colour_comes_back_as_bgr_and_grey_on_request():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(buffer, format="PNG")
    bgr = load_image(buffer.getvalue())
    assert bgr[0, 0].tolist() == [0, 0, 255]
    assert load_image(buffer.getvalue(), grey=True).shape == (8, 8)


def test_large_jpegs_can_decode_at_reduced_scale_keeping_the_long_side():
    photo = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (3000, 4000, 3), dtype=np.uint8)).save(photo, "JPEG")
    assert load_image(photo.getvalue()).shape == (3000, 4000, 3)
    reduced = load_image(photo.getvalue(), max_side=1600)
    assert reduced.shape == (1500, 2000, 3)             # 1/2 scale: the longest side stays >= 1600
    assert load_image(photo.getvalue(), max_side=5000).shape == (3000, 4000, 3)
