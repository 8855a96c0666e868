"""The `start` command line is built from the settings table, so help and table cannot drift."""

from __future__ import annotations

import subprocess
import sys

from capture.settings import START_SETTINGS, markdown_table
from capture_helpers import ROOT, background, count_rows, write_video


def test_start_help_lists_every_setting_and_an_example():
    done = subprocess.run([sys.executable, str(ROOT / "app.py"), "start", "--help"], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0
    for setting in START_SETTINGS:
        assert f"--{setting.name}" in done.stdout
    assert "example" in done.stdout and "python app.py start 0" in done.stdout


def test_out_of_bounds_values_are_refused_with_the_option_named():
    done = subprocess.run([sys.executable, str(ROOT / "app.py"), "start", "0", "--fps", "0"], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and "argument --fps: must be between 0.1 and 1000" in done.stderr


def test_the_readme_table_has_a_row_per_setting_as_help_words_it():
    table = markdown_table().splitlines()
    assert len(table) == 2 + len(START_SETTINGS)
    assert all(f"`--{setting.name}`" in row for setting, row in zip(START_SETTINGS, table[2:]))
    assert markdown_table() in (ROOT / "README.md").read_text()


def test_a_model_that_is_not_there_is_refused_by_name_and_leaves_no_session(tmp_path):
    video = write_video(tmp_path / "room.avi", [background(i) for i in range(5)])
    db = tmp_path / "moodlog.db"
    done = subprocess.run([sys.executable, str(ROOT / "app.py"), "start", str(video), "--db", str(db),
                           "--model", str(tmp_path / "absent.keras")], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 2
    assert "absent.keras" in done.stderr and "Traceback" not in done.stderr
    assert count_rows(db) == 0 and not db.exists()
