"""Accuracy, per-class recall and precision, macro-F1 and a confusion matrix, as numbers,
pictures and a markdown report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.labels import EMOTIONS


@dataclass
class Metrics:
    """Scores of one model on one labelled split; `confusion[i, j]` counts true i predicted j."""
    accuracy: float
    macro_f1: float
    recall: np.ndarray
    precision: np.ndarray
    f1: np.ndarray
    confusion: np.ndarray

    @property
    def count(self) -> int:
        return int(self.confusion.sum())


def score(labels: np.ndarray, probabilities: np.ndarray) -> Metrics:
    """Compare true labels `(N,)` with predicted probabilities `(N, 7)`."""
    k = len(EMOTIONS)
    predicted = np.argmax(probabilities, axis=1)
    confusion = np.bincount(labels * k + predicted, minlength=k * k).reshape(k, k)
    true_positive = np.diag(confusion).astype(float)
    recall = true_positive / np.maximum(confusion.sum(axis=1), 1)
    precision = true_positive / np.maximum(confusion.sum(axis=0), 1)
    f1 = np.where(recall + precision > 0, 2 * recall * precision / np.maximum(recall + precision, 1e-12), 0.0)
    return Metrics(accuracy=float(true_positive.sum() / max(len(labels), 1)), macro_f1=float(f1.mean()),
                   recall=recall, precision=precision, f1=f1, confusion=confusion)


def evaluate_split(classifier, split) -> Metrics:
    """Score a classifier on a `dataset.Split` through its public `predict`, as users would."""
    return score(split.labels, classifier.predict(split.images))


def metrics_table(metrics: Metrics) -> str:
    rows = ["| emotion | images | recall | precision | F1 |", "|---|---:|---:|---:|---:|"]
    for i, name in enumerate(EMOTIONS):
        rows.append(f"| {name} | {metrics.confusion[i].sum()} | {metrics.recall[i]:.3f} | "
                    f"{metrics.precision[i]:.3f} | {metrics.f1[i]:.3f} |")
    return "\n".join(rows)


def summary_line(name: str, metrics: Metrics) -> str:
    return f"{name}: accuracy {metrics.accuracy:.4f}, macro-F1 {metrics.macro_f1:.4f} on {metrics.count} images"


def plot_confusion(metrics: Metrics, path: Path, title: str) -> None:
    """Row-normalised confusion matrix, so that the rare disgust class is as readable as happy."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = metrics.confusion / np.maximum(metrics.confusion.sum(axis=1, keepdims=True), 1)
    figure, axes = plt.subplots(figsize=(6.4, 5.6))
    image = axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(EMOTIONS)):
        for j in range(len(EMOTIONS)):
            axes.text(j, i, f"{rates[i, j]:.2f}\n({metrics.confusion[i, j]})", ha="center", va="center",
                      fontsize=7, color="white" if rates[i, j] > 0.5 else "black")
    axes.set_xticks(range(len(EMOTIONS)), EMOTIONS, rotation=45, ha="right")
    axes.set_yticks(range(len(EMOTIONS)), EMOTIONS)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_history(history_csv: Path, path: Path) -> None:
    """Loss and accuracy per epoch, training against validation, from Keras' CSV log."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    history = pd.read_csv(history_csv)
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = history["epoch"] + 1
    for key, label in (("loss", "training"), ("val_loss", "validation")):
        loss_axes.plot(epochs, history[key], label=label)
    for key, label in (("accuracy", "training"), ("val_accuracy", "validation")):
        accuracy_axes.plot(epochs, history[key], label=label)
    loss_axes.set_title("loss")
    accuracy_axes.set_title("accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.set_xlabel("epoch")
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
