"""Batches: many video files (or folders of them) analysed in one command, one session per file.

How the work is spread:
- `local`: N worker processes on this machine (one core each; spawned, never forked, so no
  worker inherits a half-initialised TensorFlow), through concurrent.futures.
- `dask`: the same work on a Dask distributed cluster (`--cluster tcp://scheduler:8786`, or
  `--cluster local` for a LocalCluster of N processes on this machine). Every worker must reach
  the files by the same path and have Moodlog installed; see the README.

Either way each file is read by the daemon's own pipeline (capture/daemon.py `capture_faces`,
the same FrameReader, tracker and sampling on media time), so a file gives the same rows in a
batch as with `start FILE`. Workers send back their rows; this process is the only one that
writes the log: a session per file, written when the file is done. A file that fails (cannot be
opened, or its worker died) is reported and the batch goes on; the command exits 2 at the end.
Ctrl+C (`stop`) asks the workers to end their files where they are (local ones through an Event
they share, tasks on Dask through a distributed Event named for the batch): each file begun is
logged as a `stopped` session with every row read so far, as `start FILE` keeps one; files not
begun (cancelled), or not handed back within STOP_WAIT_SECONDS, are reported "not done" with
nothing logged.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from capture.daemon import CaptureOptions, Preview, Tally, capture_faces, load_recognizer, model_name, session_details
from capture.log import LogWriter, SessionDetails, finished_file_sessions, open_log, start_session
from capture.settings import DEFAULT_DB, SAMPLING_SETTINGS, session_labels
from capture.source import (FrameReader, SourceInfo, file_fingerprint, is_live, masked_device, open_capture,
                            parse_device, refuse_still_image)
from capture.status import command_hint, db_option
from capture.tracking import SMOOTH_SECONDS, Tracker
from model.classifier import DEFAULT_MODEL
from model.errors import MoodlogError
from model.faces import DEFAULT_DETECTOR
from model.lite import digest

VIDEO_SUFFIXES = frozenset({".avi", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv",
                            ".ts", ".mts", ".m2ts", ".3gp", ".ogv"})
PROGRESS_EVERY_SECONDS = 0.5
MOST_TRIES = 2                  # a file is read again once after its worker died
# After Ctrl+C, how long the workers get to hand back the files they were reading (they end on the
# frame in hand: milliseconds, unless one is still loading the model); a file later is "not done".
STOP_WAIT_SECONDS = 5.0
STOP_POLL_SECONDS = 0.5         # how often a task on Dask asks the scheduler whether the batch stopped
ENGINES = ("local", "dask")
SKIPPED = "skipped"             # a file's status in a batch that found it already logged (see already_logged)
DASK_TOPIC = "moodlog-progress"
MOODLOG_IMPORT = "import capture.batch"      # what a Dask scheduler and worker must be able to do
# What a terminal sends to every process of the job: Ctrl+C, and SIGHUP when it is closed.
TERMINAL_SIGNALS = {getattr(signal, name) for name in ("SIGINT", "SIGHUP") if hasattr(signal, name)}


class BatchError(MoodlogError, ValueError):
    """The batch's inputs or engine cannot be used (named in the message)."""


@dataclass
class FileResult:
    """What a worker read from one file: wall times (UTC epoch s) it began and ended, how it ended
    ('finished', 'stopped' or 'failed' with `error`), the session counters, the source's
    SourceInfo, the rows for LogWriter.add, the session's details (made where the model file is
    read, the worker), the recognizer's names, and the worker (host:pid)."""
    path: str
    started_at: float
    ended_at: float
    status: str
    counters: dict = field(default_factory=dict)
    info: SourceInfo | None = None
    rows: list = field(default_factory=list)
    details: SessionDetails | None = None
    model: str = ""
    detector: str = ""
    worker: str = ""
    error: str | None = None


def batch_inputs(paths) -> list[Path]:
    """Files as given and the video files in given folders (see videos_in), each once, as absolute
    paths under the first name given (links are not followed). Cameras, URLs and still images named
    as files are refused: a batch reads videos to their end."""
    found: list[Path] = []
    for text in paths:
        device = parse_device(text)
        if is_live(device):
            raise BatchError(f"{masked_device(text)} is a camera or a stream; a batch takes video files and folders "
                             "of them")
        path = Path(text)
        if path.is_dir():
            videos = videos_in(path)
            if not videos:
                raise BatchError(f"no video files in {path} (looked for {', '.join(sorted(VIDEO_SUFFIXES))})")
            found.extend(videos)
        elif path.is_file():
            refuse_still_image(path)
            found.append(path)
        else:
            raise BatchError(f"no such file or folder: {text}")
    # Each file once, however often it was named (a folder and a file in it, two links to one video),
    # under the first name it was given: a link's own name (p01.avi -> raw/3f2a.avi) is what the
    # researcher chose, and it is the name the session keeps.
    named: dict[Path, Path] = {}
    for path in found:
        named.setdefault(path.resolve(), path.absolute())
    return list(named.values())


def videos_in(folder: Path) -> list[Path]:
    """The video files (by suffix, so no photo) under `folder`, recursively, in name order; hidden
    ones left out, and those in hidden folders: a name that begins with a dot is macOS's ._* resource
    fork of a video, an editor's or a system's file (.Trash), never a recording to analyse."""
    return sorted(path for path in folder.rglob("*") if path.suffix.lower() in VIDEO_SUFFIXES and path.is_file()
                  and not any(part.startswith(".") for part in path.relative_to(folder).parts))


# ----------------------------------------------------------------------------------- workers

_recognizers: dict = {}


def analyse_file(path: str, options: CaptureOptions, report=None, stop=None) -> FileResult:
    """Read one file through the daemon's pipeline in this process; never raises for a bad file.
    `report(path, frames_done, frames_total)` is called about every PROGRESS_EVERY_SECONDS. Once
    `stop` (an Event) is set, the file ends after the frame in hand, as 'stopped' with its rows so
    far; a file not begun then ends at once, 'stopped' with no counters."""
    started = time.time()
    worker = f"{os.uname().nodename}:{os.getpid()}"
    fingerprint = file_fingerprint(path)                  # before it is read: a file still growing is told apart
    stop = stop or threading.Event()
    try:
        key = (options.model, options.detector, options.min_face)
        if key not in _recognizers and not stop.is_set():     # loaded once per worker process
            _recognizers[key] = load_recognizer(options)
        if stop.is_set():
            return FileResult(path, started, time.time(), "stopped", worker=worker)
        recognizer = _recognizers[key]
        capture = open_capture(path)
    except (MoodlogError, OSError) as error:
        return FileResult(path, started, time.time(), "failed", worker=worker, error=str(error))
    reader = InlineReader(path, capture, stop, fps=options.fps)
    collector = Collector(reader, path, report)
    tracker = Tracker(SMOOTH_SECONDS if options.smooth else 0.0)
    try:
        capture_faces(reader.frames(), recognizer, tracker, collector, Preview(False))
    finally:
        capture.release()
    status = "finished" if reader.ended else "stopped"
    return FileResult(path, started, time.time(), status, collector.counters(), reader.info, collector.rows,
                      session_details(options, recognizer, reader.info, fingerprint), model_name(recognizer),
                      recognizer.detector_name, worker)


class InlineReader(FrameReader):
    """The daemon's FrameReader (the same sampling on media time, damaged-frame handling and
    counters) read on the worker's own thread: decoding and analysis then share one core, so N
    workers use N cores, where a reader thread would let each worker spill onto a second one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ready: list = []

    def _hand_over(self, frame) -> None:
        self.ready.append(frame)

    def frames(self):
        """Every wanted frame of the file, in order, read as they are asked for, until its end or
        the stop; a frame read is always handed over, so every frame counted as read is analysed."""
        while True:
            while self.ready:
                yield self.ready.pop(0)
            if self.stop.is_set() or not self._read_one():
                return


class Collector(Tally):
    """Stands where the daemon's Books stand: keeps the rows in memory for the process that
    writes the log, and reports progress instead of a status line."""

    def __init__(self, reader: FrameReader, path: str, report=None):
        super().__init__(reader)
        self.path, self.report = path, report
        self.rows: list[tuple] = []
        self.reported_at = 0.0

    def log(self, frame, index: int, box, probabilities, track: int) -> None:
        self.analysed["faces"] += 1
        self.rows.append((frame.ts, frame.number, index, box, [float(p) for p in probabilities], track,
                          frame.media_time))

    def tick(self) -> None:
        if self.report and time.monotonic() - self.reported_at >= PROGRESS_EVERY_SECONDS:
            self.reported_at = time.monotonic()
            counters = self.reader.counters
            self.report(self.path, counters.frames_read + counters.frames_corrupt, self.reader.info.frames)


def _quiet_worker(progress=None, stopping=None) -> None:
    """A local worker: one core, Ctrl+C and a hangup (which a terminal sends to every process of the
    batch) left to the process that owns the batch (which sets `stopping`), progress to its queue, and
    (on Linux) killed with its parent, so a batch killed with -9 leaves no orphans."""
    global _progress, _stopping
    for number in TERMINAL_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, TERMINAL_SIGNALS)    # blocked since its spawn (LocalEngine.submit)
    _die_with_parent()
    one_core()
    _progress, _stopping = progress, stopping


def _die_with_parent() -> None:
    """prctl(PR_SET_PDEATHSIG, SIGKILL): the kernel kills this worker when its parent dies."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass                                              # not Linux: orphans are left to the OS


_progress = None
_stopping = None


def one_core() -> None:
    """Keep a worker to one core, so that N workers use N cores."""
    import cv2

    cv2.setNumThreads(1)
    for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ[name] = "1"


def _analyse_locally(path: str, options: CaptureOptions) -> FileResult:
    report = (lambda *message: _progress.put(message)) if _progress is not None else None
    return analyse_file(path, options, report, _stopping)


def _analyse_on_dask(path: str, options: CaptureOptions, stop_name: str) -> FileResult:
    from distributed import get_worker

    one_core()
    worker = get_worker()
    report = lambda *message: worker.log_event(DASK_TOPIC, message)
    return analyse_file(path, options, report, StopOnCluster(stop_name))


def dask_setup(worker) -> None:
    """Dask's preload hook, run in each worker process of DaskEngine's LocalCluster as it starts: such a
    worker is in the batch's process group, which a terminal's Ctrl+C and hangup reach, and leaves them
    to the batch (which ends its files through stop_files), as local workers do. They killed it, with
    tracebacks, and the rows of the file in hand were lost."""
    for number in TERMINAL_SIGNALS:
        signal.signal(number, signal.SIG_IGN)


class StopOnCluster:
    """A batch's stop as a task on Dask sees it: set once the batch's distributed Event `name` is
    (DaskEngine.stop_files). The scheduler is asked at most every STOP_POLL_SECONDS, so the frame
    loop, which asks before every frame, pays nothing for it. Stands where a threading.Event
    stands for analyse_file, which only asks is_set()."""

    def __init__(self, name: str):
        from distributed import Event

        self.event = Event(name)
        self.asked_at = -STOP_POLL_SECONDS
        self.stopped = False

    def is_set(self) -> bool:
        if not self.stopped and time.monotonic() - self.asked_at >= STOP_POLL_SECONDS:
            self.asked_at = time.monotonic()
            self.stopped = self.event.is_set()
        return self.stopped


# ----------------------------------------------------------------------------------- engines

@contextlib.contextmanager
def _terminal_signals_blocked():
    """TERMINAL_SIGNALS held back from this thread inside the block, and from processes it starts
    there, which inherit the mask."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, TERMINAL_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


class LocalEngine:
    """N spawned worker processes on this machine. A worker that dies (out of memory, a decoder
    crash) breaks the pool; `restart` makes a new one so the batch goes on."""

    def __init__(self, workers: int):
        self.workers = workers
        context = get_context("spawn")
        self.context = context
        # The queue's locks start multiprocessing's resource tracker, a helper process in the batch's
        # process group: it ignores Ctrl+C itself, and started with a hangup blocked it outlives one too
        # (killed, it was relaunched with a warning and a KeyError traceback for each lock).
        with _terminal_signals_blocked():
            self.progress = context.Queue()
        self.stopping = context.Event()                     # set on Ctrl+C: workers end their files
        self.pool = self._new_pool()
        self.name = f"{workers} local worker process{'es' if workers > 1 else ''}"

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=self.context, initializer=_quiet_worker,
                                   initargs=(self.progress, self.stopping))

    def submit(self, path: str, options: CaptureOptions):
        # A worker is spawned by the submit that needs it and inherits this thread's signal mask. With
        # SIGINT and SIGHUP blocked meanwhile, a Ctrl+C that reaches the worker during its imports waits
        # until _quiet_worker ignores it, instead of printing a KeyboardInterrupt traceback from inside
        # them; here it waits only until the submit returns, and then stops the batch as ever.
        with _terminal_signals_blocked():
            return self.pool.submit(_analyse_locally, path, options)

    def wait(self, futures, timeout: float):
        return wait(futures, timeout=timeout, return_when=FIRST_COMPLETED)[0]

    def restart(self) -> None:
        self._stop_workers()
        self.pool = self._new_pool()

    def stop_files(self, futures, timeout: float) -> set:
        """Ctrl+C: files not begun are cancelled, the workers end the files in hand after the frame
        they are analysing; the futures done within `timeout` seconds (cancelled ones among them)."""
        self.stopping.set()
        for future in futures:
            future.cancel()
        return wait(futures, timeout=timeout)[0]

    def messages(self) -> list[tuple]:
        taken = []
        while True:
            try:
                taken.append(self.progress.get_nowait())
            except (queue.Empty, OSError, ValueError):
                return taken

    def close(self, cancel: bool = False) -> None:
        if cancel:                                          # stop the files in hand at once
            self._stop_workers()
        else:
            self.pool.shutdown(wait=True)
        self.progress.close()

    def _stop_workers(self) -> None:
        processes = list((getattr(self.pool, "_processes", None) or {}).values())   # before shutdown clears it
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(5)


class DaskEngine:
    """A Dask distributed cluster: an existing scheduler's address, or 'local' for a LocalCluster
    of N single-threaded worker processes on this machine."""

    def __init__(self, address: str, workers: int):
        try:
            from distributed import Client, LocalCluster
        except ImportError as error:
            raise BatchError("--engine dask needs Dask distributed: pip install -r requirements.txt") from error
        self.cluster = None
        try:
            if address == "local":
                with _terminal_signals_blocked():        # until its workers ignore them (dask_setup)
                    self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                dashboard_address=None, silence_logs=50, preload=[__name__])
                self.client = Client(self.cluster)
            else:
                self.client = Client(address, timeout="10s")
        except (OSError, TimeoutError, ValueError) as error:    # ValueError: not an address ('bogus', 'foo://x')
            if self.cluster is not None:
                self.cluster.close()
            raise BatchError(_unreachable(address, error)) from None
        self.stop_name = f"moodlog-stop-{uuid.uuid4()}"          # a distributed Event's: see stop_files
        try:
            self._check_moodlog_importable(address)
        except BatchError:
            self.close()
            raise
        self.received: queue.SimpleQueue = queue.SimpleQueue()
        self.client.subscribe_topic(DASK_TOPIC, lambda event: self.received.put(tuple(event[1])))
        where = "a local Dask cluster" if self.cluster is not None else f"the Dask cluster at {address}"
        self.name = f"{where} ({len(self.client.scheduler_info(n_workers=-1)['workers'])} workers)"

    def _check_moodlog_importable(self, address: str) -> None:
        """BatchError naming the cause when the scheduler or a worker cannot import Moodlog: the scheduler
        unpickles each task (a function of capture/batch.py), and without this checkout on its path every
        file failed with Dask's opaque 'Error during deserialization of the task graph'."""
        try:
            self.client.run_on_scheduler(exec, MOODLOG_IMPORT)
        except ImportError as error:
            raise BatchError(_not_importable(f"the Dask scheduler at {address}", error)) from None
        for worker, outcome in self.client.run(exec, MOODLOG_IMPORT, on_error="return").items():
            if isinstance(outcome, ImportError):
                raise BatchError(_not_importable(f"the Dask worker at {worker}", outcome))

    def submit(self, path: str, options: CaptureOptions):
        return self.client.submit(_analyse_on_dask, path, options, self.stop_name, pure=False,
                                  key=f"moodlog-{path}-{time.time()}")

    def wait(self, futures, timeout: float):
        from distributed import wait as dask_wait

        try:
            return dask_wait(list(futures), timeout=timeout, return_when="FIRST_COMPLETED").done
        except TimeoutError:
            return set()

    def messages(self) -> list[tuple]:
        taken = []
        while not self.received.empty():
            taken.append(self.received.get())
        return taken

    def stop_files(self, futures, timeout: float) -> set:
        """Ctrl+C: the batch's Event tells the tasks reading files to end after the frame in hand (they
        look every STOP_POLL_SECONDS) and hand back their rows so far; tasks that no worker has taken
        are cancelled. The futures done within `timeout` seconds (cancelled ones among them)."""
        from distributed import Event

        Event(self.stop_name, client=self.client).set()
        taken = {key for keys in self.client.processing().values() for key in keys}
        self.client.cancel([future for future in futures if future.key not in taken])
        deadline = time.monotonic() + timeout             # (Dask's wait raises for cancelled futures)
        while not all(future.done() for future in futures) and time.monotonic() < deadline:
            time.sleep(0.05)
        return {future for future in futures if future.done()}

    def close(self, cancel: bool = False) -> None:
        # The stop Event stays set (a few bytes on the scheduler): a task not handed back in time, still
        # loading the model, sees it later and ends instead of reading its whole file.
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _not_importable(where: str, error: ImportError) -> str:
    checkout = Path(__file__).resolve().parent.parent
    return (f"{where} cannot import Moodlog ({error}); start the scheduler and every worker with this "
            f"checkout's requirements installed and the checkout on their path: PYTHONPATH={checkout} "
            "(see the README's batches on Dask)")


def _unreachable(address: str, error: Exception) -> str:
    if isinstance(error, ValueError):
        return (f"--cluster {address!r} is not a Dask scheduler's address ({error}); give tcp://HOST:PORT "
                "(e.g. tcp://scheduler:8786), or 'local' for a Dask cluster on this machine")
    return f"cannot reach the Dask scheduler at {address}: {error}"


def chosen_engine(engine: str | None, cluster: str | None) -> str:
    """The engine a batch runs on: the one asked for, else Dask when a --cluster is given (a
    scheduler's address says where to run), else local. BatchError for an unknown engine, and for
    --cluster with --engine local, which contradict each other."""
    engine = engine or ("dask" if cluster is not None else "local")
    if engine not in ENGINES:
        raise BatchError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "local" and cluster is not None:
        raise BatchError("--cluster names a Dask cluster, which --engine local does not use; "
                         "drop --engine local (--cluster alone runs on Dask) or drop --cluster")
    return engine


def open_engine(engine: str, workers: int, cluster: str | None):
    if engine == "local":
        return LocalEngine(workers)
    return DaskEngine(cluster or "local", workers)


# ----------------------------------------------------------------------------------- the batch

@dataclass
class BatchSummary:
    """Per file: its session id (None when it failed) and status; the error for failed ones."""
    sessions: list[tuple[str, int | None, str, str | None]]
    seconds: float
    engine: str
    db: str

    @property
    def failed(self) -> list[tuple[str, str]]:
        return [(path, error) for path, session_id, status, error in self.sessions if status == "failed"]

    @property
    def stopped(self) -> list[str]:
        return [path for path, session_id, status, _ in self.sessions if session_id is None and status == "stopped"]

    @property
    def skipped(self) -> list[tuple[str, int]]:
        """(path, session id) of the files this log already held a finished session of (see already_logged)."""
        return [(path, session_id) for path, session_id, status, _ in self.sessions if status == SKIPPED]

    def text(self) -> str:
        done = [s for s in self.sessions if s[1] is not None and s[2] != SKIPPED]
        lines = [f"batch of {len(self.sessions)} files on {self.engine}: {len(done)} logged, {len(self.failed)} failed"
                 + (f", {len(self.skipped)} already in the log, skipped" if self.skipped else "")
                 + (f", {len(self.stopped)} not done (stopped)" if self.stopped else "") + f", {self.seconds:.1f} s"]
        lines += [f"  session {session_id}: {path} ({status})" + (f"; {note}" if note else "")
                  for path, session_id, status, note in done]
        lines += [f"  skipped {path}: already in the log as session {session_id}" for path, session_id in self.skipped]
        lines += [f"  {line}" for line in self.failure_lines()]
        lines += [f"  not done {path}: stopped before it was done" for path in self.stopped]
        if self.skipped:
            lines.append("  (--again analyses the skipped files anew)")
        if self.stopped:
            lines.append("  run the same command again for the files not done: those already in the log are skipped")
        lines += [f"log: {self.db}", f"see it: {command_hint('dashboard', *db_option(self.db))}"]
        return "\n".join(lines)

    def failure_lines(self) -> list[str]:
        return [f"FAILED {path}: {error}" for path, error in self.failed]

    def quiet_text(self) -> str:
        """What --quiet still says (on stderr): each file that failed, and how many were not done."""
        lines = self.failure_lines()
        if self.stopped:
            lines.append(f"{len(self.stopped)} of {len(self.sessions)} files not done: stopped before they were done, "
                         "nothing of them logged")
        return "\n".join(lines)


def run_batch(paths, options: CaptureOptions, *, workers: int = 1, engine: str | None = None,
              cluster: str | None = None, stop: threading.Event | None = None, progress=None,
              again: bool = False) -> BatchSummary:
    """Analyse every file of `paths` (see batch_inputs) on `engine` (see chosen_engine), one session per file in
    `options.db`, written by this process as each file is done; a file the log already holds a finished
    session of, made the same way, is skipped unless `again` (see already_logged). `progress` (a
    BatchProgress or None) shows the work; `stop` (set by Ctrl+C) keeps the files done, logs each file
    in hand as a 'stopped' session with its rows so far, and cancels the rest (not done)."""
    files = batch_inputs(paths)
    if workers < 1:
        raise BatchError("--workers must be at least 1")
    engine = chosen_engine(engine, cluster)
    session_labels(options.label)                         # a label given twice: refused before any work
    db = open_log(options.db, make_folder=str(options.db) == DEFAULT_DB)   # a bad --db: refused before any work
    began = time.monotonic()
    logged = {} if again else already_logged(db, files, options)
    outcome: dict[str, tuple] = {path: (session_id, SKIPPED, None) for path, session_id in logged.items()}
    to_do = [str(path) for path in files if str(path) not in logged]
    where = "no worker (nothing left to analyse)"
    if to_do:
        where = _analyse(to_do, db, options, open_engine(engine, min(workers, len(to_do)), cluster),
                         stop or threading.Event(), progress, outcome)
    sessions = [(str(path), *outcome[str(path)]) for path in files]
    return BatchSummary(sessions, time.monotonic() - began, where, str(options.db))


def _analyse(files: list[str], db, options: CaptureOptions, pool, stop: threading.Event, progress,
             outcome: dict) -> str:
    """The files on the engine `pool`, each one's (session id, status, note) put in `outcome` as it is
    done (see run_batch); closes the pool. Returns the pool's name."""
    if progress:
        progress.begin(files, pool.name)
    futures = {pool.submit(path, options): path for path in files}
    tries = {path: 1 for path in files}
    try:
        while futures and not stop.is_set():
            done = pool.wait(futures, timeout=0.25)
            for message in pool.messages():
                if progress:
                    progress.update(*message)
            if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                futures = _after_a_dead_worker(pool, futures, tries, outcome, options, progress)
                continue
            for future in done:
                path = futures.pop(future)
                result = _result_of(future, path)
                outcome[path] = write_result(db, result, options)
                if progress:
                    progress.finish(path, result)
        if futures:
            futures = _log_files_in_hand(pool, futures, db, options, outcome, progress)
    finally:
        pool.close(cancel=bool(futures))
        if progress:
            progress.close()
    for path in futures.values():
        outcome[path] = (None, "stopped", "stopped (Ctrl+C) before it was done: nothing logged")
    return pool.name


def already_logged(db, files, options: CaptureOptions) -> dict[str, int]:
    """The files this log already holds a finished session of, made the same way, so that a batch run
    again (after Ctrl+C, or to add new files to a folder) does not log them twice: path -> that session's
    id. The same way: the same path, size and modification time (where the session recorded them:
    sessions of older versions did not), model content, SAMPLING_SETTINGS and labels."""
    wanted = _recipe(options)
    fingerprints = {str(path): file_fingerprint(str(path)) for path in files}
    found: dict[str, int] = {}
    for session in finished_file_sessions(db) if wanted is not None else ():
        settings = session["settings"]
        path = settings.get("file_path", session["device"])      # the device as typed: maybe relative
        fingerprint = fingerprints.get(path)
        if fingerprint is None or path in found:
            continue
        same_file = all(settings.get(name, value) == value for name, value in fingerprint.items())
        if same_file and _recorded_recipe(session) == wanted:
            found[path] = session["id"]
    return found


def _recorded_recipe(session: dict) -> tuple:
    """What made a session's rows, as it recorded it (finished_file_sessions): see _recipe."""
    settings = session["settings"]
    return session["model_sha256"], tuple(settings.get(name) for name in SAMPLING_SETTINGS), session["labels"]


def _recipe(options: CaptureOptions) -> tuple | None:
    """What makes a file's rows under `options`: the model's content hash, the sampling settings and the
    labels, as a session records them. None when the model file cannot be read (a batch then skips
    nothing, and each file reports the model's error)."""
    try:
        model_hash = digest(Path(options.model) if options.model else DEFAULT_MODEL)
    except OSError:
        return None
    sampling = {name: getattr(options, name) for name in SAMPLING_SETTINGS}
    sampling["detector"] = options.detector or DEFAULT_DETECTOR   # what the session records (Recognizer's name)
    return model_hash, tuple(sampling[name] for name in SAMPLING_SETTINGS), session_labels(options.label)


def _log_files_in_hand(pool, futures: dict, db, options, outcome: dict, progress) -> dict:
    """Ctrl+C: each file a worker was reading is ended where it is and logged as a 'stopped'
    session with its rows so far (one that ended meanwhile, as it ended). Returns the futures of
    files not begun, cancelled, or not handed back in STOP_WAIT_SECONDS: not done, nothing logged."""
    for future in pool.stop_files(futures, STOP_WAIT_SECONDS):
        if future.cancelled() or isinstance(future.exception(), BrokenProcessPool):
            continue
        result = _result_of(future, futures[future])
        if result.status == "stopped" and not result.counters.get("frames_read"):
            continue                                      # not begun, or not a frame read yet
        path = futures.pop(future)
        outcome[path] = write_result(db, result, options)
        if progress:
            progress.finish(path, result)
    return futures


def _after_a_dead_worker(pool, futures: dict, tries: dict, outcome: dict, options, progress) -> dict:
    """A worker died and took the pool with it: every file in hand failed with BrokenProcessPool,
    not only the one that killed it. A new pool takes them all again, once; a file in hand when a
    pool broke twice is reported as failed, so one bad file cannot stop the batch."""
    for path in list(futures.values()):
        tries[path] += 1
    retry = [path for path in futures.values() if tries[path] <= MOST_TRIES]
    for path in futures.values():
        if tries[path] > MOST_TRIES:
            message = "its worker process died twice while reading it (out of memory, or a decoder crash)"
            outcome[path] = (None, "failed", message)
            if progress:
                now = time.time()
                progress.finish(path, FileResult(path, now, now, "failed", error=message))
    pool.restart()
    return {pool.submit(path, options): path for path in retry}


def _result_of(future, path: str) -> FileResult:
    try:
        return future.result()
    except Exception as error:                            # a worker died or raised: this file failed
        now = time.time()
        return FileResult(path, now, now, "failed", error=f"{type(error).__name__}: {error}")


def write_result(db, result: FileResult, options: CaptureOptions) -> tuple[int | None, str, str | None]:
    """One session for one file's rows, in batched transactions; (session id, status, error)."""
    if result.status == "failed":
        return None, "failed", result.error
    details = result.details
    details.settings["worker"] = result.worker
    session_id = start_session(db, device=result.path, model=result.model, detector=result.detector,
                               details=details, started_at=result.started_at)
    writer = LogWriter(db, session_id, batch_seconds=float("inf"), labels=tuple(details.label_set))
    for row in result.rows:
        writer.add(*row)
    writer.update_counters(**result.counters)
    writer.close(result.status, ended_at=result.ended_at)
    if result.status == "stopped":
        return session_id, "stopped", (f"Ctrl+C came after {result.counters.get('frames_read', 0):,} frames: "
                                       "their rows are kept, the rest of the file was not read")
    return session_id, result.status, cut_short(result.info, result.counters)


def cut_short(info: SourceInfo | None, counters: dict) -> str | None:
    """The note a file ended well before the frame count its container announced gets (see
    capture/status.py), or None."""
    from capture.status import cut_short_note

    notes = cut_short_note(info.frames if info else None, counters.get("source_frames"))
    return notes[0].removeprefix("note: ") if notes else None
