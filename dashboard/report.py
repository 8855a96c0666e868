"""The served model's report for the model page: its label set, and whatever REPORT.md, metrics.json,
crossdomain.json and plots exist beside it (train writes them for the shipped model, teach a REPORT.md
for a taught one)."""

from __future__ import annotations

import datetime
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from model.classifier import DEFAULT_MODEL
from model.errors import ModelFileError
from model.labels import EMOTIONS, model_labels
from model.lite import digest
from model.recognizer import framing_problem
from model.report import CROSSDOMAIN_FILE, CROSSDOMAIN_HEADING, without_section

# Only these files of the weights folder are served to browsers.
SERVED_IMAGES = ("confusion.png", "curves.png")
IMAGE_ROUTE = "/model-files/"


@dataclass
class CrossDomain:
    """A crossdomain.json beside the model (bench/crossdomain.py --write-report).

    `figures` is the file as written: date, commit, model, model_sha256, detector, and per pipeline
    ("Moodlog", "fer") {set or "pooled": {photos, read, accuracy, macro_f1, recall}}. `measured_model` is
    its model_sha256, None in files written before it was recorded; `stale` is True when that names
    another model file than the one beside it.
    """
    figures: dict
    measured_model: str | None
    this_model: str | None
    stale: bool


@dataclass
class ModelReport:
    """What is known about the served model; `markdown` is None when no REPORT.md exists yet, and
    `crossdomain` None when no crossdomain.json does (or it cannot be read). `labels` are the model's
    outputs (the seven emotions unless it was taught others); `labels_problem` says why they could not
    be read (then `labels` is the emotions); `framing_problem` why a taught model may read faces worse
    than its report says (model.recognizer.framing_problem)."""
    model_file: Path
    model_size: int | None
    model_written: datetime.datetime | None
    markdown: str | None
    metrics: dict = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    recall: dict[str, float] = field(default_factory=dict)
    crossdomain: CrossDomain | None = None
    labels: tuple[str, ...] = EMOTIONS
    labels_problem: str | None = None
    framing_problem: str | None = None


def read_report(model_file: Path = DEFAULT_MODEL) -> ModelReport:
    """Read the report files beside the model fresh on every call, since training rewrites them while
    we serve."""
    weights = model_file.parent
    stat = model_file.stat() if model_file.is_file() else None
    report_file = weights / "REPORT.md"
    markdown = report_file.read_text(encoding="utf-8") if report_file.is_file() else None
    crossdomain = read_crossdomain(model_file)
    if markdown and crossdomain is not None:
        # The page shows the figures in their own card, checked against the model file; REPORT.md's copy
        # of them would show them twice, and unchecked.
        markdown = without_section(markdown, CROSSDOMAIN_HEADING)
    labels, problem = read_labels(model_file) if stat else (EMOTIONS, None)
    return ModelReport(model_file, stat.st_size if stat else None,
                       datetime.datetime.fromtimestamp(stat.st_mtime) if stat else None,
                       markdown and link_images(markdown, weights), _metrics(weights / "metrics.json"),
                       [name for name in SERVED_IMAGES if (weights / name).is_file()],
                       recall_by_label(markdown, labels) if markdown else {}, crossdomain, labels, problem,
                       served_framing_problem(model_file) if stat and not problem else None)


def read_labels(model_file: Path) -> tuple[tuple[str, ...], str | None]:
    """(the model file's label set, None), or (the emotions, why its label set cannot be read)."""
    try:
        return model_labels(model_file), None
    except ModelFileError as error:
        return EMOTIONS, str(error)


def served_framing_problem(model_file: Path) -> str | None:
    """model.recognizer.framing_problem for a page: None where the model file's member is unreadable,
    which the page already says (labels_problem) or the model's loading will."""
    try:
        return framing_problem(model_file)
    except ModelFileError:          # already said by labels_problem's reading of the same member
        return None


def read_crossdomain(model_file: Path) -> CrossDomain | None:
    """The crossdomain.json beside `model_file`, checked against it; None when absent or not a JSON object."""
    try:
        figures = json.loads((model_file.parent / CROSSDOMAIN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(figures, dict):
        return None
    measured = figures.get("model_sha256")
    this_model = model_digest(model_file)
    return CrossDomain(figures, measured, this_model, stale=measured is not None and measured != this_model)


def model_digest(model_file: Path) -> str | None:
    """The model file's content digest as bench/crossdomain.py records it (model/lite.py's `digest`,
    20 hex digits); None when there is no file."""
    try:
        stat = model_file.stat()
    except OSError:
        return None
    return _digest(model_file, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _digest(model_file: Path, size: int, mtime_ns: int) -> str:
    """Hash each version of a model file once (size and mtime tell versions apart), not on every visit."""
    return digest(model_file)


def _metrics(path: Path) -> dict:
    """{split: {"accuracy": float, "macro_f1": float}}; empty when absent or unreadable."""
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


def link_images(markdown: str, weights: Path) -> str:
    """Point the report's image links (confusion.png) at the route that serves them, and drop
    the links to plots that are not there (yet), rather than show broken images."""
    def replace(match: re.Match) -> str:
        name = match.group(2)
        if name in SERVED_IMAGES and (weights / name).is_file():
            return f"![{match.group(1)}]({IMAGE_ROUTE}{name})"
        return f"*({match.group(1)}: {name} not written yet)*"

    return re.sub(r"!\[([^\]]*)\]\(([^)\s]+)\)", replace, markdown)


def recall_by_label(markdown: str, labels=EMOTIONS) -> dict[str, float]:
    """Per-class recall {label: 0-1} from the report's table for the test split (else the first
    table): rows like `| happy | 879 | 0.812 | ... |`, whose first cell is one of `labels`, under a
    header with a `recall` column."""
    section = markdown.split("\n## test", 1)[-1]
    recall: dict[str, float] = {}
    column = None
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if column is None and "recall" in cells:
            column = cells.index("recall")
        elif column is not None and cells[0] in labels and len(cells) > column:
            try:
                recall[cells[0]] = float(cells[column])
            except ValueError:
                continue
        elif column is not None and recall and not line.strip():
            break
    return recall
