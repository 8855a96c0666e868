"""Which ensemble to ship: combinations of the given models and of two views of each face (as
it is, and mirrored), scored on validation and test; the best within a run-time budget is chosen
on validation alone, among the two kinds that `app.py ensemble` ships: models on the plain face,
or models with the mirror average. (The best mix of views per budget is printed too, to show
what a per-member view would add.)

Run-time cost grows with the forward passes per face, one per (model, view) pair: one model with
the mirror average costs 2, three models on the plain face 3. Only combinations within
`--max-passes` may be chosen, and bench/classifier_speed.py on the fused model checks the speed.
Each model runs through `EmotionClassifier` without its own mirror average, with `predict`'s trim
(its default runtime: int8 when `train` or `app.py quantize` wrote it); the views are made here. Test accuracy is
printed, never used to choose.
Usage: python bench/ensemble.py MODEL.keras MODEL.keras [...] [--max-passes 4]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from common import fer2013_path

SPLITS = ("validation", "test")
VIEWS = ("plain", "mirror")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--max-passes", type=int, default=4,
                        help="forward passes per face the chosen ensemble may cost (default 4)")
    args = parser.parse_args()
    from model.training.keras_model import classifier_for
    from model.training.dataset import load_fer2013
    from model.training.evaluate import score

    splits = load_fer2013(str(fer2013_path()))[0]
    predictions = {}
    for index, path in enumerate(args.models):
        classifier = classifier_for(path, flip_average=False)
        for split in SPLITS:
            images = splits[split].images
            predictions[index, "plain", split] = classifier.predict(images)
            predictions[index, "mirror", split] = classifier.predict(images[:, :, ::-1])
        print(f"model {index}: {path} ({classifier.runtime} runtime)")

    def scored(pairs):
        return {split: score(splits[split].labels, np.mean([predictions[(*pair, split)] for pair in pairs], axis=0))
                for split in SPLITS}

    pairs = list(itertools.product(range(len(args.models)), VIEWS))
    candidates = [combo for size in range(1, args.max_passes + 1) for combo in itertools.combinations(pairs, size)]
    results = {combo: scored(combo) for combo in candidates}
    families = [tuple(itertools.product(models, views))
                for size in range(1, len(args.models) + 1)
                for models in itertools.combinations(range(len(args.models)), size)
                for views in (("plain",), VIEWS)]
    for combo in families:
        results.setdefault(combo, scored(combo))
    print(f"\nFER2013 validation and test, {len(splits['test'].labels)} faces each. Models with and without the "
          f"mirror average, then the best mix of views for each budget.")
    print("| (model, view) pairs | forward passes per face | validation accuracy | test accuracy | test macro-F1 |")
    print("|---|---:|---:|---:|---:|")
    best_per_budget = [max((combo for combo in candidates if len(combo) == size),
                           key=lambda combo: results[combo]["validation"].accuracy)
                       for size in range(1, args.max_passes + 1)]
    for combo in families + best_per_budget:
        metrics = results[combo]
        print(f"| {describe(combo)} | {len(combo)} | {metrics['validation'].accuracy:.4f} | "
              f"{metrics['test'].accuracy:.4f} | {metrics['test'].macro_f1:.4f} |")
    shippable = [combo for combo in families if len(combo) <= args.max_passes]
    chosen = max(shippable, key=lambda combo: (results[combo]["validation"].accuracy, -len(combo)))
    metrics = results[chosen]
    print(f"\nchosen on validation within {args.max_passes} passes: {describe(chosen)}: validation "
          f"{metrics['validation'].accuracy:.4f}, test {metrics['test'].accuracy:.4f}, "
          f"macro-F1 {metrics['test'].macro_f1:.4f}")


def describe(combo) -> str:
    return ", ".join(f"{index} {view}" for index, view in combo)


if __name__ == "__main__":
    main()
