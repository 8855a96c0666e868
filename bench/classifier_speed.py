"""EmotionClassifier.predict speed on one CPU core: one face, and batches of 64.

Targets (issue 2): one face <= 2 ms median; >= 2,000 faces/s in batches of 64.
The default runtime is int8 TFLite (XNNPACK, model/lite.py); float TFLite and Keras are shown beside it.
Usage: python bench/classifier_speed.py [--model PATH]
"""

import argparse

import numpy as np

from common import median_seconds, one_core


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    args = parser.parse_args()
    one_core()
    from model.classifier import TRIM, EmotionClassifier
    from model.training.keras_model import classifier_for

    faces = np.random.default_rng(0).integers(0, 256, (64, 48, 48), dtype=np.uint8)
    print("| runtime | mirror-averaged | one face, median ms | batch of 64, median ms | faces/s in batches of 64 |")
    print("|---|---|---:|---:|---:|")
    default = EmotionClassifier(args.model).runtime
    rows = [(runtime, flip, TRIM) for runtime in ("int8", "tflite", "keras") for flip in (True, False)]
    rows.insert(1, (default, True, 0))   # what the trim costs: a resize of each 48x48 face
    for runtime, flip, trim in rows:
        classifier = classifier_for(args.model, runtime, flip_average=flip, trim=trim)
        single = median_seconds(lambda: classifier.predict(faces[:1]), repeats=300, warmup=20)
        batch = median_seconds(lambda: classifier.predict(faces), repeats=60, warmup=5)
        label = "yes (the default)" if flip and runtime == default and trim == TRIM else ("yes" if flip else "no")
        label += "" if trim == TRIM else ", no trim"
        print(f"| {runtime} | {label} | {single * 1000:.2f} | {batch * 1000:.1f} | {64 / batch:.0f} |", flush=True)


if __name__ == "__main__":
    main()
