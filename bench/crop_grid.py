"""A check of model/recognizer.py CROP on every labelled real-photo set: accuracy over a grid of crop
margins and shifts, through the photo detector, the shipped model (or --model).

CROP itself comes from FER2013 (bench/fer_framing.py); this grid only says where it lies among the
alternatives on the sets we measure with (../shared/datasets crossdomain/jaffe, crossdomain/faces,
faces/cfd, faces/yale), pooled and per set. Never choose CROP from it: that would tune on them.
Usage: python bench/crop_grid.py [--model PATH]    (about 2 minutes)
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from common import one_core
from crop_margin import probabilities_by_cell
from crossdomain import POOLED, scores_by_set, set_photos

MARGINS = (-0.05, 0.0, 0.05, 0.065, 0.082, 0.1, 0.15, 0.2, 0.25)
SHIFTS = (-0.05, -0.04, -0.036, 0.0, 0.05, 0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a .keras model (default: the shipped one)")
    args = parser.parse_args()
    one_core()
    from model.classifier import EmotionClassifier
    from model.faces import PHOTO_DETECTOR
    from model.images import load_image
    from model.recognizer import CROP, OK, FaceFinder, as_eight_bit, to_grey

    classifier, finder, photos = EmotionClassifier(args.model), FaceFinder(PHOTO_DETECTOR), set_photos()
    found = []
    for path in photos.paths:
        image = as_eight_bit(load_image(path))
        faces = [face for face in finder.find(image) if face.status == OK]
        found.append((to_grey(image), faces[0].box if faces else None))
    read = np.array([box is not None for _, box in found])
    names = list(dict.fromkeys(photos.sets))
    print(f"{PHOTO_DETECTOR}, CROP {CROP[PHOTO_DETECTOR]}; {read.sum()} of {len(read)} photos with a readable face")
    print("| margin | shift | pooled accuracy | pooled macro-F1 | " + " | ".join(names) + " |")
    print("|---:|---:|---:|---:|" + "---:|" * len(names))
    cells = list(itertools.product(MARGINS, SHIFTS))
    by_cell = probabilities_by_cell(classifier, finder, [(grey, box) for grey, box in found if box is not None], cells)
    for (margin, shift), on_read in by_cell.items():
        probabilities = np.zeros((len(found), 7), np.float32)
        probabilities[read] = on_read
        scores = scores_by_set(photos, probabilities, read)
        print(f"| {margin:+.3f} | {shift:+.3f} | {scores[POOLED].accuracy:.3f} | {scores[POOLED].macro_f1:.3f} | "
              + " | ".join(f"{scores[name].accuracy:.3f}" for name in names) + " |")


if __name__ == "__main__":
    main()
