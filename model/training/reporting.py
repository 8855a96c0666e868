"""Writing the markdown report beside a trained model (`train`, `ensemble`, `evaluate --report`).

Reading reports (the cross-dataset section, the dashboard's Model page) stays in model/report.py,
which the run time uses; writing them needs the evaluation and plots of training.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import sys
from pathlib import Path

from model.classifier import SIZE, STRETCH
from model.errors import DatasetError
from model.training.evaluate import evaluate_split, metrics_table, plot_confusion, summary_line


def check_out_folder(folder: Path, option: str = "--out", what: str = "the model and its report") -> None:
    """DatasetError (one line at the CLI) when `folder` cannot become the folder a command writes into: a
    file, a path under a file, or under a folder this user may not write. Checked before the long work,
    which would otherwise end in FileExistsError; nothing is made here."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DatasetError(f"{option} {folder} is a file; give a folder for {what}")
    existing = next(parent for parent in [folder, *folder.absolute().parents] if parent.exists())
    if not existing.is_dir():
        raise DatasetError(f"{option} {folder} lies under the file {existing}; give a folder for {what}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DatasetError(f"{option} {folder}: {existing} is not writable by this user")


def command_line() -> str:
    """This process's command line as the report records it, quoted so that it can be run again."""
    return shlex.join(["python", Path(sys.argv[0]).name, *sys.argv[1:]])


def render_report(results: dict, load_report, *, command: str, minutes: float | None, settings: dict,
                  machine: str, model_path, runtime: str, trim: int, curves: bool = False,
                  notes: list[str] = (), title: str | None = None) -> str:
    lines = [f"# {title or f'Model report: {model_path.name}'}", "",
             f"Written {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC.", ""]
    lines += [f"- {summary_line(name, metrics)}" for name, metrics in results.items()]
    trimmed = f"{trim}/{SIZE} trimmed off each side, " if trim else ""
    stretch = f"contrast stretched between the {STRETCH[0]:g}th and {STRETCH[1]:g}th percentile grey levels, "
    lines += ["", f"Predictions go through `EmotionClassifier.predict` ({trimmed}{stretch}mirror-averaged, {runtime} runtime), "
                  "exactly as at run time.", ""]
    for name, metrics in results.items():
        lines += [f"## {name}", "", metrics_table(metrics), ""]
    lines += ["![confusion matrix](confusion.png)", ""]
    if curves:
        lines += ["![training curves](curves.png)", ""]
    lines += list(notes)
    lines += ["## How it was made", "", f"- Command: `{command}`"]
    if minutes is not None:
        lines.append(f"- Training time: {minutes:.1f} minutes (wall clock)")
    lines += [f"- Machine: {machine}", "- Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()), "",
              "## Data", ""] + [f"- {line}" for line in load_report.lines()]
    return "\n".join(lines) + "\n"


def write_model_report(out: Path, model_path: Path, splits, load_report, *, command: str, minutes: float | None,
                       settings: dict, machine: str, curves: bool = False, notes: list[str] = ()) -> dict:
    """Score the saved model on validation and test through EmotionClassifier, as it runs for users,
    and write REPORT.md, confusion.png and metrics.json beside it."""
    from model.training.keras_model import classifier_for

    classifier = classifier_for(model_path)
    results = {name: evaluate_split(classifier, splits[name]) for name in ("validation", "test") if name in splits}
    if "test" in results:
        plot_confusion(results["test"], out / "confusion.png", "FER2013 test (PrivateTest), row-normalised")
    (out / "REPORT.md").write_text(render_report(
        results, load_report, command=command, minutes=minutes, settings=settings, machine=machine,
        model_path=model_path, runtime=classifier.runtime, curves=curves, notes=notes, trim=classifier.trim))
    (out / "metrics.json").write_text(json.dumps(
        {name: {"accuracy": m.accuracy, "macro_f1": m.macro_f1} for name, m in results.items()}, indent=2))
    return results
