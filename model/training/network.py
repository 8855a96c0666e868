"""The emotion CNN: a compact VGG-style network sized for CPU training and inference.

Why this shape: it must train in one session on a 2-core CPU and read a face in about a
millisecond on one core. A 4-stage VGG of widths 32-64-128-256 (1.2 M parameters, 117 M
multiply-adds) trains 4x slower than 16-32-64-128 (0.3 M, 29 M), which fits dozens of epochs in
a session but underfits (training accuracy no higher than validation). Widening only the two
low-resolution stages adds capacity where it is cheap (figures in bench/RESULTS.md).
Scaling to 48x48 grey float happens inside the model, so every caller feeds raw uint8 pixels.
"""

from __future__ import annotations

import keras
from keras import layers

INPUT_SHAPE = (48, 48, 1)


# Channels per stage. The last two stages work on 12x12 and 6x6 maps, so widening them buys
# capacity for few multiply-adds: 16-32-96-192 has 2.1x the parameters of 16-32-64-128 (0.63 M)
# for 1.6x the multiply-adds (47 M per face).
WIDTHS = (16, 32, 96, 192)


def build_model(input_shape=INPUT_SHAPE, num_classes: int = 7, widths=WIDTHS,
                dropout: float = 0.4) -> keras.Model:
    """Stages of two 3x3 conv-BN-ReLU and a 2x2 max-pool, one per entry of `widths`; softmax head."""
    widths = tuple(int(w) for w in widths)
    if not widths or min(widths) < 4 or num_classes < 2 or 48 >> len(widths) < 2:
        raise ValueError(f"need 1-4 stage widths >= 4 and >= 2 classes, got {widths}, {num_classes}")
    pixels = keras.Input(shape=input_shape, name="pixels")
    x = layers.Rescaling(1.0 / 255.0, name="scale")(pixels)
    for stage, filters in enumerate(widths, start=1):
        x = conv_stage(x, filters, name=f"stage{stage}")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    # float32 even under mixed precision: a softmax and its loss are not safe in bfloat16.
    probabilities = layers.Dense(num_classes, activation="softmax", name="emotion", dtype="float32")(x)
    return keras.Model(pixels, probabilities, name="moodnet_" + "_".join(map(str, widths)))


def conv_stage(x, filters: int, name: str, convs: int = 2):
    for i in range(convs):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}")(x)
        x = layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = layers.ReLU(name=f"{name}_relu{i}")(x)
    return layers.MaxPooling2D(name=f"{name}_pool")(x)


def augmenter(seed: int | None = None, erasing: float = 0.0) -> keras.Sequential:
    """Training-only distortions: mirror, small rotation, zoom and shift, as faces vary in FER2013.

    `erasing` > 0 also blanks a random patch (2-20% of the face) of that share of the images with
    noise, as hands, glasses and hair hide parts of real faces: a regulariser against the
    overfitting that long runs of the shipped network show.
    """
    distortions = [
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomRotation(0.04, fill_mode="nearest", seed=seed),
        layers.RandomZoom(0.1, fill_mode="nearest", seed=seed),
        layers.RandomTranslation(0.08, 0.08, fill_mode="nearest", seed=seed),
    ]
    if erasing > 0:
        distortions.append(layers.RandomErasing(factor=(erasing, erasing), scale=(0.02, 0.2),
                                                value_range=(0, 255), seed=seed))
    return keras.Sequential(distortions, name="augment")


ENSEMBLE_PREFIX = "moodnet_ensemble"


def is_ensemble(model) -> bool:
    """Whether a loaded Keras model was made by `app.py ensemble` (its members are whole networks,
    not layers); it lives here so that train and ensemble need not import each other."""
    return model.name.startswith(ENSEMBLE_PREFIX)
