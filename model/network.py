"""The emotion CNN: a compact VGG-style network sized for CPU training and inference.

Why this shape: on the 2-core CPU that Moodlog is trained on, a 4-stage VGG of width 32
(1.2 M parameters, 117 M multiply-adds) trains at ~47 faces/s, ten minutes an epoch; width 16
(0.3 M parameters, 29 M multiply-adds) trains at ~190 faces/s, so dozens of epochs fit in one
session, and it classifies one face in ~1 ms on one core (figures in bench/RESULTS.md).
Scaling to 48x48 grey float happens inside the model, so every caller feeds raw uint8 pixels.
"""

from __future__ import annotations

import keras
from keras import layers

INPUT_SHAPE = (48, 48, 1)


def build_model(input_shape=INPUT_SHAPE, num_classes: int = 7, width: int = 16,
                dropout: float = 0.4) -> keras.Model:
    """Four stages of two 3x3 conv-BN-ReLU and a 2x2 max-pool, widths w, 2w, 4w, 8w; softmax head."""
    if width < 4 or num_classes < 2:
        raise ValueError(f"width must be >= 4 and num_classes >= 2, got {width}, {num_classes}")
    pixels = keras.Input(shape=input_shape, name="pixels")
    x = layers.Rescaling(1.0 / 255.0, name="scale")(pixels)
    for stage, filters in enumerate((width, 2 * width, 4 * width, 8 * width), start=1):
        x = conv_stage(x, filters, name=f"stage{stage}")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    probabilities = layers.Dense(num_classes, activation="softmax", name="emotion")(x)
    return keras.Model(pixels, probabilities, name=f"moodnet{width}")


def conv_stage(x, filters: int, name: str, convs: int = 2):
    for i in range(convs):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}")(x)
        x = layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = layers.ReLU(name=f"{name}_relu{i}")(x)
    return layers.MaxPooling2D(name=f"{name}_pool")(x)


def augmenter(seed: int | None = None) -> keras.Sequential:
    """Training-only distortions: mirror, small rotation, zoom and shift, as faces vary in FER2013."""
    return keras.Sequential([
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomRotation(0.04, fill_mode="nearest", seed=seed),
        layers.RandomZoom(0.1, fill_mode="nearest", seed=seed),
        layers.RandomTranslation(0.08, 0.08, fill_mode="nearest", seed=seed),
    ], name="augment")
