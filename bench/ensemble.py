"""Which ensemble to ship: every combination of the given models, with and without the mirror
average, scored on validation and test; the best within a run-time budget is chosen on validation.

Each model goes through `EmotionClassifier` (its default runtime: int8 when `train` or
`app.py quantize` wrote it). Run-time cost grows with the forward passes per face (one model with
the mirror average costs 2, three models without it 3), so only combinations within
`--max-passes` may be chosen; bench/classifier_speed.py on the fused model checks the speed.
Test accuracy is printed for every combination but never used to choose.
Usage: python bench/ensemble.py MODEL.keras MODEL.keras [...] [--max-passes 4]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from common import fer2013_path

SPLITS = ("validation", "test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--max-passes", type=int, default=4,
                        help="forward passes per face the chosen ensemble may cost (default 4)")
    args = parser.parse_args()
    from model.classifier import EmotionClassifier
    from model.dataset import load_fer2013
    from model.evaluate import score

    splits = load_fer2013(str(fer2013_path()))[0]
    predictions = {}
    for index, path in enumerate(args.models):
        for flip in (False, True):
            classifier = EmotionClassifier(path, flip_average=flip)
            for split in SPLITS:
                predictions[index, flip, split] = classifier.predict(splits[split].images)
        print(f"model {index}: {path} ({classifier.runtime} runtime)")
    print(f"FER2013 validation and test, {len(splits['test'].labels)} faces each")
    print("| models | mirror-averaged | forward passes per face | validation accuracy | test accuracy | test macro-F1 |")
    print("|---|---|---:|---:|---:|---:|")
    rows = []
    for size in range(1, len(args.models) + 1):
        for combo in itertools.combinations(range(len(args.models)), size):
            for flip in (False, True):
                metrics = {split: score(splits[split].labels,
                                        np.mean([predictions[index, flip, split] for index in combo], axis=0))
                           for split in SPLITS}
                passes = len(combo) * (2 if flip else 1)
                rows.append((metrics["validation"].accuracy, combo, flip, passes, metrics["test"]))
                print(f"| {' + '.join(map(str, combo))} | {'yes' if flip else 'no'} | {passes} | "
                      f"{metrics['validation'].accuracy:.4f} | {metrics['test'].accuracy:.4f} | "
                      f"{metrics['test'].macro_f1:.4f} |")
    validation, combo, flip, passes, test = max((row for row in rows if row[3] <= args.max_passes),
                                                key=lambda row: (row[0], -row[3]))
    print(f"chosen on validation within {args.max_passes} passes: models {' + '.join(map(str, combo))}, "
          f"mirror-averaged {'yes' if flip else 'no'}: validation {validation:.4f}, "
          f"test {test.accuracy:.4f}, macro-F1 {test.macro_f1:.4f}")


if __name__ == "__main__":
    main()
