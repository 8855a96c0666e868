"""Would more test-time views than the mirror lift the shipped model past 70%, and at what cost?

`predict` averages each face with its mirror image (2 forward passes). This scores richer view
sets: shifts of the face by a pixel or two (edges replicated) and slight zooms, each also
mirrored. Sets are chosen on validation and test accuracy is printed beside; the cost of a set
is its number of forward passes per face, which divides `predict`'s faces/s (the shipped model
is an ensemble of two networks, so each view costs two network passes).
Usage: python bench/tta.py [--model PATH]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from common import fer2013_path


def shifted(batch: np.ndarray, dx: int, dy: int) -> np.ndarray:
    pad = max(abs(dx), abs(dy))
    padded = np.pad(batch, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    return padded[:, pad - dy:pad - dy + 48, pad - dx:pad - dx + 48]


def zoomed(batch: np.ndarray, pixels: int) -> np.ndarray:
    """pixels > 0: `predict`'s trim (that many pixels off each side, scaled back up: zoom in);
    < 0: edges replicated outwards and scaled down (zoom out)."""
    from model.classifier import to_model_input

    if pixels > 0:
        return to_model_input(list(batch[..., 0]), trim=pixels)
    return to_model_input([np.pad(face, -pixels, mode="edge") for face in batch[..., 0]])


VIEWS = {
    "plain": lambda b: b,
    "right1": lambda b: shifted(b, 1, 0), "left1": lambda b: shifted(b, -1, 0),
    "down1": lambda b: shifted(b, 0, 1), "up1": lambda b: shifted(b, 0, -1),
    "right2": lambda b: shifted(b, 2, 0), "left2": lambda b: shifted(b, -2, 0),
    "down2": lambda b: shifted(b, 0, 2), "up2": lambda b: shifted(b, 0, -2),
    **{f"zoom_in{k}": (lambda b, k=k: zoomed(b, k)) for k in (1, 2, 3)},
    **{f"zoom_out{k}": (lambda b, k=k: zoomed(b, -k)) for k in (1, 2, 3)},
}
SETS = {
    "plain + mirror (shipped)": ["plain"],
    "+ shifts 1 px": ["plain", "right1", "left1", "down1", "up1"],
    "+ shifts 2 px": ["plain", "right2", "left2", "down2", "up2"],
    "+ horizontal shifts 1 px": ["plain", "right1", "left1"],
    "+ vertical shifts 1 px": ["plain", "down1", "up1"],
    "+ zooms 2 px": ["plain", "zoom_in2", "zoom_out2"],
    "+ shifts 1 px + zooms": ["plain", "right1", "left1", "down1", "up1", "zoom_in2", "zoom_out2"],
    "+ zooms 1 px": ["plain", "zoom_in1", "zoom_out1"],
    "+ zooms 3 px": ["plain", "zoom_in3", "zoom_out3"],
    "+ zoom in 2 px": ["plain", "zoom_in2"],
    "+ zoom out 2 px": ["plain", "zoom_out2"],
    "zooms 2 px, no plain": ["zoom_in2", "zoom_out2"],
    "zoom in 1 px instead of plain": ["zoom_in1"],
    "zoom in 2 px instead of plain": ["zoom_in2"],
    "zoom out 2 px instead of plain": ["zoom_out2"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--quick", action="store_true", help="only the views that cost no more than the shipped two")
    args = parser.parse_args()
    sets = {label: names for label, names in SETS.items() if len(names) == 1 or not args.quick}
    from model.classifier import EmotionClassifier, to_model_input
    from model.training.dataset import load_fer2013

    splits = load_fer2013(str(fer2013_path()))[0]
    classifier = EmotionClassifier(args.model, flip_average=False, trim=0)   # the views are made here
    print(f"model {classifier.path} ({classifier.runtime})")
    probabilities = {}
    for split in ("validation", "test"):
        faces = to_model_input(list(splits[split].images))
        for name, view in VIEWS.items():
            if not any(name in names for names in sets.values()):
                continue
            seen = view(faces)
            probabilities[split, name] = classifier.predict(list(seen[..., 0]))
            probabilities[split, name + "~"] = classifier.predict(list(seen[:, :, ::-1, 0]))
    rows = []
    for label, names in sets.items():
        views = list(itertools.chain.from_iterable((n, n + "~") for n in names))
        scores = [float((np.mean([probabilities[s, v] for v in views], axis=0).argmax(1) == splits[s].labels).mean())
                  for s in ("validation", "test")]
        rows.append((label, len(views), *scores))
    print("| views | passes per face | validation | test |\n|---|---:|---:|---:|")
    for label, passes, validation, test in rows:
        print(f"| {label} | {passes} | {validation:.4f} | {test:.4f} |")
    best = max(rows, key=lambda row: row[2])
    print(f"best on validation: {best[0]} ({best[1]} passes): validation {best[2]:.4f}, test {best[3]:.4f}")
    for split in ("validation", "test"):
        print(f"{split}: " + paired_change(probabilities, split, ["plain", "plain~"],
                                           [v for n in sets[best[0]] for v in (n, n + "~")], splits[split].labels))


def paired_change(probabilities, split, before, after, labels) -> str:
    """Faces the change gets newly right and newly wrong, and McNemar's exact two-sided p-value."""
    from math import comb

    right = [np.mean([probabilities[split, v] for v in views], axis=0).argmax(1) == labels for views in (before, after)]
    gained, lost = int((~right[0] & right[1]).sum()), int((right[0] & ~right[1]).sum())
    n, k = gained + lost, min(gained, lost)
    p = min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2 ** n) if n else 1.0
    return f"{gained} faces newly right, {lost} newly wrong (McNemar exact p = {p:.3f})"


if __name__ == "__main__":
    main()
