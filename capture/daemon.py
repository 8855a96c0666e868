"""The capture daemon: read a frame, detect faces, skip it if none, classify each face, log.

Habits (see ../shared/STYLE.md): one stop Event set by SIGINT, SIGTERM and SIGHUP; stopping analyses
the frames already read (the one in hand, a file's few queued ones), flushes every pending row
and closes the session row; the source is read and reconnected beside the loop
(capture/source.py); the daemon counts what it does and writes the counters to its session row
with every batch. No frame is ever stored: only numbers.

Faces that are found but cannot be classified (too small, cut by the frame edge, turned
away) are counted in `faces_unclassified` and never logged as a guess; a frame with no face
at all is counted in `frames_without_face`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from dataclasses import dataclass, field

import numpy as np

from capture.log import LogWriter, SessionDetails, open_log, start_session
from capture.markers import MARKER_PATH, KeyMarkers, MarkerError, MarkerInbox, serve_markers
from capture.preview import Preview
from capture.settings import DEFAULT_DB, DEFAULT_RECONNECT_SECONDS, RECORDED_SETTINGS, session_labels
from capture.source import (FrameReader, SourceLost, describe, file_fingerprint, masked_device, open_capture,
                            parse_device)
from capture.status import StatusLine, banner, file_progress, summary
from capture.tracking import SMOOTH_SECONDS, Tracker
from model.classifier import DEFAULT_MODEL, check_model_file
from model.errors import MoodlogError
from model.provenance import model_identity, moodlog_version
from model.recognizer import MIN_FACE, OK, warn_of_problems

READER_JOIN_SECONDS = 10.0
# The signals that stop capture cleanly; SIGHUP is POSIX only.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@dataclass
class CaptureOptions:
    """What `app.py start` was asked to do; the defaults are those of capture/settings.py."""
    device: str
    db: "str | os.PathLike" = DEFAULT_DB
    fps: float | None = None
    detector: str | None = None
    model: str | None = None
    min_face: int = MIN_FACE
    smooth: bool = False
    reconnect: float = DEFAULT_RECONNECT_SECONDS
    preview: bool = False
    quiet: bool = False
    label: list = field(default_factory=list)       # (name, value) pairs from --label
    note: str | None = None
    markers_port: int | None = None
    dashboard_url: str | None = None                # shown in the banner when --dashboard serves one


class StartInterrupted(MoodlogError):
    """Ctrl+C, SIGTERM or SIGHUP arrived while the daemon was starting: it stops before any session."""


@dataclass
class Summary:
    """How a run ended: `status` is 'stopped', 'finished' (end of file) or 'source lost'."""
    session_id: int
    status: str
    counters: dict
    seconds: float
    db: str
    error: SourceLost | None = None

    def text(self) -> str:
        if self.status == "stopped" and not self.counters.get("frames_read"):
            return "stopped before the first frame; nothing was logged and no session kept"
        return summary(self.session_id, self.status, self.counters, self.seconds, self.db)


def run(options: CaptureOptions, *, recognizer=None, stop: threading.Event | None = None) -> Summary:
    """Capture until stopped, the end of a file, or a live source lost for good.

    The device is opened before the model loads, so a wrong device fails in a moment
    (SourceUnavailable); neither a wrong device nor a bad model leaves a session behind.
    """
    device = parse_device(options.device)
    session_labels(options.label)                         # a label given twice: refused before anything opens
    stop = stop or threading.Event()
    with stop_on_signals(stop, quiet=options.quiet):     # from here on, Ctrl+C is a clean stop
        capture = open_capture(device)
        try:                                             # a bad --model or --db: free the camera first
            if recognizer is None:                       # a missing or non-model --model: refused before the log
                check_model_file(Path(options.model) if options.model else DEFAULT_MODEL)
            db = open_log(options.db, make_folder=str(options.db) == DEFAULT_DB)   # refused before the model loads
            recognizer = recognizer or load_recognizer(options)
            reader = FrameReader(device, capture, stop, fps=options.fps, reconnect_seconds=options.reconnect)
            if stop.is_set():                            # Ctrl+C during start-up: stop, no empty session
                raise StartInterrupted("stopped during start-up; nothing was logged")
            markers = open_markers(options, reader, stop)  # a taken port: refused before the session
            books = Books.open(options, recognizer, reader, db)
            books.markers = markers
        except BaseException:
            stop.set()                                   # also ends a marker server already listening
            capture.release()
            raise
        tracker = Tracker(SMOOTH_SECONDS if options.smooth else 0.0)
        preview = Preview(options.preview)
        failed = True                                    # an unexpected error still closes the books
        try:
            warn_of_problems(recognizer)
            if not options.quiet:
                print(banner(books.writer.session_id, describe(device, reader.live), reader.info, moodlog_version(),
                             options.db, options.dashboard_url), file=sys.stderr, flush=True)
            reader.start()
            capture_faces(frames(reader, stop), recognizer, tracker, books, preview)
            failed = False
        finally:
            stop.set()
            if reader.ident is not None:                 # started (an error may come before it is)
                reader.join(READER_JOIN_SECONDS)
            preview.close()
            books.close("failed" if failed else _ending(reader))
    return books.summary(reader.error)


def capture_faces(frames, recognizer, tracker: Tracker, books: "Books", preview: Preview) -> None:
    """The mission, one frame at a time. `None` frames are idle ticks that keep the books."""
    closer = LookCloser()
    for frame in frames:
        if frame is not None:
            faces = recognizer.recognize(frame.image, look_closer=closer.now())   # detect; classify in one batch
            closer.saw(faces)
            readable = [index for index, face in enumerate(faces) if face.status == OK]
            books.count(faces, readable)                  # no face, or unreadable: counted, not guessed
            boxes = [_box(faces[index]) for index in readable]
            followed = tracker.follow(boxes, [faces[index].probabilities for index in readable], frame.media_time)
            for index, box, (track, probabilities) in zip(readable, boxes, followed):
                books.log(frame, index, box, probabilities, track)
            preview.show(frame.image, faces)
        books.tick()                                      # gaps, counters, batch commit, status line


class LookCloser:
    """When a face-less frame is looked at again for a face that fills it (a second detection,
    `FaceFinder.detect_close_up`): right after a frame with a face, as a person leaning in passes
    the detector's reach, and on every EVERY-th face-less frame in a row otherwise (a close-up from
    the first frame on). An empty room then costs a tenth more detection, not twice as much."""
    EVERY = 10

    def __init__(self):
        self.faceless = 0

    def now(self) -> bool:
        return self.faceless % self.EVERY == 0

    def saw(self, faces) -> None:
        self.faceless = 0 if faces else self.faceless + 1


def frames(reader: FrameReader, stop: threading.Event):
    """Frames until stop or the end of the source; None after a quarter second without one. On a
    stop, the frames already read (a file's few queued ones) are analysed too, once the reader has
    stopped: the summary and the session's counters then account for every frame read."""
    while not stop.is_set() and not reader.exhausted():
        yield reader.next_frame(timeout=0.25)
    if stop.is_set() and reader.ident is not None:
        reader.join(READER_JOIN_SECONDS)
        if not reader.is_alive():                         # stuck in a read: its frames are left alone
            yield from reader.left_over()


class Tally:
    """What the analysis counts of a session: frames analysed, without a face, faces logged and
    not classifiable, beside the reader's own counters; `fps` is frames analysed per second."""

    def __init__(self, reader: FrameReader):
        self.reader = reader
        self.started = time.monotonic()
        self.analysed = {"frames_analysed": 0, "frames_without_face": 0, "faces": 0, "faces_unclassified": 0}

    def count(self, faces, readable) -> None:
        self.analysed["frames_analysed"] += 1
        self.analysed["frames_without_face"] += not faces
        self.analysed["faces_unclassified"] += len(faces) - len(readable)

    def counters(self) -> dict:
        seconds = max(time.monotonic() - self.started, 1e-9)
        return {**vars(self.reader.counters), **self.analysed, "fps": self.analysed["frames_analysed"] / seconds,
                **self.reader.measured()}


class Books(Tally):
    """The daemon's books: counters, the batched log writer, markers and the status line."""

    def __init__(self, writer: LogWriter, reader: FrameReader, status_line: StatusLine, db_path: str):
        super().__init__(reader)
        self.writer, self.status_line, self.db_path = writer, status_line, db_path
        self.markers: MarkerInbox | None = None

    @classmethod
    def open(cls, options: CaptureOptions, recognizer, reader: FrameReader, db) -> "Books":
        """Close sessions a crash left open in the log `db`, and start this session."""
        session_id = start_session(db, device=str(masked_device(options.device)), model=model_name(recognizer),
                                   detector=recognizer.detector_name,
                                   details=session_details(options, recognizer, reader.info,
                                                           file_fingerprint(reader.device)))
        return cls(LogWriter(db, session_id, labels=recognizer.labels), reader, StatusLine(options.quiet), str(options.db))

    def log(self, frame, index: int, box, probabilities, track: int) -> None:
        self.analysed["faces"] += 1
        # Every add may commit (a full batch, or a due one): the counters go in the same transaction,
        # so a crash never leaves rows the session's counters do not count.
        self.writer.update_counters(**self.counters())
        self.writer.add(frame.ts, frame.number, index, box, probabilities, track, frame.media_time)
        self.status_line.saw(self.writer.labels[int(np.argmax(probabilities))])

    def tick(self) -> None:
        """Record gaps and markers, and commit the batch with the counters once it is due."""
        for marker in self.markers.take() if self.markers else ():
            self.writer.add_marker(*marker)
            self.status_line.note(f"marker {marker[2]!r} at {marker[1]:.1f} s")
        while not self.reader.gaps.empty():
            gap = self.reader.gaps.get()
            self.writer.update_counters(**self.counters())     # add_gap commits at once
            self.writer.add_gap(gap.started_at, gap.ended_at, gap.reason)
        if self.writer.due():
            self.writer.update_counters(**self.counters())
            self.writer.flush()
        waiting = self.writer.waiting()
        if self.reader.lost_since is not None:
            waiting += f" | {self.reader.kind} lost, reconnecting ({time.time() - self.reader.lost_since:.0f} s)"
        if not self.reader.live:
            counters = self.reader.counters
            waiting += file_progress(counters.frames_read + counters.frames_corrupt, self.reader.info.frames,
                                     time.monotonic() - self.started)
        self.status_line.update(self.analysed["frames_analysed"], self.writer.written, waiting)

    def close(self, status: str) -> None:
        """Flush every pending row and gap, then write the session's end; retried while busy. A
        session stopped before its first frame (Ctrl+C during start-up) is removed, not kept empty."""
        self.status_line.finish()
        self.tick()
        self.writer.update_counters(**self.counters())
        if status == "stopped" and self.reader.counters.frames_read == 0 and not self.writer.pending \
                and self.writer.written == 0:
            self.writer.discard()
            return
        self.writer.close(status)

    def summary(self, error: SourceLost | None) -> Summary:
        status = _ending(self.reader)
        counters = {**self.counters(), "announced_frames": None if self.reader.live else self.reader.info.frames}
        return Summary(self.writer.session_id, status, counters, time.monotonic() - self.started, self.db_path, error)


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event, quiet: bool = False, then_ignore: bool = False):
    """SIGINT, SIGTERM and SIGHUP set `stop` (a second Ctrl+C too: the flush is never cut short).
    SIGHUP comes when the terminal or SSH session the daemon runs in is closed; by default it
    killed the daemon with the session left running and the last second's rows lost. Under nohup
    (SIGHUP ignored on entry) a hangup stays ignored and capture goes on.

    `then_ignore` leaves them ignored afterwards, for a process on its way out: Python would
    otherwise turn a late second Ctrl+C into a KeyboardInterrupt or, while shutting down, a kill
    by SIGINT, so a clean stop would end with a non-zero exit status.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    terminal = [fd for fd in (1, 2) if os.isatty(fd)]     # asked now: a hung-up terminal no longer says

    def handle(number, _frame):
        if number == getattr(signal, "SIGHUP", None):
            leave_terminal(terminal)
        elif stop.is_set() and not quiet:
            print("\nstill stopping: writing the last rows", file=sys.stderr, flush=True)
        stop.set()

    # A hangup that was ignored when the daemon started (`nohup ... &`) stays ignored: that is what
    # the user asked for, and the daemon must go on capturing after the terminal closes.
    hangup = getattr(signal, "SIGHUP", None)
    previous = {number: signal.signal(number, handle) for number in STOP_SIGNALS
                if not (number == hangup and signal.getsignal(number) == signal.SIG_IGN)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_IGN if then_ignore else handler)


def leave_terminal(fds: list[int]) -> None:
    """After a hangup, what was written to the terminal (the file descriptors `fds`) goes to
    /dev/null, as under nohup: the terminal is gone, and a write to it fails (EIO), which would end
    the daemon before it wrote its last rows and closed its session."""
    if not fds:
        return
    null = os.open(os.devnull, os.O_WRONLY)
    for fd in fds:
        os.dup2(null, fd)
    os.close(null)


def open_markers(options: CaptureOptions, reader: FrameReader, stop: threading.Event) -> MarkerInbox | None:
    """Markers during live capture: over HTTP with --markers-port, and from key presses when the
    daemon runs on a terminal. A file has no "now" to mark: import its markers from a CSV."""
    if not reader.live:
        if options.markers_port is not None:
            raise MarkerError("--markers-port is for cameras and streams; a file's markers come from a CSV "
                              "afterwards: python app.py markers FILE.csv --session N")
        return None
    inbox = MarkerInbox(reader.media_clock)
    if options.markers_port is not None:
        server = serve_markers(inbox, options.markers_port)
        port = server.server_address[1]
        stop_serving = threading.Thread(target=lambda: (stop.wait(), server.shutdown()), daemon=True)
        stop_serving.start()
        if not options.quiet:
            print(f"markers: curl -d label=... http://127.0.0.1:{port}{MARKER_PATH}", file=sys.stderr, flush=True)
    if not options.quiet and KeyMarkers.possible():
        KeyMarkers(inbox, stop).start()
        print("markers: press a letter or digit to mark the timeline", file=sys.stderr, flush=True)
    return inbox


def _ending(reader: FrameReader) -> str:
    if reader.error:
        return "source lost"
    return "finished" if reader.ended and reader.exhausted() else "stopped"


def _box(face) -> tuple[int, int, int, int]:
    return face.box.x, face.box.y, face.box.w, face.box.h


def model_name(recognizer) -> str:
    """The model file's name and the start of its content hash (sessions.model_sha256 has 20 digits)."""
    identity = model_identity(recognizer.classifier.path)
    return f"{identity.name} ({identity.sha256[:12]})"


def session_details(options: CaptureOptions, recognizer, info, fingerprint: dict | None = None) -> SessionDetails:
    """What the session row records of the source, the user's labels, the run and the model; with the
    settings, a file's `fingerprint` (capture/source.py file_fingerprint), by which a batch knows it later."""
    identity = model_identity(recognizer.classifier.path)
    settings = {name: getattr(options, name) for name in RECORDED_SETTINGS}
    settings["detector"] = recognizer.detector_name
    settings.update(fingerprint or {})
    return SessionDetails(kind="live" if info.live else "file", source_fps=info.fps, source_frames=info.frames,
                          source_duration=info.duration, labels=session_labels(options.label), note=options.note,
                          settings=settings, version=moodlog_version(), model_sha256=identity.sha256,
                          model_trained=identity.trained, label_set=identity.labels)


def load_recognizer(options: CaptureOptions):
    from model.classifier import EmotionClassifier
    from model.recognizer import Recognizer

    return Recognizer(EmotionClassifier(options.model), options.detector, min_face=options.min_face)
