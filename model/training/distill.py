"""Knowledge distillation: training targets that blend each face's label with a trained model's
probabilities for it.

Why: FER2013's labels are noisy (one label per face, some plainly wrong) and one-hot, while an
ensemble of trained models says how much of each emotion a face shows. A single network trained
towards the ensemble's probabilities learns part of what the ensemble knows at one network's
run-time cost, which matters because the speed target caps how many networks `predict` may run.
The teacher's probabilities are computed once, on the un-distorted training faces (mirror-averaged,
so they hold for the mirrored copies too); the small rotations and shifts of training leave them valid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.labels import EMOTIONS


def blended_targets(labels: np.ndarray, teacher_probabilities: np.ndarray, weight: float) -> np.ndarray:
    """`(1 - weight) * one-hot label + weight * teacher`, one row per face; rows sum to 1."""
    if teacher_probabilities.shape != (len(labels), len(EMOTIONS)):
        raise ValueError(f"teacher gave {teacher_probabilities.shape}, expected ({len(labels)}, {len(EMOTIONS)})")
    one_hot = np.eye(len(EMOTIONS), dtype=np.float32)[labels]
    return ((1.0 - weight) * one_hot + weight * teacher_probabilities).astype(np.float32)


def teacher_targets(split, teacher: str | Path, weight: float) -> np.ndarray:
    """Blended targets for a training split from a saved model (a single network or an ensemble)."""
    from model.training.keras_model import classifier_for, require_emotions

    require_emotions(teacher, "--teacher")
    probabilities = classifier_for(teacher).predict(list(split.images))
    agreement = float((probabilities.argmax(1) == split.labels).mean())
    print(f"teacher {teacher}: agrees with {agreement:.1%} of the training labels; "
          f"mean top probability {probabilities.max(1).mean():.2f}")
    return blended_targets(split.labels, probabilities, weight)
