"""Training-only distortions of light and image quality, applied before `normalise_light`.

Why: the contrast stretch (model/classifier.py `normalise_light`) undoes a change of exposure or
contrast, but not what a dim, over-exposed or cheap camera does beyond that: gamma, grey levels
clipped at white, the few levels a dark face is left with, sensor noise, blur and JPEG blocks.
Training faces are put through those, then normalised exactly as at run time, so the network
learns to read them.
"""

from __future__ import annotations

import cv2
import numpy as np

from model.classifier import normalise_light

# Exposure gains drawn log-uniformly in this range: x0.25 is a dim room, x2 an over-exposed
# face whose highlights clip at white (the light targets of issue 13).
GAIN = (0.2, 2.5)
GAMMA = (0.6, 1.6)
NOISE_SIGMA = (1.0, 10.0)      # grey levels, before the gain is undone by the stretch
BLUR_SIGMA = (0.4, 1.2)        # pixels at 48x48
JPEG_QUALITY = (25, 90)
# The distortions `distorted` can draw from: the gain below 1 (dim) and above it (bright, clipped at
# white), a gamma, sensor noise, blur and JPEG blocks. `train --light-kinds` chooses among them.
KINDS = ("dim", "bright", "gamma", "noise", "blur", "jpeg")


def distort_light(faces: np.ndarray, share: float, rng: np.random.Generator, kinds=KINDS) -> np.ndarray:
    """`(N, 48, 48, 1) uint8` faces -> the same shape: `share` of them distorted (by those of KINDS
    in `kinds`), then every face light-normalised. Each distortion is drawn independently per face."""
    out = np.empty_like(faces)
    for i, face in enumerate(faces[..., 0]):
        if rng.random() < share:
            face = distorted(face, rng, kinds)
        out[i, :, :, 0] = normalise_light(face)
    return out


def distorted(face: np.ndarray, rng: np.random.Generator, kinds=KINDS) -> np.ndarray:
    """One 48x48 uint8 face under a random exposure and gamma, with noise, blur or JPEG at random;
    only the distortions named in `kinds` (a subset of KINDS; with all of them, the draws are those
    of the models trained before `kinds` existed)."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown light distortion(s) {', '.join(sorted(unknown))}; choose from {', '.join(KINDS)}")
    pixels = face.astype(np.float32) / 255.0
    if "gamma" in kinds:
        pixels = pixels ** rng.uniform(*GAMMA)
    gain = (GAIN[0] if "dim" in kinds else 1.0, GAIN[1] if "bright" in kinds else 1.0)
    if gain[0] < gain[1]:
        pixels = pixels * np.exp(rng.uniform(*np.log(gain)))
    pixels = np.clip(pixels * 255.0, 0, 255)
    if "noise" in kinds and rng.random() < 0.4:
        pixels = pixels + rng.normal(0.0, rng.uniform(*NOISE_SIGMA), pixels.shape)
    if "blur" in kinds and rng.random() < 0.3:
        pixels = cv2.GaussianBlur(pixels, (0, 0), rng.uniform(*BLUR_SIGMA))
    face = np.clip(pixels, 0, 255).round().astype(np.uint8)
    if "jpeg" in kinds and rng.random() < 0.3:
        quality = int(rng.integers(*JPEG_QUALITY))
        face = cv2.imdecode(cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)
    return face
