"""The classifier's forward pass on TensorFlow Lite's CPU runtime (XNNPACK).

A Keras call costs about a millisecond of Python and graph overhead, more than the network
itself for the one or two faces of a webcam frame; the same weights under TFLite run several
times faster at small batches and give the same probabilities to 1e-7 (bench/classifier_speed.py).
Each model file is converted once and the result cached on disk under its content hash, so a
changed model can never be served by a stale conversion.

An int8 version (weights and activations, XNNPACK's QS8 kernels) is 3-4x faster again, within
0.2 points of FER2013 test accuracy (bench/quantize.py). Its activation ranges are calibrated on
training faces, which users may not have, so `train` writes it beside the model, named with the
model's content hash: a retrained model never runs with another model's int8 file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
import warnings
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("MOODLOG_CACHE", Path.home() / ".cache" / "moodlog"))
KEPT_SHAPES = 16


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


def int8_path(model_path: Path) -> Path:
    """Where `train` puts the int8 version of this exact model file."""
    return model_path.with_name(f"{model_path.stem}-{digest(model_path)}.int8.tflite")


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
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)      # "statistics for quantized inputs": none needed
        return converter.convert()                        # (it prints the graph on stdout)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:20]


def write_atomically(path: Path, blob: bytes) -> None:
    partial = path.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(blob)
    partial.replace(path)


def lite_interpreter(flatbuffer: bytes | None = None, *, path: Path | None = None, threads: int | None = 1,
                     input_shape: tuple[int, ...] | None = None):
    """A LiteRT interpreter (ai-edge-litert, TensorFlow Lite's successor, without TensorFlow) for a
    .tflite flatbuffer or file, its input resized to `input_shape` when given, tensors allocated;
    raises ValueError for bytes that are not a model. `threads` None: LiteRT's default."""
    from ai_edge_litert.interpreter import Interpreter

    with native_stderr_quiet():
        interpreter = Interpreter(model_content=flatbuffer, model_path=None if path is None else str(path),
                                  num_threads=threads)
        if input_shape is not None:
            interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], input_shape)
        interpreter.allocate_tensors()
    return interpreter


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def native_stderr_quiet():
    """Silence what native code writes to file descriptor 2 for the duration.

    LiteRT's C++ runtime prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." on every
    process's first interpreter, which no environment variable turns off; a daemon's console is its
    banner and status line. Python-level errors still raise as exceptions with their messages.
    """
    with _STDERR_LOCK:
        try:
            saved = os.dup(2)
        except OSError:                   # no stderr at all: nothing to silence
            yield
            return
        try:
            with open(os.devnull, "wb") as sink:
                sys.stderr.flush()
                os.dup2(sink.fileno(), 2)
                yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class LiteForward:
    """`forward(batch uint8 (N, 48, 48, 1)) -> (N, 7) float32`, thread-safe.

    One interpreter per batch size seen (resizing an interpreter reallocates it), the most
    recent KEPT_SHAPES kept; one thread each, as a capture daemon analyses on one core.
    """

    def __init__(self, flatbuffer: bytes, threads: int = 1):
        self.flatbuffer, self.threads = flatbuffer, threads
        self._interpreters: dict[int, tuple] = {}
        self._lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            interpreter, source, result = self._interpreter(len(batch))
            interpreter.set_tensor(source, batch.astype(np.float32))
            interpreter.invoke()
            return interpreter.get_tensor(result).copy()

    def _interpreter(self, size: int):
        if size not in self._interpreters:
            interpreter = lite_interpreter(self.flatbuffer, threads=self.threads, input_shape=(size, 48, 48, 1))
            source = interpreter.get_input_details()[0]["index"]
            if len(self._interpreters) >= KEPT_SHAPES:
                self._interpreters.pop(next(iter(self._interpreters)))
            self._interpreters[size] = (interpreter, source, interpreter.get_output_details()[0]["index"])
        return self._interpreters[size]
