"""The markdown report written next to a trained model, and by `evaluate --report`."""

from __future__ import annotations

import datetime

from model.evaluate import metrics_table, summary_line


def render_report(results: dict, load_report, *, command: str, minutes: float | None, settings: dict,
                  machine: str, model_path, runtime: str) -> str:
    lines = [f"# Model report: {model_path.name}", "",
             f"Written {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC.", ""]
    lines += [f"- {summary_line(name, metrics)}" for name, metrics in results.items()]
    lines += ["", f"Predictions go through `EmotionClassifier.predict` (mirror-averaged, {runtime} runtime), "
                  "exactly as at run time.", ""]
    for name, metrics in results.items():
        lines += [f"## {name}", "", metrics_table(metrics), ""]
    lines += ["![confusion matrix](confusion.png)", "", "![training curves](curves.png)", "",
              "## How it was made", "", f"- Command: `{command}`"]
    if minutes is not None:
        lines.append(f"- Training time: {minutes:.1f} minutes (wall clock)")
    lines += [f"- Machine: {machine}", "- Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()), "",
              "## Data", ""] + [f"- {line}" for line in load_report.lines()]
    return "\n".join(lines) + "\n"
