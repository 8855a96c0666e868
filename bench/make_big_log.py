"""Write a large synthetic Moodlog log through the real writer (capture.log.LogWriter).

Rows are spread over `--days` days ending now, in `--sessions` sessions on a few devices,
with several faces per frame and emotions that drift with the hour of the day, so that the
dashboard's charts have something to show. Every detection goes through `LogWriter.add`;
only the session rows' start and end are set afterwards, since `start_session` stamps them
with the current time and this log pretends to be a month old.

    nice -n 15 .venv/bin/python bench/make_big_log.py --rows 10000000 --out bench/out/big.db
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from capture.log import LogWriter, SessionDetails, add_markers, open_log, start_session  # noqa: E402

DEVICES = ("0", "1", "rtsp://door-camera/stream")
CHUNK = 100_000


def session_spans(days: float, sessions: int, end: float) -> list[tuple[float, float]]:
    """`sessions` equal spans covering 90 % of the period, separated by gaps (nights off)."""
    period = days * 86400
    slot = period / sessions
    start = end - period
    return [(start + i * slot, start + i * slot + 0.9 * slot) for i in range(sessions)]


def probabilities(rng: np.random.Generator, ts: np.ndarray) -> np.ndarray:
    """(n, 7) rows summing to 1; happy peaks around noon local time, neutral dominates overall."""
    hour = (ts % 86400) / 3600
    logits = rng.normal(0, 1.2, (len(ts), 7))
    logits[:, 6] += 1.0
    logits[:, 3] += 1.2 * np.sin((hour - 6) / 24 * 2 * math.pi)
    logits[:, 4] += 0.8 * np.cos((hour - 3) / 24 * 2 * math.pi)
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def write_session(db, rng, device: str, span: tuple[float, float], rows: int, faces_per_frame: int,
                  number: int = 0) -> None:
    session_id = start_session(db, device=device, model="moodnet.keras", detector="haar", details=SessionDetails(
        labels={"participant": f"P{number:02d}", "condition": "AB"[number % 2]}))
    writer = LogWriter(db, session_id, batch_rows=20_000)
    frames = max(1, rows // faces_per_frame)
    step = (span[1] - span[0]) / frames
    written = 0
    while written < rows:
        n = min(CHUNK, rows - written)
        index = np.arange(written, written + n)
        ts = span[0] + (index // faces_per_frame) * step
        probs = probabilities(rng, ts)
        boxes = rng.integers(20, 400, (n, 4))
        for i in range(n):
            writer.add(float(ts[i]), int(index[i] // faces_per_frame), int(index[i] % faces_per_frame),
                       boxes[i], probs[i], track=int(index[i] % faces_per_frame), media_time=float(ts[i] - span[0]))
        written += n
    writer.update_counters(frames_read=frames, frames_analysed=frames, faces=rows)
    writer.close()
    with db.atomic():
        db.execute("UPDATE sessions SET started_at = ?, ended_at = ?, updated_at = ? WHERE id = ?",
                   [span[0], span[1], span[1], session_id])
    # Five markers a session (a study's task boundaries), so segment summaries have work to do.
    length = span[1] - span[0]
    add_markers(db, session_id, [(None, length * k / 6, f"task {k}") for k in range(1, 6)], "csv")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--faces-per-frame", type=int, default=3)
    parser.add_argument("--out", default="bench/out/big.db")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        parser.error(f"{out} exists; remove it first")
    db = open_log(out)
    rng = np.random.default_rng(args.seed)
    began = time.perf_counter()
    spans = session_spans(args.days, args.sessions, time.time())
    per_session = args.rows // args.sessions
    for number, span in enumerate(spans):
        rows = per_session + (args.rows % args.sessions if number == len(spans) - 1 else 0)
        write_session(db, rng, DEVICES[number % len(DEVICES)], span, rows, args.faces_per_frame, number)
        elapsed = time.perf_counter() - began
        done = per_session * (number + 1)
        print(f"session {number + 1}/{len(spans)}: {done:,} rows, {elapsed:.0f} s, {done / elapsed:,.0f} rows/s",
              flush=True)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    elapsed = time.perf_counter() - began
    print(f"wrote {args.rows:,} rows in {elapsed:.0f} s ({args.rows / elapsed:,.0f} rows/s) to {out} "
          f"({out.stat().st_size / 1e9:.2f} GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
