"""Markers: events on a session's timeline (a task starts, a stimulus is shown, the participant
laughs), from a CSV file afterwards or, during live capture, from a local HTTP call or a key press.

A marker has both clocks of a detection (docs: capture/log.py): wall time and media time. A CSV
gives one of them per row: a time of day with its date (ISO 8601, e.g. 2026-11-29T14:03:05+01:00;
without an offset it is local time) is wall time; seconds or [h:]mm:ss[.f] is media time, the
position in the video. The other clock comes from the session's start (capture/log.py add_markers).
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import queue
import sys
import threading
import time
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from capture.status import in_foreground
from model.errors import MoodlogError

LONGEST_MARKER_LABEL = 200
MOST_BODY_BYTES = 4096
MARKER_PATH = "/marker"


class MarkerError(MoodlogError, ValueError):
    """A marker file or request that cannot be read; the message names the line or field."""


def read_marker_csv(path: str | Path) -> list[tuple[float | None, float | None, str]]:
    """A `time,label` CSV (a header row, comma separated, UTF-8) -> (wall time UTC epoch s or None,
    media time s or None, label) per row, in file order. MarkerError names the first bad line."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            rows = list(csv.reader(file))
    except (OSError, UnicodeDecodeError) as error:
        raise MarkerError(f"cannot read markers from {path}: {error}") from error
    if not rows or [cell.strip().lower() for cell in rows[0][:2]] != ["time", "label"]:
        raise MarkerError(f"{path}: the first line must be the header `time,label`")
    markers = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise MarkerError(f"{path}, line {number}: wants `time,label`, got {','.join(row)!r}")
        try:
            markers.append((*marker_time(row[0]), marker_label(row[1])))
        except MarkerError as error:
            raise MarkerError(f"{path}, line {number}: {error}") from None
    if not markers:
        raise MarkerError(f"{path} holds no markers, only its header")
    return markers


def marker_time(text: str) -> tuple[float | None, float | None]:
    """'12.5', '01:02.5' or '1:02:03' -> (None, media seconds); an ISO 8601 date and time ->
    (wall UTC epoch seconds, None)."""
    text = text.strip()
    try:
        parts = [float(part) for part in text.split(":")]
    except ValueError:
        parts = None
    if parts is not None and not all(math.isfinite(part) for part in parts):
        raise MarkerError(f"{text!r} is not a time")
    if parts is not None and 1 <= len(parts) <= 3:
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + part
        if seconds < 0 or any(part < 0 for part in parts) or any(part >= 60 for part in parts[1:]):
            raise MarkerError(f"{text!r} is not a position in the video (seconds, mm:ss or h:mm:ss)")
        return None, seconds
    try:
        return datetime.fromisoformat(text).timestamp(), None      # naive = local time
    except ValueError:
        raise MarkerError(f"{text!r} is neither a position in the video (seconds, mm:ss, h:mm:ss) nor a "
                          f"date and time (ISO 8601, e.g. 2026-11-29T14:03:05+01:00)") from None


def marker_label(text: str) -> str:
    label = " ".join(str(text).split())
    if not label or len(label) > LONGEST_MARKER_LABEL or not label.isprintable():
        raise MarkerError(f"a marker label wants 1-{LONGEST_MARKER_LABEL} printable characters")
    return label


class MarkerInbox:
    """Markers made during live capture, waiting for the daemon to log them with its next batch
    (it is the log's only writer). `put` is safe from any thread; `media_time` is the capture's
    media clock, read when the marker is made."""

    def __init__(self, media_time):
        self.media_time = media_time
        self.waiting: queue.SimpleQueue[tuple[float, float, str, str]] = queue.SimpleQueue()

    def put(self, label: str, source: str) -> tuple[float, float, str, str]:
        """Queue a marker now; returns it (wall time, media time, label, source)."""
        marker = (time.time(), self.media_time(), marker_label(label), source)
        self.waiting.put(marker)
        return marker

    def take(self) -> list[tuple[float, float, str, str]]:
        taken = []
        while not self.waiting.empty():
            taken.append(self.waiting.get())
        return taken


def serve_markers(inbox: MarkerInbox, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Accept markers over HTTP on host:port (127.0.0.1: this machine only) on a daemon thread:
    `POST /marker` with a JSON body {"label": "..."} or a form/query `label=...`; answers 201 with
    the marker's times, 400 for a bad label. Raises MarkerError when the port is taken."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):                                      # noqa: N802 (http.server's name)
            url = urlparse(self.path)
            if url.path != MARKER_PATH:
                return self._answer(HTTPStatus.NOT_FOUND, {"error": f"POST {MARKER_PATH} label=..."})
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MOST_BODY_BYTES:
                return self._answer(HTTPStatus.BAD_REQUEST, {"error": f"a body of 0-{MOST_BODY_BYTES} bytes, please"})
            try:
                body = self.rfile.read(length).decode("utf-8")
                label = _label_of(url.query, body, self.headers.get("Content-Type", ""))
                marked = inbox.put(label, "http")
            except UnicodeDecodeError:                          # stored as it came, it would be garbage
                return self._answer(HTTPStatus.BAD_REQUEST, {"error": "the label must be UTF-8 text"})
            except MarkerError as error:
                return self._answer(HTTPStatus.BAD_REQUEST, {"error": str(error)})
            return self._answer(HTTPStatus.CREATED, {"label": label, "ts": marked[0], "media_time": marked[1]})

        def do_GET(self):                                       # noqa: N802 (a browser's or curl's first try)
            return self._answer(HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"POST {MARKER_PATH} label=..."})

        def _answer(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        timeout = 5                                             # a client that sends less than it said: dropped

        def log_message(self, *args):                           # the daemon's console is its status line
            pass

        def handle_one_request(self):
            try:
                super().handle_one_request()
            except (OSError, ValueError):                       # a client gone mid-request: nothing to answer
                self.close_connection = True

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as error:
        raise MarkerError(f"cannot take port {port} for markers ({error.strerror}); choose another "
                          f"with --markers-port") from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="markers-http", daemon=True).start()
    return server


def _label_of(query: str, body: str, content_type: str) -> str:
    if "json" in content_type:
        try:
            label = json.loads(body).get("label")
            if not isinstance(label, str):
                raise ValueError("label is not text")
            return marker_label(label)
        except (ValueError, AttributeError):
            raise MarkerError('the body must be JSON like {"label": "task 2"}') from None
    fields = {**parse_qs(query, errors="strict"), **parse_qs(body, errors="strict")}
    if "label" not in fields and not any(value.strip() for value in (query, body)):
        return marker_label("")                                 # nothing sent: the label's own rule says so
    if "label" not in fields:
        raise MarkerError('send the label as a form field or query, label=task 2, or as JSON {"label": "task 2"}')
    return marker_label(fields["label"][0])


class KeyMarkers(threading.Thread):
    """During live capture on a terminal, each key pressed (a letter or digit) is a marker labelled
    "key X". The terminal is put in cbreak mode, which keeps Ctrl+C a signal, and restored on stop."""

    def __init__(self, inbox: MarkerInbox, stop: threading.Event, stream=None):
        super().__init__(name="markers-keys", daemon=True)
        self.inbox, self.stop, self.stream = inbox, stop, stream or sys.stdin
        self.saved = None

    @staticmethod
    def possible(stream=None) -> bool:
        """True on a terminal that this process has in the foreground. A daemon started with `&`
        shares the terminal but must not touch it: the kernel stops a background process that
        changes the terminal's settings (SIGTTOU) or reads from it (SIGTTIN), and capture with it."""
        stream = stream or sys.stdin
        try:
            import termios  # noqa: F401  (POSIX only)
            return stream.isatty() and in_foreground(stream.fileno())
        except (ImportError, ValueError, OSError):
            return False

    def run(self) -> None:
        import select
        import signal
        import termios
        import tty

        # Moved to the background later (Ctrl+Z, `bg`), restoring the terminal must not stop the
        # process: a thread that blocks SIGTTOU may change the terminal's settings from there.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
        fd = self.stream.fileno()
        self.saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            while not self.stop.is_set():
                ready, _, _ = select.select([fd], [], [], 0.2)
                if ready and in_foreground(fd):           # a read from the background would stop the process
                    for key in os.read(fd, 64).decode("utf-8", "ignore"):   # the byte itself: a text stream may wait
                        if key.isalnum():
                            self.inbox.put(f"key {key}", "key")
                elif ready:
                    self.stop.wait(0.2)
        finally:
            with contextlib.suppress(termios.error):     # a hung-up terminal has no settings to restore
                termios.tcsetattr(fd, termios.TCSADRAIN, self.saved)

