"""Safe decoding of user images: size checked before decoding, EXIF orientation honoured.

Every image that comes from outside (a photo to predict, an upload, an extra training
image) goes through `load_image`, so that a decompression bomb, a truncated file or a
text file renamed .jpg is refused with an ImageError in one place.
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


def load_image(source: str | os.PathLike | bytes, *, grey: bool = False,
               max_pixels: int = MAX_PIXELS, max_side: int | None = None) -> np.ndarray:
    """Decode a file path or raw bytes into a uint8 array: (H, W, 3) BGR, or (H, W) with grey=True.

    The header is read first and the pixel count checked against `max_pixels` before any
    pixel is decoded; the EXIF orientation tag is applied so that phone photos stand upright.
    `max_side` lets JPEGs decode at 1/2, 1/4 or 1/8 scale while the longer side stays at least
    that long: a 12-megapixel photo decodes several times faster, and its faces stay far above
    the 32 pixels the classifier needs.
    """
    name = "upload" if isinstance(source, (bytes, bytearray)) else os.fspath(source)
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    with warnings.catch_warnings():
        # PIL warns (rather than raises) between 1x and 2x its own limit; ours is stricter.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(stream) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageError(f"{name}: {width}x{height} is {width * height / 1e6:.0f} "
                                     f"megapixels, more than the {max_pixels / 1e6:.0f} allowed")
                if max_side and max(width, height) > max_side:
                    factor = max_side / max(width, height)
                    image.draft("L" if grey else "RGB", (round(width * factor), round(height * factor)))
                image = ImageOps.exif_transpose(image)
                image = image.convert("L" if grey else "RGB")
        except FileNotFoundError:
            raise ImageError(f"{name}: no such file") from None
        except IsADirectoryError:
            raise ImageError(f"{name}: is a folder, not an image") from None
        except UnidentifiedImageError:
            raise ImageError(f"{name}: not an image (or a format Moodlog cannot read)") from None
        except Image.DecompressionBombError as error:
            raise ImageError(f"{name}: refused, too many pixels ({error})") from None
        except (OSError, SyntaxError, ValueError) as error:
            # PIL reports truncated or corrupt data as OSError/SyntaxError while decoding.
            raise ImageError(f"{name}: damaged image ({error})") from None
    pixels = np.asarray(image)
    return pixels if grey else np.ascontiguousarray(pixels[:, :, ::-1])
