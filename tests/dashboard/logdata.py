"""Test logs written through the real writer (capture.log), with rows whose answers we know."""

from __future__ import annotations

from pathlib import Path

from capture.log import LogWriter, open_log, start_session
from model.labels import EMOTIONS

# 2023-11-14 22:13:20 UTC: not on a minute boundary, so the rollup's edge handling is exercised.
BASE = 1_700_000_000.0


def one_hot(emotion: str, confidence: float = 0.9) -> list[float]:
    """Probabilities where `emotion` wins with `confidence` and the rest share what is left."""
    rest = (1 - confidence) / (len(EMOTIONS) - 1)
    return [confidence if name == emotion else rest for name in EMOTIONS]


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
