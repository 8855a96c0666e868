"""Which crop around a detector's box makes real faces look most like FER2013 to the model?

For each detector, every (margin, shift) on a grid crops the labelled real photos (CFD:
angry, fear, happy, neutral; Yale: happy, sad, surprise, neutral) and scores the shipped
model on them; the best pair goes into model/recognizer.py CROP. margin: extra share of the
box side on each side; shift: the crop centre moved down by this share of the box side.
Usage: python bench/crop_margin.py [--detectors haar blazeface]
"""

import argparse
import itertools

import numpy as np

from common import one_core
from real_photos import frame_sized, labelled_photos

MARGINS = (-0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
SHIFTS = (-0.1, -0.05, 0.0, 0.05, 0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--detectors", nargs="+", default=["haar", "blazeface"])
    args = parser.parse_args()
    one_core()
    from model.classifier import EmotionClassifier
    from model.recognizer import OK, FaceFinder, to_grey

    classifier = EmotionClassifier()
    photos = [(frame_sized(path), label) for _, path, label in labelled_photos()]
    for name in args.detectors:
        finder = FaceFinder(name)
        found = [(to_grey(image), faces[0].box, label) for image, label in photos
                 for faces in [[f for f in finder.find(image) if f.status == OK]] if faces]
        scores = {}
        for margin, shift in itertools.product(MARGINS, SHIFTS):
            finder.margin, finder.shift = margin, shift
            crops = [finder.crop(grey, box) for grey, box, _ in found]
            predicted = classifier.predict(crops).argmax(axis=1)
            scores[(margin, shift)] = float(np.mean(predicted == np.array([label for *_, label in found])))
        best = max(scores, key=scores.get)
        print(f"{name}: {len(found)}/{len(photos)} photos with a classifiable face; accuracy by margin (rows) "
              f"and shift (columns):")
        print("margin \\ shift | " + " | ".join(f"{s:+.2f}" for s in SHIFTS))
        for margin in MARGINS:
            print(f"{margin:+.2f} | " + " | ".join(f"{scores[(margin, s)]:.3f}" for s in SHIFTS))
        print(f"best for {name}: margin {best[0]:+.2f}, shift {best[1]:+.2f}, accuracy {scores[best]:.3f}\n")


if __name__ == "__main__":
    main()
