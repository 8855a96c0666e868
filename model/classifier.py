"""EmotionClassifier: the shipped (or any saved) model, with the one preprocessing shared by
training, evaluation and inference."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import cv2
import numpy as np

from model.errors import ModelFileError
from model.images import eight_bit
from model.labels import model_labels

SIZE = 48
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_MODEL = WEIGHTS_DIR / "moodnet.keras"
# A network an eighth of the cost, for CPUs without AVX-512 VNNI, where the default misses its speed
# target: 6 points less accurate (model/weights/fast/REPORT.md, bench/RESULTS.md). Opt in with --model.
FAST_MODEL = WEIGHTS_DIR / "fast" / "moodnet.keras"
# `predict` reads each face a little tighter than FER2013 frames it: TRIM pixels in 48 come off
# every side before the face is scaled to 48x48 (about 2% a side). Chosen on validation among the
# views that cost no more than the plain face (bench/tta.py): for the shipped model +0.45 points
# there and +1.05 on test. Training never trims; its distortions zoom faces by up to 10% either
# way (model/network.py), and the networks read a slightly zoomed-in face best.
TRIM = 1
# Percentiles of a face's grey levels that normalise_light maps to black and white: a few pixels of
# specular highlight or black border do not set the scale. Chosen among 0-100, 1-99 and 0.5-99.5 by
# FER2013 validation (ties within 0.2 points) and real photos (bench/RESULTS.md, "Light").
STRETCH = (0.5, 99.5)


def to_model_input(faces, trim: int = 0) -> np.ndarray:
    """Faces of any size, grey (H, W) or BGR (H, W, 3), -> `(N, 48, 48, 1) uint8`, as FER2013 frames them.

    `trim`: cut that many 48ths of the face off each side first (TRIM says why `predict` does).
    Down-scaling uses area averaging (as FER2013's own crops were made); up-scaling uses
    bilinear interpolation. Each 48x48 face is then light-normalised (`normalise_light`).
    Scaling to [0, 1] happens inside the network.
    """
    batch = np.empty((len(faces), SIZE, SIZE, 1), np.uint8)
    for i, face in enumerate(faces):
        face = np.asarray(face)
        if face.ndim == 3 and face.shape[2] == 1:
            face = face[:, :, 0]
        if face.ndim == 3:
            face = cv2.cvtColor(face, cv2.COLOR_BGRA2GRAY if face.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
        if face.ndim != 2 or face.size == 0:
            raise ValueError(f"face {i}: expected a grey or BGR image, got shape {face.shape}")
        if face.dtype != np.uint8:
            face = eight_bit(face, f"face {i}")        # 16-bit and float faces scaled, not clipped
        if trim:
            face = _trimmed(face, trim)
        if face.shape != (SIZE, SIZE):
            shrink = face.shape[0] > SIZE or face.shape[1] > SIZE
            face = cv2.resize(face, (SIZE, SIZE), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        batch[i, :, :, 0] = normalise_light(face)
    return batch


def normalise_light(face: np.ndarray) -> np.ndarray:
    """A 48x48 grey uint8 face with its contrast stretched: grey level STRETCH[0] percentile -> 0,
    STRETCH[1] percentile -> 255, linearly, clipped. The same face in any exposure or contrast.

    Why: the FER2013 faces models learn from span the whole grey range (the copy in
    ../shared/datasets/fer2013 is histogram-equalised, ../shared/datasets/ferplus/README.md), while
    a face in a dim room spans a quarter of it, and the network then reads it as sad or angry.
    A linear stretch undoes any change of exposure or contrast (up to the grey levels a dim camera
    lost) and leaves a face that already spans the range as it is, so FER2013 reads as before.
    Measured against histogram equalisation and no normalisation (bench/RESULTS.md, "Light"):
    equalising re-shapes already-equalised training faces and costs 1.7 points of FER2013 test
    accuracy with the shipped model; the stretch costs none and reads real photos better.
    A flat face (one grey level) is returned unchanged. Training, evaluation and inference all pass
    faces through here (to_model_input, model/dataset.py).
    """
    pixels = face.ravel()
    ranks = (int(STRETCH[0] / 100 * (pixels.size - 1)), int(np.ceil(STRETCH[1] / 100 * (pixels.size - 1))))
    low, high = np.partition(pixels, ranks)[list(ranks)].astype(np.float32)
    if high - low < 1:
        return face
    stretched = (face.astype(np.float32) - low) * np.float32(255.0 / (high - low))
    return np.clip(stretched, 0, 255).round().astype(np.uint8)


def _trimmed(face: np.ndarray, trim: int) -> np.ndarray:
    height, width = face.shape
    dy, dx = round(height * trim / SIZE), round(width * trim / SIZE)
    return face[dy:height - dy, dx:width - dx] if 2 * dy < height and 2 * dx < width else face


class EmotionClassifier:
    """Loads a saved model once; `predict(faces)` -> `(N, K) float32`, rows sum to 1, one column per
    entry of `labels`: the seven emotions for a model made by `train`, the user's own for `teach`'s."""

    RUNTIMES = ("auto", "int8")

    def __init__(self, path: str | os.PathLike | None = None, *, flip_average: bool = True,
                 batch_size: int = 256, runtime: str = "auto", trim: int = TRIM, forward=None):
        """`runtime` "int8" (LiteRT, quantised: the int8 file that `train` writes beside the model)
        or "auto" (the same). The float runtimes ("tflite", "keras") are training's and come from
        model.training.keras_model.classifier_for, which hands its own `forward` (a callable from
        `(N, 48, 48, 1) uint8` faces to `(N, 7)` probabilities) in here."""
        from model.lite import int8_path

        if forward is None and runtime not in self.RUNTIMES:
            raise ValueError(f"runtime {runtime!r} needs the training tools: "
                             "model.training.keras_model.classifier_for(path, runtime)")
        self.path = Path(path) if path is not None else DEFAULT_MODEL
        self.flip_average = flip_average
        self.trim = trim
        self.batch_size = batch_size
        check_model_file(self.path)
        self.labels = model_labels(self.path)
        # The run time (start, predict, dashboard) runs on LiteRT alone, never loading Keras or TensorFlow.
        self.runtime = "int8" if runtime == "auto" else runtime
        self._forward = forward if forward is not None else _int8_forward(self.path, int8_path(self.path),
                                                                              self.labels)

    def predict(self, faces) -> np.ndarray:
        """Probabilities of each label (`self.labels` order: FER2013's for the emotions) for each face.

        With `flip_average` (the default), each face is also classified mirrored and the two
        results averaged: faces are left-right symmetric in meaning, and the average is
        measurably more accurate (see model/weights/REPORT.md).
        """
        if len(faces) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        batch = to_model_input(faces, self.trim)
        chunks = [self._probabilities(batch[i:i + self.batch_size])
                  for i in range(0, len(batch), self.batch_size)]
        return np.concatenate(chunks).astype(np.float32)

    def _probabilities(self, batch: np.ndarray) -> np.ndarray:
        if not self.flip_average:
            return np.asarray(self._forward(batch))
        both = np.concatenate([batch, batch[:, :, ::-1]])
        probabilities = np.asarray(self._forward(both))
        averaged = (probabilities[:len(batch)] + probabilities[len(batch):]) / 2
        return averaged / averaged.sum(axis=1, keepdims=True)


def check_model_file(path: Path) -> None:
    """ModelFileError unless `path` is a file that can be a Keras model (a .keras zip), checked
    without loading Keras."""
    if not path.is_file():
        raise ModelFileError(f"no model file at {path}; give a .keras model made by `app.py train` or `app.py ensemble`")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not a Keras model file (.keras)")


def _int8_forward(path: Path, quantised: Path, labels: tuple[str, ...]):
    from model.labels import EMOTIONS
    from model.lite import LiteForward

    outputs = len(labels)
    if not quantised.is_file():
        how = (f"`python app.py quantize --model {path}` writes one (needs the training tools)" if labels == EMOTIONS
               else "it was taught its own labels: teach it again (`python app.py teach`), which writes one "
                    "calibrated on its own faces")
        raise ModelFileError(f"no int8 version of {path} (expected {quantised.name} beside it); {how}")
    forward = LiteForward(quantised.read_bytes())
    try:
        probabilities = forward(np.zeros((1, SIZE, SIZE, 1), np.uint8))
    except (ValueError, RuntimeError) as error:
        raise ModelFileError(f"{quantised} could not be loaded by LiteRT: {error}") from None
    if probabilities.shape != (1, outputs):
        raise ModelFileError(f"{quantised}: expected a model from 48x48x1 faces to {outputs} labels, got "
                             f"{probabilities.shape[1:]} outputs")
    return forward
