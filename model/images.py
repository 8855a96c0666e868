"""Safe decoding of user images: size checked before decoding, EXIF orientation honoured, any bit depth.

Every image that comes from outside (a photo to predict, an upload, an extra training
image) goes through `load_image`, so that a decompression bomb, a truncated file or a
text file renamed .jpg is refused with an ImageError in one place, and a 16-bit, float,
palette, 1-bit or transparent image reads like the same picture saved as an 8-bit JPEG.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from model.errors import ImageError

# 40 megapixels covers every phone and DSLR photo of today; beyond that a decoded RGB
# image would take > 120 MB, which is how decompression bombs exhaust a server.
MAX_PIXELS = 40_000_000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")

# Pillow modes with samples wider than 8 bits. Pillow's own convert() clips them at 255, so a
# 16-bit photo turns white and a 0..1 float one black: `eight_bit` scales them instead.
WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
# What shows through transparent pixels: white, as a browser shows a transparent PNG on a
# page. Dropping the alpha channel instead would show whatever colour the encoder left there.
BACKGROUND = (255, 255, 255, 255)


def load_image(source: str | os.PathLike | bytes, *, grey: bool = False,
               max_pixels: int = MAX_PIXELS, max_side: int | None = None) -> np.ndarray:
    """Decode a file path or raw bytes into a uint8 array: (H, W, 3) BGR, or (H, W) with grey=True.

    The header is read first and the pixel count checked against `max_pixels` before any
    pixel is decoded; the EXIF orientation tag is applied so that phone photos stand upright.
    `max_side` lets JPEGs decode at 1/2, 1/4 or 1/8 scale while the longer side stays at least
    that long: a 12-megapixel photo decodes several times faster, and its faces stay far above
    the 32 pixels the classifier needs. Wider samples are brought to 8 bits as `eight_bit` says;
    palette and 1-bit images read through their palette; transparent pixels show BACKGROUND.

    Raises ImageError naming the file when it is missing, not an image, damaged, too large,
    has no pixels, or holds a pixel format that cannot be shown as grey or RGB.
    """
    name = "upload" if isinstance(source, (bytes, bytearray)) else os.fspath(source)
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    with warnings.catch_warnings():
        # PIL warns (rather than raises) between 1x and 2x its own limit; ours is stricter.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(stream) as image:
                return decoded(image, name, grey, max_pixels, max_side)
        except ImageError:
            raise                             # already names the file; ImageError is a ValueError too
        except FileNotFoundError:
            raise ImageError(f"{name}: no such file") from None
        except IsADirectoryError:
            raise ImageError(f"{name}: is a folder, not an image") from None
        except UnidentifiedImageError:
            if is_tiff(source):
                raise ImageError(f"{name}: a TIFF that Moodlog cannot read: damaged, or in a pixel format Pillow "
                                 "cannot decode (colour floating point, for one); save it as 8- or 16-bit RGB or "
                                 "greyscale") from None
            raise ImageError(f"{name}: not an image (or a format Moodlog cannot read)") from None
        except Image.DecompressionBombError as error:
            raise ImageError(f"{name}: refused, too many pixels ({error})") from None
        except (OSError, SyntaxError, ValueError) as error:
            # PIL reports truncated or corrupt data as OSError/SyntaxError while decoding.
            raise ImageError(f"{name}: damaged image ({error})") from None


def is_tiff(source: str | os.PathLike | bytes) -> bool:
    """Whether a file or bytes begin as a TIFF does (either byte order, classic or BigTIFF)."""
    try:
        if isinstance(source, (bytes, bytearray)):
            start = bytes(source[:4])
        else:
            with open(source, "rb") as file:
                start = file.read(4)
    except OSError:
        return False
    return start in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def decoded(image: Image.Image, name: str, grey: bool, max_pixels: int, max_side: int | None) -> np.ndarray:
    """An opened image's pixels, upright, as `load_image` returns them; its size checked first."""
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(f"{name}: {width}x{height} is {width * height / 1e6:.0f} "
                         f"megapixels, more than the {max_pixels / 1e6:.0f} allowed")
    if width * height == 0:
        raise ImageError(f"{name}: the image has no pixels ({width}x{height})")
    if max_side and max(width, height) > max_side:
        factor = max_side / max(width, height)
        image.draft("L" if grey else "RGB", (round(width * factor), round(height * factor)))
    return to_pixels(ImageOps.exif_transpose(image), name, grey)


def to_pixels(image: Image.Image, name: str, grey: bool) -> np.ndarray:
    """Any Pillow image as uint8 (H, W) grey or (H, W, 3) BGR; ImageError for a mode with no such view."""
    if image.mode in WIDE_MODES:
        brightness = eight_bit(np.asarray(image), name)
        return brightness if grey else np.repeat(brightness[:, :, None], 3, axis=2)
    try:
        if image.has_transparency_data:
            image = Image.alpha_composite(Image.new("RGBA", image.size, BACKGROUND), image.convert("RGBA"))
        image = image.convert("L" if grey else "RGB")
    except ValueError:
        # Pillow has no conversion for a few rare modes (premultiplied "La", for one).
        raise ImageError(f"{name}: Moodlog cannot read {image.mode} pixels; save it as 8-bit RGB or "
                         "greyscale") from None
    pixels = np.asarray(image)
    return pixels if grey else np.ascontiguousarray(pixels[:, :, ::-1])


def eight_bit(samples: np.ndarray, name: str) -> np.ndarray:
    """Wide samples (uint16, int32, float; any shape) as uint8 of the same shape.

    uint16 (and 32-bit integers within 256..65535, as Pillow opens some 16-bit files) are 16-bit:
    divided by 257, which maps 65535 to 255 and undoes the x257 that widens 8-bit values to 16 bits
    exactly. Integers within 0..255 are 8-bit values already. Floats within 0..1 are multiplied by
    255. Any other range (negative values, larger integers, floats beyond 1) is stretched from its
    minimum to its maximum, as image viewers such as ImageJ show it. ImageError for NaN or
    infinite samples, which have no brightness.
    """
    if samples.dtype == bool:
        return samples.astype(np.uint8) * 255
    if samples.dtype.kind == "f":
        # min and max propagate NaN, and an infinity is one of them: no full-size isfinite mask.
        low, high = np.min(samples), np.max(samples)
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ImageError(f"{name}: the image holds NaN or infinite values, which have no brightness")
    else:
        low, high = samples.min(), samples.max()
    if samples.dtype.kind in "iu" and low >= 0 and high <= 255 and samples.dtype != np.uint16:
        return samples.astype(np.uint8)
    if samples.dtype.kind in "iu" and low >= 0 and high <= 65535:
        return _by_rows(samples, lambda rows: (rows.astype(np.uint32) + 128) // 257)   # rounds to nearest
    if samples.dtype.kind == "f" and low >= 0 and high <= 1:
        return _by_rows(samples, lambda rows: np.rint(rows.astype(np.float32) * 255))
    spread = float(high) - float(low)
    if spread == 0:
        return np.zeros(samples.shape, np.uint8)          # one flat value: nothing to show
    scale = np.float32(255 / spread)
    return _by_rows(samples, lambda rows: np.rint((rows.astype(np.float32) - np.float32(low)) * scale).clip(0, 255))


# Rows converted at a time: full-size float temporaries of a 40-megapixel float image took about
# 1 GB per upload (found in review); a block of rows keeps them to a few MB.
ROWS_AT_A_TIME = 256


def _by_rows(samples: np.ndarray, convert) -> np.ndarray:
    """`convert` (wide samples -> values within 0..255) applied a block of rows at a time, as uint8."""
    out = np.empty(samples.shape, np.uint8)
    for start in range(0, len(samples), ROWS_AT_A_TIME):
        out[start:start + ROWS_AT_A_TIME] = convert(samples[start:start + ROWS_AT_A_TIME])
    return out
