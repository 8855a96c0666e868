"""Teach Moodlog labels of the user's own from a few dozen photos: transfer learning on the shipped network.

The pipeline, in the order `teach` runs it:
1. photos (`PHOTOS/<label>/*`) -> the largest readable face of each, found and cropped exactly as at
   run time (`FaceFinder` with the photo detector; an image that is already a face crop is looked at
   inside a border, as `predict` does); photos without one are dropped and counted;
2. faces -> the shipped network's learnt features: the pooled activations of its last stage
   (`pool`, 192 per member network, 384 for the two-member ensemble), for each face and its mirror;
3. features -> a multinomial logistic regression (scikit-learn), its L2 strength chosen by a
   cross-validation inside the training photos;
4. k-fold cross-validation of steps 2-3 (grouped by person when the photos say who is who), for
   the report; then one fit on every photo;
5. the fitted regression folded into one softmax layer on top of the frozen network -> a `.keras`
   file that carries its labels (model/labels.py), its int8 version calibrated on the taught faces,
   REPORT.md, confusion.png and metrics.json.

Why frozen features and a linear head: with 20-100 photos per label, fine-tuning 0.6 M weights per
member network overfits, and the linear head trains in milliseconds; bench/teach.py measures it
against fine-tuning and against the same network trained from scratch (bench/RESULTS.md, "Custom
expressions").
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.classifier import DEFAULT_MODEL
from model.errors import DatasetError
from model.images import IMAGE_SUFFIXES
from model.labels import (ADVISED_FACES_PER_LABEL, MIN_FACES_PER_LABEL, LabelError, check_label, check_label_set,
                          write_model_labels)
from model.lite import digest

MIN_FACES, ADVISED_FACES = MIN_FACES_PER_LABEL, ADVISED_FACES_PER_LABEL
FOLDS = 5
# L2 strengths the inner cross-validation chooses among (inverse, on standardised features).
STRENGTHS = np.logspace(-3, 1, 9)
FEATURE_LAYER = "pool"
DROPPED_NAMED = 5
Progress = Callable[[str, int, int], None]


@dataclass
class TeachingSet:
    """The usable faces of a teaching folder: `faces` `(N, 48, 48, 1) uint8` framed as at run time,
    `targets` `(N,) int64` indices into `labels`, `paths` and `people` (a person per face, or None
    when the photos do not say), the photos `dropped` with why, and the `detector` that found them."""
    labels: tuple[str, ...]
    faces: np.ndarray
    targets: np.ndarray
    paths: list[Path]
    people: list[str] | None
    dropped: list[tuple[Path, str]] = field(default_factory=list)
    photos: dict[str, int] = field(default_factory=dict)
    detector: str = ""

    def counts(self) -> dict[str, int]:
        """Usable faces per label."""
        return {name: int((self.targets == i).sum()) for i, name in enumerate(self.labels)}


@dataclass
class TeachResult:
    """What `teach` made: the model file, the cross-validated scores, how long each step took, and
    `fitted` `(N, K)`: the final head's mirror-averaged probabilities of the taught faces (what the
    saved model computes in float, the reference its int8 version is checked against)."""
    model_path: Path
    metrics: "Metrics"
    fold_accuracies: list[float]
    seconds: dict[str, float]
    taught: TeachingSet
    strength: float
    fitted: np.ndarray


def label_folders(folder: Path) -> dict[str, list[Path]]:
    """`{label: image paths}` for each sub-folder of `folder`, sorted by label; raises DatasetError
    (a missing folder, fewer than two labels, an empty label) or LabelError (a bad label name)."""
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise DatasetError(f"{folder} {what}; give a folder with one sub-folder of photos per label, e.g. "
                           f"{folder}/smile/")
    found, folders = {}, {}
    for sub in sorted(path for path in folder.iterdir() if path.is_dir() and not path.name.startswith(".")):
        label = check_label(sub.name)
        if label.casefold() in folders:
            raise LabelError(f"the folders {folders[label.casefold()]!r} and {sub.name!r} name the same label; "
                             "merge them or rename one")
        folders[label.casefold()] = sub.name
        # Every file, not only known image suffixes: a HEIC or a stray document is then named as left out.
        found[label] = sorted(p for p in sub.iterdir() if not p.name.startswith(".") and not p.is_dir())
    if len(found) < 2:
        hidden = [p.name for p in folder.iterdir() if p.is_dir() and p.name.startswith(".")]
        note = f" (folders starting with '.' are skipped: {', '.join(hidden)})" if hidden else ""
        raise LabelError(f"{folder} needs a sub-folder of photos for each of at least two labels, found "
                         f"{len(found)}{note}")
    check_label_set(found)
    empty = [name for name, paths in found.items() if not paths]
    if empty:
        raise DatasetError(f"label(s) {', '.join(empty)} hold no photos ({', '.join(IMAGE_SUFFIXES)}); "
                           f"give each label at least {MIN_FACES}, {ADVISED_FACES} or more advised")
    return found


def people_of(paths: list[Path], people_csv: Path | None, person_pattern: str | None) -> list[str] | None:
    """Who is in each photo, so cross-validation never splits a person's photos across its folds:
    from a CSV (`file,person`; a file named as `label/name.jpg` or, where names are unique, `name.jpg`)
    or the first group of a regular expression searched in each file name; None when neither is given."""
    if people_csv is not None:
        table = {unicodedata.normalize("NFC", name): person for name, person in read_people(people_csv).items()}
        keys = []
        for path in paths:
            name = unicodedata.normalize("NFC", path.name)
            in_folder = f"{check_label(path.parent.name)}/{name}"
            keys.append(in_folder if in_folder in table else name)
        missing = [key for key in keys if key not in table]
        if missing:
            raise DatasetError(f"{people_csv} names no person for {len(missing)} photo(s), e.g. {missing[0]} "
                               "(name each file as label/name.jpg or name.jpg)")
        return [table[key] for key in keys]
    if person_pattern is not None:
        pattern = person_regex(person_pattern)
        matches = [pattern.search(path.name) for path in paths]
        if not all(matches):
            unmatched = next(path.name for path, match in zip(paths, matches) if not match)
            raise DatasetError(f"--person {person_pattern!r} does not match the file name {unmatched}")
        return [match.group(1) if pattern.groups else match.group(0) for match in matches]
    return None


def read_people(people_csv: Path) -> dict[str, str]:
    """{file: person} from a CSV with the columns file and person; DatasetError when it cannot be read."""
    try:
        with open(people_csv, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DatasetError(f"--people {people_csv}: cannot be read ({error})") from None
    if not rows or not {"file", "person"} <= set(rows[0]):
        raise DatasetError(f"--people {people_csv}: expected a CSV with the columns file,person")
    return {row["file"].strip(): (row["person"] or "").strip() for row in rows}


def person_regex(pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise DatasetError(f"--person {pattern!r} is not a regular expression: {error}") from None


def read_teaching_set(folder: Path, *, detector: str | None = None, people_csv: Path | None = None,
                      person_pattern: str | None = None, progress: Progress | None = None) -> TeachingSet:
    """Find and frame the largest readable face of every photo under `folder/<label>/`.

    Raises DatasetError when a label is left with fewer than MIN_FACES usable faces (naming the first
    photos dropped and why)."""
    from model.faces import PHOTO_DETECTOR
    from model.recognizer import FaceFinder, framed_face

    folders = label_folders(folder)
    finder = FaceFinder(detector or PHOTO_DETECTOR)
    labels = tuple(folders)
    items = [(path, index) for index, name in enumerate(labels) for path in folders[name]]
    faces, targets, kept, dropped = [], [], [], []
    repeated = repeated_photos(items, labels)
    for done, (path, index) in enumerate(items, start=1):
        face, why = (None, repeated[path]) if path in repeated else framed_face(finder, path)
        if face is None:
            dropped.append((path, why))
        else:
            faces.append(face)
            targets.append(index)
            kept.append(path)
        if progress:
            progress("finding faces", done, len(items))
    taught = TeachingSet(labels, np.asarray(faces, np.uint8).reshape(-1, 48, 48, 1), np.asarray(targets, np.int64),
                         kept, people_of(kept, people_csv, person_pattern), dropped,
                         {name: len(paths) for name, paths in folders.items()}, finder.detector_name)
    check_enough(taught)
    return taught


def repeated_photos(items: list[tuple[Path, int]], labels: tuple[str, ...]) -> dict[Path, str]:
    """{photo: why it is left out} for photos whose bytes another one has: a photo twice would sit on
    both sides of a fold and flatter the cross-validation (the first copy is kept), and a photo under
    two labels teaches a contradiction (every copy is left out)."""
    by_content: dict[str, list[tuple[Path, int]]] = {}
    for path, index in items:
        try:
            by_content.setdefault(hashlib.sha1(path.read_bytes()).hexdigest(), []).append((path, index))
        except OSError:
            pass                                      # framed_face names what is wrong with it
    repeated = {}
    for copies in by_content.values():
        first = copies[0][0]
        names = sorted({labels[index] for _, index in copies})
        for path, _ in copies if len(names) > 1 else copies[1:]:
            repeated[path] = (f"the same photo is under the labels {' and '.join(names)}" if len(names) > 1
                              else f"the same photo as {first.parent.name}/{first.name}")
    return repeated


def check_enough(taught: TeachingSet) -> None:
    short = {name: count for name, count in taught.counts().items() if count < MIN_FACES}
    if not short:
        return
    named = "; ".join(f"{path.parent.name}/{path.name}: {why}" for path, why in taught.dropped[:DROPPED_NAMED])
    detail = f" (dropped {len(taught.dropped)} photo(s), e.g. {named})" if taught.dropped else ""
    raise DatasetError("too few usable faces: " + ", ".join(f"{name} has {count}" for name, count in short.items())
                       + f"; teach needs at least {MIN_FACES} per label, {ADVISED_FACES} or more advised{detail}")


def feature_extractor(base_path: Path = DEFAULT_MODEL):
    """The base model's learnt features as a Keras model: `(N, 48, 48, 1) uint8` -> `(N, D) float32`,
    the `pool` layer of each member network side by side (D = 192 per member)."""
    from model.lite import native_stderr_quiet
    from model.training.keras_model import emotion_model

    with native_stderr_quiet():      # TensorFlow's start-up chatter (CUDA probing) on the native stderr
        import keras
        from model.training.network import INPUT_SHAPE

        base = emotion_model(base_path, "--base")
    members = [layer for layer in base.layers if isinstance(layer, keras.Model)] or [base]
    pixels = keras.Input(shape=INPUT_SHAPE, name="pixels")
    pooled = [keras.Model(member.inputs, member.get_layer(FEATURE_LAYER).output, name=f"{member.name}_features")(pixels)
              for member in members]
    features = keras.layers.Concatenate(name="features")(pooled) if len(pooled) > 1 else pooled[0]
    extractor = keras.Model(pixels, features, name="features")
    extractor.trainable = False
    return extractor


def face_features(extractor, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features `(N, D) float32` of each face and of its mirror image."""
    if len(faces) == 0:
        raise DatasetError("no faces to take features of")
    both = np.concatenate([faces, faces[:, :, ::-1]])
    features = np.asarray(extractor.predict(both, batch_size=256, verbose=0), np.float32)
    return features[:len(faces)], features[len(faces):]


def fold_splits(targets: np.ndarray, people: list[str] | None, folds: int, seed: int):
    """(train, test) index pairs: stratified by label and, when people are known, grouped by person.

    Grouped, each training side must hold every label, or its head could not learn it (scikit-learn's
    ValueError); where `folds` folds cannot, fewer are tried, down to two. Raises DatasetError when no
    number of folds can."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    smallest = int(np.bincount(targets).min())
    if people is None:      # two folds at least, also where a label has one face (a fold then lacks it, which
        count = max(2, min(folds, smallest))    # only the inner choice of the L2 strength meets)
        return list(StratifiedKFold(count, shuffle=True, random_state=seed).split(targets, targets))
    groups = np.unique(people, return_inverse=True)[1]
    labels = np.unique(targets)
    for count in range(min(folds, len(set(people))), 1, -1):
        splits = list(StratifiedGroupKFold(count, shuffle=True, random_state=seed).split(targets, targets, groups))
        if all(np.isin(labels, targets[train]).all() for train, _ in splits):
            return splits
    raise DatasetError("cross-validation grouped by person cannot hold out each person and still learn every label "
                       "from the others; add photos of other people, or leave out --person/--people")


def check_people(taught: TeachingSet) -> None:
    """DatasetError, before the features are computed, when the photos of a label are all of one person:
    a fold holding that person out would have none of the label left to learn from."""
    if taught.people is None:
        return
    alone = {}
    for index, label in enumerate(taught.labels):
        people = {person for person, target in zip(taught.people, taught.targets) if target == index}
        if len(people) == 1:
            alone[label] = people.pop()
    if alone:
        raise DatasetError("cross-validation grouped by person needs each label's photos of two people or more, but "
                           + ", ".join(f"every {label} photo is of {person}" for label, person in alone.items())
                           + "; add photos of other people, or leave out --person/--people")


def fit_head(features: np.ndarray, mirrored: np.ndarray, targets: np.ndarray, people: list[str] | None,
             seed: int = 1):
    """A standardise-then-logistic-regression pipeline on each face and its mirror; its L2 strength
    is chosen by 3-fold log loss within these faces only (a face and its mirror, and one person's
    faces, always on the same side)."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    try:
        inner = fold_splits(targets, people, 3, seed)
    except DatasetError:    # a label of one person on this side: the strength is chosen over folds of faces
        inner = fold_splits(targets, None, 3, seed)
    n = len(targets)
    doubled = [(np.concatenate([train, train + n]), np.concatenate([test, test + n])) for train, test in inner]
    head = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=STRENGTHS, l1_ratios=(0,), cv=doubled,
                                                                scoring="neg_log_loss", max_iter=5000,
                                                                use_legacy_attributes=False))
    return head.fit(np.concatenate([features, mirrored]), np.concatenate([targets, targets]))


def head_probabilities(head, features: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """`(N, K)`: the mean of the face's and its mirror's probabilities, as EmotionClassifier averages."""
    return (head.predict_proba(features) + head.predict_proba(mirrored)) / 2


def cross_validate(features: np.ndarray, mirrored: np.ndarray, targets: np.ndarray, people: list[str] | None,
                   folds: int = FOLDS, seed: int = 1, progress: Progress | None = None) -> tuple[np.ndarray, list[float]]:
    """Out-of-fold probabilities `(N, K)` (each face scored by a head that never saw it, nor its
    person) and each fold's accuracy."""
    splits = fold_splits(targets, people, folds, seed)
    probabilities = np.zeros((len(targets), int(targets.max()) + 1), np.float64)
    accuracies = []
    for done, (train, test) in enumerate(splits, start=1):
        head = fit_head(features[train], mirrored[train], targets[train],
                        None if people is None else [people[i] for i in train], seed)
        probabilities[test] = head_probabilities(head, features[test], mirrored[test])
        accuracies.append(float((probabilities[test].argmax(axis=1) == targets[test]).mean()))
        if progress:
            progress("cross-validating", done, len(splits))
    return probabilities, accuracies


def taught_model(extractor, head, labels: tuple[str, ...]):
    """The frozen feature network with the fitted head as one softmax layer: for standardised
    features z = (x - mean) / scale and logits W z + b, the layer's kernel is (W / scale)^T and its
    bias b - W (mean / scale). A two-label regression's one logit z becomes the pair (-z/2, z/2),
    whose softmax is the same sigmoid."""
    import keras

    scaler, regression = head[0], head[-1]
    weights, bias = regression.coef_, regression.intercept_
    if weights.shape[0] == 1:
        weights, bias = np.vstack([-weights / 2, weights / 2]), np.concatenate([-bias / 2, bias / 2])
    kernel = (weights / scaler.scale_).T
    offset = bias - weights @ (scaler.mean_ / scaler.scale_)
    pixels = keras.Input(shape=extractor.input_shape[1:], name="pixels")
    layer = keras.layers.Dense(len(labels), activation="softmax", name="expression", dtype="float32")
    model = keras.Model(pixels, layer(extractor(pixels)), name="moodnet_taught")
    layer.set_weights([kernel.astype(np.float32), offset.astype(np.float32)])
    return model


def teach(folder: Path, out: Path, *, base: Path | None = None, detector: str | None = None,
          people_csv: Path | None = None, person_pattern: str | None = None, folds: int = FOLDS, seed: int = 1,
          progress: Progress | None = None, command: str | None = None) -> TeachResult:
    """Teach the labels of `folder/<label>/*` photos; write `out/<out name>.keras`, its int8 file and a report."""
    from model.training.evaluate import score

    clock = {"start": time.monotonic()}
    base = Path(base) if base is not None else DEFAULT_MODEL
    out_model = out / f"{out.name or 'taught'}.keras"
    check_before_reading(folder, out, base, people_csv, person_pattern)
    taught = read_teaching_set(folder, detector=detector, people_csv=people_csv, person_pattern=person_pattern,
                               progress=progress)
    check_people(taught)
    clock["faces"] = time.monotonic()
    extractor = feature_extractor(base)
    features, mirrored = face_features(extractor, taught.faces)
    clock["features"] = time.monotonic()
    probabilities, fold_accuracies = cross_validate(features, mirrored, taught.targets, taught.people, folds, seed,
                                                    progress)
    metrics = score(taught.targets, probabilities, names=taught.labels)
    clock["cross-validation"] = time.monotonic()
    head = fit_head(features, mirrored, taught.targets, taught.people, seed)
    strength = float(head[-1].C_)
    model_path = save_taught(taught_model(extractor, head, taught.labels), out_model, taught, base)
    clock["model"] = time.monotonic()
    seconds = {step: clock[step] - clock[previous] for previous, step in zip(list(clock)[:-1], list(clock)[1:])}
    seconds["total"] = clock["model"] - clock["start"]
    result = TeachResult(model_path, metrics, fold_accuracies, seconds, taught, strength,
                         head_probabilities(head, features, mirrored))
    from model.training.reporting import command_line
    from model.training.teach_report import write_teach_report

    write_teach_report(result, folder, command or command_line())
    return result


def check_before_reading(folder: Path, out: Path, base: Path, people_csv: Path | None,
                         person_pattern: str | None) -> None:
    """Every mistake in the options, found before minutes of face detection: an --out that is a file,
    the shipped model's folder or inside the photos (it would be read as a label next time), a base
    model that is not a seven-emotion one, and --people or --person that cannot be read."""
    from model.training.keras_model import require_emotions
    from model.training.reporting import check_out_folder

    shipped = DEFAULT_MODEL.parent.resolve()
    if out.resolve() == shipped or shipped in out.resolve().parents:
        raise DatasetError(f"--out {out} would overwrite the shipped model; choose a folder of your own")
    check_out_folder(out)
    if folder.is_dir() and (out.resolve() == folder.resolve() or folder.resolve() in out.resolve().parents):
        raise DatasetError(f"--out {out} lies inside the photos folder {folder}, where it would be read as a label; "
                           "choose a folder outside it")
    require_emotions(base, "--base")
    if people_csv is not None:
        read_people(people_csv)
    if person_pattern is not None:
        person_regex(person_pattern)


def save_taught(model, model_path: Path, taught: TeachingSet, base: Path) -> Path:
    """Save the model with its labels and how it was taught, then its int8 version, calibrated on the
    taught faces and their mirrors (the faces it will see)."""
    from model.recognizer import framing
    from model.training.keras_model import write_int8

    model_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(model_path)
    write_model_labels(model_path, taught.labels, {
        "task": "taught", "base_model": base.name, "base_sha256": digest(base),
        "faces": taught.counts(), "taught_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "framing": framing(taught.detector)})
    write_int8(model, model_path, np.concatenate([taught.faces, taught.faces[:, :, ::-1]]))
    return model_path


def metrics_json(result: TeachResult) -> dict:
    m = result.metrics
    return {"labels": list(result.taught.labels), "faces": result.taught.counts(), "photos": result.taught.photos,
            "dropped": len(result.taught.dropped), "cross_validation": {
                "folds": len(result.fold_accuracies), "grouped_by_person": result.taught.people is not None,
                "accuracy": m.accuracy, "macro_f1": m.macro_f1,
                "recall": dict(zip(result.taught.labels, map(float, m.recall))),
                "fold_accuracies": result.fold_accuracies},
            "l2_strength_C": result.strength, "seconds": {k: round(v, 2) for k, v in result.seconds.items()}}


def write_metrics(result: TeachResult) -> None:
    (result.model_path.parent / "metrics.json").write_text(json.dumps(metrics_json(result), indent=2))
