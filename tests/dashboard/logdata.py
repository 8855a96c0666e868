"""Test logs written through the real writer (capture.log), with rows whose answers we know."""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

from capture.log import LogWriter, SessionDetails, open_log, start_session
from model.labels import EMOTIONS

# 2023-11-14 22:13:20 UTC: not on a minute boundary, so the rollup's edge handling is exercised.
BASE = 1_700_000_000.0


# A taught label set that shares a label ("neutral") with the emotions, so that summing the two
# would show.
TAUGHT = ("teeth", "closed smile", "neutral")


def one_hot(emotion: str, confidence: float = 0.9, labels=EMOTIONS) -> list[float]:
    """Probabilities over `labels` where `emotion` wins with `confidence` and the rest share what is left."""
    rest = (1 - confidence) / (len(labels) - 1)
    return [confidence if name == emotion else rest for name in labels]


def write_session(db, device: str, rows: list[tuple[float, str]], *, started_at: float | None = None,
                  ended_at: float | None = None, close: bool = True) -> int:
    """Log `(ts, emotion)` rows, one face per frame, as one session; returns its id.

    start_session stamps the session with the current time; tests that need an old session
    set its start and end afterwards, as a daemon running at that time would have.
    """
    session_id = start_session(db, device=device, model="test", detector="haar")
    writer = LogWriter(db, session_id)
    for frame, (ts, emotion) in enumerate(rows):
        writer.add(ts, frame, 0, (10, 20, 30, 40), one_hot(emotion))
    writer.update_counters(frames_analysed=len(rows))
    if close:
        writer.close()
    else:
        writer.flush()
    if started_at is not None:
        with db.atomic():
            db.execute("UPDATE sessions SET started_at = ?, ended_at = ? WHERE id = ?",
                       [started_at, ended_at if close else None, session_id])
    return session_id


def write_taught_session(db, device: str, rows: list[tuple[float, str]], labels=TAUGHT, *, started_at: float,
                         ended_at: float | None = None, participant: str = "P09") -> int:
    """Log `(ts, label)` rows of a taught model (one face per frame, media time from `started_at`)
    as a file session labelled participant=`participant`; returns its id. Left running when
    `ended_at` is None."""
    details = SessionDetails(kind="file", label_set=tuple(labels), labels={"participant": participant})
    session_id = start_session(db, device=device, model="taught", detector="haar", details=details,
                               started_at=started_at)
    writer = LogWriter(db, session_id, labels=tuple(labels))
    for frame, (ts, label) in enumerate(rows):
        writer.add(ts, frame, 0, (10, 20, 30, 40), one_hot(label, 0.8, labels), track=1, media_time=ts - started_at)
    writer.update_counters(frames_analysed=len(rows))
    if ended_at is None:
        writer.flush()
    else:
        writer.close("finished", ended_at=ended_at)
    return session_id


def mixed_log(path: Path):
    """A seven-emotion session and a taught-label session; returns (path, emotion id, taught id).

    Emotions (device "0"): 15 faces from BASE, one every 2 s: 10 happy then 5 neutral.
    Taught (device "clip.mp4", labels TAUGHT): 20 faces from BASE + 100, one every 2 s: 12 teeth,
    6 closed smile, 2 neutral.
    """
    db = open_log(path)
    emotion_rows = [(BASE + 2 * i, "happy" if i < 10 else "neutral") for i in range(15)]
    emotions = write_session(db, "0", emotion_rows, started_at=BASE, ended_at=BASE + 60)
    taught_rows = [(BASE + 100 + 2 * i, "teeth" if i < 12 else "closed smile" if i < 18 else "neutral")
                   for i in range(20)]
    taught = write_taught_session(db, "clip.mp4", taught_rows, started_at=BASE + 100, ended_at=BASE + 160)
    db.close()
    return path, emotions, taught


def known_log(path: Path):
    """Two sessions on two devices with a known pattern; returns (path, rows by session id).

    Session A (device "0"): 300 faces, one every 2 s from BASE, cycling happy, happy, sad.
    Session B (device "cam"): 120 faces, one every 0.5 s from BASE + 3600, all angry.
    """
    db = open_log(path)
    a_rows = [(BASE + 2 * i, ("happy", "happy", "sad")[i % 3]) for i in range(300)]
    b_rows = [(BASE + 3600 + 0.5 * i, "angry") for i in range(120)]
    a = write_session(db, "0", a_rows, started_at=BASE, ended_at=BASE + 600)
    b = write_session(db, "cam", b_rows, started_at=BASE + 3600, ended_at=BASE + 3660)
    db.close()
    return path, {a: a_rows, b: b_rows}


def utc(*fields: int) -> float:
    """UTC epoch seconds of a (year, month, day, hour[, minute]) reading in UTC."""
    return datetime.datetime(*fields, tzinfo=datetime.timezone.utc).timestamp()


# The night US daylight saving time ended in 2025: 01:00-02:00 happened twice in New York, first
# EDT (05:00-06:00 UTC), then EST (06:00-07:00 UTC). As ../shared/cases/dst-fallback/mk_dst_db.py.
DST_START, DST_END = utc(2025, 11, 2, 2), utc(2025, 11, 2, 11)
EDT_1AM, EST_1AM = utc(2025, 11, 2, 5), utc(2025, 11, 2, 6)


def dst_rows() -> list[tuple[float, str]]:
    """A face every 20 s from 22:00 EDT to 06:00 EST (1,620): happy in the first 01:00-02:00,
    sad in the repeated one, neutral otherwise."""
    rows = []
    for step in range(int((DST_END - DST_START) // 20)):
        ts = DST_START + 20 * step
        emotion = "happy" if EDT_1AM <= ts < EST_1AM else "sad" if EST_1AM <= ts < EST_1AM + 3600 else "neutral"
        rows.append((ts, emotion))
    return rows


def dst_log(path: Path) -> Path:
    """The dst-fallback case's log, written through the real writer as one ended session."""
    db = open_log(path)
    write_session(db, "0", dst_rows(), started_at=DST_START, ended_at=DST_END)
    db.close()
    return path


def local_bucket_start(ts: float, bucket: int) -> int:
    """Brute force, for checking the dashboard: the last instant at or before `ts` where the local
    clock starts a bucket, i.e. reads a multiple of `bucket` seconds or jumps over one. Walks back
    a minute at a time (every offset in use, and every change of one, falls on a whole minute),
    remembering the minutes walked, per zone."""
    if bucket < 60:
        return int(ts // bucket * bucket)
    known = _BUCKET_OF_MINUTE.setdefault((os.environ.get("TZ"), time.tzname, bucket), {})
    walked, minute = [], int(ts // 60 * 60)
    while minute not in known:
        walked.append(minute)
        wall = minute + time.localtime(minute).tm_gmtoff
        wall_just_before = minute - 1 + time.localtime(minute - 60).tm_gmtoff
        if wall % bucket == 0 or wall // bucket != wall_just_before // bucket:
            known[minute] = minute
            break
        minute -= 60
    for each in walked:
        known[each] = known[minute]
    return known[minute]


_BUCKET_OF_MINUTE: dict[tuple, dict[int, int]] = {}
