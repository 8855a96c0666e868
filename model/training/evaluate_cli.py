"""`evaluate`: score any model on any labelled CSV or folder, print it, optionally write a report.

Face crops (fer2013.csv, FER2013's 48x48 folders, or any folder with --whole-image) go to the
classifier directly. Folders of photos go through the whole pipeline, as `predict` reads them
(model/photo_evaluation.py).
"""

from __future__ import annotations

from pathlib import Path

from model.training import dataset
from model.training.keras_model import classifier_for
from model.errors import DatasetError
from model.training.evaluate import evaluate_split, metrics_table, plot_confusion, summary_line
from model.training.reporting import render_report
from model.training.train import machine_description
from model.classifier import DEFAULT_MODEL, check_model_file
from model.labels import EMOTIONS, model_labels


def evaluate_model(data: str | None, model_path: str | None, report_dir: Path | None,
                   split_names: list[str] | None = None, runtime: str = "auto", *, whole_image: bool = False,
                   detector: str | None = None, quiet: bool = False) -> dict:
    """Score a model on `data` and print the scores; returns {split name: Metrics}.

    Raises DatasetError for missing data or splits, ModelFileError for a bad model file.
    """
    from model.training.photo_evaluation import first_photo

    location = Path(data) if data is not None else dataset.default_location()
    check_model_file(Path(model_path or DEFAULT_MODEL))
    if model_labels(model_path or DEFAULT_MODEL) != EMOTIONS:
        # A taught model reads its own labels: the data is a folder of <label>/ photo folders.
        results, load_report, notes, classifier = score_photos(location, model_path, split_names, runtime,
                                                               detector, quiet, whole_image)
    elif (photo := None if whole_image else first_photo(location)) is None:
        results, load_report, notes, classifier = score_face_crops(location, model_path, split_names, runtime)
    else:
        results, load_report, notes, classifier = score_photos(location, model_path, split_names, runtime,
                                                               detector, quiet)
        path, (width, height) = photo
        notes.insert(0, f"read as photos: {path.relative_to(location)} is {width}x{height}, not a 48x48 face crop")
    notes += [line for line in load_report.lines() if line.startswith("dropped")]
    for line in notes:
        print(line)
    for name, metrics in results.items():
        print(summary_line(name, metrics))
        print(metrics_table(metrics))
    if report_dir is not None:
        write_report(report_dir, results, load_report, notes, classifier, data)
    return results


def score_face_crops(location: Path, model_path, split_names, runtime):
    """Each image is one face: shrunk to 48x48 grey and classified, with no detection."""
    splits, load_report = dataset.load_fer2013(location)
    names = chosen_splits(splits, split_names)
    classifier = classifier_for(model_path, runtime)
    return {name: evaluate_split(classifier, splits[name]) for name in names}, load_report, [], classifier


def score_photos(location: Path, model_path, split_names, runtime, detector, quiet, whole_image: bool = False):
    """Each photo through Recognizer (photo detector, crop, classifier; or each whole image as one face),
    scored by its largest readable face, in the model's own labels."""
    from model.faces import PHOTO_DETECTOR
    from model.recognizer import Recognizer, warn_of_problems
    from model.training.photo_evaluation import evaluate_photos, photo_splits

    classifier = classifier_for(model_path, runtime)
    photos = photo_splits(location, classifier.labels)
    names = chosen_splits(photos, split_names)
    recognizer = Recognizer(classifier, None if whole_image else detector or PHOTO_DETECTOR, whole_image=whole_image)
    load_report, results = dataset.LoadReport(), {}
    notes = ["images: each classified whole, as one face" if whole_image else
             f"photos: each read as `predict` reads it (detector {recognizer.detector_name}, the largest "
             f"readable face); --whole-image classifies each whole image as one face instead"]
    notes += warn_of_problems(recognizer)           # said before the photos are read, and kept in the report
    for name in names:
        results[name], unread = evaluate_photos(recognizer, photos[name], load_report, name, quiet=quiet)
        notes.append(read_line(name, results[name], unread))
    return results, load_report, notes, classifier


def read_line(name: str, metrics, unread: list[Path]) -> str:
    """How many photos had a readable face, and what happened to the others."""
    line = f"{name}: faces read in {metrics.read} of {metrics.count} photos"
    if unread:
        examples = ", ".join(path.name for path in unread[:3])
        counted = "the one without a readable face counts" if len(unread) == 1 else \
            f"the {len(unread)} without a readable face count"
        line += f"; {counted} as wrong (e.g. {examples})"
    return line


def chosen_splits(splits: dict, split_names: list[str] | None) -> list[str]:
    """The splits to score: those named, else test, else all. Raises DatasetError for a missing one."""
    names = split_names or (["test"] if "test" in splits else list(splits))
    missing = [name for name in names if name not in splits]
    if missing:
        raise DatasetError(f"no split named {', '.join(missing)} in the data; there are {', '.join(splits)}")
    return names


def write_report(report_dir: Path, results: dict, load_report, notes: list[str], classifier, data) -> None:
    report_dir.mkdir(parents=True, exist_ok=True)
    first = next(iter(results))
    plot_confusion(results[first], report_dir / "confusion.png", f"{first}, row-normalised")
    (report_dir / "REPORT.md").write_text(render_report(
        results, load_report, command="python app.py evaluate", minutes=None, settings={"data": data},
        machine=machine_description(), model_path=classifier.path, runtime=classifier.runtime,
        trim=classifier.trim, notes=[f"- {line}" for line in notes] + [""] if notes else []))
    print(f"report written to {report_dir / 'REPORT.md'}")
