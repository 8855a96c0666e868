"""Which light normalisation of a face crop reads faces best, in FER2013 and in real photos?

Each candidate replaces `model.classifier.normalise_light` in turn, with the same model, on:
FER2013 validation and test (FER2013's labels, and the FER+ crowd majority on test), the real
photos of bench/crossdomain.py through the photo pipeline (the largest readable face of each photo
is cropped once; a photo without one counts as wrong), and the same crops dimmed to x0.25 (with
sigma-1.5 noise, as ../shared/cases/low-light) and brightened x2 (clipped): the share read as the
original crop. Candidates: none, histogram equalisation, and linear contrast stretches between
grey-level percentiles.
Usage: python bench/light_normalisation.py [--model PATH]
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from common import fer2013_path, one_core
from crossdomain import SETS, set_photos


def stretch(low: float, high: float):
    def normalise(face: np.ndarray) -> np.ndarray:
        a, b = np.percentile(face, (low, high))
        if b - a < 1:
            return face
        return np.clip((face.astype(np.float32) - a) * (255.0 / (b - a)), 0, 255).round().astype(np.uint8)
    return normalise


def median_to(target: float, shipped, limits=(1 / 3, 3.0)):
    """The shipped stretch, then a gamma that puts the face's median grey level at `target`
    (FER2013's training median), the gamma clamped to `limits`: an over-exposed face whose
    highlights clipped keeps its shadows' detail, spread back over the mid-tones."""
    def normalise(face: np.ndarray) -> np.ndarray:
        face = shipped(face)
        median = float(np.median(face)) / 255.0
        if not 0.0 < median < 1.0:
            return face
        gamma = float(np.clip(np.log(target / 255.0) / np.log(median), *limits))
        table = np.clip(255.0 * (np.arange(256) / 255.0) ** gamma, 0, 255).round().astype(np.uint8)
        return table[face]
    return normalise


def candidates(shipped, training_median: float) -> dict:
    return {"none": lambda face: face, "histogram equalisation": cv2.equalizeHist,
            "stretch 0-100": stretch(0, 100), "stretch 1-99": stretch(1, 99),
            "stretch 0.5-99.5 (shipped)": shipped,
            f"shipped, then median to {training_median:.0f} by gamma": median_to(training_median, shipped),
            f"shipped, then median to {training_median:.0f} by gamma 0.5-2": median_to(training_median, shipped, (0.5, 2.0))}


def crops_of(photos):
    """(crops of the largest readable face, (N,) bool: which photos had one), as `predict` crops."""
    from model.faces import PHOTO_DETECTOR
    from model.images import load_image
    from model.recognizer import OK, FaceFinder, to_grey

    finder, crops, read = FaceFinder(PHOTO_DETECTOR), [], []
    for path in photos.paths:
        image = load_image(path)
        faces = [face for face in finder.find(image) if face.status == OK]
        read.append(bool(faces))
        if faces:
            crops.append(finder.crop(to_grey(image), faces[0].box))
    return crops, np.array(read)


def relit(crops, gain: float, rng) -> list[np.ndarray]:
    noise = (lambda shape: rng.normal(0, 1.5, shape)) if gain < 1 else (lambda shape: 0)
    return [np.clip(crop.astype(np.float32) * gain + noise(crop.shape), 0, 255).astype(np.uint8) for crop in crops]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a .keras model (default: the shipped one)")
    parser.add_argument("--only", nargs="+", metavar="WORD", help="run only candidates whose name holds one of these words")
    args = parser.parse_args()
    one_core()
    import model.classifier as classifier
    from model.training.dataset import load_fer2013
    from model.training.evaluate import score
    from model.training.ferplus import majority_labels, read_votes

    splits, _ = load_fer2013(str(fer2013_path()))
    crowd = majority_labels(splits["test"].files, read_votes(fer2013_path().parent / "ferplus" / "labels.csv"))
    clear = crowd >= 0
    photos = set_photos()
    labels, sets = np.asarray(photos.labels), np.asarray(photos.sets)
    crops, read = crops_of(photos)
    model = classifier.EmotionClassifier(args.model)
    print("| normalisation | FER2013 val | FER2013 test | FER+ majority, test | real photos pooled accuracy / macro-F1 | "
          + " | ".join(name.split("/")[1] for name in SETS) + " | dim x0.25 read as lit | bright x2 read as lit |")
    print("|---|---:|---:|---:|---:|" + "---:|" * len(SETS) + "---:|---:|")
    training_median = float(np.median([np.median(face) for face in splits["train"].images[::10]]))
    for name, normalise in candidates(classifier.normalise_light, training_median).items():
        if args.only and not any(word in name for word in args.only):
            continue
        classifier.normalise_light = normalise
        validation, test = (model.predict(splits[s].images) for s in ("validation", "test"))
        probabilities = np.zeros((len(labels), 7), np.float32)
        probabilities[read] = model.predict(crops)
        pooled = score(labels, probabilities, read)
        per_set = [score(labels[sets == s], probabilities[sets == s], read[sets == s]).accuracy for s in SETS]
        base = probabilities[read].argmax(1)
        rng = np.random.default_rng(0)
        same = [np.mean(model.predict(relit(crops, gain, rng)).argmax(1) == base) for gain in (0.25, 2.0)]
        print(f"| {name} | {score(splits['validation'].labels, validation).accuracy:.4f} | "
              f"{score(splits['test'].labels, test).accuracy:.4f} | {np.mean(test.argmax(1)[clear] == crowd[clear]):.4f} | "
              f"{pooled.accuracy:.3f} / {pooled.macro_f1:.3f} | " + " | ".join(f"{a:.3f}" for a in per_set)
              + f" | {same[0]:.3f} | {same[1]:.3f} |", flush=True)


if __name__ == "__main__":
    main()
