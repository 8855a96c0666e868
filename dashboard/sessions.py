"""Queries for analysing sessions: what a researcher compares between participants and conditions.

- `summaries`: one row per session: its labels, duration (video time for a file), share of
  frames with a face, faces, mean probability of each emotion, share of readings per emotion,
  outages; from the session row and the `emotion_minutes` rollup (its probability sums), so a
  month-long live session costs as little as a one-minute clip.
- `series`: mean probability of each emotion and valence over time since each session's start
  (media time), per bucket; from the detections for files, for live sessions up to DETAIL_FACES
  faces and with a track filter, else (long live sessions) from the rollup at minute resolution.
- `segments`: a session cut at its markers, each piece summarised as above.

A session made with a taught label set (sessions.label_set) is summarised in its own labels: its
means come from the detections' `probabilities` JSON (json_extract; such sessions are small), its
shares from the rollup's counts per top label; it has no valence.

Valence is the mean probability of the positive emotion minus that of the negative ones:
happy - (angry + disgust + fear + sad), from -1 to 1; surprise and neutral count as neither, as
surprise can be either (FaceReader's valence instead subtracts only the strongest negative emotion).
Rows logged before schema 3 have no media time: their time since the session's start stands in.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from dataclasses import dataclass, field

from capture.source import masked_device
from dashboard.queries import parse_label_set, probability_path, session_duration
from model.labels import EMOTIONS, is_emotions

POSITIVE = ("happy",)
NEGATIVE = ("angry", "disgust", "fear", "sad")
VALENCE_DEFINITION = ("valence = mean P(happy) - mean [P(angry) + P(disgust) + P(fear) + P(sad)], -1 to 1; "
                      "surprise and neutral count as neither")
# Sessions with more faces than this chart from the per-minute rollup (one point a minute); fewer,
# from their detections (any bucket). A 1-hour file at 30 fps with one face is 108,000 faces.
DETAIL_FACES = 250_000
# Readings below this confidence (top probability) are "uncertain": drawn apart, counted apart.
LOW_CONFIDENCE = 0.5
MEDIA_TIME = "COALESCE(d.media_time, d.ts - s.started_at)"


@dataclass
class SessionSummary:
    """One session as the summary table shows it; times in seconds, shares 0-1."""
    id: int
    device: str
    kind: str
    labels: dict
    note: str | None
    started_at: float
    duration: float | None
    status: str | None
    frames_analysed: int
    face_share: float | None
    faces: int
    mean: dict[str, float]
    share: dict[str, float]
    outages: int
    outage_seconds: float
    reconnects: int
    markers: int
    valence: float | None = None
    settings: dict = field(default_factory=dict)
    version: str | None = None
    model_sha256: str | None = None
    label_set: tuple[str, ...] = EMOTIONS


def label_filter(text: str | None) -> dict[str, str]:
    """'participant=P07, condition=B' -> {'participant': 'P07', 'condition': 'B'}; ValueError when a
    part is not NAME=VALUE, or a name is given twice (a session has one value per name, so the filter,
    which keeps sessions with every label given, would silently keep only the last)."""
    wanted = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"{part.strip()!r} is not NAME=VALUE")
        if name.strip() in wanted:
            raise ValueError(f"{name.strip()} is given twice; a session matches only when it has every label "
                             "given, so name each label once")
        wanted[name.strip()] = value.strip()
    return wanted


def session_ids(connection: sqlite3.Connection, labels: dict[str, str] | None = None,
                chosen: list[int] | None = None) -> list[int]:
    """Sessions whose labels include every NAME=VALUE of `labels`, among `chosen` (all when None),
    newest first."""
    clauses, params = [], []
    for name, value in (labels or {}).items():
        clauses.append("json_extract(labels, ?) = ?")
        params += [f'$."{name}"', value]
    if chosen:
        clauses.append(f"id IN ({', '.join('?' * len(chosen))})")
        params += list(chosen)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return [row[0] for row in connection.execute(f"SELECT id FROM sessions{where} ORDER BY started_at DESC", params)]


def summaries(connection: sqlite3.Connection, ids: list[int]) -> list[SessionSummary]:
    """A SessionSummary per id, in the order given."""
    if not ids:
        return []
    marks = ", ".join("?" * len(ids))
    sums = ", ".join(f"SUM(sum_{e})" for e in EMOTIONS)
    rollup = {row[0]: row[1:] for row in connection.execute(
        f"SELECT session_id, SUM(faces), {sums} FROM emotion_minutes WHERE session_id IN ({marks}) GROUP BY 1", ids)}
    tops: dict[int, dict[str, int]] = {}
    for session_id, emotion, faces in connection.execute(
            f"SELECT session_id, emotion, SUM(faces) FROM emotion_minutes WHERE session_id IN ({marks}) GROUP BY 1, 2",
            ids):
        tops.setdefault(session_id, {})[emotion] = faces
    outages = {row[0]: row[1:] for row in connection.execute(
        f"SELECT session_id, count(*), SUM(ended_at - started_at) FROM gaps WHERE session_id IN ({marks}) GROUP BY 1",
        ids)}
    markers = dict(connection.execute(
        f"SELECT session_id, count(*) FROM markers WHERE session_id IN ({marks}) GROUP BY 1", ids).fetchall())
    rows = {row["id"]: row for row in _session_rows(connection, ids)}
    return [_summary(rows[i], rollup.get(i), tops.get(i, {}), outages.get(i, (0, 0.0)), markers.get(i, 0),
                     _taught_means(connection, rows[i]))
            for i in ids if i in rows]


def row_label_set(row) -> tuple[str, ...]:
    """A session row's label set: the seven emotions unless a taught model made it (an unreadable
    record reads as the emotions, which the rows of such a log hold)."""
    return parse_label_set(row["label_set"]) or EMOTIONS


def label_sets_of(connection: sqlite3.Connection, ids: list[int]) -> dict[int, tuple[str, ...]]:
    """{session id: its label set} for `ids`."""
    if not ids:
        return {}
    rows = connection.execute(f"SELECT id, label_set FROM sessions WHERE id IN ({', '.join('?' * len(ids))})", ids)
    return {session_id: parse_label_set(text) or EMOTIONS for session_id, text in rows}


def _mean_terms(labels, alias: str = "d.") -> tuple[str, list]:
    """SQL for each label's mean probability over the selected rows, and its parameters: the
    emotions' own columns, or a taught label's value in the `probabilities` JSON."""
    if is_emotions(labels):
        return ", ".join(f"AVG({alias}[{e}])" for e in EMOTIONS), []
    return (", ".join([f"AVG(json_extract({alias}probabilities, ?))"] * len(labels)),
            [probability_path(label) for label in labels])


def _taught_means(connection, row) -> dict[str, float] | None:
    """Mean probability per label of a taught-label session, from its detections; None for an
    emotion session (its rollup has the sums)."""
    labels = row_label_set(row)
    if is_emotions(labels):
        return None
    terms, params = _mean_terms(labels)
    found = connection.execute(f"SELECT {terms} FROM detections d WHERE d.session_id = ?",
                               params + [row["id"]]).fetchone()
    return {label: float(value or 0.0) for label, value in zip(labels, found)}


def _session_rows(connection, ids):
    connection.row_factory = sqlite3.Row
    try:
        return connection.execute(f"SELECT * FROM sessions WHERE id IN ({', '.join('?' * len(ids))})", ids).fetchall()
    finally:
        connection.row_factory = None


def _summary(row, rollup, tops: dict[str, int], outages, markers: int, taught_means=None) -> SessionSummary:
    """One session's summary; `taught_means` {label: mean probability} for a taught label set."""
    labels = row_label_set(row)
    faces = int(rollup[0]) if rollup and rollup[0] else 0
    if taught_means is None:
        mean = {e: (rollup[1 + i] or 0.0) / faces for i, e in enumerate(EMOTIONS)} if faces else {}
    else:
        mean = taught_means if faces else {}
    share = {e: tops.get(e, 0) / faces for e in labels} if faces else {}
    analysed = row["frames_analysed"] or 0
    return SessionSummary(
        id=row["id"], device=masked_device(row["device"]), kind=row["kind"] or "live", labels=json.loads(row["labels"] or "{}"),
        note=row["note"], started_at=row["started_at"], duration=session_duration(row), status=row["status"],
        frames_analysed=analysed,
        face_share=(analysed - (row["frames_without_face"] or 0)) / analysed if analysed else None,
        faces=faces, mean=mean, share=share, outages=int(outages[0] or 0), outage_seconds=float(outages[1] or 0.0),
        reconnects=row["reconnects"] or 0, markers=markers,
        valence=valence(mean) if mean and is_emotions(labels) else None, settings=json.loads(row["settings"] or "{}"),
        version=row["version"], model_sha256=row["model_sha256"], label_set=labels)


def valence(mean: dict[str, float]) -> float:
    """See VALENCE_DEFINITION."""
    return sum(mean.get(e, 0.0) for e in POSITIVE) - sum(mean.get(e, 0.0) for e in NEGATIVE)


@dataclass
class Series:
    """One session's curves over time since its start: bucket starts (s), faces, mean probability
    per label of `labels` (its label set), valence (None for a taught label set), and the share of
    uncertain readings, per bucket."""
    session_id: int
    seconds: list[float]
    faces: list[int]
    mean: dict[str, list[float]]
    valence: list[float]
    uncertain: list[float]
    resolution: str
    step: float = 0.0
    labels: tuple[str, ...] = EMOTIONS


def series(connection: sqlite3.Connection, session_id: int, bucket: float, track: int | None = None) -> Series:
    """Curves of one session in buckets of `bucket` seconds of its own time (see the module notes)."""
    if track is None and _on_the_rollup(connection, session_id):
        return _rollup_series(connection, session_id, max(bucket, 60.0))
    labels = label_sets_of(connection, [session_id]).get(session_id, EMOTIONS)
    means, mean_params = _mean_terms(labels)
    where, params = "d.session_id = ?", [bucket, *mean_params, session_id]
    if track is not None:
        where += " AND d.track = ?"
        params.append(track)
    rows = connection.execute(
        # Rounded to a millionth of a step before the floor: frame times k / fps divided by a step of
        # 1 / fps land a hair under k (0.6 / 0.2 = 2.9999999999999996), which put two frames in one
        # step and none in the next.
        f"SELECT CAST(ROUND({MEDIA_TIME} / ?, 6) AS INTEGER) AS b, count(*), {means}, "
        f"AVG(d.confidence < {LOW_CONFIDENCE}) FROM detections d JOIN sessions s ON s.id = d.session_id "
        f"WHERE {where} GROUP BY b ORDER BY b", params).fetchall()
    return _series(session_id, [(r[0] * bucket, r[1], r[2:2 + len(labels)], r[-1]) for r in rows], "detections",
                   bucket, labels)


def _on_the_rollup(connection, session_id: int) -> bool:
    """Whether a session is charted from the per-minute rollup: a live one over DETAIL_FACES faces.
    Never a file: the rollup is by wall-clock minute, and a file's rows are placed by media time
    (a 2.5-hour video analysed in 20 minutes would be drawn over 20 minutes). Never a taught label
    set's: the rollup holds no probability sums for it."""
    row = connection.execute("SELECT faces, kind, label_set FROM sessions WHERE id = ?", [session_id]).fetchone()
    return (bool(row) and (row[0] or 0) > DETAIL_FACES and (row[1] or "live") != "file"
            and is_emotions(parse_label_set(row[2]) or EMOTIONS))


def _rollup_series(connection, session_id: int, bucket: float) -> Series:
    sums = ", ".join(f"SUM(m.sum_{e}) / SUM(m.faces)" for e in EMOTIONS)
    rows = connection.execute(
        f"SELECT CAST((m.minute * 60 - s.started_at) / ? AS INTEGER) AS b, SUM(m.faces), {sums} "
        f"FROM emotion_minutes m JOIN sessions s ON s.id = m.session_id WHERE m.session_id = ? GROUP BY b ORDER BY b",
        [bucket, session_id]).fetchall()
    return _series(session_id, [(max(r[0], 0) * bucket, r[1], r[2:], None) for r in rows], "minutes", bucket)


def _series(session_id, rows, resolution, step: float, labels=EMOTIONS) -> Series:
    """A Series from (bucket start s, faces, mean per label in `labels` order, uncertain share) rows."""
    mean = {e: [float(r[2][i] or 0.0) for r in rows] for i, e in enumerate(labels)}
    points = [dict(zip(labels, (float(v or 0.0) for v in r[2]))) for r in rows]
    valences = [valence(p) if is_emotions(labels) else None for p in points]
    return Series(session_id, [float(r[0]) for r in rows], [int(r[1]) for r in rows], mean, valences,
                  [None if r[3] is None else float(r[3]) for r in rows], resolution, step, tuple(labels))


def tracks(connection: sqlite3.Connection, session_id: int) -> list[tuple[int, int]]:
    """(track, faces) of a session, most faces first."""
    return connection.execute("SELECT track, count(*) FROM detections WHERE session_id = ? AND track IS NOT NULL "
                              "GROUP BY track ORDER BY 2 DESC, 1", [session_id]).fetchall()


def markers(connection: sqlite3.Connection, session_id: int) -> list[tuple[float, float, str, str]]:
    """(media time s, wall time, label, source) of a session's markers, in time order."""
    return connection.execute("SELECT media_time, ts, label, source FROM markers WHERE session_id = ? "
                              "ORDER BY media_time, id", [session_id]).fetchall()


def gaps(connection: sqlite3.Connection, session_id: int) -> list[tuple[float, float, str]]:
    """(from, to in seconds since the session's start, reason) of a session's outages."""
    return connection.execute("SELECT g.started_at - s.started_at, g.ended_at - s.started_at, g.reason FROM gaps g "
                              "JOIN sessions s ON s.id = g.session_id WHERE g.session_id = ? ORDER BY 1",
                              [session_id]).fetchall()


@dataclass
class Segment:
    """A stretch of a session between markers: from/to (s since its start; to None = the end),
    the marker that opens it ('start' before the first), faces, mean probabilities, shares."""
    label: str
    start: float
    end: float | None
    faces: int
    mean: dict[str, float]
    share: dict[str, float]
    valence: float | None


def segments(connection: sqlite3.Connection, session_id: int, track: int | None = None) -> list[Segment]:
    """The session cut at each marker's media time; one Segment per stretch (empty ones too), of one
    `track` (a person followed through the session) or, None, of every face."""
    cuts = [(float(m[0]), m[2]) for m in markers(connection, session_id)]
    if not cuts or cuts[0][0] > 0:
        cuts.insert(0, (0.0, "start"))
    started = connection.execute("SELECT started_at FROM sessions WHERE id = ?", [session_id]).fetchone()[0]
    # A long live session is cut on the per-minute rollup (boundaries to the minute), as its curves are.
    # The rollup has no tracks: one track's segments come from its detections, as its curves do.
    on_rollup = track is None and _on_the_rollup(connection, session_id)
    labels = label_sets_of(connection, [session_id]).get(session_id, EMOTIONS)
    piece = (functools.partial(_rollup_segment, started=started) if on_rollup
             else functools.partial(_segment, labels=labels, track=track))
    return [piece(connection, session_id, label, start, cuts[i + 1][0] if i + 1 < len(cuts) else None)
            for i, (start, label) in enumerate(cuts)]


def _segment(connection, session_id: int, label: str, start: float, end: float | None, *,
             labels=EMOTIONS, track: int | None = None) -> Segment:
    """A stretch of a session from its detections, in its label set `labels`, of one track or all."""
    means, params = _mean_terms(labels)
    tops = ", ".join(["AVG(d.emotion = ?)"] * len(labels))
    bound, params = f"{MEDIA_TIME} >= ?", params + list(labels) + [session_id, start]
    if end is not None:
        bound += f" AND {MEDIA_TIME} < ?"
        params.append(end)
    if track is not None:
        bound += " AND d.track = ?"
        params.append(track)
    row = connection.execute(f"SELECT count(*), {means}, {tops} FROM detections d JOIN sessions s ON s.id = "
                             f"d.session_id WHERE d.session_id = ? AND {bound}", params).fetchone()
    faces = int(row[0])
    mean = {e: float(row[1 + i] or 0.0) for i, e in enumerate(labels)} if faces else {}
    share = {e: float(row[1 + len(labels) + i] or 0.0) for i, e in enumerate(labels)} if faces else {}
    return Segment(label, start, end, faces, mean, share, valence(mean) if faces and is_emotions(labels) else None)


def _rollup_segment(connection, session_id: int, label: str, start: float, end: float | None, *,
                    started: float) -> Segment:
    """A segment of a long live session from the rollup, its bounds rounded down to the minute."""
    sums = ", ".join(f"SUM(sum_{e})" for e in EMOTIONS)
    bound, params = "minute >= ?", [session_id, int((started + start) // 60)]
    if end is not None:
        bound += " AND minute < ?"
        params.append(int((started + end) // 60))
    rows = connection.execute(f"SELECT emotion, SUM(faces), {sums} FROM emotion_minutes WHERE session_id = ? AND "
                              f"{bound} GROUP BY emotion", params).fetchall()
    faces = sum(int(r[1]) for r in rows)
    if not faces:
        return Segment(label, start, end, 0, {}, {}, None)
    mean = {e: sum(r[2 + i] or 0.0 for r in rows) / faces for i, e in enumerate(EMOTIONS)}
    share = {e: sum(int(r[1]) for r in rows if r[0] == e) / faces for e in EMOTIONS}
    return Segment(label, start, end, faces, mean, share, valence(mean))
