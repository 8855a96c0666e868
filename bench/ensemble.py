"""How much would averaging several trained models buy on FER2013 test, against the mirror average?

Each model goes through `EmotionClassifier` (its default runtime: int8 when `train` or
`app.py quantize` wrote it); predictions are made with and without the mirror average, then
averaged over every combination of the given models. The forward passes per face are listed,
since run-time cost grows with them: one model with the mirror average costs 2, two models
without it also 2.
Usage: python bench/ensemble.py MODEL.keras MODEL.keras [...] [--split test]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from common import fer2013_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    from model.classifier import EmotionClassifier
    from model.dataset import load_fer2013
    from model.evaluate import score

    faces = load_fer2013(str(fer2013_path()))[0][args.split]
    predictions = {}
    for index, path in enumerate(args.models):
        for flip in (False, True):
            classifier = EmotionClassifier(path, flip_average=flip)
            predictions[index, flip] = classifier.predict(faces.images)
        print(f"model {index}: {path} ({classifier.runtime} runtime)")
    print(f"FER2013 {args.split}, {len(faces.labels)} faces")
    print("| models | mirror-averaged | forward passes per face | accuracy | macro-F1 |")
    print("|---|---|---:|---:|---:|")
    for size in range(1, len(args.models) + 1):
        for combo in itertools.combinations(range(len(args.models)), size):
            for flip in (False, True):
                averaged = np.mean([predictions[index, flip] for index in combo], axis=0)
                metrics = score(faces.labels, averaged)
                names = " + ".join(str(index) for index in combo)
                print(f"| {names} | {'yes' if flip else 'no'} | {len(combo) * (2 if flip else 1)} | "
                      f"{metrics.accuracy:.4f} | {metrics.macro_f1:.4f} |")


if __name__ == "__main__":
    main()
