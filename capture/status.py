"""What the daemon tells its user: a live status line while running, a summary at the end."""

from __future__ import annotations

import collections
import os
import shlex
import sys
import time
from pathlib import Path

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
        if self.interactive and not in_foreground(self.stream.fileno()):
            return               # started with `&`: rewriting the line would write over the shell's prompt
        frames = frames_analysed - self.last_frames
        fps = frames / (now - self.last_at)
        per_frame = self.faces / frames if frames else 0.0
        dominant = self.emotions.most_common(1)[0][0] if self.emotions else "-"
        line = (f"{fps:5.1f} fps | {per_frame:.1f} faces/frame | {dominant:8s} | "
                f"{rows_written} rows written{extra}")
        self._show(("\r" + line + "  ") if self.interactive else line, end="" if self.interactive else "\n")
        self.last_at, self.last_frames, self.faces = now, frames_analysed, 0
        self.emotions.clear()

    def note(self, text: str) -> None:
        """A one-off message (a marker, a reconnect) on a line of its own, above the status line."""
        if not self.quiet:
            self._show(("\r" if self.interactive else "") + text + " " * 20)

    def finish(self) -> None:
        if self.interactive and not self.quiet:
            self._show("")

    def _show(self, text: str, end: str = "\n") -> None:
        """Print, if the terminal is still there: one closed under the daemon (a hangup) fails each
        write (EIO) until its SIGHUP sends the output to /dev/null, and a status line is never worth
        ending capture for."""
        try:
            print(text, end=end, file=self.stream, flush=True)
        except OSError:
            pass


def in_foreground(fd: int) -> bool:
    """Whether this process's group is the foreground group of the terminal `fd` (False for a file,
    a pipe, or a terminal that is gone)."""
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except (OSError, ValueError):
        return False


def command_hint(*args: str) -> str:
    """A command line that works pasted into a fresh shell in any folder: this interpreter and this
    checkout's app.py by absolute path, each argument quoted for the shell."""
    app = Path(__file__).resolve().parent.parent / "app.py"
    return " ".join(shlex.quote(str(part)) for part in (sys.executable, app, *args))


def db_option(db_path) -> tuple[str, ...]:
    """--db with the log's absolute path: the dashboard's default (data/moodlog.db) is relative to
    the folder it starts in, so only an absolute path reads the same log from any folder."""
    return ("--db", str(Path(db_path).resolve()))


def summary(session_id: int, status: str, counters: dict, seconds: float, db_path) -> str:
    """The end-of-run report, ending with the command that charts this database."""
    c = counters
    return "\n".join([
        f"session {session_id} {status} after {seconds:.1f} s",
        f"frames: {c['frames_read']} read, {c['frames_analysed']} analysed ({c['fps']:.1f}/s){_sampled_out(c)}, "
        f"{c['frames_without_face']} without face, {c['frames_dropped']} dropped, {c['frames_corrupt']} corrupt",
        f"faces logged: {c['faces']} ({c['faces_unclassified']} seen but not classifiable); "
        f"reconnects: {c['reconnects']}",
        *_cut_short(c),
        f"log: {db_path}",
        f"see it: {command_hint('dashboard', *db_option(db_path))}",
    ])


def _sampled_out(counters: dict) -> str:
    """The frames read but left out by --fps sampling (every other frame read is analysed or, live,
    dropped as stale), so that the line accounts for every frame read."""
    left_out = counters["frames_read"] - counters["frames_analysed"] - counters["frames_dropped"]
    return f", {left_out} left out by --fps" if left_out > 0 else ""


def _cut_short(counters: dict) -> list[str]:
    return cut_short_note(counters.get("announced_frames"), counters.get("source_frames"))


def cut_short_note(announced: int | None, found: int | None) -> list[str]:
    """A warning when a file ended well before the frame count its container announced (a recording
    cut short, or a damaged end): the frames it had were all read, but the video is not all there."""
    if announced and found is not None and found < 0.95 * announced:
        return [f"note: the file's container announced {announced:,} frames; only {found:,} could be read "
                "(a recording cut short, or damaged at its end)"]
    return []


def banner(session_id: int, source: str, info, version: str, db_path, dashboard_url: str | None) -> str:
    """What the daemon is doing, printed once when capture begins (after every start-up line, so it
    stays in view): the source with its size, rate and length, the session, the log, the dashboard."""
    parts = [f"{info.width}x{info.height}" if info.width else None]
    if info.live:
        parts.append("live")
    else:
        parts += [f"{info.fps:g} fps" if info.fps else None, f"{info.frames:,} frames" if info.frames else None,
                  _clock(info.duration) if info.duration else None]
    shown = ", ".join(p for p in parts if p)
    lines = [f"Moodlog {version}: session {session_id}, {source}" + (f" ({shown})" if shown else ""),
             f"  log: {db_path}"]
    if dashboard_url:
        lines.append(f"  dashboard: {dashboard_url}")
    lines.append("  Ctrl+C stops and keeps every row" if info.live else "  Ctrl+C stops early and keeps every row")
    return "\n".join(lines)


def file_progress(frames_done: int, frames_total: int | None, seconds: float) -> str:
    """' | 300/1,800 frames (17%), 0:12 left' for a file whose length is known, else ''."""
    if not frames_total or frames_done <= 0:
        return ""
    share = min(frames_done / frames_total, 1.0)
    left = seconds * (frames_total - frames_done) / frames_done
    return f" | {frames_done:,}/{frames_total:,} frames ({share:.0%}), {_clock(max(left, 0.0))} left"


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, minutes, rest = seconds // 3600, seconds % 3600 // 60, seconds % 60
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes}:{rest:02d}"


class BatchProgress:
    """Progress of a batch on stderr with tqdm: one bar for the whole batch (frames, with ETA) and
    one per file in hand (frames of that file, with ETA); a line per file when it is done."""

    def __init__(self, quiet: bool = False, stream=None):
        self.quiet, self.stream = quiet, stream or sys.stderr
        self.bars: dict[str, object] = {}
        self.done: dict[str, int] = {}
        self.totals: dict[str, int | None] = {}
        self.overall = None

    def begin(self, files, engine: str) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        print(f"batch: {len(files)} files on {engine}", file=self.stream, flush=True)
        self.tqdm = tqdm
        # Into a file or a pipe, bars redrawn with carriage returns are noise: a line per file instead.
        self.overall = tqdm(total=len(files), unit="file", desc="all files", position=0, file=self.stream,
                            dynamic_ncols=True, leave=True, disable=not self.stream.isatty())
        self.files, self.finished = len(files), 0

    def update(self, path: str, frames_done: int, frames_total: int | None) -> None:
        if self.quiet or self.overall is None or self.overall.disable:
            return
        bar = self.bars.get(path)
        if bar is None:
            bar = self.bars[path] = self.tqdm(total=frames_total, unit="frame", desc=Path(path).name[-30:],
                                              position=len(self.bars) + 1, file=self.stream, dynamic_ncols=True,
                                              leave=False)
        bar.update(frames_done - bar.n)

    def finish(self, path: str, result) -> None:
        if self.quiet or self.overall is None:
            return
        bar = self.bars.pop(path, None)
        if bar is not None:
            bar.close()
        faces = result.counters.get("faces", 0) if result.counters else 0
        what = f"failed: {result.error}" if result.status == "failed" else f"{result.status}, {faces} faces"
        self.overall.update(1)
        self.finished += 1
        self.overall.write(f"[{self.finished}/{self.files}] {Path(path).name}: {what}", file=self.stream)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        if self.overall is not None:
            self.overall.close()
