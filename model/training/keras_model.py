"""Keras models on the training side: loading a .keras file, its float forward passes (Keras, or
float32 TFLite converted from it), and converting it to the int8 file the run time serves.

The run time never needs this (model/classifier.py runs the int8 file on LiteRT); `evaluate
--runtime keras|tflite`, `quantize`, `train`, `ensemble` and the benches do.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

import numpy as np

from model.classifier import SIZE, EmotionClassifier, check_model_file
from model.errors import ModelFileError
from model.labels import EMOTIONS, model_labels
from model.lite import LiteForward, digest, int8_path, native_stderr_quiet, write_atomically

CACHE = Path(os.environ.get("MOODLOG_CACHE", Path.home() / ".cache" / "moodlog"))
RUNTIMES = ("auto", "int8", "tflite", "keras")


def classifier_for(path=None, runtime: str = "auto", **options) -> EmotionClassifier:
    """An EmotionClassifier on any runtime: "int8" (or "auto": int8 when the file exists, else
    float32 TFLite) as at run time, "tflite" (float32, converted once and cached by content hash) or
    "keras" (the Keras model itself). `options` go to EmotionClassifier."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    from model.classifier import DEFAULT_MODEL

    model_path = Path(path) if path is not None else DEFAULT_MODEL
    check_model_file(model_path)
    if runtime == "auto":
        runtime = "int8" if int8_path(model_path).is_file() else "tflite"
    if runtime == "int8":
        return EmotionClassifier(model_path, runtime="int8", **options)
    model = load_model(model_path)
    forward = compiled_forward(model) if runtime == "keras" else LiteForward(tflite_model(model, model_path))
    return EmotionClassifier(model_path, runtime=runtime, forward=forward, **options)


def load_model(path: Path):
    """Load a Keras model file, turning every way it can fail into ModelFileError."""
    import keras

    check_model_file(path)
    try:
        model = keras.saving.load_model(path, compile=False)
    except (ValueError, KeyError, OSError, TypeError) as error:
        raise ModelFileError(f"{path} could not be loaded as a Keras model: {error}") from None
    labels = model_labels(path)
    if tuple(model.input_shape[1:]) != (SIZE, SIZE, 1) or model.output_shape[-1] != len(labels):
        raise ModelFileError(f"{path}: expected a model from 48x48x1 faces to its {len(labels)} labels, got "
                             f"{model.input_shape} -> {model.output_shape}")
    return as_float32(model)


def as_float32(model):
    """`model` where every layer computes in float32, else a float32 copy of it with its weights.

    A network trained in mixed precision (`--precision mixed_bfloat16`, which `auto` picks on CPUs with
    bfloat16 units) keeps float32 weights in layers that compute in bfloat16. Saved that way (as `train`
    saved the best epoch of a run stopped before it ended, until SaveBest saved float32), the TFLite
    converter cannot convert it (ConverterError), and CPUs without bfloat16 units run it several times
    slower; in float32 it gives the same probabilities. The copy is rebuilt from the model's config, so
    its graph (an ensemble's members too) is float32 throughout, and so is the file it saves.
    """
    config, mixed = float32_config(model.get_config())
    if not mixed:
        return model
    copy = model.__class__.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def float32_config(config):
    """(a Keras config with every dtype policy float32, whether any was not), nested configs included."""
    if isinstance(config, list):
        pairs = [float32_config(item) for item in config]
        return [item for item, _ in pairs], any(changed for _, changed in pairs)
    if not isinstance(config, dict):
        return config, False
    if config.get("class_name") == "DTypePolicy" and config["config"]["name"] != "float32":
        return {**config, "config": {**config["config"], "name": "float32"}}, True
    pairs = {key: float32_config(value) for key, value in config.items()}
    return {key: item for key, (item, _) in pairs.items()}, any(changed for _, changed in pairs.values())


def emotion_model(path: Path, use: str):
    """`load_model` for what needs the seven emotions (`use`: "quantize", "--init"...), see `require_emotions`."""
    require_emotions(path, use)
    return load_model(Path(path))


def require_emotions(path: Path, use: str) -> None:
    """ModelFileError when the model file was taught its own labels: it is never half-used where the
    seven emotions are needed (its head and its int8 calibration are its own)."""
    check_model_file(Path(path))
    labels = model_labels(path)
    if labels != EMOTIONS:
        raise ModelFileError(f"{path} was taught its own labels ({', '.join(labels)}) by `app.py teach`; {use} needs "
                             "a seven-emotion model made by `app.py train` or `app.py ensemble`")


def compiled_forward(model):
    """The Keras model's forward pass as one traced tf.function."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def forward(batch):
        return model(batch, training=False)

    return forward


def tflite_model(model, model_path: Path) -> bytes:
    """The model as a TFLite flatbuffer, from the cache when this exact file was converted before."""
    cached = CACHE / f"{model_path.stem}-{digest(model_path)}.tflite"
    if cached.is_file():
        return cached.read_bytes()
    blob = convert(model)
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        write_atomically(cached, blob)        # two processes may convert at once
    except OSError:
        pass                                  # no writable cache: convert again next time
    return blob


def write_int8(model, model_path: Path, calibration: np.ndarray) -> Path:
    """Quantise `model` with activation ranges from `calibration` faces `(N, 48, 48, 1) uint8`;
    older int8 files of the same model name are removed with it."""
    blob = convert(model, calibration)
    for stale in model_path.parent.glob(f"{model_path.stem}-*.int8.tflite"):
        stale.unlink()
    path = int8_path(model_path)
    write_atomically(path, blob)
    return path


def convert(model, calibration: np.ndarray | None = None) -> bytes:
    """Float32 flatbuffer, or with `calibration` faces a fully int8 one (float input and output)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if calibration is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([face[None].astype(np.float32)] for face in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    # The converter prints the graph on stdout and its quantiser's settings on the native stderr;
    # a failure still raises with its message.
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), warnings.catch_warnings(), \
            native_stderr_quiet():
        warnings.simplefilter("ignore", UserWarning)      # "statistics for quantized inputs": none needed
        return converter.convert()
