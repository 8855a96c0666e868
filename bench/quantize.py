"""Would int8 quantisation of the classifier buy the 2,000 faces/s target, and at what accuracy?

The same model through `EmotionClassifier` twice, on float32 TFLite and on the int8 file that
`train` (or `app.py quantize`) writes beside it, calibrated on training faces, never test ones.
Both are measured in the same run: FER2013 test accuracy and macro-F1 through `predict`
(mirror-averaged, as always), and one-core speed for one face and for batches of 64 (timed
interleaved, so that a busy machine slows both alike).
Usage: python bench/quantize.py [--model PATH] [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import fer2013_path, one_core


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a .keras model with its int8 file (default: the shipped one)")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    one_core()
    from model.training.keras_model import classifier_for
    from model.training.dataset import load_fer2013
    from model.training.evaluate import score

    variants = {"float32": classifier_for(args.model, "tflite"),
                "int8 (as `train` writes it)": classifier_for(args.model, "int8")}
    test = load_fer2013(str(fer2013_path()))[0]["test"]
    one, batch = test.images[:1], test.images[:64]
    timings = {name: {"one": [], "batch": []} for name in variants}
    for classifier in variants.values():                        # warm-up: allocate each shape
        classifier.predict(one), classifier.predict(batch)
    for _ in range(args.repeats):
        for name, classifier in variants.items():
            for key, faces in (("one", one), ("batch", batch)):
                started = time.perf_counter()
                classifier.predict(faces)
                timings[name][key].append(time.perf_counter() - started)

    print(f"FER2013 test, {len(test.labels)} faces; mirror-averaged as predict; one core; "
          f"median of {args.repeats}, timed interleaved")
    print("| TFLite model | size KB | test accuracy | macro-F1 | one face, ms | batch of 64, ms | faces/s at 64 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, classifier in variants.items():
        metrics = score(test.labels, classifier.predict(test.images))
        one_ms = 1000 * statistics.median(timings[name]["one"])
        batch_ms = 1000 * statistics.median(timings[name]["batch"])
        print(f"| {name} | {len(classifier._forward.flatbuffer) // 1024} | {metrics.accuracy:.4f} | "
              f"{metrics.macro_f1:.4f} | {one_ms:.2f} | {batch_ms:.1f} | {64 / batch_ms * 1000:.0f} |")


if __name__ == "__main__":
    main()
