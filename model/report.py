"""Reading the markdown report beside a model: its cross-dataset section and what the dashboard's Model
page shows. Writing a report is training's (model/training/reporting.py)."""

from __future__ import annotations




# Cross-dataset figures: bench/crossdomain.py --write-report measures the whole pipeline on real photos of other
# datasets and writes CROSSDOMAIN_FILE beside the model; its REPORT.md and the dashboard's Model page show them.
CROSSDOMAIN_FILE = "crossdomain.json"
CROSSDOMAIN_HEADING = "## Real photos from other datasets"
CROSSDOMAIN_MEANING = (
    "FER2013 test accuracy says how the model reads FER2013; these figures say how the whole pipeline (detector, "
    "crop, classifier) reads other people, cameras and light. A photo without a readable face counts as wrong. "
    "These sets and their licences allow measuring only, never training.")
PEER_MEANING = "fer: the fer package's own pipeline on the same photos, for comparison."
# The section goes before this one when REPORT.md has it, so that it sits beside the FER2013 tables.
_SECTION_BEFORE = "## How it was made"


def crossdomain_pipelines(figures: dict) -> list[str]:
    """The pipelines measured in a crossdomain.json (`{"Moodlog": {set: {...}}, "fer": ...}`), Moodlog first;
    every other top-level value (date, commit, model, ...) is a string."""
    names = [name for name, value in figures.items() if isinstance(value, dict)]
    return sorted(names, key=lambda name: name != "Moodlog")


def crossdomain_sets(figures: dict) -> list[str]:
    """The set names in measuring order, "pooled" last, as the first pipeline lists them; empty when none."""
    pipelines = crossdomain_pipelines(figures)
    return list(figures[pipelines[0]]) if pipelines else []


def crossdomain_section(figures: dict) -> str:
    """REPORT.md's section on a crossdomain.json: heading, what it means, one row per set and pooled
    (photos, then faces read, accuracy and macro-F1 per pipeline), and when and how it was measured.
    Ends without a blank line; numbers missing from the file show as "-"."""
    pipelines = crossdomain_pipelines(figures)
    columns = [("read", "faces read", "{}"), ("accuracy", "accuracy", "{:.3f}"), ("macro_f1", "macro-F1", "{:.3f}")]
    header = " | ".join(f"{pipeline} {title}" for _, title, _ in columns for pipeline in pipelines)
    rows = [f"| set (../shared/datasets) | photos | {header} |", "|---|---:|" + "---:|" * len(columns) * len(pipelines)]
    for name in crossdomain_sets(figures):
        first = figures[pipelines[0]][name]
        cells = [_formatted(figures[pipeline].get(name, {}).get(key), form)
                 for key, _, form in columns for pipeline in pipelines]
        rows.append(f"| {name} | {_formatted(first.get('photos'), '{}')} | " + " | ".join(cells) + " |")
    return "\n".join([CROSSDOMAIN_HEADING, "", crossdomain_meaning(figures), "", *rows, "", measured_line(figures) +
                      f" (`python bench/crossdomain.py --write-report`); per-emotion recall in `{CROSSDOMAIN_FILE}`."])


def crossdomain_meaning(figures: dict) -> str:
    """What the figures say and what they may be used for; names the peer when the file has its figures."""
    return CROSSDOMAIN_MEANING + (" " + PEER_MEANING if "fer" in crossdomain_pipelines(figures) else "")


def measured_line(figures: dict) -> str:
    """The line "Measured DATE at commit C with the D detector", from what the file records ("?" where not)."""
    return (f"Measured {figures.get('date', '?')} at commit {figures.get('commit', '?')} "
            f"with the {figures.get('detector', '?')} detector")


def _formatted(value, form: str) -> str:
    return "-" if value is None else form.format(value)


def with_section(markdown: str, section: str) -> str:
    """`markdown` with `section` (which starts with its "## " heading) in place of the section of that
    heading, or, when there is none, inserted before "## How it was made", else appended. Idempotent:
    adding the same section twice leaves one."""
    heading = section.splitlines()[0]
    lines = markdown.rstrip("\n").split("\n")
    start, end = _section_span(lines, heading)
    if start is None:
        start = end = _section_span(lines, _SECTION_BEFORE)[0]
    if start is None:
        lines.append("")  # a blank line between the last section and the appended one
        start = end = len(lines)
    return "\n".join(lines[:start] + section.rstrip("\n").split("\n") + [""] + lines[end:]).rstrip("\n") + "\n"


def without_section(markdown: str, heading: str) -> str:
    """`markdown` less the section under `heading` (a whole "## ..." line); unchanged when it has none."""
    lines = markdown.split("\n")
    start, end = _section_span(lines, heading)
    return markdown if start is None else "\n".join(lines[:start] + lines[end:])


def _section_span(lines: list[str], heading: str) -> tuple[int | None, int | None]:
    """(first line, line after the last) of the section whose heading line is `heading`: up to the next
    heading of the same or a higher level. (None, None) when absent."""
    if heading not in lines:
        return None, None
    start = lines.index(heading)
    level = heading.split(" ", 1)[0]
    for end in range(start + 1, len(lines)):
        marks = lines[end].split(" ", 1)[0]
        if marks and set(marks) == {"#"} and len(marks) <= len(level):
            return start, end
    return start, len(lines)
