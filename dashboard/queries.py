"""Every SQL query the dashboard runs: read-only, parameterised, aggregated inside SQLite.

Why it looks like this:
- The dashboard never writes: connections open the file with `mode=ro`, so a bug here can
  not damage a log that a daemon is writing.
- Time buckets follow the server's local clock (an hour starts at local :00, a day at local
  midnight, across daylight-saving changes too; see dashboard/localtime.py). SQLite computes them
  per stretch of one UTC offset, so the rollup's UTC minutes serve every zone in use today.
- Counts per time bucket come from the `emotion_minutes` rollup (maintained by the writer in
  the same transaction as the detections) for every whole minute of a range, and from the
  `ts` index of `detections` only for the partial minutes at its edges, so a month of history
  is a few hundred thousand rollup rows, never ten million detections.
- The counts and the highest detection id are read in one transaction (one snapshot), so live
  refresh can later ask only for `id > last_id` without double counting or missing rows.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sqlite3
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from capture.source import masked_device
from dashboard import localtime
from model.labels import EMOTIONS

# Bucket sizes the timeline may use, in seconds; the smallest that keeps a range under
# MAX_BUCKETS wins: a minute shows seconds, a month shows hours.
BUCKET_SIZES = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
MAX_BUCKETS = 720
SESSION_ROWS = 100
EXPORT_CHUNK = 5_000
# Faces per (unit, emotion) of ended sessions, by ((file, session id, started_at, ended_at), unit
# seconds); the unit is an hour, or half or a quarter of one in zones with such offsets.
_SESSION_HOURS: dict[tuple, dict[tuple[int, str], int]] = {}
_CACHE_LOCK = threading.Lock()
EXPORT_COLUMNS = ("id", "session_id", "ts", "frame", "face", "track", "x", "y", "w", "h", "emotion",
                  "confidence") + EMOTIONS
# What a session made before label sets were recorded (NULL, or a log without the column) holds.
EMOTIONS_JSON = json.dumps(list(EMOTIONS))


class LogUnavailable(RuntimeError):
    """The database file cannot be opened for reading (missing, unreadable, not SQLite)."""


@dataclass(frozen=True)
class Filters:
    """What the history page shows: a time range (UTC epoch seconds, end exclusive, None = open),
    the sessions and the emotions (None = all, () = none), and the label set whose sessions are
    counted (None: every session, for a log that holds only the seven emotions; the `emotions`
    are then labels of that set)."""
    start: float | None = None
    end: float | None = None
    sessions: tuple[int, ...] | None = None
    emotions: tuple[str, ...] | None = None
    label_set: tuple[str, ...] | None = None

    def conditions(self, prefix: str = "") -> tuple[list[str], list]:
        """SQL conditions (fixed text with `?` placeholders) and their parameters for the
        session, emotion and label-set filters; the time range is handled by each query."""
        clauses, params = [], []
        if self.sessions is not None:
            clauses.append(prefix + "session_id IN (" + ", ".join("?" * len(self.sessions)) + ")")
            params += list(self.sessions)
        if self.emotions is not None:
            clauses.append(prefix + "emotion IN (" + ", ".join("?" * len(self.emotions)) + ")")
            params += list(self.emotions)
        if self.label_set is not None:
            clause, more = label_set_condition(self.label_set)
            clauses.append(prefix + "session_id IN (SELECT id FROM sessions WHERE " + clause + ")")
            params += more
        return clauses, params


def label_set_condition(labels) -> tuple[str, list]:
    """A condition on the `sessions` table (fixed text with `?` placeholders) and its parameters:
    the session's label set is `labels`. A session without a recorded label set has the emotions.

    The label set is stored as JSON text (capture/log.py writes `json.dumps(list(labels))`); it is
    compared with each spelling of `labels` that a writer could give (ASCII or not, spaced or
    compact) rather than parsed per row, so the condition costs one pass over the sessions.
    """
    spellings = label_set_spellings(labels)
    return "COALESCE(label_set, ?) IN (" + ", ".join("?" * len(spellings)) + ")", [EMOTIONS_JSON, *spellings]


def label_set_spellings(labels) -> list[str]:
    """The JSON texts a label set may be stored as, without repeats."""
    texts = [json.dumps(list(labels), ensure_ascii=ascii_only, separators=separators)
             for ascii_only in (True, False) for separators in ((", ", ": "), (",", ":"))]
    return list(dict.fromkeys(texts))


def parse_label_set(text: str | None) -> tuple[str, ...] | None:
    """A stored label set (JSON list of names) as a tuple; NULL: the seven emotions; None when the
    text is not a JSON list of strings."""
    if text is None:
        return EMOTIONS
    try:
        labels = json.loads(text)
    except ValueError:
        return None
    if not isinstance(labels, list) or not labels or not all(isinstance(name, str) for name in labels):
        return None
    return tuple(labels)


def label_sets(connection: sqlite3.Connection) -> list[tuple[str, ...]]:
    """Every label set the log's sessions were made with: the seven emotions first when any session
    has them, then the others in the order of their first session; [] for a log without sessions.
    A log written before label sets were recorded holds only the seven emotions."""
    if "label_set" not in columns_of(connection, "sessions"):
        found = connection.execute("SELECT 1 FROM sessions LIMIT 1").fetchone()
        return [EMOTIONS] if found else []
    rows = connection.execute("SELECT COALESCE(label_set, ?) AS spelled, MIN(id) FROM sessions GROUP BY spelled "
                              "ORDER BY 2", [EMOTIONS_JSON])
    found = [parse_label_set(text) for text, _ in rows]
    ordered = [EMOTIONS] if EMOTIONS in found else []
    return list(dict.fromkeys(ordered + [labels for labels in found if labels is not None]))


def probability_path(label: str) -> str:
    """The json_extract path of one label's probability in a detection's `probabilities` JSON,
    passed as a parameter (never written into SQL). Label names never hold a double quote
    (model/labels.py check_label); one that does is refused rather than half-quoted."""
    if '"' in label:
        raise ValueError(f"{label!r} cannot be a label name")
    return '$."' + label + '"'


@dataclass
class LogStatus:
    """What the dashboard sees in a database file, for the friendly messages of the pages.

    `state` is one of "missing", "unreadable", "not-moodlog", "empty", "ok".
    """
    state: str
    message: str
    first_ts: float | None = None
    last_ts: float | None = None
    running: list[dict] = field(default_factory=list)


def connect(path: str | Path) -> sqlite3.Connection:
    """A read-only connection; raises LogUnavailable when the file does not exist or is not SQLite."""
    path = Path(path)
    if not path.is_file():
        raise LogUnavailable(f"no database at {path}")
    uri = "file:" + urllib.request.pathname2url(str(path.resolve())) + "?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=5, check_same_thread=False)
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as error:
        raise LogUnavailable(f"{path} cannot be read as SQLite ({error})") from None
    connection.isolation_level = None  # explicit BEGIN/COMMIT only where a snapshot matters
    return connection


def connect_moodlog(path: str | Path) -> sqlite3.Connection:
    """`connect`, and LogUnavailable when the file is another program's SQLite database (what
    `describe` calls "not-moodlog"): pages and exports then say so instead of failing mid-query."""
    connection = connect(path)
    try:
        if _is_moodlog(connection):
            return connection
    except sqlite3.DatabaseError as error:
        connection.close()
        raise LogUnavailable(f"{path} cannot be read ({error})") from None
    connection.close()
    raise LogUnavailable(not_moodlog_message(path))


def _is_moodlog(connection: sqlite3.Connection) -> bool:
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {"sessions", "detections", "emotion_minutes"} <= tables


def not_moodlog_message(path) -> str:
    return (f"{path} is an SQLite file but not a Moodlog log (it lacks Moodlog's sessions, detections and "
            "emotion_minutes tables); start the dashboard on a log that `python app.py start` wrote")


def describe(path: str | Path) -> LogStatus:
    """The state of the log at `path`, never raising: what the page header and empty state say."""
    try:
        connection = connect(path)
    except LogUnavailable as error:
        missing = not Path(path).exists()
        return LogStatus("missing" if missing else "unreadable", str(error))
    try:
        return _describe(connection, path)
    except sqlite3.DatabaseError as error:
        return LogStatus("unreadable", f"{path} cannot be read ({error})")
    finally:
        connection.close()


def _describe(connection: sqlite3.Connection, path) -> LogStatus:
    if not _is_moodlog(connection):
        return LogStatus("not-moodlog", not_moodlog_message(path))
    first, last = data_bounds(connection)
    running = [{"id": row[0], "device": masked_device(row[1]), "host": row[2], "pid": row[3]} for row in connection.execute(
        "SELECT id, device, host, pid FROM sessions WHERE ended_at IS NULL ORDER BY id")]
    if first is None:
        return LogStatus("empty", "nothing captured yet", running=running)
    return LogStatus("ok", "", first, last, running)


def choose_bucket(seconds: float) -> int:
    """The smallest bucket size (seconds) that splits `seconds` into at most MAX_BUCKETS buckets."""
    for size in BUCKET_SIZES:
        if seconds / size <= MAX_BUCKETS:
            return size
    return BUCKET_SIZES[-1]


def data_bounds(connection: sqlite3.Connection) -> tuple[float | None, float | None]:
    """(first ts, last ts) of all detections, from the `ts` index; (None, None) when empty.

    Two statements on purpose: SQLite answers a lone MIN or MAX from one end of the index,
    but `SELECT MIN(ts), MAX(ts)` scans the whole index (seconds on ten million rows).
    """
    first = connection.execute("SELECT MIN(ts) FROM detections").fetchone()[0]
    last = connection.execute("SELECT MAX(ts) FROM detections").fetchone()[0]
    return first, last


def bucket_counts(connection: sqlite3.Connection, filters: Filters, bucket: int) -> tuple[list[tuple], int]:
    """Faces per (bucket start, emotion) in the filtered range, and the highest detection id seen.

    Returns `([(bucket_start_ts, emotion, faces), ...], last_id)`, summed over sessions; bucket
    starts are the instants (UTC seconds) where the server's local clock starts a bucket (local
    :00 for hours, local midnight for days; see dashboard/localtime.py). Read in one snapshot.
    """
    connection.execute("BEGIN")
    try:
        last_id = connection.execute("SELECT COALESCE(MAX(id), 0) FROM detections").fetchone()[0]
        counts: dict[tuple, int] = {}
        for key, faces in _local_counts(connection, filters, bucket):
            counts[key] = counts.get(key, 0) + faces
    finally:
        connection.execute("COMMIT")
    return sorted((start, emotion, faces) for (start, emotion), faces in counts.items()), last_id


def _local_counts(connection, filters: Filters, bucket: int) -> Iterator[tuple[tuple, int]]:
    """Counts per local bucket: SQLite groups each stretch of one UTC offset on its own (one
    stretch unless the range crosses a daylight-saving change), and only the bucket that holds
    a change of offset is put together here, so no row is handled in Python."""
    span = _span(connection, filters)
    if span is None:
        return
    clock = localtime.LocalBuckets(bucket, *span)
    for stretch in clock.within(*span):
        part = dataclasses.replace(filters, start=filters.start if stretch.start == span[0] else stretch.start,
                                   end=filters.end if stretch.end == span[1] else stretch.end)
        for (natural, emotion), faces in _range_counts(connection, part, bucket, stretch.offset):
            yield (clock.start_of(natural, stretch), emotion), faces


def _span(connection, filters: Filters) -> tuple[float, float] | None:
    """[start, end) of the filtered range, an open end closed by the log's first or last row;
    None when nothing can fall in it."""
    start, end = filters.start, filters.end
    if start is None or end is None:
        first, last = data_bounds(connection)
        if first is None:
            return None
        start = first if start is None else start
        end = last + 1 if end is None else end
    return (start, end) if end > start else None


def _range_counts(connection, filters: Filters, bucket: int, offset: int) -> Iterator[tuple[tuple, int]]:
    """Rollup for the whole minutes of the range, detections for its partial edge minutes;
    buckets on a clock `offset` seconds east of UTC."""
    if bucket % 60 or offset % 60:
        yield from _detection_counts(connection, filters, bucket, offset=offset)
        return
    first_minute = None if filters.start is None else math.ceil(filters.start / 60)
    end_minute = None if filters.end is None else math.floor(filters.end / 60)
    if first_minute is not None and end_minute is not None and end_minute <= first_minute:
        yield from _detection_counts(connection, filters, bucket, offset=offset)
        return
    yield from _minute_counts(connection, filters, bucket, first_minute, end_minute, offset)
    if first_minute is not None and filters.start < first_minute * 60:
        head = dataclasses.replace(filters, end=first_minute * 60)
        yield from _detection_counts(connection, head, bucket, offset=offset)
    if end_minute is not None and end_minute * 60 < filters.end:
        tail = dataclasses.replace(filters, start=end_minute * 60)
        yield from _detection_counts(connection, tail, bucket, offset=offset)


def _detection_counts(connection, filters: Filters, bucket: int, after_id: int | None = None,
                      up_to_id: int | None = None, offset: int = 0) -> Iterator[tuple[tuple, int]]:
    clauses, params = _time_conditions(filters)
    more_clauses, more_params = filters.conditions()
    clauses += more_clauses
    params += more_params
    table = "detections"
    if after_id is not None:
        clauses += ["id > ?", "id <= ?"]
        params += [after_id, up_to_id]
        # New rows are a short id range; without this hint SQLite may pick the (session_id, ts)
        # index for a session filter and scan a month of rows to find them.
        table = "detections NOT INDEXED"
    sql = ("SELECT CAST((ts + ?) / ? AS INTEGER) * ? - ? AS bucket, emotion, COUNT(*) FROM " + table
           + _where(clauses) + " GROUP BY bucket, emotion")
    for start, emotion, faces in connection.execute(sql, [offset, bucket, bucket, offset] + params):
        yield (start, emotion), faces


def _minute_counts(connection, filters: Filters, bucket: int, first_minute, end_minute, offset: int):
    """Whole minutes from the rollup; with hour-sized buckets, whole units of ended sessions
    come from a per-process cache and only the running sessions and edge minutes from SQL.

    A unit is an hour, or the part of an hour that divides the offset (half an hour at +05:30,
    a quarter at +05:45), so that each unit falls in one local bucket.
    """
    if bucket % 3600:
        yield from _rollup_counts(connection, filters, bucket, first_minute, end_minute, offset)
        return
    unit_minutes = cache_unit(offset) // 60
    first_unit = None if first_minute is None else -(-first_minute // unit_minutes)
    end_unit = None if end_minute is None else end_minute // unit_minutes
    if first_unit is not None and end_unit is not None and end_unit <= first_unit:
        yield from _rollup_counts(connection, filters, bucket, first_minute, end_minute, offset)
        return
    ended, running = _sessions_by_state(connection, filters)
    unit = unit_minutes * 60
    for session_key in ended:
        for (number, emotion), faces in _ended_session_units(connection, session_key, unit).items():
            if (first_unit is None or number >= first_unit) and (end_unit is None or number < end_unit) and \
                    (filters.emotions is None or emotion in filters.emotions):
                yield ((number * unit + offset) // bucket * bucket - offset, emotion), faces
    # The running sessions were chosen by label set already: no need to ask for it again.
    live_filters = Filters(filters.start, filters.end, tuple(running), filters.emotions)
    whole_first = None if first_unit is None else first_unit * unit_minutes
    whole_end = None if end_unit is None else end_unit * unit_minutes
    yield from _rollup_counts(connection, live_filters, bucket, whole_first, whole_end, offset)
    if whole_first is not None and first_minute < whole_first:
        yield from _rollup_counts(connection, filters, bucket, first_minute, whole_first, offset)
    if whole_end is not None and whole_end < end_minute:
        yield from _rollup_counts(connection, filters, bucket, whole_end, end_minute, offset)


def cache_unit(offset: int) -> int:
    """Seconds per cached unit of ended sessions for a clock `offset` seconds east of UTC: the
    largest part of an hour that divides the offset (3600 for whole-hour zones)."""
    return math.gcd(3600, offset)


def _rollup_counts(connection, filters: Filters, bucket: int, first_minute, end_minute, offset: int):
    clauses, params = filters.conditions()
    if first_minute is not None:
        clauses.append("minute >= ?")
        params.append(first_minute)
    if end_minute is not None:
        clauses.append("minute < ?")
        params.append(end_minute)
    sql = ("SELECT ((minute * 60 + ?) / ?) * ? - ? AS bucket, emotion, SUM(faces) FROM emotion_minutes"
           + _where(clauses) + " GROUP BY bucket, emotion")
    for start, emotion, faces in connection.execute(sql, [offset, bucket, bucket, offset] + params):
        yield (start, emotion), faces


def _sessions_by_state(connection, filters: Filters) -> tuple[list[tuple], list[int]]:
    """Sessions the filter allows: ended ones as cache keys, running ones (no end yet) as ids."""
    clauses, params = _session_conditions(filters)
    identity = _file_identity(connection)
    ended, running = [], []
    for session_id, started_at, ended_at in connection.execute(
            "SELECT id, started_at, ended_at FROM sessions" + _where(clauses), params):
        if ended_at is None:
            running.append(session_id)
        else:
            ended.append((identity, session_id, started_at, ended_at))
    return ended, running


def _ended_session_units(connection, session_key: tuple, unit: int = 3600) -> dict[tuple[int, str], int]:
    """Faces per (unit since the epoch, emotion) of one ended session, counted once per process
    and unit size (`unit` seconds, a whole number of minutes).

    An ended session never changes (its writer flushed every row before closing it), so a
    month of history costs one pass over the rollup per session, then nothing.
    """
    with _CACHE_LOCK:  # a visit during the start-up warm-up waits for it instead of repeating it
        units = _SESSION_HOURS.get((session_key, unit))
        if units is None:
            units = {(number, emotion): faces for number, emotion, faces in connection.execute(
                "SELECT minute / ? AS number, emotion, SUM(faces) FROM emotion_minutes WHERE session_id = ? "
                "GROUP BY number, emotion", [unit // 60, session_key[1]])}
            _SESSION_HOURS[(session_key, unit)] = units
        return units


def new_bucket_counts(connection: sqlite3.Connection, filters: Filters, bucket: int,
                      after_id: int) -> tuple[list[tuple], int]:
    """Like `bucket_counts`, but only for detections written after `after_id` (live refresh).

    Uses the primary key, so its cost grows with the new rows, not with the log.
    """
    connection.execute("BEGIN")
    try:
        last_id = connection.execute("SELECT COALESCE(MAX(id), 0) FROM detections").fetchone()[0]
        rows = _new_counts(connection, filters, bucket, after_id, last_id) if last_id > after_id else []
    finally:
        connection.execute("COMMIT")
    return rows, max(last_id, after_id)


def _new_counts(connection, filters: Filters, bucket: int, after_id: int, up_to_id: int) -> list[tuple]:
    """New rows per bucket: SQLite counts them per UTC minute (or per bucket under a minute,
    the same on every clock), and the few minutes are put in their local buckets here."""
    unit = math.gcd(bucket, 60)
    counts: dict[tuple, int] = {}
    rows = list(_detection_counts(connection, filters, unit, after_id, up_to_id))
    if rows and unit != bucket:
        starts = [start for (start, _), _ in rows]
        clock = localtime.LocalBuckets(bucket, min(starts), max(starts) + unit)
        rows = [((clock.floor(start), emotion), faces) for (start, emotion), faces in rows]
    for key, faces in rows:
        counts[key] = counts.get(key, 0) + faces
    return sorted((start, emotion, faces) for (start, emotion), faces in counts.items())


def _session_conditions(filters: Filters) -> tuple[list[str], list]:
    """Conditions on the `sessions` table for the session and label-set filters."""
    clauses, params = [], []
    if filters.sessions is not None:
        clauses.append("id IN (" + ", ".join("?" * len(filters.sessions)) + ")")
        params += list(filters.sessions)
    if filters.label_set is not None:
        clause, more = label_set_condition(filters.label_set)
        clauses.append(clause)
        params += more
    return clauses, params


def _time_conditions(filters: Filters) -> tuple[list[str], list]:
    clauses, params = [], []
    if filters.start is not None:
        clauses.append("ts >= ?")
        params.append(filters.start)
    if filters.end is not None:
        clauses.append("ts < ?")
        params.append(filters.end)
    return clauses, params


def _where(clauses: list[str]) -> str:
    return (" WHERE " + " AND ".join(clauses)) if clauses else ""


def session_choices(connection: sqlite3.Connection, label_set: tuple[str, ...] | None = None) -> list[dict]:
    """Every session (of `label_set`, None: of any), newest first: `[{"id", "device", "started_at"}]`
    for the filter menus."""
    clauses, params = _session_conditions(Filters(label_set=label_set))
    rows = connection.execute("SELECT id, device, started_at FROM sessions" + _where(clauses) +
                              " ORDER BY started_at DESC LIMIT 1000", params)
    return [{"id": row[0], "device": masked_device(row[1]), "started_at": row[2]} for row in rows]


def sessions_mark(connection: sqlite3.Connection) -> list[int]:
    """`[number of sessions, highest id]`: changes when a session begins (or one is removed), so the
    filter menus are rebuilt only then."""
    return list(connection.execute("SELECT count(*), coalesce(max(id), 0) FROM sessions").fetchone())


def sessions_of_devices(connection: sqlite3.Connection, devices) -> tuple[int, ...]:
    """Ids of the sessions that captured from any of `devices`, as the menus show them: a URL's
    password masked (capture.source.masked_device). Logs written before Moodlog masked passwords
    hold them, and the browser must never be sent one, so devices are matched as shown."""
    wanted = {str(device) for device in devices}
    rows = connection.execute("SELECT id, device FROM sessions ORDER BY id")
    return tuple(row[0] for row in rows if str(masked_device(row[1])) in wanted)


def session_table(connection: sqlite3.Connection, filters: Filters, now: float | None = None) -> list[dict]:
    """Sessions overlapping the range, newest first, at most SESSION_ROWS.

    Each row: id, device, started_at, duration (s), status, frames (analysed), faces and
    dominant emotion over the whole session (from the rollup); faces 0 and dominant None when
    the session logged no face.
    """
    now = time.time() if now is None else now
    clauses, params = [], []
    if filters.end is not None:
        clauses.append("started_at < ?")
        params.append(filters.end)
    if filters.start is not None:
        clauses.append("COALESCE(ended_at, updated_at, started_at) >= ?")
        params.append(filters.start)
    more_clauses, more_params = _session_conditions(filters)
    clauses += more_clauses
    params += more_params
    present = columns_of(connection, "sessions")
    extra = [c if c in present else f"NULL AS {c}" for c in SESSION_EXTRAS]
    sql = ("SELECT id, device, started_at, ended_at, updated_at, status, frames_analysed, " + ", ".join(extra) +
           " FROM sessions" + _where(clauses) + " ORDER BY started_at DESC LIMIT ?")
    cursor = connection.execute(sql, params + [SESSION_ROWS])
    names = [column[0] for column in cursor.description]
    rows = [_session_row(dict(zip(names, row)), now) for row in cursor]
    _add_emotion_totals(connection, rows)
    _add_outages(connection, rows)
    return rows


# Shown in the Sessions table where the log has them (schema 3; older logs: None).
SESSION_EXTRAS = ("kind", "labels", "source_duration", "source_fps", "frames_read", "frames_corrupt",
                  "frames_without_face", "reconnects")


def _session_row(row: dict, now: float) -> dict:
    frames, faceless, labels = row["frames_analysed"], row["frames_without_face"], row["labels"]
    return {"id": row["id"], "device": masked_device(row["device"]), "started_at": row["started_at"], "ended_at": row["ended_at"],
            "duration": session_duration(row, now), "status": row["status"] or "", "frames": frames or 0, "faces": 0,
            "dominant": None, "kind": row["kind"] or "", "labels": json.loads(labels) if labels else {},
            "face_share": (frames - (faceless or 0)) / frames if frames else None,
            "reconnects": row["reconnects"] or 0, "outages": 0, "outage_seconds": 0.0}


def session_duration(row, now: float | None = None) -> float:
    """Seconds a session covers, from its `sessions` row (a mapping; the columns of SESSION_EXTRAS
    and the start, end, heartbeat and status).

    A file: video time, not the seconds it took to analyse: its whole duration (measured or from
    the container) once read to its end, else the part read so far (frames read / frame rate, at
    most the whole), so a file stopped at 20% does not claim all of it. A live session: wall time
    up to its end; while running, up to `now` where given, else to its last heartbeat (0 without one).
    """
    if (row["kind"] or "") == "file" and row["source_duration"] is not None:
        whole = float(row["source_duration"])
        if row["status"] == "finished" or row["frames_read"] is None or not row["source_fps"]:
            return whole                 # read to its end, or a log from before the counters
        read = row["frames_read"] + (row["frames_corrupt"] or 0)
        return min(read / float(row["source_fps"]), whole)
    end = row["ended_at"]
    if end is None:
        end = now if now is not None and row["status"] == "running" else (row["updated_at"] or row["started_at"])
    return max(end - row["started_at"], 0.0)


def _add_outages(connection, rows: list[dict]) -> None:
    """Outages (gaps) per session: count and seconds."""
    if not rows:
        return
    by_id = {row["id"]: row for row in rows}
    for session_id, count, seconds in connection.execute(
            "SELECT session_id, count(*), SUM(ended_at - started_at) FROM gaps WHERE session_id IN ("
            + ", ".join("?" * len(by_id)) + ") GROUP BY session_id", list(by_id)):
        by_id[session_id].update(outages=count, outage_seconds=seconds or 0.0)


def _add_emotion_totals(connection, rows: list[dict]) -> None:
    """Fill faces and dominant emotion per session: ended sessions from the per-process cache
    of their units (shared with the timeline), running ones from the rollup."""
    identity = _file_identity(connection)
    running = {}
    for row in rows:
        if row["ended_at"] is None:
            running[row["id"]] = row
            continue
        totals: dict[str, int] = {}
        for (_, emotion), faces in _ended_session_units(
                connection, (identity, row["id"], row["started_at"], row["ended_at"]), _current_unit()).items():
            totals[emotion] = totals.get(emotion, 0) + faces
        row["faces"] = sum(totals.values())
        row["dominant"] = max(totals, key=totals.get) if totals else None
    if running:
        _count_session_totals(connection, running)


def _count_session_totals(connection, by_id: dict[int, dict]) -> None:
    best: dict[int, int] = {}
    sql = ("SELECT session_id, emotion, SUM(faces) FROM emotion_minutes WHERE session_id IN ("
           + ", ".join("?" * len(by_id)) + ") GROUP BY session_id, emotion")
    for session_id, emotion, faces in connection.execute(sql, list(by_id)):
        row = by_id[session_id]
        row["faces"] += faces
        if faces > best.get(session_id, 0):
            best[session_id] = faces
            row["dominant"] = emotion


def warm_cache(path: str | Path) -> int:
    """Count the units of every ended session now (at server start), so that the first visit
    finds them counted; returns how many sessions were counted. Never raises."""
    try:
        connection = connect(path)
    except LogUnavailable:
        return 0
    try:
        ended, _ = _sessions_by_state(connection, Filters())
        for session_key in ended:
            _ended_session_units(connection, session_key, _current_unit())
        return len(ended)
    except sqlite3.DatabaseError:
        return 0
    finally:
        connection.close()


def _current_unit() -> int:
    """The cache unit of the local clock now, which the timeline of recent days will ask for."""
    return cache_unit(localtime.utc_offset(time.time()))


def _file_identity(connection) -> tuple:
    """(path, inode) of the open database; with a session's start in the key, a replaced file
    is not mistaken for the one counted before."""
    path = connection.execute("PRAGMA database_list").fetchone()[2]
    return path, os.stat(path).st_ino


def columns_of(connection: sqlite3.Connection, table: str) -> set[str]:
    """The column names of `table` (a log of an older layout lacks some)."""
    return {row[1] for row in connection.execute(f"PRAGMA table_info([{table}])")}


# Characters with which a spreadsheet (Excel, LibreOffice, Google Sheets) reads a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """A free-text CSV cell (a label, note, device or marker someone typed) that a spreadsheet shows
    as text: one beginning like a formula gets a leading apostrophe, as OWASP advises against CSV
    injection (a label "=HYPERLINK(...)" would otherwise run when a colleague opens the export).
    Numbers are never passed here, so a negative number stays a number."""
    text = "" if text is None else str(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export_columns(connection: sqlite3.Connection, label_set: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """EXPORT_COLUMNS, and `media_time` (seconds from the start of the source: the position in a
    video) where the log has it (schema 3). For a label set other than the seven emotions, its
    probability columns (see `probability_columns`) stand in place of the emotions'."""
    fixed = EXPORT_COLUMNS[:-len(EMOTIONS)]
    labels = EMOTIONS if label_set is None or label_set == EMOTIONS else tuple(probability_columns(label_set))
    media = ("media_time",) if "media_time" in columns_of(connection, "detections") else ()
    return fixed + labels + media


def probability_columns(labels) -> dict[str, str]:
    """{export column: label} for a taught label set: a column is named as its label, or p_LABEL
    where that name is taken by another column of the export (a label called "face" or "x") or by
    another label (labels "face" and "p_face": p_face and p_p_face), so no label loses its column."""
    fixed = set(EXPORT_COLUMNS[:-len(EMOTIONS)]) | {"media_time", "local_time", "probabilities"}
    columns = {}
    for label in labels:
        name = "p_" + label if label in fixed or label.startswith("label_") else label
        while name in columns or name in fixed or (name != label and name in labels):
            name = "p_" + name
        columns[name] = label
    return columns


def session_labels(connection: sqlite3.Connection) -> dict[int, dict[str, str]]:
    """{session id: its labels} for every session with labels ({} for a log without them)."""
    if "labels" not in columns_of(connection, "sessions"):
        return {}
    found = {}
    for session_id, text in connection.execute("SELECT id, labels FROM sessions WHERE labels NOT IN ('', '{}')"):
        try:
            found[session_id] = json.loads(text)
        except ValueError:
            continue
    return found


def export_rows(connection: sqlite3.Connection, filters: Filters, columns=EXPORT_COLUMNS) -> Iterator[tuple]:
    """Every detection in the filtered range, oldest first, as tuples in `columns` order.

    A taught label set's probability columns (filters.label_set, see `export_columns`) are read
    from the detections' JSON with json_extract, its paths passed as parameters. Fetched in chunks
    so that a month of detections streams without being held in memory.
    """
    selected, select_params = _export_selection(columns, filters.label_set)
    clauses, params = _time_conditions(filters)
    more_clauses, more_params = filters.conditions()
    sql = ("SELECT " + ", ".join(selected) + " FROM detections" + _where(clauses + more_clauses)
           + " ORDER BY ts, id")
    cursor = connection.execute(sql, select_params + params + more_params)
    while chunk := cursor.fetchmany(EXPORT_CHUNK):
        yield from chunk


def _export_selection(columns, label_set) -> tuple[list[str], list]:
    """SQL expressions for the export's columns (stored columns by name, a taught label's
    probability by json_extract) and the parameters of those expressions, in order."""
    by_column = {} if label_set is None or label_set == EMOTIONS else probability_columns(label_set)
    stored = set(EXPORT_COLUMNS) | {"media_time"}
    selected, params = [], []
    for column in columns:
        if column in by_column:
            selected.append("json_extract(probabilities, ?)")
            params.append(probability_path(by_column[column]))
        elif column in stored:
            selected.append(column)
        else:
            raise ValueError(f"{column!r} is not a column of the export")
    return selected, params
