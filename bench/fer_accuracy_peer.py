"""The peer for bench/accuracy.py: the `fer` package's own model (mini-Xception) on 48x48 faces.

Run with bench/.venv-fer/bin/python (see setup_fer_peer.sh). Reads faces from an .npz
(`images`, uint8 N x 48 x 48) and writes (N, 7) probabilities to an .npz: `tflite`, the quantised model
that `FER()` uses by default, and `keras`, the original mini-Xception (`use_tflite=False`). It classifies each
face exactly as `FER.detect_emotions` does once a face is cropped (resize to the model's 64x64,
scale to [-1, 1]), but without the 10-pixel black border that detect_emotions adds around a
face rectangle: the whole 48x48 image is the face, as in FER2013, so the comparison is fair.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import cv2  # noqa: E402
import numpy as np  # noqa: E402
from fer.fer import FER  # noqa: E402  (fer 25.x)


SIZE = 64  # fer's model input


def main(faces_npz: str, out_npz: str) -> None:
    faces = np.load(faces_npz)["images"]
    resized = np.stack([cv2.resize(face, (SIZE, SIZE)) for face in faces]).astype("float32")
    batch = (resized / 255.0 - 0.5) * 2.0
    results = {}
    for name, use_tflite in (("tflite", True), ("keras", False)):
        peer = FER(mtcnn=False, use_tflite=use_tflite)
        results[name] = np.concatenate([np.asarray(peer._classify_emotions(batch[i:i + 256]))
                                        for i in range(0, len(batch), 256)])
    np.savez(out_npz, **results)
    print(f"fer peer: {len(faces)} faces through the default TFLite model and the Keras model", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
