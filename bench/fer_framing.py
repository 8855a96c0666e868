"""How does FER2013 frame its faces, in each detector's terms? The crop that makes a camera's face
look to the model like the faces it learnt from.

N FER2013 training faces (a random draw, fixed seed), enlarged 4x, each framed in a detector's
terms by model/training/framing.py (margin and shift, as model/recognizer.py CROP writes a crop).
The medians over the faces found are FER2013's framing for that detector; the interquartile range
says how loosely FER2013 itself frames faces (Goodfellow et al. 2013, arXiv:1307.0414: OpenCV's
face detector, then cropping corrected by hand where needed).

Independent of every real photo used to measure accuracy (../shared/datasets/crossdomain, faces/):
nothing here is chosen on them.
Usage: python bench/fer_framing.py [--detectors blazeface blazeface-full blazeface-tiles haar] [--faces 1500]
"""

from __future__ import annotations

import argparse

import numpy as np

from common import fer2013_path, one_core


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", nargs="+", default=["blazeface", "blazeface-full", "blazeface-tiles", "haar"])
    parser.add_argument("--faces", type=int, default=1500, help="FER2013 training faces drawn (default 1500)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    one_core()
    from model.recognizer import CROP, FaceFinder
    from model.training.framing import ENLARGE, fer2013_framing
    from model.training.dataset import load_fer2013

    splits, _ = load_fer2013(str(fer2013_path()))
    train = splits["train"].images
    faces = train[np.random.default_rng(args.seed).choice(len(train), min(args.faces, len(train)), replace=False)]
    print(f"{len(faces)} FER2013 training faces, enlarged {ENLARGE}x")
    print("| detector | faces found | margin: median (IQR) | shift: median (IQR) | CROP now (margin, shift) |")
    print("|---|---:|---|---|---|")
    for detector in args.detectors:
        margins, shifts = fer2013_framing(FaceFinder(detector), faces)
        def spread(values):
            return f"{np.median(values):+.3f} ({np.percentile(values, 25):+.3f} to {np.percentile(values, 75):+.3f})"
        now = CROP.get(detector, (0.0, 0.0))
        print(f"| {detector} | {len(margins)} | {spread(margins)} | {spread(shifts)} | ({now[0]:+.3f}, {now[1]:+.3f}) |")


if __name__ == "__main__":
    main()
