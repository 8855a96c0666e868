"""Which crop around a detector's box makes real faces look most like FER2013 to the model?

For each detector, every (margin, shift) on a grid crops the labelled real photos (CFD:
angry, fear, happy, neutral; Yale: happy, sad, surprise, neutral) and scores the shipped
model on them. margin: extra share of the box side on each side; shift: the crop centre moved
down by this share of the box side.

Neighbouring cells differ by a photo or two, so a cell is chosen by its neighbourhood's mean
(the middle of a plateau, not a lucky spike), and the rule is checked on held-out photos: chosen
on CFD alone and scored on Yale, and the other way round, beside the setting now in
model/recognizer.py CROP. Since 2026-11-30 CROP is no longer chosen here but from FER2013 itself
(bench/fer_framing.py: each detector's box on FER2013's faces), so that nothing about the crop is
tuned on the photos we measure with; this grid stays as a check of that choice.
Usage: python bench/crop_margin.py [--detectors haar blazeface]
"""

import argparse
import itertools

import numpy as np

from common import one_core
from real_photos import frame_sized, labelled_photos

MARGINS = (-0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
SHIFTS = (-0.1, -0.05, 0.0, 0.05, 0.1)
CELLS = list(itertools.product(MARGINS, SHIFTS))


def probabilities_by_cell(classifier, finder, faces, cells) -> dict:
    """`cell -> (N, 7) float32`: the classifier's output on each (grey image, box) of `faces` cropped
    with every (margin, shift) cell; leaves `finder` at the last cell."""
    by_cell = {}
    for margin, shift in cells:
        finder.margin, finder.shift = margin, shift
        by_cell[(margin, shift)] = classifier.predict([finder.crop(grey, box) for grey, box in faces])
    return by_cell


def plateau_choice(correct: dict, rows: np.ndarray):
    """The cell whose 3x3 neighbourhood (on the grid) scores best on the photos in `rows`."""
    def score(cell):
        return float(correct[cell][rows].mean())

    def neighbourhood(cell):
        m, s = MARGINS.index(cell[0]), SHIFTS.index(cell[1])
        return [(MARGINS[i], SHIFTS[j]) for i in range(max(m - 1, 0), min(m + 2, len(MARGINS)))
                for j in range(max(s - 1, 0), min(s + 2, len(SHIFTS)))]

    return max(CELLS, key=lambda cell: np.mean([score(c) for c in neighbourhood(cell)]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--detectors", nargs="+", default=["haar", "blazeface"])
    args = parser.parse_args()
    one_core()
    from model.classifier import EmotionClassifier
    from model.recognizer import CROP, OK, FaceFinder, to_grey

    classifier = EmotionClassifier()
    photos = [(frame_sized(path), label, name) for name, path, label in labelled_photos()]
    for detector in args.detectors:
        finder = FaceFinder(detector)
        found = [(to_grey(image), faces[0].box, label, name) for image, label, name in photos
                 for faces in [[f for f in finder.find(image) if f.status == OK]] if faces]
        labels = np.array([label for _, _, label, _ in found])
        sets = np.array([name for *_, name in found])
        by_cell = probabilities_by_cell(classifier, finder, [(grey, box) for grey, box, _, _ in found], CELLS)
        correct = {cell: probabilities.argmax(axis=1) == labels for cell, probabilities in by_cell.items()}
        everything = np.ones(len(found), bool)
        print(f"{detector}: {len(found)}/{len(photos)} photos with a classifiable face; accuracy by margin (rows) "
              f"and shift (columns):")
        print("margin \\ shift | " + " | ".join(f"{s:+.2f}" for s in SHIFTS))
        for margin in MARGINS:
            print(f"{margin:+.2f} | " + " | ".join(f"{correct[(margin, s)].mean():.3f}" for s in SHIFTS))
        current = CROP[detector]
        chosen = plateau_choice(correct, everything)
        print(f"now in CROP: margin {current[0]:+.2f}, shift {current[1]:+.2f}, accuracy {correct[current].mean():.3f}")
        for tuned, held in (("cfd", "yale"), ("yale", "cfd")):
            cell = plateau_choice(correct, sets == tuned)
            print(f"  chosen on {tuned} ({(sets == tuned).sum()} photos): margin {cell[0]:+.2f}, shift {cell[1]:+.2f}; "
                  f"on held-out {held} ({(sets == held).sum()}): {correct[cell][sets == held].mean():.3f}, "
                  f"CROP's setting there: {correct[current][sets == held].mean():.3f}")
        print(f"chosen for {detector} (plateau of all photos): margin {chosen[0]:+.2f}, shift {chosen[1]:+.2f}, "
              f"accuracy {correct[chosen].mean():.3f}\n")


if __name__ == "__main__":
    main()
