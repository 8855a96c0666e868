"""Are real crops as sharp as FER2013's faces, and would matching their sharpness at run time help?

Prints the Laplacian variance (at 48x48, after the light normalisation: what the network receives)
of 2,000 FER2013 training faces (seed 0) and of each real-photo set's crops, then the shipped
model's accuracy on the select half of the real photos (bench/crossdomain.py --half select: the half
to choose on) with each run-time filter applied to the crop: unsharp masking and added noise.
Measured 2026-11-30 (bench/RESULTS.md): FER2013's faces are sharper, and neither filter helps.
Usage: python bench/sharpness.py    (about 2 minutes)
"""

from __future__ import annotations

import cv2
import numpy as np

from common import fer2013_path, one_core
from crossdomain import POOLED, scores_by_set, set_photos

SIZE = 48


def laplacian_variance(batch: np.ndarray) -> np.ndarray:
    """`(N,)`: the variance of each `(48, 48)` face's Laplacian, a standard focus measure."""
    return np.array([cv2.Laplacian(face[..., 0].astype(np.float32), cv2.CV_32F).var() for face in batch])


def at_48(face: np.ndarray) -> np.ndarray:
    return cv2.resize(face, (SIZE, SIZE), interpolation=cv2.INTER_AREA if face.shape[0] > SIZE else cv2.INTER_LINEAR)


def unsharp(amount: float, sigma: float = 1.0):
    def apply(face):
        face = at_48(face).astype(np.float32)
        return np.clip(face + amount * (face - cv2.GaussianBlur(face, (0, 0), sigma)), 0, 255).astype(np.uint8)
    return apply


def noisy(sd: float):
    def apply(face):
        noise = np.random.default_rng(0).normal(0, sd, (SIZE, SIZE))
        return np.clip(at_48(face).astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return apply


def main() -> None:
    one_core()
    from model.classifier import EmotionClassifier, to_model_input
    from model.faces import PHOTO_DETECTOR
    from model.images import load_image
    from model.recognizer import OK, FaceFinder, as_eight_bit, to_grey
    from model.training.dataset import load_fer2013

    train = load_fer2013(fer2013_path())[0]["train"]
    chosen = np.random.default_rng(0).choice(len(train), 2000, replace=False)
    variance = laplacian_variance(to_model_input(list(train.images[chosen])))
    print(f"FER2013 train (2,000 faces): Laplacian variance median {np.median(variance):.0f} "
          f"(IQR {np.percentile(variance, 25):.0f}-{np.percentile(variance, 75):.0f})")

    classifier, finder = EmotionClassifier(), FaceFinder(PHOTO_DETECTOR)
    for half in (None, "select"):
        photos = set_photos(half=half)
        crops, read = [], []
        for path in photos.paths:
            image = as_eight_bit(load_image(path))
            faces = [face for face in finder.find(image) if face.status == OK]
            read.append(bool(faces))
            if faces:
                crops.append(finder.crop(to_grey(image), faces[0].box))
        read = np.array(read)
        if half is None:
            sets = np.array(photos.sets)[read]
            variance = laplacian_variance(to_model_input(crops))
            for name in dict.fromkeys(sets):
                print(f"{name}: median {np.median(variance[sets == name]):.0f}")
            continue
        print("select half, pooled accuracy / macro-F1 with each run-time filter:")
        filters = {"none": lambda face: face, **{f"unsharp {a}": unsharp(a) for a in (0.5, 1.0, 1.5)},
                   **{f"noise sd {sd}": noisy(sd) for sd in (4, 8)}}
        for name, apply in filters.items():
            probabilities = np.zeros((len(read), 7), np.float32)
            probabilities[read] = classifier.predict([apply(face) for face in crops])
            scores = scores_by_set(photos, probabilities, read)
            print(f"  {name}: {scores[POOLED].accuracy:.3f} / {scores[POOLED].macro_f1:.3f}")


if __name__ == "__main__":
    main()
