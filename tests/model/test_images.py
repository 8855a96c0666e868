"""Safe image decoding: bombs refused before decoding, damaged files named, EXIF honoured."""

import io

import cv2
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


# Any pixel format: wide samples scaled to 8 bits, palettes looked up, transparency on white,
# and what has no brightness refused by name (issue 13, case grey16-png).

def gradient(height=32, width=48) -> np.ndarray:
    """Every 8-bit value at least once, as a (height, width) uint8 ramp."""
    return (np.arange(height * width).reshape(height, width) % 256).astype(np.uint8)


def encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("format", ["PNG", "TIFF"])
def test_16_bit_grey_reads_as_the_8_bit_values_it_widens(format):
    grey = gradient()
    wide = encoded(Image.fromarray(grey.astype(np.uint16) * 257), format)
    assert Image.open(io.BytesIO(wide)).mode.startswith("I;16")
    assert np.array_equal(load_image(wide, grey=True), grey)
    assert np.array_equal(load_image(wide), np.dstack([grey] * 3))


def test_16_bit_big_endian_and_32_bit_integer_samples_read_as_16_bit():
    grey = gradient()
    big_endian = Image.frombytes("I;16B", (48, 32), (grey.astype(">u2") * 257).tobytes())
    assert np.array_equal(load_image(encoded(big_endian, "TIFF"), grey=True), grey)
    integer = Image.fromarray(grey.astype(np.int32) * 257)             # "I", as Pillow opens a 16-bit PGM
    assert np.array_equal(load_image(encoded(integer, "TIFF"), grey=True), grey)


def test_16_bit_colour_reads_as_its_8_bit_colour():
    colour = np.dstack([gradient(), gradient()[::-1], np.full((32, 48), 200, np.uint8)])
    ok, png = cv2.imencode(".png", colour.astype(np.uint16) * 257)      # BGR, 16 bits per channel
    assert ok and np.array_equal(load_image(png.tobytes()), colour)


def test_float_tiff_in_0_to_1_reads_as_the_8_bit_values():
    grey = gradient()
    floats = encoded(Image.fromarray(grey.astype(np.float32) / 255, "F"), "TIFF")
    assert np.array_equal(load_image(floats, grey=True), grey)


@pytest.mark.parametrize("low, high", [(-1.0, 3.0), (0.0, 255.0), (1000.0, 5e6)])
def test_float_and_32_bit_samples_in_other_ranges_are_stretched_from_min_to_max(low, high):
    ramp = np.linspace(low, high, 32 * 48, dtype=np.float32).reshape(32, 48)
    read = load_image(encoded(Image.fromarray(ramp, "F"), "TIFF"), grey=True)
    assert read.min() == 0 and read.max() == 255 and np.all(np.diff(read.ravel().astype(int)) >= 0)
    integers = encoded(Image.fromarray(np.linspace(0, 5_000_000, 32 * 48).astype(np.int32).reshape(32, 48), "I"),
                       "TIFF")
    assert load_image(integers, grey=True).max() == 255


@pytest.mark.parametrize("dtype, low, high", [(np.float32, 0.0, 1.0), (np.float32, -3.0, 7.5), (np.uint16, 0, 65535)])
def test_wide_samples_taller_than_one_block_read_as_in_one_piece(dtype, low, high):
    """eight_bit converts a block of rows at a time (a 40-megapixel float image took about 1 GB in
    full-size temporaries); every block must read as the whole image would."""
    from model.images import ROWS_AT_A_TIME, eight_bit

    rows = 2 * ROWS_AT_A_TIME + 37
    samples = np.random.default_rng(0).uniform(low, high, (rows, 50)).astype(dtype)
    samples[0, 0], samples[-1, -1] = low, high
    if dtype == np.uint16:
        expected = ((samples.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif (low, high) == (0.0, 1.0):
        expected = np.rint(samples * 255).astype(np.uint8)
    else:
        expected = np.rint((samples - np.float32(low)) * np.float32(255 / (high - low))).clip(0, 255).astype(np.uint8)
    assert np.array_equal(eight_bit(samples, "x"), expected)
    samples[-1, 3] = np.inf if dtype == np.float32 else samples[-1, 3]
    if dtype == np.float32:
        with pytest.raises(ImageError, match="NaN or infinite"):
            eight_bit(samples, "x")


def test_float_image_with_nan_is_refused_by_name():
    samples = np.full((8, 8), 0.5, np.float32)
    samples[2, 3] = np.nan
    with pytest.raises(ImageError, match="NaN"):
        load_image(encoded(Image.fromarray(samples, "F"), "TIFF"))


def test_palette_image_reads_through_its_palette_not_its_indices():
    grey = gradient()
    order = np.random.default_rng(0).permutation(256).astype(np.uint8)    # palette entry i is grey order[i]
    indices = np.argsort(order).astype(np.uint8)[grey]
    palette = Image.fromarray(indices, "P")
    palette.putpalette(np.repeat(order, 3).tolist())
    for format in ("PNG", "TIFF", "GIF"):
        assert np.array_equal(load_image(encoded(palette, format), grey=True), grey), format


def test_one_bit_image_is_black_and_white():
    ink = gradient() > 127
    read = load_image(encoded(Image.fromarray(ink), "PNG"), grey=True)
    assert np.array_equal(read, np.where(ink, 255, 0))


@pytest.mark.parametrize("mode", ["LA", "RGBA", "P"])
def test_transparent_pixels_show_white_and_opaque_ones_their_colour(mode):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., :3] = (30, 60, 90)
    rgba[:4, :, 3] = 255                                   # top half opaque, bottom half transparent
    transparent = encoded(Image.fromarray(rgba, "RGBA").convert(mode), "PNG")   # "P": a palette with tRNS
    assert Image.open(io.BytesIO(transparent)).has_transparency_data
    bgr = load_image(transparent)
    opaque = (54, 54, 54) if mode == "LA" else (90, 60, 30)  # LA: the colour's brightness
    assert np.all(np.abs(bgr[:4].astype(int) - opaque) <= 1), bgr[0, 0]
    assert np.all(bgr[4:] == 255)


@pytest.mark.parametrize("format", ["JPEG", "TIFF"])
def test_cmyk_reads_as_the_rgb_it_was_made_from(format):
    rgb = np.dstack([gradient(), gradient()[::-1], np.full((32, 48), 200, np.uint8)])
    cmyk = encoded(Image.fromarray(rgb).convert("CMYK"), format, **({"quality": 100} if format == "JPEG" else {}))
    difference = np.abs(load_image(cmyk)[:, :, ::-1].astype(int) - rgb)
    assert difference.mean() < 3


def test_a_pixel_format_without_a_grey_or_rgb_view_is_refused_by_name():
    from model.images import to_pixels

    with pytest.raises(ImageError, match="La pixels"):
        to_pixels(Image.new("La", (4, 4)), "odd.png", grey=False)


def test_eight_bit_keeps_32_bit_integers_that_hold_8_bit_values():
    from model.images import eight_bit

    values = np.array([[0, 17, 255]], np.int32)
    np.testing.assert_array_equal(eight_bit(values, "x"), values.astype(np.uint8))
    np.testing.assert_array_equal(eight_bit(np.array([[0, 257 * 17, 65535]], np.int32), "x"), [[0, 17, 255]])
    np.testing.assert_array_equal(eight_bit(np.array([[0, 255]], np.uint16), "x"), [[0, 1]])   # 16-bit: dark
    np.testing.assert_array_equal(eight_bit(np.array([[True, False]]), "x"), [[255, 0]])
