"""What the daemon tells its user: a live status line while running, a summary at the end."""

from __future__ import annotations

import collections
import sys
import time

STATUS_EVERY_SECONDS = 1.0


class StatusLine:
    """At most one line a second on stderr: fps, faces per frame, dominant emotion, rows written.

    On a terminal the line is rewritten in place; into a file or pipe it is printed every
    `log_every` seconds so that logs stay readable.
    """

    def __init__(self, quiet: bool = False, stream=None, log_every: float = 10.0):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.every = STATUS_EVERY_SECONDS if self.interactive else log_every
        self.last_at = time.monotonic()
        self.last_frames = 0
        self.faces = 0
        self.emotions: collections.Counter[str] = collections.Counter()

    def saw(self, emotion: str) -> None:
        self.faces += 1
        self.emotions[emotion] += 1

    def update(self, frames_analysed: int, rows_written: int, extra: str = "") -> None:
        now = time.monotonic()
        if self.quiet or now - self.last_at < self.every:
            return
        frames = frames_analysed - self.last_frames
        fps = frames / (now - self.last_at)
        per_frame = self.faces / frames if frames else 0.0
        dominant = self.emotions.most_common(1)[0][0] if self.emotions else "-"
        line = (f"{fps:5.1f} fps | {per_frame:.1f} faces/frame | {dominant:8s} | "
                f"{rows_written} rows written{extra}")
        print(("\r" + line + "  ") if self.interactive else line, end="" if self.interactive else "\n",
              file=self.stream, flush=True)
        self.last_at, self.last_frames, self.faces = now, frames_analysed, 0
        self.emotions.clear()

    def finish(self) -> None:
        if self.interactive and not self.quiet:
            print(file=self.stream)


def summary(session_id: int, status: str, counters: dict, seconds: float, db_path) -> str:
    """The end-of-run report, ending with the command that charts this database."""
    c = counters
    return "\n".join([
        f"session {session_id} {status} after {seconds:.1f} s",
        f"frames: {c['frames_read']} read, {c['frames_analysed']} analysed ({c['fps']:.1f}/s), "
        f"{c['frames_without_face']} without face, {c['frames_dropped']} dropped, {c['frames_corrupt']} corrupt",
        f"faces logged: {c['faces']} ({c['faces_unclassified']} seen but not classifiable); "
        f"reconnects: {c['reconnects']}",
        f"log: {db_path}",
        f"see it: python app.py dashboard --db {db_path}",
    ])
