"""Upload recognition: a browser upload in, faces with boxes and probabilities out, in memory.

Limits are checked before any work: the encoded size before base64 decoding, the pixel
count (in `model.images.load_image`) before any pixel is decoded, so a 20 MB file or a
decompression bomb costs the server nothing. Nothing is written to disk.
"""

from __future__ import annotations

import base64
import binascii
import copy
import io
import threading
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from model.errors import ImageError, MoodlogError
from model.faces import shrunk
from model.images import load_image
from model.recognizer import TOO_SMALL

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000
PREVIEW_WIDTH = 1024
# JPEGs decode at a reduced scale with the longer side at least this long (model.images).
DECODE_SIDE = 1600
# Uploads (Recognize photos, Teach drops) decoded and analysed at once; the others wait their turn.
# Decoding a 40-megapixel photo holds a few hundred MB, and waitress serves 8 requests at a time:
# eight at once peaked at 5.9 GB (found in review). Analysis is CPU-bound, so on a small machine
# waiting costs no throughput.
ANALYSES_AT_ONCE = 2
analysis_slot = threading.BoundedSemaphore(ANALYSES_AT_ONCE)
THUMBNAIL = 96


class UploadError(MoodlogError):
    """The upload was refused: too large, not a file, or not an image."""


@dataclass
class Analysis:
    """One analysed upload: a JPEG data URI of the image with the faces boxed, and one dict per
    face (`Face.as_dict()` plus `number` and `thumbnail`, a JPEG data URI), largest first."""
    image: str
    width: int
    height: int
    faces: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    min_face: int | None = None


def decode_upload(contents: str) -> bytes:
    """The bytes of a `data:...;base64,...` upload; UploadError past MAX_UPLOAD_BYTES."""
    if not isinstance(contents, str):             # only a hand-made request sends anything else
        raise UploadError("the upload did not arrive as a file")
    header, _, encoded = contents.partition(",")
    if not header.startswith("data:") or not header.endswith(";base64"):
        raise UploadError("the upload did not arrive as a file")
    size = len(encoded) * 3 // 4
    if size > MAX_UPLOAD_BYTES:
        raise UploadError(f"the file is {size / 1024 / 1024:.1f} MB; the limit is "
                          f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB")
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise UploadError("the upload is damaged (bad base64)") from None


def analyse(recognizer, contents: str, filename: str | None = None, *, whole_image: bool = False,
            min_face: int | None = None) -> Analysis:
    """Decode, check and recognise one upload; raises UploadError with a message for the user.
    `whole_image`: the upload is already one face (a face crop); detection is skipped.
    `min_face`: the smallest face side in pixels read for this upload alone (None: the recognizer's)."""
    began = time.perf_counter()
    recognizer = with_min_face(recognizer, min_face)
    data = decode_upload(contents)
    with analysis_slot:
        if whole_image:
            image = upload_pixels(data, DECODE_SIDE)            # one face: read at 48x48 anyway
            faces = recognizer.recognize(image, whole_image=True)
        else:
            image, faces = read_faces(recognizer, data)
    described = [dict(face.as_dict(), number=i + 1, thumbnail=thumbnail(image, face.box))
                 for i, face in enumerate(faces)]
    preview = annotated_preview(image, faces)
    width, height = photo_size(data, image)
    return Analysis(preview, width, height, described, time.perf_counter() - began,
                    getattr(getattr(recognizer, "finder", None), "min_face", None))


def read_faces(recognizer, data: bytes) -> tuple[np.ndarray, list]:
    """The faces of one uploaded photo, found as `predict` finds them in the same file, and the pixels
    they were found in. A large JPEG first decodes at reduced scale (DECODE_SIDE: several times
    faster, which keeps the page within its 300 ms, bench/RESULTS.md); when that finds no face, or
    leaves one too small to read (a group photo of small faces), the photo is decoded whole and read
    again."""
    image = upload_pixels(data, DECODE_SIDE)
    faces = recognizer.recognize(image)
    if max(photo_size(data, image)) > max(image.shape[:2]) and (
            not faces or any(face.status == TOO_SMALL for face in faces)):
        image = upload_pixels(data, None)
        faces = recognizer.recognize(image)
    return image, faces


def upload_pixels(data: bytes, max_side: int | None) -> np.ndarray:
    """model.images.load_image for an upload, its errors as UploadError."""
    try:
        return load_image(data, max_pixels=MAX_UPLOAD_PIXELS, max_side=max_side)
    except ImageError as error:
        raise UploadError(str(error).replace("upload: ", "", 1)) from None


def photo_size(data: bytes, pixels: np.ndarray) -> tuple[int, int]:
    """(width, height) of the uploaded photo as it stands upright, whatever scale `pixels` were
    decoded at (read from the file's header: the page says the photo's size, not the decode's)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as header:
        width, height = header.size
    if (width > height) != (pixels.shape[1] > pixels.shape[0]):      # turned upright by its EXIF tag
        width, height = height, width
    return width, height


def with_min_face(recognizer, min_face: int | None):
    """`recognizer` reading faces down to `min_face` pixels, for one request: a shallow copy with its own
    FaceFinder copy, so the detector and classifier are shared but the app's recognizer, which other
    uploads use at the same time, keeps its own smallest face size."""
    if min_face is None or min_face == recognizer.finder.min_face:
        return recognizer
    if min_face < 1:
        raise UploadError(f"the smallest face size must be at least 1 pixel, not {min_face}")
    finder = copy.copy(recognizer.finder)
    finder.min_face = min_face
    ours = copy.copy(recognizer)
    ours.finder = finder
    return ours


def annotated_preview(image: np.ndarray, faces) -> str:
    """The image shrunk to PREVIEW_WIDTH with each face boxed in its emotion's colour and numbered."""
    scale = min(1.0, PREVIEW_WIDTH / image.shape[1])
    # shrunk() keeps a side of at least one pixel: a 40000x1 banner has a preview too.
    preview = shrunk(image, scale) if scale < 1 else image.copy()
    thickness = max(2, preview.shape[1] // 300)
    for number, face in enumerate(faces, start=1):
        box = face.box.scaled(scale)
        colour = bgr(face.colour) if face.emotion else (255, 255, 255)
        cv2.rectangle(preview, (box.x, box.y), (box.x + box.w, box.y + box.h), colour, thickness)
        _label(preview, str(number), (box.x, box.y), colour, thickness)
    return jpeg_uri(preview)


def _label(image: np.ndarray, text: str, corner: tuple[int, int], colour, thickness: int) -> None:
    """A filled tag with the face number at the top-left corner of its box."""
    scale = max(0.8, image.shape[1] / 700)
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x, y = corner[0], max(corner[1], height + baseline + 4)
    cv2.rectangle(image, (x, y - height - baseline - 4), (x + width + 8, y), colour, cv2.FILLED)
    cv2.putText(image, text, (x + 4, y - baseline - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness,
                cv2.LINE_AA)


def thumbnail(image: np.ndarray, box) -> str:
    """A square JPEG data URI of one face, THUMBNAIL pixels wide."""
    side = max(box.w, box.h)
    left, top = max(0, box.x + box.w // 2 - side // 2), max(0, box.y + box.h // 2 - side // 2)
    crop = image[top:top + side, left:left + side]
    if crop.size == 0:
        crop = np.zeros((THUMBNAIL, THUMBNAIL, 3), np.uint8)
    return jpeg_uri(cv2.resize(crop, (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA))


def jpeg_uri(image: np.ndarray, quality: int = 85) -> str:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise UploadError("could not encode the preview")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def bgr(hex_colour: str) -> tuple[int, int, int]:
    """'#RRGGBB' -> (B, G, R) for OpenCV drawing."""
    return tuple(int(hex_colour[i:i + 2], 16) for i in (5, 3, 1))
