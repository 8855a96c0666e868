"""The classifier's forward pass on TensorFlow Lite's CPU runtime (XNNPACK).

A Keras call costs about a millisecond of Python and graph overhead, more than the network
itself for the one or two faces of a webcam frame; the same weights under TFLite run several
times faster at small batches and give the same probabilities to 1e-7 (bench/classifier_speed.py).
Each model file is converted once and the result cached on disk under its content hash, so a
changed model can never be served by a stale conversion.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import warnings
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("MOODLOG_CACHE", Path.home() / ".cache" / "moodlog"))
KEPT_SHAPES = 16


def tflite_model(model, model_path: Path) -> bytes:
    """The model as a TFLite flatbuffer, from the cache when this exact file was converted before."""
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()[:20]
    cached = CACHE / f"{model_path.stem}-{digest}.tflite"
    if cached.is_file():
        return cached.read_bytes()
    blob = convert(model)
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(blob)
        partial.replace(cached)               # atomic: two processes may convert at once
    except OSError:
        pass                                  # no writable cache: convert again next time
    return blob


def convert(model) -> bytes:
    import tensorflow as tf

    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):   # it prints the graph
        return tf.lite.TFLiteConverter.from_keras_model(model).convert()


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
            import tensorflow as tf

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)   # tf.lite's notice of its move to LiteRT
                interpreter = tf.lite.Interpreter(model_content=self.flatbuffer, num_threads=self.threads)
            source = interpreter.get_input_details()[0]["index"]
            interpreter.resize_tensor_input(source, (size, 48, 48, 1))
            interpreter.allocate_tensors()
            if len(self._interpreters) >= KEPT_SHAPES:
                self._interpreters.pop(next(iter(self._interpreters)))
            self._interpreters[size] = (interpreter, source, interpreter.get_output_details()[0]["index"])
        return self._interpreters[size]
