"""The peer: the `fer` package's FER(mtcnn=False).detect_emotions on every frame of a video.

Run by capture_throughput.py with bench/.venv-fer/bin/python (its own venv, see
setup_fer_peer.sh); prints one JSON line: frames, faces found, seconds, frames per second.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import cv2  # noqa: E402
import tensorflow as tf  # noqa: E402

cv2.setNumThreads(1)
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
try:
    from fer import FER  # noqa: E402  (fer up to 22.x)
except ImportError:
    from fer.fer import FER  # noqa: E402  (fer 25.x moved it)


def main(path: str) -> None:
    detector = FER(mtcnn=False)
    capture = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    detector.detect_emotions(frames[0])               # warm-up: graph building, first allocation
    started, cpu_started = time.perf_counter(), time.process_time()
    faces = sum(len(detector.detect_emotions(frame)) for frame in frames)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    print(json.dumps({"frames": len(frames), "faces": faces, "seconds": seconds, "fps": len(frames) / seconds,
                      "fps_per_cpu_second": len(frames) / cpu_seconds}))


if __name__ == "__main__":
    main(sys.argv[1])
