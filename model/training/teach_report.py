"""REPORT.md, confusion.png and metrics.json beside a taught model: what it was taught, how well it
reads faces it never saw (cross-validated), and what to add."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from model.training.evaluate import metrics_table, plot_confusion, summary_line
from model.training.teach import ADVISED_FACES, DROPPED_NAMED, TeachResult, write_metrics


def write_teach_report(result: TeachResult, folder: Path, command: str) -> None:
    """Write the three files into the model's folder; the int8 model's agreement with the
    cross-validated float head is measured here, on the taught faces."""
    from model.training.train import machine_description

    out = result.model_path.parent
    folds = len(result.fold_accuracies)
    plot_confusion(result.metrics, out / "confusion.png", f"{folds}-fold cross-validation, row-normalised")
    write_metrics(result)
    lines = header(result, folder) + scores(result) + advice(result) + dropped(result)
    lines += ["## How it was made", "", f"- Command: `{command}`",
              f"- Base network: the shipped model's learnt features (frozen), a logistic-regression head "
              f"(L2 strength C = {result.strength:g}, chosen by cross-validation inside the training photos)",
              f"- int8 model agrees with the float head on {int8_agreement(result):.1%} of the taught faces",
              "- Time: " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in result.seconds.items()),
              f"- Machine: {machine_description()}", ""]
    (out / "REPORT.md").write_text("\n".join(lines))


def header(result: TeachResult, folder: Path) -> list[str]:
    taught = result.taught
    counts = taught.counts()
    return [f"# Taught model: {result.model_path.name}", "",
            f"Written {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC from `{folder}`.", "",
            f"Labels ({len(taught.labels)}): " + ", ".join(f"**{name}**" for name in taught.labels), "",
            "| label | photos | usable faces |", "|---|---:|---:|",
            *[f"| {name} | {taught.photos.get(name, 0)} | {counts[name]} |" for name in taught.labels], ""]


def scores(result: TeachResult) -> list[str]:
    folds = len(result.fold_accuracies)
    spread = np.asarray(result.fold_accuracies)
    grouped = ("grouped by person: no one's photos are on both sides of a fold" if result.taught.people is not None
               else "not grouped by person (give --person or --people): if one person is in several photos, "
                    "these figures are optimistic")
    return ["## How well it reads faces it never saw", "",
            f"{folds}-fold cross-validation, stratified by label, {grouped}. Every face was scored by a model "
            "taught without it, mirror-averaged as at run time.", "",
            f"- {summary_line('cross-validated', result.metrics)}",
            f"- accuracy per fold: {', '.join(f'{a:.3f}' for a in spread)} (spread {spread.min():.3f}-{spread.max():.3f})",
            "", metrics_table(result.metrics), "", "![confusion matrix](confusion.png)", ""]


def advice(result: TeachResult) -> list[str]:
    short = {name: count for name, count in result.taught.counts().items() if count < ADVISED_FACES}
    if not short:
        return []
    return ["## Advice", "", *[f"- **{name}**: {count} usable faces; add {ADVISED_FACES - count} or more "
                               f"(at least {ADVISED_FACES} per label advised)" for name, count in short.items()], ""]


def dropped(result: TeachResult) -> list[str]:
    gone = result.taught.dropped
    if not gone:
        return []
    lines = ["## Photos left out", "", f"{len(gone)} photo(s) gave no usable face:"]
    lines += [f"- `{path.parent.name}/{path.name}`: {why}" for path, why in gone[:DROPPED_NAMED]]
    if len(gone) > DROPPED_NAMED:
        lines.append(f"- and {len(gone) - DROPPED_NAMED} more")
    return lines + [""]


def int8_agreement(result: TeachResult) -> float:
    """Share of taught faces on which the int8 model (as the run time runs it) and the fitted float
    head (`result.fitted`, which the saved model's float weights compute) pick the same label: checks
    the head's folding into the network and the quantisation at once. The faces are already framed
    (48x48, trimmed), so nothing is trimmed again."""
    from model.classifier import EmotionClassifier

    int8 = EmotionClassifier(result.model_path, trim=0).predict(list(result.taught.faces[:, :, :, 0]))
    return float((int8.argmax(axis=1) == result.fitted.argmax(axis=1)).mean())
