"""A small JSON status file that one process rewrites atomically and another polls: how `teach`
tells the dashboard's Teach page where it is ({"step", "done", "total", "time"})."""

from __future__ import annotations

import json
import time
from pathlib import Path

from model.lite import write_atomically


def write_status(path: Path, status: dict) -> None:
    """Replace the file with `status` plus "time" (UTC epoch s); a reader never sees half a file."""
    write_atomically(Path(path), json.dumps({**status, "time": time.time()}).encode())


def read_status(path: Path) -> dict | None:
    """The last status written, or None when there is none (yet) or it cannot be read."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
