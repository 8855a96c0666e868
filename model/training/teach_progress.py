"""Progress of `teach` on the terminal (tqdm bars, one per step) and, for the dashboard's Teach page,
as a small JSON file rewritten atomically at each step: {"step", "done", "total", "time"}."""

from __future__ import annotations

import contextlib
from pathlib import Path

from model.status_file import write_status


@contextlib.contextmanager
def progress_reporter(quiet: bool = False, status_file: str | None = None):
    """A `progress(step, done, total)` callable for `teach`; closes its bars on exit."""
    from tqdm import tqdm

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
