"""The shipped model's report for the model page: whatever REPORT.md, metrics.json and plots exist."""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from model.classifier import DEFAULT_MODEL
from model.labels import EMOTIONS

# Only these files of the weights folder are served to browsers.
SERVED_IMAGES = ("confusion.png", "curves.png")
IMAGE_ROUTE = "/model-files/"


@dataclass
class ModelReport:
    """What is known about the shipped model; `markdown` is None when no REPORT.md exists yet."""
    model_file: Path
    model_size: int | None
    model_written: datetime.datetime | None
    markdown: str | None
    metrics: dict = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    recall: dict[str, float] = field(default_factory=dict)


def read_report(model_file: Path = DEFAULT_MODEL) -> ModelReport:
    """Read the report files beside the model fresh on every call, since training rewrites them while
    we serve."""
    weights = model_file.parent
    stat = model_file.stat() if model_file.is_file() else None
    report_file = weights / "REPORT.md"
    markdown = report_file.read_text(encoding="utf-8") if report_file.is_file() else None
    return ModelReport(model_file, stat.st_size if stat else None,
                       datetime.datetime.fromtimestamp(stat.st_mtime) if stat else None,
                       markdown and link_images(markdown, weights), _metrics(weights / "metrics.json"),
                       [name for name in SERVED_IMAGES if (weights / name).is_file()],
                       recall_by_emotion(markdown) if markdown else {})


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


def recall_by_emotion(markdown: str) -> dict[str, float]:
    """Per-class recall from the report's table for the test split (else the first table):
    rows like `| happy | 879 | 0.812 | ... |` under a header with a `recall` column."""
    section = markdown.split("\n## test", 1)[-1]
    recall: dict[str, float] = {}
    column = None
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if column is None and "recall" in cells:
            column = cells.index("recall")
        elif column is not None and cells[0] in EMOTIONS and len(cells) > column:
            try:
                recall[cells[0]] = float(cells[column])
            except ValueError:
                continue
        elif column is not None and recall and not line.strip():
            break
    return recall
