"""Would int8 quantisation of the classifier buy the 2,000 faces/s target, and at what accuracy?

Converts the shipped model twice, as shipped (float32) and with full-integer int8 weights and
activations (calibrated on training faces, never test ones), then measures both in the same
run: FER2013 test accuracy and macro-F1 through the same mirror-averaged prediction as
`EmotionClassifier.predict`, and one-core speed for one face and for batches of 64 (timed
interleaved, so that a busy machine slows both alike).
Usage: python bench/quantize.py [--model PATH] [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from common import fer2013_path, one_core


def mirror_averaged(forward, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """The same averaging as EmotionClassifier._probabilities, over any forward pass."""
    out = []
    for i in range(0, len(images), batch):
        chunk = images[i:i + batch]
        both = forward(np.concatenate([chunk, chunk[:, :, ::-1]]))
        averaged = (both[:len(chunk)] + both[len(chunk):]) / 2
        out.append(averaged / averaged.sum(axis=1, keepdims=True))
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a .keras model (default: the shipped one)")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    one_core()
    from model.classifier import DEFAULT_MODEL, load_model, to_model_input
    from model.dataset import load_fer2013
    from model.evaluate import score
    from model.lite import LiteForward, convert
    from model.train import calibration_faces

    model = load_model(args.model or DEFAULT_MODEL)
    splits, _ = load_fer2013(str(fer2013_path()))
    train, test = splits["train"], splits["test"]
    variants = {"float32": LiteForward(convert(model)),
                "int8 (as `train` writes it)": LiteForward(convert(model, calibration_faces(train, seed=1)))}

    test_input = to_model_input(list(test.images))
    one, batch = test_input[:1], test_input[:64]
    timings = {name: {"one": [], "batch": []} for name in variants}
    for name, forward in variants.items():                       # warm-up: allocate each shape
        mirror_averaged(forward, one), mirror_averaged(forward, batch)
    for _ in range(args.repeats):
        for name, forward in variants.items():
            for key, faces in (("one", one), ("batch", batch)):
                started = time.perf_counter()
                mirror_averaged(forward, faces)
                timings[name][key].append(time.perf_counter() - started)

    print(f"FER2013 test, {len(test.labels)} faces; mirror-averaged as predict; one core; "
          f"median of {args.repeats}, timed interleaved")
    print("| TFLite model | size KB | test accuracy | macro-F1 | one face, ms | batch of 64, ms | faces/s at 64 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, forward in variants.items():
        metrics = score(test.labels, mirror_averaged(forward, test_input))
        one_ms = 1000 * statistics.median(timings[name]["one"])
        batch_ms = 1000 * statistics.median(timings[name]["batch"])
        print(f"| {name} | {len(forward.flatbuffer) // 1024} | {metrics.accuracy:.4f} | {metrics.macro_f1:.4f} | "
              f"{one_ms:.2f} | {batch_ms:.1f} | {64 / batch_ms * 1000:.0f} |")


if __name__ == "__main__":
    main()
