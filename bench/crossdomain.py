"""Cross-dataset accuracy through the whole pipeline: Moodlog beside the `fer` package on real photos.

The photos: every labelled full-frame set in ../shared/datasets (crossdomain/jaffe, crossdomain/faces,
faces/cfd, faces/yale). Moodlog reads each photo exactly as `app.py predict` does: `load_image`, then
`Recognizer` with the photo detector and the default classifier; the largest readable face counts. The peer runs the `fer`
package's own pipeline, `FER(mtcnn=False).detect_emotions`, on the same decoded pixels in its own venv
(bash bench/setup_fer_peer.sh), largest face. A photo without a readable face counts as not read and
as wrong. Per set and pooled over the sets: photos, faces read, accuracy, macro-F1 over the emotions
present in the set, recall per emotion; a markdown table and one JSON line (--json-out: also a file).
The JSON names the model file by `model_sha256` (the first 20 hex digits of its SHA-256, as model/lite.py
names int8 files), so that the dashboard can tell figures of another model from this one's.
--write-report, after measuring, writes model/report.py's CROSSDOMAIN_FILE (crossdomain.json) beside the model
and puts the section "Real photos from other datasets" into the model's REPORT.md (replacing an earlier one);
the Model page shows the figures from there.

Other scripts compare pipeline variants with `moodlog_scores(recognizer)`.
Usage: python bench/crossdomain.py [--model PATH] [--detector NAME] [--sets SET ...] [--no-peer] [--json-out FILE]
             [--write-report]
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common import ROOT, SHARED, one_core
from model.training.evaluate import Metrics, score
from model.images import load_image
from model.labels import EMOTIONS
from model.lite import digest
from model.training.photo_evaluation import labelled_photos, read_photos
from model.training.teach import people_of
from model.report import CROSSDOMAIN_FILE, crossdomain_section, with_section

SETS = ("crossdomain/jaffe", "crossdomain/faces", "faces/cfd", "faces/yale")
POOLED = "pooled"
PEER_PYTHON = ROOT / "bench" / ".venv-fer" / "bin" / "python"


@dataclass
class Photos:
    """Labelled photos of several sets, in order: `sets[i]` names the set of `paths[i]`; `labels` `(N,) int64`."""
    sets: list[str]
    paths: list[Path]
    labels: np.ndarray


# Who is in each photo: the first group of this pattern in its file name, as `teach --person` reads
# it (JAFFE "KA.AN1.39.tiff", FACES "008_y_m_d_a.jpg", CFD "CFD-BF-001-026-A.jpg", Yale "subject01.happy.gif").
PERSON = {"crossdomain/jaffe": r"^([A-Z]+)\.", "crossdomain/faces": r"^(\d+)_", "faces/cfd": r"^(CFD-\w+?-\d+)",
          "faces/yale": r"^(subject\d+)"}
HALVES = ("select", "report")


def person_of(set_name: str, path: Path) -> str:
    """The person in a photo of `set_name`, from its file name (PERSON, through teach's own reading)."""
    return people_of([path], None, PERSON[set_name])[0]


def person_half(set_name: str, path: Path) -> str:
    """"select" or "report": which half of a set the photo's person falls in, by the parity of the
    CRC-32 of set and person, fixed for good. Choosing among candidates on the "select" half and
    reporting the chosen one on the other keeps the reported figure free of the choice (no person is
    on both sides)."""
    return HALVES[zlib.crc32(f"{set_name}/{person_of(set_name, path)}".encode()) % 2]


def set_photos(sets=SETS, half: str | None = None) -> Photos:
    """Every photo of each named set (a folder under ../shared/datasets holding `<emotion>/*`), or only
    those of one half of its people (`person_half`).

    Raises SystemExit with the path when a set is missing."""
    names, paths, labels = [], [], []
    for name in sets:
        if not (SHARED / name).is_dir():
            raise SystemExit(f"labelled photos not found at {SHARED / name}")
        found = labelled_photos(SHARED / name)
        keep = [half is None or person_half(name, path) == half for path in found.paths]
        names += [name] * sum(keep)
        paths += [path for path, kept in zip(found.paths, keep) if kept]
        labels.append(np.asarray(found.labels)[keep])
    return Photos(names, paths, np.concatenate(labels))


def decoded(paths: list[Path], checksums: list[int] | None = None) -> Iterator[np.ndarray]:
    """Each photo as `predict` decodes it, BGR uint8; appends the CRC-32 of its pixels to `checksums`
    so that the peer's decoding can be checked against it."""
    for path in paths:
        image = load_image(path)
        if checksums is not None:
            checksums.append(zlib.crc32(image.tobytes()))
        yield image


def moodlog_predictions(photos: Photos, recognizer, checksums: list[int] | None = None):
    """Probabilities `(N, 7) float32` of each photo's largest readable face (zeros where none) and
    `read` `(N,) bool`, from any object with Recognizer's `recognize(image) -> list[Face]`."""
    return read_photos(recognizer, decoded(photos.paths, checksums))


def scores_by_set(photos: Photos, probabilities: np.ndarray, read: np.ndarray) -> dict[str, Metrics]:
    """Metrics for each set in `photos`, then for all of them pooled (key "pooled")."""
    names = np.asarray(photos.sets)
    results = {name: score(photos.labels[names == name], probabilities[names == name], read[names == name])
               for name in dict.fromkeys(photos.sets)}
    results[POOLED] = score(photos.labels, probabilities, read)
    return results


def default_recognizer(model: str | None = None, detector: str | None = None):
    """The Recognizer `app.py predict` builds: the given (or shipped) model behind the photo detector."""
    from model.classifier import EmotionClassifier
    from model.faces import PHOTO_DETECTOR
    from model.recognizer import Recognizer

    return Recognizer(EmotionClassifier(model), detector or PHOTO_DETECTOR)


def moodlog_scores(recognizer=None, sets=SETS) -> dict[str, Metrics]:
    """One call for other bench scripts: a pipeline variant (default: predict's) scored on the sets and pooled."""
    photos = set_photos(sets)
    return scores_by_set(photos, *moodlog_predictions(photos, recognizer or default_recognizer()))


def start_peer(photos: Photos, folder: Path) -> subprocess.Popen:
    """Start fer's pipeline on the photos in its own venv; it runs while Moodlog reads them."""
    (folder / "paths.json").write_text(json.dumps([str(path) for path in photos.paths]))
    return subprocess.Popen([str(PEER_PYTHON), str(ROOT / "bench" / "fer_crossdomain_peer.py"),
                             str(folder / "paths.json"), str(folder / "peer.json")])


def finish_peer(process: subprocess.Popen, folder: Path, checksums: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Wait for the peer; its probabilities `(N, 7)` and `read` `(N,) bool`. Raises RuntimeError when it
    failed or decoded any photo to other pixels than Moodlog did."""
    if process.wait() != 0:
        raise RuntimeError(f"the fer peer exited with {process.returncode}")
    peer = json.loads((folder / "peer.json").read_text())
    if peer["crc32"] != checksums:
        raise RuntimeError("the fer peer decoded some photos to other pixels than Moodlog did")
    read = np.asarray([row is not None for row in peer["probabilities"]], bool)
    rows = [row if row is not None else [0.0] * len(EMOTIONS) for row in peer["probabilities"]]
    return np.asarray(rows, np.float32).reshape(-1, len(EMOTIONS)), read


def figures(metrics: Metrics) -> dict:
    """The JSON figures of one set; recall only for the emotions present."""
    return {"photos": metrics.count, "read": metrics.read, "accuracy": round(metrics.accuracy, 4),
            "macro_f1": round(metrics.macro_f1, 4),
            "recall": {name: round(float(r), 4) for name, r, present in
                       zip(EMOTIONS, metrics.recall, metrics.present) if present}}


def summary_table(results: dict[str, dict[str, Metrics]]) -> str:
    """One row per set: photos, then faces read, accuracy and macro-F1 for each pipeline."""
    pipelines = list(results)
    columns = [f"{p} {what}" for what in ("faces read", "accuracy", "macro-F1") for p in pipelines]
    rows = ["| set (../shared/datasets) | photos | " + " | ".join(columns) + " |",
            "|---|---:|" + "---:|" * len(columns)]
    for name, first in results[pipelines[0]].items():
        cells = [str(results[p][name].read) for p in pipelines]
        cells += [f"{results[p][name].accuracy:.3f}" for p in pipelines]
        cells += [f"{results[p][name].macro_f1:.3f}" for p in pipelines]
        rows.append(f"| {name} | {first.count} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def recall_table(results: dict[str, dict[str, Metrics]]) -> str:
    """Per set: photos per emotion, then each pipeline's recall ("-" where the set has none)."""
    rows = ["| set | | " + " | ".join(EMOTIONS) + " |", "|---|---|" + "---:|" * len(EMOTIONS)]
    for name, first in next(iter(results.values())).items():
        rows.append(f"| {name} | photos | " + " | ".join(str(n) for n in first.images) + " |")
        for pipeline, by_set in results.items():
            metrics = by_set[name]
            cells = [f"{r:.3f}" if present else "-" for r, present in zip(metrics.recall, metrics.present)]
            rows.append(f"| | {pipeline} recall | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def commit() -> str:
    """The checked-out commit, marked +dirty when tracked files differ from it; "unknown" outside git."""
    described = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty=+dirty"],
                               capture_output=True, text=True)
    return described.stdout.strip() or "unknown"


def shown(path: Path) -> str:
    """A path relative to the checkout when it lies inside it, as RESULTS.md quotes paths."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def parse_arguments() -> argparse.Namespace:
    from model.faces import DETECTORS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a .keras model (default: the shipped one)")
    parser.add_argument("--detector", choices=sorted(DETECTORS), help="Moodlog's detector (default: predict's)")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS, metavar="SET",
                        help=f"which sets (default: all of {', '.join(SETS)})")
    parser.add_argument("--half", choices=HALVES, help="only one half of each set's people: choose among candidate "
                                                       "models on 'select', report the chosen one on 'report'")
    parser.add_argument("--no-peer", action="store_true", help="Moodlog only, without the fer peer")
    parser.add_argument("--json-out", type=Path, metavar="FILE", help="also write the figures to this JSON file")
    parser.add_argument("--write-report", action="store_true",
                        help=f"also write {CROSSDOMAIN_FILE} beside the model and its section in the model's REPORT.md")
    args = parser.parse_args()
    if args.write_report and (set(args.sets) != set(SETS) or args.half):
        # The model's figures, and their pooled line, are stated over every set; a subset would pass for them.
        parser.error("--write-report measures every photo of every set: leave out --sets and --half")
    return args


def write_report(report: dict, model_path: Path) -> None:
    """Write `report` as CROSSDOMAIN_FILE beside the model, and its section into the model's REPORT.md
    when there is one (training writes REPORT.md; a model without one gets only the JSON)."""
    folder = Path(model_path).parent
    (folder / CROSSDOMAIN_FILE).write_text(json.dumps(report, indent=2) + "\n")
    markdown = folder / "REPORT.md"
    if markdown.is_file():
        markdown.write_text(with_section(markdown.read_text(encoding="utf-8"), crossdomain_section(report)),
                            encoding="utf-8")
    print(f"wrote {shown(folder / CROSSDOMAIN_FILE)}" +
          (f" and its section in {shown(markdown)}" if markdown.is_file() else f" (no {shown(markdown)} to add to)"))


def main() -> None:
    args = parse_arguments()
    one_core()
    photos = set_photos(args.sets, args.half)
    recognizer = default_recognizer(args.model, args.detector)
    with_peer = not args.no_peer and PEER_PYTHON.exists()
    if not args.no_peer and not with_peer:
        print("fer peer not installed: bash bench/setup_fer_peer.sh (skipped)")
    with tempfile.TemporaryDirectory() as folder:
        peer = start_peer(photos, Path(folder)) if with_peer else None
        checksums: list[int] = []
        results = {"Moodlog": scores_by_set(photos, *moodlog_predictions(photos, recognizer, checksums))}
        if peer is not None:
            results["fer"] = scores_by_set(photos, *finish_peer(peer, Path(folder), checksums))
    report = {"date": datetime.date.today().isoformat(), "commit": commit(),
              "model": shown(recognizer.classifier.path), "model_sha256": digest(recognizer.classifier.path),
              "detector": recognizer.detector_name,
              **{pipeline: {name: figures(m) for name, m in by_set.items()} for pipeline, by_set in results.items()}}
    print(summary_table(results), "", recall_table(results), "", json.dumps(report), sep="\n")
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2) + "\n")
    if args.write_report:
        write_report(report, recognizer.classifier.path)


if __name__ == "__main__":
    main()
