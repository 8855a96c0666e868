"""The capture log: the SQLite schema and the only code that writes it.

Why it looks like this:
- WAL mode and a long busy timeout, so two daemons can write and a dashboard can read the
  same file at once without "database is locked". The batches written while capture runs wait
  only briefly (FLUSH_BUSY_TIMEOUT_MS) and otherwise stay in memory, so another program holding
  the write lock never stalls the analysis.
- Rows are buffered and committed in batches (at most `BATCH_SECONDS` apart), so logging
  costs little; a crash or `kill -9` loses at most the batch in memory.
- Timestamps are UTC seconds since the epoch (REAL), so time buckets are integer arithmetic
  that SQLite does fast on millions of rows; the dashboard shows local time.
- `emotion_minutes` is a rollup the writer maintains in the same transaction as the rows it
  summarises, so long histories chart without scanning every detection: per session, minute and
  top emotion, the faces and (schema 3) the sums of each emotion's probability, from which mean
  probabilities (intensity) and valence over any range come without reading the detections.
- Every detection has two clocks: `ts` (wall time) and `media_time` (seconds from the start of its
  source: the container's timestamp in a file, time since capture began when live).
- Room to grow without another migration of users' logs (schema 3): each session names its
  model's label set (`label_set`, JSON list) and a detection of a model with other labels than
  the seven emotions keeps its probabilities as JSON in `probabilities`; each session has a
  `uuid`, so logs of many capture hosts can be gathered into one database without id clashes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import uuid
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from model.errors import MoodlogError
from model.labels import EMOTIONS

SCHEMA_VERSION = 3
BUSY_TIMEOUT_MS = 30_000
# How long a batch written during capture waits for another program's write lock before its rows
# stay in memory for the next batch. Moodlog's own writers hold the lock for milliseconds; another
# program may hold it for as long as it likes (DB Browser for SQLite with unsaved edits), and a
# 30 s wait on the analysis thread stopped the analysis and dropped a live source's frames. The
# last flush, when the session closes, waits the whole BUSY_TIMEOUT_MS, retried (LogWriter.close).
FLUSH_BUSY_TIMEOUT_MS = 50
MARKER_SLACK_SECONDS = 1.0
# Two markers of a session with the same label this close on both clocks are one marker given twice
# (a CSV imported again); times in a CSV are written to the millisecond at the finest.
SAME_MARKER_SECONDS = 0.0005
BATCH_SECONDS = 1.0
BATCH_ROWS = 5_000
SESSION_COUNTERS = ("frames_read", "frames_analysed", "frames_without_face", "frames_dropped",
                    "frames_corrupt", "reconnects", "faces", "faces_unclassified")
LOG_TABLES = ("sessions", "detections", "gaps", "emotion_minutes", "markers")
DETECTION_COLUMNS = ("session_id", "ts", "frame", "face", "track", "x", "y", "w", "h", "emotion",
                     "confidence") + EMOTIONS + ("media_time",)
# Schema 3: what a session was, how it was made, and by what (see SessionDetails).
SUM_COLUMNS = tuple(f"sum_{name}" for name in EMOTIONS)
# A detection of a taught model: its label in `emotion`, every label's probability in `probabilities`.
CUSTOM_DETECTION_COLUMNS = DETECTION_COLUMNS[:DETECTION_COLUMNS.index("confidence") + 1] + ("media_time", "probabilities")
# The columns each table of ours has had since the first Moodlog and that no migration adds. A
# database whose tables lack them is another program's (`sessions` and `markers` are common names),
# and is refused before anything is written to it.
REQUIRED_COLUMNS = {
    "sessions": ("id", "device", "started_at", "ended_at", "updated_at", "model", "detector", "host", "pid",
                 "status", "fps"),
    "detections": ("id", "session_id", "ts", "frame", "face", "track", "x", "y", "w", "h", "emotion",
                   "confidence") + EMOTIONS,
    "gaps": ("id", "session_id", "started_at", "ended_at", "reason"),
    "emotion_minutes": ("session_id", "minute", "emotion", "faces"),
    "markers": ("id", "session_id", "ts", "media_time", "label", "source"),
}
SESSION_DETAILS = {"uuid": str, "kind": str, "source_fps": float, "source_frames": int, "source_duration": float,
                   "labels": str, "note": str, "settings": str, "version": str, "model_sha256": str,
                   "model_trained": str, "label_set": str}


class LogError(MoodlogError, RuntimeError):
    """The log cannot be opened (not a database, or another program's), or could not be written
    even after retries (disk full, read-only, locked for too long)."""


def open_log(path: str | os.PathLike, *, make_folder: bool = False, must_exist: bool = False) -> sqlite_utils.Database:
    """Open (creating if needed) a Moodlog database in WAL mode with the current schema.

    A path that cannot be a Moodlog log raises LogError naming it, before anything is written:
    a folder, a path in a folder that does not exist (never created: it is most often a typo), a
    file that is not SQLite, or another program's database, which must not be
    switched to WAL and filled with our tables because of a typo in `--db`.
    """
    path = Path(path)
    connection = None
    if must_exist and not path.is_file() and not path.is_dir():
        raise LogError(f"no log at {path}")     # a command that adds to a log must not create one
    try:
        if path.is_dir():
            raise LogError("it is a folder; give a file name, e.g. data/moodlog.db")
        if any(folder.exists() and not folder.is_dir() for folder in path.parents):
            raise LogError("a folder on its path is a file")
        if make_folder:                      # the default log's own folder (data/)
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.parent.is_dir():       # a typo in --db's folder must not make folders
            raise LogError(f"the folder {path.parent} does not exist; create it first or check the path")
        checked = path.is_file() and path.stat().st_size > 0 and _refuse_foreign_read_only(path)
        connection = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        db = sqlite_utils.Database(connection)
        if not checked:                      # a new or empty file, or one that cannot be opened read-only
            _refuse_foreign(db)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _prepare_while_others_start(db)
    except (OSError, sqlite3.DatabaseError, LogError) as error:
        if connection is not None:
            connection.close()
        raise LogError(f"cannot use {path} as the Moodlog log: {error}") from error
    return db


def read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot change the file: not even fold another program's leftover WAL into
    it when it closes, as a read-write connection does."""
    return sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)


def _refuse_foreign_read_only(path: Path) -> bool:
    """_refuse_foreign on a read-only connection; whether it could check. A file that cannot be opened
    read-only (a WAL file without its -shm in a folder we may not write) is left to the read-write check."""
    try:
        with contextlib.closing(read_only(path)) as connection:
            _refuse_foreign(sqlite_utils.Database(connection))
        return True
    except sqlite3.OperationalError:
        return False


def schema_version(path: str | os.PathLike) -> int | None:
    """The layout a log file has now (PRAGMA user_version), read without changing it; None when the
    file is missing or not SQLite (open_log then says what is wrong with it)."""
    if not Path(path).is_file():
        return None
    try:
        with contextlib.closing(read_only(Path(path))) as connection:
            return connection.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError:
        return None


def _prepare_while_others_start(db: sqlite_utils.Database) -> None:
    """WAL mode and the schema, retried while another process does the same.

    Two daemons (or a batch and a daemon) opening a new log at once can meet in SQLite's lock
    upgrade, where one is told "database is locked" at once instead of waiting out the busy timeout
    (seen once in CI: two `start` processes launched together). Both steps are idempotent and the
    migration is one transaction, so trying again is safe.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.05
    while True:
        try:
            with db.ensure_autocommit_on():
                db.execute("PRAGMA journal_mode = wal")
                db.execute("PRAGMA synchronous = NORMAL")
            migrate(db)
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def _refuse_foreign(db: sqlite_utils.Database) -> None:
    """A database with tables is a Moodlog log only when it has our `sessions` table and each table of
    ours in it has its REQUIRED_COLUMNS; any other belongs to another program. Only read here: the
    WAL switch and the migration come after, so a refused file is left byte for byte as it was."""
    tables = db.table_names()
    if not tables:                           # a new or empty file: it becomes a log
        return
    lacking = _what_it_lacks(db, tables)
    if lacking is not None:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise LogError(f"it is another program's database (tables: {shown}){lacking}; "
                       "give a new file or a Moodlog log")


def _what_it_lacks(db: sqlite_utils.Database, tables: list[str]) -> str | None:
    """None for a Moodlog log of any schema version; else what it lacks, as the tail of a sentence
    ('' when it has no table of ours at all: its table list says enough)."""
    if not set(tables) & set(LOG_TABLES):
        return ""
    if "sessions" not in tables:
        return ", it has no Moodlog sessions table"
    for table in LOG_TABLES:
        if table in tables:
            existing = {column.name for column in db[table].columns}
            missing = [name for name in REQUIRED_COLUMNS[table] if name not in existing]
            if missing:
                return f", its {table} table lacks Moodlog's column{'s' * (len(missing) > 1)} {', '.join(missing)}"
    return None


def migrate(db: sqlite_utils.Database) -> None:
    """Bring the schema to SCHEMA_VERSION; idempotent, and safe when two daemons start at once.

    The version is read again under an immediate (write) lock, so a second process waits for
    the first to finish migrating instead of repeating its steps.
    """
    if db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    with _immediate(db):
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version < 1:
            _create_tables(db)
        if version < 2:
            _add_missing_counters(db)
        if version < 3:
            _add_session_details(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


@contextlib.contextmanager
def busy_timeout(db: sqlite_utils.Database, wait_ms: int):
    """The connection waits at most `wait_ms` for another's lock inside the block, BUSY_TIMEOUT_MS after."""
    db.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
    try:
        yield
    finally:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def locked(error: str | None) -> bool:
    """Whether SQLite refused a write because another connection holds the write lock."""
    return error is not None and ("locked" in error or "busy" in error)


def why_not_written(error: str | None) -> str:
    """SQLite's reason for a refused write, in words: 'locked by another program', 'the disk is full'."""
    if locked(error):
        return "locked by another program"
    text = error or "unknown error"
    return "the disk is full" if "full" in text else text


@contextlib.contextmanager
def write_transaction(db: sqlite_utils.Database, doing: str):
    """A transaction that takes the write lock at its start, waiting up to the busy timeout for
    another program to let go of it; LogError ('cannot `doing`: ... locked ...') when it does not.

    Why not a deferred transaction (db.atomic()): one that reads before it writes (sqlite-utils'
    insert reads the table's columns) is refused "database is locked" at its first write, at once,
    without waiting, whenever another connection holds the write lock."""
    try:
        with _immediate(db):
            yield
    except sqlite3.OperationalError as error:
        if not locked(str(error)):
            raise
        path = db.execute("PRAGMA database_list").fetchone()[2]
        raise LogError(f"cannot {doing}: {path} is locked by another program, still after "
                       f"{BUSY_TIMEOUT_MS / 1000:.0f} s (a database browser with unsaved changes? write or revert "
                       "them, then try again)") from error


class _immediate:
    """A write transaction taken at BEGIN (waiting up to the busy timeout), not at first write."""

    def __init__(self, db: sqlite_utils.Database):
        self.conn = db.conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, error, traceback):
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")
        return False


def _add_missing_counters(db: sqlite_utils.Database) -> None:
    """Schema 2 added `faces_unclassified` (faces seen but not classifiable) to sessions."""
    existing = {column.name for column in db["sessions"].columns}
    for name in SESSION_COUNTERS:
        if name not in existing:
            db.execute(f"ALTER TABLE sessions ADD COLUMN [{name}] INTEGER DEFAULT 0")


def _add_session_details(db: sqlite_utils.Database) -> None:
    """Schema 3: session details, media time, room for other label sets, markers.

    Sessions logged before keep what they had: they get a uuid, their kind from their device,
    and the seven emotions as their label set; their rows keep NULL media time (the dashboard
    takes time since the session's start for them), as rewriting millions of rows would hold the
    log locked for minutes while a daemon may be waiting to write.
    """
    _create_tables(db)                       # idempotent: a hand-made or partial log gets what it lacks
    existing = {column.name for column in db["sessions"].columns}
    for name, kind in SESSION_DETAILS.items():
        if name not in existing:
            db.execute(f"ALTER TABLE sessions ADD COLUMN [{name}] {'REAL' if kind is float else 'INTEGER' if kind is int else 'TEXT'}")
    columns = {column.name for column in db["detections"].columns}
    if "media_time" not in columns:
        db.execute("ALTER TABLE detections ADD COLUMN media_time REAL")
    if "probabilities" not in columns:
        db.execute("ALTER TABLE detections ADD COLUMN probabilities TEXT")
    rollup = {column.name for column in db["emotion_minutes"].columns}
    if not set(SUM_COLUMNS) <= rollup:
        for name in SUM_COLUMNS:
            if name not in rollup:
                db.execute(f"ALTER TABLE emotion_minutes ADD COLUMN [{name}] REAL DEFAULT 0")
        # One pass over the old rows (about 6 s a million rows on one core, bench/RESULTS.md) fills the
        # sums, so mean probabilities chart over the whole history, not only from the upgrade on.
        sums = ", ".join(f"SUM([{name}]) AS [{column}]" for name, column in zip(EMOTIONS, SUM_COLUMNS))
        db.execute(f"""UPDATE emotion_minutes SET {', '.join(f'[{c}] = t.[{c}]' for c in SUM_COLUMNS)}
            FROM (SELECT session_id, CAST(ts / 60 AS INTEGER) AS minute, emotion, {sums} FROM detections
                  GROUP BY 1, 2, 3) AS t
            WHERE t.session_id = emotion_minutes.session_id AND t.minute = emotion_minutes.minute
              AND t.emotion = emotion_minutes.emotion""")
    for row in db.execute("SELECT id, device FROM sessions WHERE uuid IS NULL").fetchall():
        db.execute("UPDATE sessions SET uuid = ?, kind = ?, label_set = ? WHERE id = ?",
                   [str(uuid.uuid4()), _kind_of(row[1]), json.dumps(EMOTIONS), row[0]])
    db["markers"].create({"id": int, "session_id": int, "ts": float, "media_time": float, "label": str,
                          "source": str}, pk="id", foreign_keys=[("session_id", "sessions", "id")],
                         if_not_exists=True)
    db["markers"].create_index(["session_id", "ts"], if_not_exists=True)


def _kind_of(device: str | None) -> str:
    """'live' for a camera index or a URL, 'file' otherwise (capture/source.py is_live)."""
    text = str(device or "").strip()
    return "live" if text.isdigit() or "://" in text else "file"


def _create_tables(db: sqlite_utils.Database) -> None:
    """Schema 1: sessions, detections, gaps and the emotion_minutes rollup, with their indexes."""
    db["sessions"].create({
        "id": int, "device": str, "started_at": float, "ended_at": float, "updated_at": float,
        "model": str, "detector": str, "host": str, "pid": int, "status": str,
        **{name: int for name in SESSION_COUNTERS}, "fps": float,
    }, pk="id", if_not_exists=True, defaults={name: 0 for name in SESSION_COUNTERS})
    db["detections"].create({
        "id": int, "session_id": int, "ts": float, "frame": int, "face": int, "track": int,
        "x": int, "y": int, "w": int, "h": int, "emotion": str, "confidence": float,
        **{name: float for name in EMOTIONS},
    }, pk="id", foreign_keys=[("session_id", "sessions", "id")], if_not_exists=True)
    db["gaps"].create({"id": int, "session_id": int, "started_at": float, "ended_at": float,
                       "reason": str}, pk="id", foreign_keys=[("session_id", "sessions", "id")],
                      if_not_exists=True)
    db["emotion_minutes"].create({"session_id": int, "minute": int, "emotion": str, "faces": int},
                                 pk=("session_id", "minute", "emotion"), if_not_exists=True)
    db["detections"].create_index(["ts"], if_not_exists=True)
    db["detections"].create_index(["session_id", "ts"], if_not_exists=True)
    db["emotion_minutes"].create_index(["minute"], if_not_exists=True)
    db["sessions"].create_index(["started_at"], if_not_exists=True)


def is_moodlog_db(db: sqlite_utils.Database) -> bool:
    return {"sessions", "detections"} <= set(db.table_names())


@dataclass
class SessionDetails:
    """What a session is and how it was made, stored with it (schema 3).

    `kind` 'live' or 'file'; `source_fps` (frames/s), `source_frames` and `source_duration` (s) as
    the file's container says (None when live or unknown); `labels` the user's name=value labels
    (participant, condition...); `note` free text; `settings` the run settings (JSON-able);
    `version` Moodlog's; `model_sha256`, `model_trained` and `label_set` from
    model/provenance.py ModelIdentity.
    """
    kind: str = "live"
    source_fps: float | None = None
    source_frames: int | None = None
    source_duration: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    note: str | None = None
    settings: dict = field(default_factory=dict)
    version: str | None = None
    model_sha256: str | None = None
    model_trained: str | None = None
    label_set: tuple[str, ...] = EMOTIONS

    def row(self) -> dict:
        return {"uuid": str(uuid.uuid4()), "kind": self.kind, "source_fps": self.source_fps,
                "source_frames": self.source_frames, "source_duration": self.source_duration,
                "labels": json.dumps(self.labels, ensure_ascii=False, sort_keys=True), "note": self.note,
                "settings": json.dumps(self.settings, sort_keys=True, default=str), "version": self.version,
                "model_sha256": self.model_sha256, "model_trained": self.model_trained,
                "label_set": json.dumps(list(self.label_set))}


def start_session(db: sqlite_utils.Database, *, device: str, model: str, detector: str,
                  details: SessionDetails | None = None, started_at: float | None = None) -> int:
    """Close sessions that a crash left open, then open a new one; returns its id. LogError when
    another program holds the log's write lock for longer than BUSY_TIMEOUT_MS."""
    now = time.time() if started_at is None else started_at
    details = details or SessionDetails(kind=_kind_of(device))
    with write_transaction(db, "start a session"):
        close_abandoned_sessions(db)
        sessions = db["sessions"].insert({
            "device": device, "started_at": now, "updated_at": time.time(), "model": model, "detector": detector,
            "host": socket.gethostname(), "pid": os.getpid(), "status": "running", **details.row()})
        return sessions.last_pk


def finished_file_sessions(db: sqlite_utils.Database) -> list[dict]:
    """Every finished session of a file, oldest first: id, device, model_sha256, and labels and settings
    decoded from their JSON ({} when none was recorded); what a batch compares its files with."""
    rows = db.execute("SELECT id, device, model_sha256, labels, settings FROM sessions "
                      "WHERE status = 'finished' AND kind = 'file' ORDER BY id").fetchall()
    return [{"id": session_id, "device": device, "model_sha256": model_sha256, "labels": json.loads(labels or "{}"),
             "settings": json.loads(settings or "{}")} for session_id, device, model_sha256, labels, settings in rows]


def add_markers(db: sqlite_utils.Database, session_id: int, markers, source: str) -> int:
    """Store (wall time or None, media time or None, label) markers of a session in one
    transaction; a marker with only one clock gets the other from the session's start (wall =
    start + media). Returns how many were stored: a marker the session already has (the same
    label at the same wall and media time, SAME_MARKER_SECONDS apart at most) is not stored again,
    so importing a CSV twice does not split the session's segments twice.

    LogError (nothing stored) for a marker outside its session (MARKER_SLACK_SECONDS allowed either
    side), a time that is not a number, or a date for a file session (a file's rows were logged
    when it was analysed, not when it was filmed, so only a position in the video places a marker), or
    for another program holding the log's write lock for longer than BUSY_TIMEOUT_MS."""
    session = db.execute("SELECT started_at, ended_at, updated_at, kind, source_duration FROM sessions WHERE id = ?",
                         [session_id]).fetchone()
    if session is None:
        raise LogError(f"no session {session_id} in this log")
    started, ended, updated, kind, duration = session
    rows = []
    for number, (ts, media_time, label) in enumerate(markers, start=1):
        where = f"marker {number} ({label!r})"
        if kind == "file" and media_time is None:
            raise LogError(f"{where}: session {session_id} is a video file; give its markers as positions in the "
                           "video (seconds, mm:ss or h:mm:ss), not as dates")
        if ts is None:
            ts = started + media_time
        if media_time is None:
            media_time = ts - started
        if not (math.isfinite(ts) and math.isfinite(media_time)):
            raise LogError(f"{where}: its time is not a number")
        end = duration if kind == "file" and duration else (ended or updated or time.time()) - started
        if not -MARKER_SLACK_SECONDS <= media_time <= end + MARKER_SLACK_SECONDS:
            raise LogError(f"{where} at {media_time:.1f} s is outside session {session_id}, which runs from 0 to "
                           f"{end:.1f} s" + (" (a Unix time? give seconds from the start of the video)"
                                             if media_time > 1e8 else ""))
        rows.append((session_id, float(ts), float(media_time), str(label), source))
    with write_transaction(db, f"add markers to session {session_id}"):
        new_rows = _markers_not_there(db, session_id, rows)
        db.conn.executemany("INSERT INTO markers (session_id, ts, media_time, label, source) VALUES (?, ?, ?, ?, ?)",
                            new_rows)
    return len(new_rows)


def _markers_not_there(db: sqlite_utils.Database, session_id: int, rows: list[tuple]) -> list[tuple]:
    """The marker rows that the session does not have yet, each once (a file listing a marker twice
    adds it once). Read in the transaction that inserts them."""
    kept = db.execute("SELECT ts, media_time, label FROM markers WHERE session_id = ?", [session_id]).fetchall()
    new_rows = []
    for row in rows:
        _, ts, media_time, label, _ = row
        if not any(label == other_label and _same_time(ts, other_ts) and _same_time(media_time, other_media)
                   for other_ts, other_media, other_label in kept):
            new_rows.append(row)
            kept.append((ts, media_time, label))
    return new_rows


def _same_time(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) <= SAME_MARKER_SECONDS


def close_abandoned_sessions(db: sqlite_utils.Database) -> int:
    """Mark as crashed the open sessions of this host whose process no longer runs.

    Their end is their last heartbeat (`updated_at`), the last moment they were known alive.
    Sessions of other hosts, or of live processes (another daemon on this host), are left alone.
    """
    host = socket.gethostname()
    rows = list(db.query("SELECT id, pid FROM sessions WHERE ended_at IS NULL AND host = ?", [host]))
    dead = [row["id"] for row in rows if not _process_alive(row["pid"])]
    with db.atomic():
        for session_id in dead:
            db.execute("UPDATE sessions SET ended_at = updated_at, status = 'crashed' WHERE id = ?", [session_id])
    return len(dead)


def _process_alive(pid: int | None) -> bool:
    if not pid or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LogWriter:
    """Buffers detection rows of one session and commits them in batches, with retries.

    `add()` never loses a row and never waits long: if a commit fails (locked by another program,
    disk full), the rows stay in the buffer and the next due flush tries again; `failures` counts
    the failed flushes since the last one that wrote, and `last_error` says why the rows wait.
    `close()` keeps retrying for `give_up_after` seconds and then raises LogError naming how many
    rows could not be written.
    """

    def __init__(self, db: sqlite_utils.Database, session_id: int, *, batch_seconds: float = BATCH_SECONDS,
                 batch_rows: int = BATCH_ROWS, give_up_after: float = 60.0, labels: tuple[str, ...] = EMOTIONS):
        self.db = db
        self.session_id = session_id
        # The seven emotions fill their own columns (and the rollup's sums); any other label set's
        # probabilities go to the JSON `probabilities` column, its labels to `emotion`.
        self.labels = tuple(labels)
        self.columns = DETECTION_COLUMNS if self.labels == EMOTIONS else CUSTOM_DETECTION_COLUMNS
        self.batch_seconds = batch_seconds
        self.batch_rows = batch_rows
        self.give_up_after = give_up_after
        self.pending: list[tuple] = []
        self.pending_gaps: list[tuple] = []
        self.pending_markers: list[tuple] = []
        self.written = 0
        self.failures = 0
        self.last_error: str | None = None
        self.last_flush = time.monotonic()
        self.counters: dict[str, int | float] = {}

    def add(self, ts: float, frame: int, face: int, box: tuple[int, int, int, int], probabilities,
            track: int | None = None, media_time: float | None = None) -> None:
        """Queue one face: `ts` wall time (UTC epoch s), `media_time` seconds from the start of the
        source, `box` (x, y, w, h) pixels, `probabilities` one per label of the session's label set
        (the seven emotions in FER2013 order unless a taught model made them)."""
        if len(probabilities) != len(self.labels):
            raise ValueError(f"{len(probabilities)} probabilities for the {len(self.labels)} labels {self.labels}")
        best = max(range(len(self.labels)), key=lambda i: probabilities[i])
        head = (self.session_id, ts, frame, face, track, *map(int, box), self.labels[best], float(probabilities[best]))
        if self.columns is DETECTION_COLUMNS:
            self.pending.append((*head, *map(float, probabilities), media_time))
        else:
            by_label = {name: round(float(p), 6) for name, p in zip(self.labels, probabilities)}
            self.pending.append((*head, media_time, json.dumps(by_label, ensure_ascii=False)))
        # A full batch is written at once, unless the log refused the last one: then at the next due
        # flush, so that a locked log is not asked again with every face.
        if self.due() or (len(self.pending) >= self.batch_rows and not self.failures):
            self.flush()

    def update_counters(self, **counters) -> None:
        """Session counters (frames read, fps...) written with the next flush."""
        self.counters.update(counters)

    def due(self) -> bool:
        return time.monotonic() - self.last_flush >= self.batch_seconds

    def flush(self, wait_ms: int = FLUSH_BUSY_TIMEOUT_MS) -> bool:
        """Commit pending rows, the rollup and the session heartbeat in one transaction, waiting at
        most `wait_ms` for another connection's write lock.

        Returns False (rows kept, `failures` and `last_error` set) when the database refused the write.
        """
        try:
            with busy_timeout(self.db, wait_ms):
                self._commit(self.pending)
        except sqlite3.OperationalError as error:
            self.failures += 1
            self.last_error = str(error)
            self.last_flush = time.monotonic()
            return False
        self.written += len(self.pending)
        self.pending = []
        self.failures, self.last_error = 0, None
        self.last_flush = time.monotonic()
        return True

    def waiting(self) -> str:
        """' | 120 rows waiting for the log (locked by another program)' while writes fail, else ''."""
        if not self.failures:
            return ""
        return f" | {len(self.pending)} rows waiting for the log ({why_not_written(self.last_error)})"

    def _commit(self, rows: list[tuple]) -> None:
        placeholders = ", ".join("?" * len(self.columns))
        columns = ", ".join(self.columns)
        counters = {**self.counters, "updated_at": time.time()}
        assignments = ", ".join(f"[{name}] = ?" for name in counters)
        with self.db.atomic():
            if rows:
                self.db.conn.executemany(f"INSERT INTO detections ({columns}) VALUES ({placeholders})", rows)
                self.db.conn.executemany(ROLLUP_UPSERT, _minute_counts(rows, self.columns))
            if self.pending_gaps:
                self.db.conn.executemany("INSERT INTO gaps (session_id, started_at, ended_at, reason) "
                                         "VALUES (?, ?, ?, ?)", self.pending_gaps)
            if self.pending_markers:
                self.db.conn.executemany("INSERT INTO markers (session_id, ts, media_time, label, source) "
                                         "VALUES (?, ?, ?, ?, ?)", self.pending_markers)
            self.db.execute(f"UPDATE sessions SET {assignments} WHERE id = ?", [*counters.values(), self.session_id])
        self.pending_gaps = []
        self.pending_markers = []

    def add_marker(self, ts: float, media_time: float, label: str, source: str) -> None:
        """Queue a marker made during capture; written with the next batch."""
        self.pending_markers.append((self.session_id, ts, media_time, label, source))

    def add_gap(self, started_at: float, ended_at: float, reason: str) -> None:
        """Record a stretch without frames; written with the rows, so a busy log loses no gap."""
        self.pending_gaps.append((self.session_id, started_at, ended_at, reason))
        self.flush()

    def discard(self) -> None:
        """Remove this session, which logged nothing (no frame was read), with its gaps and markers."""
        with self.db.atomic():
            for table in ("markers", "gaps"):
                self.db.execute(f"DELETE FROM {table} WHERE session_id = ?", [self.session_id])
            self.db.execute("DELETE FROM sessions WHERE id = ?", [self.session_id])

    def close(self, status: str = "stopped", ended_at: float | None = None) -> None:
        """Flush everything (retrying while the database is busy) and close the session row at
        `ended_at` (UTC epoch s; now when None)."""
        deadline = time.monotonic() + self.give_up_after
        while not self.flush(BUSY_TIMEOUT_MS):
            if time.monotonic() > deadline:
                raise LogError(f"could not write {len(self.pending)} rows to the log after "
                               f"{self.give_up_after:.0f} s (disk full, read-only or locked?)")
            time.sleep(0.2)
        with self.db.atomic():
            self.db.execute("UPDATE sessions SET ended_at = ?, status = ? WHERE id = ?",
                            [time.time() if ended_at is None else ended_at, status, self.session_id])


ROLLUP_UPSERT = (
    f"INSERT INTO emotion_minutes (session_id, minute, emotion, faces, {', '.join(SUM_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (4 + len(SUM_COLUMNS)))}) ON CONFLICT (session_id, minute, emotion) DO UPDATE SET "
    "faces = faces + excluded.faces, " + ", ".join(f"[{c}] = [{c}] + excluded.[{c}]" for c in SUM_COLUMNS))


def _minute_counts(rows: list[tuple], columns: tuple[str, ...] = DETECTION_COLUMNS) -> list[tuple]:
    """Collapse detection rows into (session, minute, top label, count, emotion probability sums...)
    increments; a taught label set's rows count faces per label, with no emotion sums (NULL)."""
    totals: dict[tuple, list] = {}
    ts_at, emotion_at = columns.index("ts"), columns.index("emotion")
    first = columns.index(EMOTIONS[0]) if columns is DETECTION_COLUMNS else None
    for row in rows:
        key = (row[0], int(row[ts_at] // 60), row[emotion_at])
        sums = row[first:first + len(EMOTIONS)] if first is not None else (None,) * len(EMOTIONS)
        total = totals.get(key)
        if total is None:
            totals[key] = [1, *sums]
        else:
            total[0] += 1
            if first is not None:
                for i in range(len(EMOTIONS)):
                    total[i + 1] += sums[i]
    return [(*key, *total) for key, total in totals.items()]
