"""Progress of `teach` on the terminal (tqdm bars, one per step) and, for the dashboard's Teach page,
as a small JSON file rewritten atomically at each step: {"step", "done", "total", "time"}."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from model.errors import DatasetError
from model.status_file import write_status


@contextlib.contextmanager
def progress_reporter(quiet: bool = False, status_file: str | None = None):
    """A `progress(step, done, total)` callable for `teach`; closes its bars on exit. A `status_file`
    that cannot be written is refused first (check_status_file)."""
    from tqdm import tqdm

    if status_file:
        check_status_file(Path(status_file))

    bars: dict[str, tqdm] = {}

    def progress(step: str, done: int, total: int) -> None:
        if not quiet:
            bar = bars.get(step)
            if bar is None:
                for other in bars.values():
                    other.close()
                bar = bars[step] = tqdm(total=total, desc=step, unit="photo" if step == "finding faces" else "fold")
            bar.update(done - bar.n)
        if status_file:
            write_status(Path(status_file), {"step": step, "done": done, "total": total})

    try:
        yield progress
    finally:
        for bar in bars.values():
            bar.close()


def check_status_file(path: Path) -> None:
    """DatasetError (one line at the CLI) before any photo is read when --status cannot be written: a
    folder, a file in a folder that does not exist or is a file, or in one this user may not write
    (it would end in a traceback at the first step, leaving a .part file beside it)."""
    if path.is_dir():
        raise DatasetError(f"--status {path} is a folder; give a file for the progress, e.g. {path / 'status.json'}")
    folder = path.parent
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "does not exist"
        raise DatasetError(f"--status {path}: its folder {folder} {what}; give a file in an existing folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DatasetError(f"--status {path}: the folder {folder} is not writable by this user")
