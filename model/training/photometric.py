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


def distort_light(faces: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """`(N, 48, 48, 1) uint8` faces -> the same shape: `share` of them distorted, then every face
    light-normalised. Each distortion is drawn independently per face."""
    out = np.empty_like(faces)
    for i, face in enumerate(faces[..., 0]):
        if rng.random() < share:
            face = distorted(face, rng)
        out[i, :, :, 0] = normalise_light(face)
    return out


def distorted(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One 48x48 uint8 face under a random exposure and gamma, with noise, blur or JPEG at random."""
    pixels = face.astype(np.float32) / 255.0
    pixels = pixels ** rng.uniform(*GAMMA) * np.exp(rng.uniform(*np.log(GAIN)))
    pixels = np.clip(pixels * 255.0, 0, 255)
    if rng.random() < 0.4:
        pixels = pixels + rng.normal(0.0, rng.uniform(*NOISE_SIGMA), pixels.shape)
    if rng.random() < 0.3:
        pixels = cv2.GaussianBlur(pixels, (0, 0), rng.uniform(*BLUR_SIGMA))
    face = np.clip(pixels, 0, 255).round().astype(np.uint8)
    if rng.random() < 0.3:
        quality = int(rng.integers(*JPEG_QUALITY))
        face = cv2.imdecode(cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)
    return face
