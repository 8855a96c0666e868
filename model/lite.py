"""The classifier's forward pass on LiteRT, TensorFlow Lite's CPU runtime (XNNPACK), without TensorFlow.

A Keras call costs about a millisecond of Python and graph overhead, more than the network
itself for the one or two faces of a webcam frame; the same weights under TFLite run several
times faster at small batches and give the same probabilities to 1e-7 (bench/classifier_speed.py).
Converting a Keras model (float32 or int8) is training's: model/training/keras_model.py.

An int8 version (weights and activations, XNNPACK's QS8 kernels) is 3-4x faster again, within
0.2 points of FER2013 test accuracy (bench/quantize.py). Its activation ranges are calibrated on
training faces, which users may not have, so `train` writes it beside the model, named with the
model's content hash: a retrained model never runs with another model's int8 file.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sys
import threading
from pathlib import Path

import numpy as np

KEPT_SHAPES = 16


def int8_path(model_path: Path) -> Path:
    """Where `train` puts the int8 version of this exact model file."""
    return model_path.with_name(f"{model_path.stem}-{digest(model_path)}.int8.tflite")


def digest(path: Path) -> str:
    """The first 20 hex digits of the file's SHA-256. Remembered per file version (path, size and
    modification time), as start-up asks for it three times: the int8 file's name, the session's
    model name and its model_sha256."""
    info = Path(path).stat()
    return _digest(str(Path(path).resolve()), info.st_size, info.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _digest(path: str, size: int, modified_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:20]


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
