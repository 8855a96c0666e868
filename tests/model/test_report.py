"""REPORT.md's cross-dataset section, and the Model page's reading of crossdomain.json beside a model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dashboard.report import read_crossdomain, read_report
from model.lite import digest
from model.report import CROSSDOMAIN_HEADING, crossdomain_section, with_section

ROOT = Path(__file__).resolve().parents[2]

TRAINED = ("# Model report: mine.keras\n\n- test: accuracy 0.7021\n\n## test\n\n"
           "| emotion | images | recall | precision | F1 |\n|---|---:|---:|---:|---:|\n"
           "| happy | 879 | 0.900 | 0.864 | 0.882 |\n\n"
           "![confusion matrix](confusion.png)\n\n## How it was made\n\n- Command: `python app.py train`\n\n"
           "## Data\n\n- train: 28709 kept\n")


def test_section_tabulates_every_set_and_pipeline(crossdomain_figures):
    section = crossdomain_section(crossdomain_figures)
    lines = section.splitlines()
    assert lines[0] == CROSSDOMAIN_HEADING and "never training" in section and "fer package" in section
    assert lines[4].startswith("| set (../shared/datasets) | photos | Moodlog faces read | fer faces read | "
                               "Moodlog accuracy | fer accuracy | Moodlog macro-F1 | fer macro-F1 |")
    assert "| crossdomain/faces | 54 | 53 | 54 | 0.518 | 0.870 | 0.527 | 0.925 |" in lines
    assert "| pooled | 161 | 160 | 161 | 0.497 | 0.596 | 0.410 | 0.556 |" in lines
    assert "Measured 2026-11-29 at commit 365ac02 with the blazeface-tiles detector" in lines[-1]


def test_section_sits_before_how_it_was_made_and_replaces_itself(crossdomain_figures):
    once = with_section(TRAINED, crossdomain_section(crossdomain_figures))
    assert once.index(CROSSDOMAIN_HEADING) < once.index("## How it was made") and once.endswith("kept\n")
    assert with_section(once, crossdomain_section(crossdomain_figures)) == once
    crossdomain_figures["Moodlog"]["pooled"]["accuracy"] = 0.8
    again = with_section(once, crossdomain_section(crossdomain_figures))
    assert again.count(CROSSDOMAIN_HEADING) == 1 and "| pooled | 161 | 160 | 161 | 0.800 |" in again
    assert again.replace("0.800", "0.497") == once  # only the figures changed, the rest of the report kept


def test_section_is_appended_to_a_report_without_how_it_was_made(crossdomain_figures):
    bare = "# Model report\n\n## test\n\nnothing yet\n"
    once = with_section(bare, crossdomain_section(crossdomain_figures))
    assert once.startswith(bare + "\n" + CROSSDOMAIN_HEADING)
    assert with_section(once, crossdomain_section(crossdomain_figures)) == once


def test_figures_for_this_model_are_current_and_for_another_stale(model_copy, crossdomain_figures):
    beside = model_copy.parent / "crossdomain.json"
    assert read_crossdomain(model_copy) is None
    beside.write_text(json.dumps({**crossdomain_figures, "model_sha256": digest(model_copy)}))
    assert not read_crossdomain(model_copy).stale
    beside.write_text(json.dumps({**crossdomain_figures, "model_sha256": "0" * 20}))
    assert read_crossdomain(model_copy).stale
    beside.write_text(json.dumps(crossdomain_figures))  # written before the digest was recorded: cannot tell
    found = read_crossdomain(model_copy)
    assert not found.stale and found.measured_model is None
    beside.write_text("{not json")
    assert read_crossdomain(model_copy) is None


def test_the_page_shows_the_section_once(tmp_path, crossdomain_figures):
    model_file = tmp_path / "mine.keras"
    (tmp_path / "REPORT.md").write_text(with_section(TRAINED, crossdomain_section(crossdomain_figures)))
    assert CROSSDOMAIN_HEADING in read_report(model_file).markdown  # no JSON: REPORT.md's copy is all there is
    (tmp_path / "crossdomain.json").write_text(json.dumps(crossdomain_figures))
    report = read_report(model_file)
    assert CROSSDOMAIN_HEADING not in report.markdown and "## How it was made" in report.markdown
    assert report.crossdomain.figures == crossdomain_figures


def test_write_report_writes_the_json_and_one_section_however_often_it_runs(tmp_path, crossdomain_figures):
    sys.path.insert(0, str(ROOT / "bench"))
    from crossdomain import write_report

    (tmp_path / "REPORT.md").write_text(TRAINED)
    for _ in range(2):
        write_report(crossdomain_figures, tmp_path / "mine.keras")
    assert json.loads((tmp_path / "crossdomain.json").read_text()) == crossdomain_figures
    assert (tmp_path / "REPORT.md").read_text() == with_section(TRAINED, crossdomain_section(crossdomain_figures))


def test_the_selection_and_report_halves_of_the_real_photos_share_no_person(face_photos, crossdomain_photos):
    """bench/crossdomain.py --half: candidates are chosen on one half of each set's people and the chosen
    model reported on the other, so the reported figure is free of the choice."""
    sys.path.insert(0, str(ROOT / "bench"))
    from crossdomain import SETS, person_of, set_photos

    everyone = set_photos(SETS)
    halves = {half: set_photos(SETS, half) for half in ("select", "report")}
    assert sum(len(h.paths) for h in halves.values()) == len(everyone.paths)
    people = {half: {(s, person_of(s, p)) for s, p in zip(h.sets, h.paths)} for half, h in halves.items()}
    assert not people["select"] & people["report"]
    for name in SETS:                                     # every set has people on both sides
        assert all(name in h.sets for h in halves.values()), name
    assert set_photos(SETS, "select").paths == halves["select"].paths   # fixed for good, not drawn per run
