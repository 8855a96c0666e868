"""Accuracy, per-class recall and precision, macro-F1 and a confusion matrix, as numbers,
pictures and a markdown report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.labels import EMOTIONS


@dataclass
class Metrics:
    """Scores of one model on one labelled set; `confusion[i, j]` counts true i predicted j.

    `unread[i]` counts images of class i that gave no prediction (a photo without a readable face):
    they are wrong in accuracy and recall, and in no column of `confusion`. `macro_f1` averages F1
    over the classes present (at least one image): a class the data lacks has no F1, and averaging
    in its 0 would score the data, not the model. All arrays are `(K,)`, `confusion` `(K, K)`, one
    entry per name of `names` (the seven emotions, or a taught label set).
    """
    accuracy: float
    macro_f1: float
    recall: np.ndarray
    precision: np.ndarray
    f1: np.ndarray
    confusion: np.ndarray
    unread: np.ndarray
    names: tuple[str, ...] = EMOTIONS

    @property
    def count(self) -> int:
        """Images scored, read or not."""
        return int(self.confusion.sum() + self.unread.sum())

    @property
    def read(self) -> int:
        """Images that gave a prediction."""
        return int(self.confusion.sum())

    @property
    def images(self) -> np.ndarray:
        """`(K,) int`: images per true class, read or not."""
        return self.confusion.sum(axis=1) + self.unread

    @property
    def present(self) -> np.ndarray:
        """`(K,) bool`: the classes with at least one image, the ones macro-F1 averages."""
        return self.images > 0


def score(labels: np.ndarray, probabilities: np.ndarray, read: np.ndarray | None = None, *,
          names: tuple[str, ...] = EMOTIONS) -> Metrics:
    """Compare true labels `(N,) int` with predicted probabilities `(N, K) float`, K = len(names).

    `read` `(N,) bool` marks the rows that hold a prediction (default: all); the others (photos
    without a readable face) count as wrong. Raises ValueError when the lengths differ.
    """
    k = len(names)
    labels = np.asarray(labels, dtype=np.int64)
    read = np.ones(len(labels), bool) if read is None else np.asarray(read, bool)
    if not len(labels) == len(probabilities) == len(read):
        raise ValueError(f"{len(labels)} labels, {len(probabilities)} predictions and {len(read)} read flags")
    predicted = np.argmax(probabilities, axis=1)
    confusion = np.bincount(labels[read] * k + predicted[read], minlength=k * k).reshape(k, k)
    unread = np.bincount(labels[~read], minlength=k)
    true_positive = np.diag(confusion).astype(float)
    images = confusion.sum(axis=1) + unread
    recall = true_positive / np.maximum(images, 1)
    precision = true_positive / np.maximum(confusion.sum(axis=0), 1)
    f1 = np.where(recall + precision > 0, 2 * recall * precision / np.maximum(recall + precision, 1e-12), 0.0)
    macro_f1 = float(f1[images > 0].mean()) if images.any() else 0.0
    return Metrics(accuracy=float(true_positive.sum() / max(len(labels), 1)), macro_f1=macro_f1,
                   recall=recall, precision=precision, f1=f1, confusion=confusion, unread=unread,
                   names=tuple(names))


def evaluate_split(classifier, split) -> Metrics:
    """Score a classifier on a `dataset.Split` through its public `predict`, as users would."""
    return score(split.labels, classifier.predict(split.images))


def metrics_table(metrics: Metrics) -> str:
    """Markdown, one row per emotion; recall and F1 are "-" for a class with no images (not averaged),
    and a "faces read" column appears when some images gave no prediction."""
    with_read = bool(metrics.unread.any())
    rows = [f"| {'emotion' if metrics.names == EMOTIONS else 'label'} | images |" + (" faces read |" if with_read else "") + " recall | precision | F1 |",
            "|---|---:|" + ("---:|" if with_read else "") + "---:|---:|---:|"]
    for i, name in enumerate(metrics.names):
        present = bool(metrics.present[i])
        read = f" {metrics.confusion[i].sum()} |" if with_read else ""
        predicted = metrics.confusion[:, i].sum() > 0
        rows.append(f"| {name} | {metrics.images[i]} |{read} {_cell(metrics.recall[i], present)} | "
                    f"{_cell(metrics.precision[i], present or predicted)} | {_cell(metrics.f1[i], present)} |")
    return "\n".join(rows)


def _cell(value: float, defined: bool) -> str:
    return f"{value:.3f}" if defined else "-"


def summary_line(name: str, metrics: Metrics) -> str:
    """One line; says over how many classes macro-F1 averages when some are absent."""
    classes = int(metrics.present.sum())
    kind = "emotions" if metrics.names == EMOTIONS else "labels"
    over = "" if classes == len(metrics.names) else f" (over the {classes} {kind} present)"
    return f"{name}: accuracy {metrics.accuracy:.4f}, macro-F1 {metrics.macro_f1:.4f}{over} on {metrics.count} images"


def plot_confusion(metrics: Metrics, path: Path, title: str) -> None:
    """Row-normalised confusion matrix, so that the rare disgust class is as readable as happy.

    Rows are divided by all images of the class, read or not, so the diagonal is the recall."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = metrics.confusion / np.maximum(metrics.images[:, None], 1)
    figure, axes = plt.subplots(figsize=(6.4, 5.6))
    image = axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    names = metrics.names
    for i in range(len(names)):
        for j in range(len(names)):
            axes.text(j, i, f"{rates[i, j]:.2f}\n({metrics.confusion[i, j]})", ha="center", va="center",
                      fontsize=7, color="white" if rates[i, j] > 0.5 else "black")
    axes.set_xticks(range(len(names)), names, rotation=45, ha="right")
    axes.set_yticks(range(len(names)), names)
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
