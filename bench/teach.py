"""Custom expressions (issue 16): how well `teach` reads labels it was taught, and what each choice buys.

Tasks, from ../shared/datasets/faces (linked into a temporary folder, never copied into the project):
- cfd-smiles: CFD "teeth" (-HO, 35 people), "closed smile" (-HC, 36) and "neutral" (96); each
  person once in the set, so folds are grouped by person trivially (the file name says who).
- yale: Yale's happy, neutral, sad and surprise, 15 people, grouped by person (subjectNN).

For each task, on the same faces (found once, as `teach` finds them) and the same folds:
- transfer: the shipped network's frozen features + logistic regression (what `teach` ships), with
  mirrored faces added to training (augmentation) and without;
- fine-tuned: that model, every layer then trained a few epochs more with distortions;
- scratch: the same network, randomly initialised, trained on the same photos with distortions;
- with only 20 photos per label (cfd-smiles), repeated draws: mean and spread;
- end to end: `python app.py teach` on 100 CFD photos as a user runs it, wall clock, median of runs.

Usage: python bench/teach.py [--repeats 10] [--scratch-draws 5] [--runs 3] [--skip-slow] [--tasks cfd-smiles,yale]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import ROOT, faces_path
from crossdomain import PERSON

TASKS = {
    "cfd-smiles": ({"teeth": ("cfd/happy", "-HO."), "closed smile": ("cfd/happy", "-HC."),
                    "neutral": ("cfd/neutral", "")}, PERSON["faces/cfd"]),
    "yale": ({name: (f"yale/{name}", "") for name in ("happy", "neutral", "sad", "surprise")}, PERSON["faces/yale"]),
}


def link_task(task: str, root: Path, per_label: int | None = None, seed: int = 0) -> Path:
    """PHOTOS/<label>/ of symbolic links to the shared photos (optionally `per_label` drawn at random)."""
    folders, _ = TASKS[task]
    out = root / task
    rng = np.random.default_rng(seed)
    for label, (source, needle) in folders.items():
        photos = sorted(p for p in (faces_path() / source).iterdir() if needle in p.name)
        if per_label:
            photos = [photos[i] for i in sorted(rng.choice(len(photos), min(per_label, len(photos)), replace=False))]
        (out / label).mkdir(parents=True, exist_ok=True)
        for photo in photos:
            (out / label / photo.name).symlink_to(photo)
    return out


def scored(targets, probabilities, labels) -> tuple[float, float, np.ndarray]:
    from model.training.evaluate import score

    metrics = score(targets, probabilities, names=labels)
    return metrics.accuracy, metrics.macro_f1, metrics.recall


def transfer(features, mirrored, taught, splits, seed, augment=True) -> np.ndarray:
    from model.training.teach import fit_head, head_probabilities

    probabilities = np.zeros((len(taught.targets), len(taught.labels)))
    for train, test in splits:
        people = None if taught.people is None else [taught.people[i] for i in train]
        if augment:
            head = fit_head(features[train], mirrored[train], taught.targets[train], people, seed)
            probabilities[test] = head_probabilities(head, features[test], mirrored[test])
        else:   # no mirrored faces in training: each face's own features twice (same weight, no new view)
            head = fit_head(features[train], features[train], taught.targets[train], people, seed)
            probabilities[test] = head_probabilities(head, features[test], mirrored[test])
    return probabilities


def trained_network(model, faces, targets, classes, epochs, learning_rate, seed):
    """Train `model` (softmax over `classes`) on faces with the training distortions (mirror, small
    rotation, zoom and shift); the distortions run in the input pipeline."""
    import keras
    import tensorflow as tf
    from model.training.network import augmenter

    keras.utils.set_random_seed(seed)
    distort = augmenter(seed)
    data = tf.data.Dataset.from_tensor_slices((faces.astype(np.float32), keras.utils.to_categorical(targets, classes)))
    data = data.shuffle(len(faces), seed=seed).batch(16).map(lambda x, y: (distort(x, training=True), y))
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate), loss="categorical_crossentropy")
    model.fit(data, epochs=epochs, verbose=0)
    return model


def network_probabilities(model, faces) -> np.ndarray:
    both = np.concatenate([faces, faces[:, :, ::-1]]).astype(np.float32)
    p = np.asarray(model.predict(both, verbose=0))
    return (p[:len(faces)] + p[len(faces):]) / 2


def scratch(taught, splits, epochs, seed) -> np.ndarray:
    from model.training.network import build_model

    probabilities = np.zeros((len(taught.targets), len(taught.labels)))
    for train, test in splits:
        model = build_model(num_classes=len(taught.labels))
        trained_network(model, taught.faces[train], taught.targets[train], len(taught.labels), epochs, 2e-3, seed)
        probabilities[test] = network_probabilities(model, taught.faces[test])
    return probabilities


def fine_tuned(extractor_of, features, mirrored, taught, splits, epochs, seed) -> np.ndarray:
    """The shipped `teach` model of each fold, then every layer but batch normalisation trained on."""
    import keras
    from model.training.teach import fit_head, taught_model

    probabilities = np.zeros((len(taught.targets), len(taught.labels)))
    for train, test in splits:
        people = None if taught.people is None else [taught.people[i] for i in train]
        head = fit_head(features[train], mirrored[train], taught.targets[train], people, seed)
        extractor = extractor_of()
        model = taught_model(extractor, head, taught.labels)
        extractor.trainable = True
        for layer in extractor._flatten_layers():
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False       # the usual transfer-learning advice: keep the learnt statistics
        trained_network(model, taught.faces[train], taught.targets[train], len(taught.labels), epochs, 1e-4, seed)
        probabilities[test] = network_probabilities(model, taught.faces[test])
    return probabilities


def compare(task: str, root: Path, args) -> None:
    from model.training.teach import face_features, feature_extractor, fold_splits, read_teaching_set

    folder = link_task(task, root)
    started = time.monotonic()
    taught = read_teaching_set(folder, person_pattern=TASKS[task][1])
    print(f"\n## {task}: {taught.counts()} usable faces of {taught.photos} photos "
          f"({time.monotonic() - started:.0f} s to find them)")
    extractor = feature_extractor()
    features, mirrored = face_features(extractor, taught.faces)
    splits = fold_splits(taught.targets, taught.people, 5, args.seed)
    rows = {"transfer (teach: frozen features, mirrored faces added)": transfer(features, mirrored, taught, splits, args.seed),
            "transfer without mirrored faces in training": transfer(features, mirrored, taught, splits, args.seed, False)}
    if not args.skip_slow:
        rows[f"fine-tuned ({args.fine_tune_epochs} epochs, lr 1e-4, distortions)"] = fine_tuned(
            feature_extractor, features, mirrored, taught, splits, args.fine_tune_epochs, args.seed)
        rows[f"scratch (same network, {args.scratch_epochs} epochs, distortions)"] = scratch(
            taught, splits, args.scratch_epochs, args.seed)
    print(f"5-fold cross-validation, grouped by person ({len(set(taught.people))} people), same folds for every row")
    print("| method | accuracy | macro-F1 | recall (" + ", ".join(taught.labels) + ") |\n|---|---:|---:|---|")
    for name, probabilities in rows.items():
        accuracy, f1, recall = scored(taught.targets, probabilities, taught.labels)
        print(f"| {name} | {accuracy:.3f} | {f1:.3f} | {', '.join(f'{r:.2f}' for r in recall)} |")
    if task == "cfd-smiles":
        subsampled(taught, features, mirrored, args)


def subsampled(taught, features, mirrored, args) -> None:
    """Only `per_label` faces per label, drawn `repeats` times; 5-fold CV within each draw."""
    from model.training.teach import fold_splits

    for per_label in (20, 10):
        results, from_scratch = [], []
        for repeat in range(args.repeats):
            rng = np.random.default_rng(100 + repeat)
            picks = np.concatenate([rng.choice(np.flatnonzero(taught.targets == i), per_label, replace=False)
                                    for i in range(len(taught.labels))])
            sub = type(taught)(taught.labels, taught.faces[picks], taught.targets[picks],
                               [taught.paths[i] for i in picks], [taught.people[i] for i in picks])
            splits = fold_splits(sub.targets, sub.people, 5, args.seed + repeat)
            probabilities = transfer(features[picks], mirrored[picks], sub, splits, args.seed)
            results.append(scored(sub.targets, probabilities, sub.labels)[:2])
            if repeat < args.scratch_draws:
                from_scratch.append(scored(sub.targets, scratch(sub, splits, args.scratch_epochs, args.seed),
                                           sub.labels)[:2])
        for name, found in (("transfer", results), ("scratch", from_scratch)):
            if not found:
                continue
            accuracy, f1 = np.asarray(found).T
            print(f"{per_label} photos per label, {name}, {len(found)} draws: accuracy median {np.median(accuracy):.3f} "
                  f"(min {accuracy.min():.3f}, max {accuracy.max():.3f}), macro-F1 median {np.median(f1):.3f} "
                  f"(min {f1.min():.3f}, max {f1.max():.3f})")


def end_to_end(root: Path, runs: int) -> None:
    """`app.py teach` on 100 CFD photos (34 teeth, 33 closed smile, 33 neutral), as a user runs it."""
    folder = root / "hundred"
    for label, (source, needle) in TASKS["cfd-smiles"][0].items():
        photos = sorted(p for p in (faces_path() / source).iterdir() if needle in p.name)[:34 if label == "teeth" else 33]
        (folder / label).mkdir(parents=True, exist_ok=True)
        for photo in photos:
            (folder / label / photo.name).symlink_to(photo)
    times = []
    for run in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "app.py"), "teach", str(folder), "--out", str(root / f"out{run}"),
                        "--quiet"], check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - started)
    print(f"\n## end to end: `python app.py teach` on 100 photos (1718x1718 JPEG), {runs} runs: median "
          f"{statistics.median(times):.1f} s (" + ", ".join(f"{t:.1f}" for t in times) + ")")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10, help="draws of 20 (and 10) photos per label")
    parser.add_argument("--runs", type=int, default=3, help="end-to-end runs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scratch-epochs", type=int, default=60)
    parser.add_argument("--fine-tune-epochs", type=int, default=15)
    parser.add_argument("--scratch-draws", type=int, default=0,
                        help="also train the network from scratch on the first N draws of 20 and 10 photos per label")
    parser.add_argument("--skip-slow", action="store_true", help="no fine-tuning or scratch training")
    parser.add_argument("--tasks", default="cfd-smiles,yale")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory() as scratch_root:
        root = Path(scratch_root)
        for task in filter(None, args.tasks.split(",")):
            compare(task, root, args)
        if args.runs:
            end_to_end(root, args.runs)


if __name__ == "__main__":
    main()
