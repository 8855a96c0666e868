"""`evaluate`: score any model on any labelled CSV or folder, print it, optionally write a report."""

from __future__ import annotations

from pathlib import Path

from model import dataset
from model.classifier import EmotionClassifier
from model.errors import DatasetError
from model.evaluate import evaluate_split, metrics_table, plot_confusion, summary_line
from model.report import render_report
from model.train import machine_description


def evaluate_model(data: str | None, model_path: str | None, report_dir: Path | None,
                   split_names: list[str] | None = None, runtime: str = "auto") -> dict:
    splits, load_report = dataset.load_fer2013(data)
    names = split_names or (["test"] if "test" in splits else list(splits))
    missing = [name for name in names if name not in splits]
    if missing:
        raise DatasetError(f"no split named {', '.join(missing)} in the data; there are {', '.join(splits)}")
    classifier = EmotionClassifier(model_path, runtime=runtime)
    results = {name: evaluate_split(classifier, splits[name]) for name in names}
    for name, metrics in results.items():
        print(summary_line(name, metrics))
        print(metrics_table(metrics))
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        first = next(iter(results))
        plot_confusion(results[first], report_dir / "confusion.png", f"{first}, row-normalised")
        (report_dir / "REPORT.md").write_text(render_report(
            results, load_report, command="python app.py evaluate", minutes=None, settings={"data": data},
            machine=machine_description(), model_path=classifier.path, runtime=classifier.runtime,
            trim=classifier.trim))
        print(f"report written to {report_dir / 'REPORT.md'}")
    return results
