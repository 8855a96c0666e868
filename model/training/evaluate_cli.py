"""`evaluate`: score any model on any labelled CSV or folder, print it, optionally write a report.

Face crops (fer2013.csv, FER2013's 48x48 folders, or any folder with --whole-image) go to the
classifier directly, as one batch. Folders of photos go through the whole pipeline, as `predict`
reads them, image by image (model/training/photo_evaluation.py): a 48x48 face crop among them is
classified whole, and images in sub-folders of an emotion folder carry its label.
"""

from __future__ import annotations

from pathlib import Path

from model.training import dataset
from model.training.keras_model import classifier_for
from model.errors import DatasetError
from model.training.evaluate import evaluate_split, metrics_table, plot_confusion, summary_line
from model.training.reporting import check_out_folder, command_line, render_report
from model.training.train import machine_description
from model.classifier import DEFAULT_MODEL, check_model_file
from model.faces import PHOTO_DETECTOR
from model.labels import EMOTIONS, model_labels
from model.lite import digest


def evaluate_model(data: str | None, model_path: str | None, report_dir: Path | None,
                   split_names: list[str] | None = None, runtime: str = "auto", *, whole_image: bool = False,
                   detector: str | None = None, quiet: bool = False, command: str | None = None) -> dict:
    """Score a model on `data` and print the scores; returns {split name: Metrics}. `command`: the
    command line the report records (default: this process's).

    Raises DatasetError for missing data or splits or a split without images, ModelFileError for a
    bad model file.
    """
    from model.recognizer import refuse_detector_with_whole_image

    refuse_detector_with_whole_image(whole_image, detector)
    if report_dir is not None:
        check_out_folder(report_dir, "--report", "REPORT.md and confusion.png")
    location = Path(data) if data is not None else dataset.default_location()
    check_model_file(Path(model_path or DEFAULT_MODEL))
    read_by = None if whole_image else detector or PHOTO_DETECTOR
    if model_labels(model_path or DEFAULT_MODEL) != EMOTIONS:
        # A taught model reads its own labels: the data is a folder of <label>/ photo folders.
        results, load_report, notes, classifier = score_photos(location, model_path, split_names, runtime,
                                                               detector, quiet, whole_image)
    elif (reason := image_by_image(location, whole_image)) is None:
        results, load_report, notes, classifier = score_face_crops(location, model_path, split_names, runtime)
        read_by = None                             # face crops go straight to the classifier
    else:
        results, load_report, notes, classifier = score_photos(location, model_path, split_names, runtime,
                                                               detector, quiet, whole_image, crops_whole=True)
        notes.insert(0, reason)
    notes += [line for line in load_report.lines() if line.startswith("dropped")]
    for line in notes:
        print(line)
    for name, metrics in results.items():
        print(summary_line(name, metrics))
        print(metrics_table(metrics))
    if report_dir is not None:
        settings = {"data": location, "model": classifier.path, "model_sha256": f"{digest(classifier.path)}...",
                    "splits": ",".join(results), "runtime": classifier.runtime, "whole_image": whole_image,
                    "detector": read_by}
        write_report(report_dir, results, load_report, notes, classifier, settings, command or command_line())
    return results


def image_by_image(location: Path, whole_image: bool) -> str | None:
    """Why `location` must be read image by image through Recognizer rather than as one batch of face
    crops: a photo in it (not with --whole-image), or an image in a sub-folder of an emotion folder,
    which the FER2013 loader leaves out. None for a CSV file or a folder of 48x48 crops (FER2013's)."""
    from model.training.photo_evaluation import first_nested_image, first_photo

    if not whole_image and (photo := first_photo(location)) is not None:
        path, (width, height) = photo
        return f"read as photos: {path.relative_to(location)} is {width}x{height}, not a 48x48 face crop"
    nested = first_nested_image(location)
    if nested is None:
        return None
    return f"read image by image, sub-folders included: {nested.relative_to(location)} is in a sub-folder"


def score_face_crops(location: Path, model_path, split_names, runtime):
    """Each image is one face: shrunk to 48x48 grey and classified, with no detection."""
    from model.training.photo_evaluation import no_images

    splits, load_report = dataset.load_fer2013(location)
    names = chosen_splits(splits, split_names)
    for name in (name for name in names if len(splits[name]) == 0):
        folder = location / name if name in dataset.SPLITS and (location / name).is_dir() else location
        raise no_images(folder, unreadable=sum(load_report.dropped.values()))
    classifier = classifier_for(model_path, runtime)
    return {name: evaluate_split(classifier, splits[name]) for name in names}, load_report, [], classifier


def score_photos(location: Path, model_path, split_names, runtime, detector, quiet, whole_image: bool = False,
                 *, crops_whole: bool = False):
    """Each photo through Recognizer (photo detector, crop, classifier; or each whole image as one face),
    scored by its largest readable face, in the model's own labels. With `crops_whole`, 48x48 face
    crops are classified whole and only the other images go through the detector."""
    from model.recognizer import Recognizer, warn_of_problems
    from model.training.photo_evaluation import evaluate_photos, no_images, photo_splits

    classifier = classifier_for(model_path, runtime)
    photos = photo_splits(location, classifier.labels)
    names = chosen_splits(photos, split_names)
    for name in (name for name in names if len(photos[name]) == 0):
        raise no_images(photos[name].folder, classifier.labels)
    recognizer = Recognizer(classifier, None if whole_image else detector or PHOTO_DETECTOR, whole_image=whole_image)
    crops_whole = crops_whole and not whole_image
    load_report, results = dataset.LoadReport(), {}
    notes = [reading_note(recognizer, crops_whole)]
    notes += warn_of_problems(recognizer)           # said before the photos are read, and kept in the report
    for name in names:
        found = evaluate_photos(recognizer, photos[name], load_report, name, quiet=quiet, crops_whole=crops_whole)
        if found.metrics.count == 0:
            raise no_images(photos[name].folder, classifier.labels, unreadable=len(photos[name]))
        results[name] = found.metrics
        notes += read_lines(name, found)
    return results, load_report, notes, classifier


def reading_note(recognizer, crops_whole: bool) -> str:
    """How the images are read, said once before the per-split lines."""
    if recognizer.whole_image:
        return "images: each classified whole, as one face"
    crops = "; 48x48 face crops are classified whole, undetected" if crops_whole else ""
    return (f"photos: each read as `predict` reads it (detector {recognizer.detector_name}, the largest "
            f"readable face){crops}; --whole-image classifies each whole image as one face instead")


def read_lines(name: str, found) -> list[str]:
    """How many images were read each way (when some were face crops), in how many a face was
    read, and what happened to the others."""
    metrics, unread = found.metrics, found.unread
    lines = []
    photos = metrics.count - found.crops
    if found.crops:
        lines.append(f"{name}: {found.crops} of {metrics.count} images are 48x48 face crops, classified whole"
                     + (f"; the other {photos} went through the face detector" if photos else ""))
    line = f"{name}: faces read in {metrics.read} of {metrics.count} photos"
    if unread:
        examples = ", ".join(path.name for path in unread[:3])
        counted = "the one without a readable face counts" if len(unread) == 1 else \
            f"the {len(unread)} without a readable face count"
        line += f"; {counted} as wrong (e.g. {examples})"
    return lines + [line]


def chosen_splits(splits: dict, split_names: list[str] | None) -> list[str]:
    """The splits to score: those named, else test, else all. Raises DatasetError for a missing one."""
    names = split_names or (["test"] if "test" in splits else list(splits))
    missing = [name for name in names if name not in splits]
    if missing:
        raise DatasetError(f"no split named {', '.join(missing)} in the data; there are {', '.join(splits)}")
    return names


def write_report(report_dir: Path, results: dict, load_report, notes: list[str], classifier, settings: dict,
                 command: str) -> None:
    """REPORT.md and confusion.png in `report_dir`, titled by the model and data evaluated, with the
    command line and `settings` (the model's path and content hash, splits, runtime, how images were read)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    first = next(iter(results))
    plot_confusion(results[first], report_dir / "confusion.png", f"{first}, row-normalised")
    (report_dir / "REPORT.md").write_text(render_report(
        results, load_report, command=command, minutes=None, settings=settings,
        machine=machine_description(), model_path=classifier.path, runtime=classifier.runtime,
        trim=classifier.trim, notes=[f"- {line}" for line in notes] + [""] if notes else [],
        title=f"Evaluation of {classifier.path} on {settings['data']}"))
    print(f"report written to {report_dir / 'REPORT.md'}")
