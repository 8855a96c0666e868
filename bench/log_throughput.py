"""Logging throughput: face rows per second through the real LogWriter into a fresh SQLite file.

Each row goes through `LogWriter.add` (as the daemon calls it) and is committed in batches
with the minute rollup and the session heartbeat, as in production; the clock stops after
the final `close()`, so every row is on disk. Target: at least 20,000 rows a second.

    nice -n 15 .venv/bin/python bench/log_throughput.py [--rows 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from common import ROOT
from capture.log import LogWriter, open_log, start_session


def rows_per_second(rows: int, seed: int) -> float:
    random = np.random.default_rng(seed)
    probabilities = random.dirichlet(np.ones(7), size=1000).astype(np.float32)
    scratch = ROOT / "bench" / "out"           # the project's disk, as data/ is; /tmp may be in memory
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as folder:
        db = open_log(Path(folder) / "bench.db")
        writer = LogWriter(db, start_session(db, device="bench", model="-", detector="-"))
        started, ts = time.perf_counter(), time.time()
        for i in range(rows):
            writer.add(ts + i / 60, i // 2, i % 2, (100, 120, 180, 180), probabilities[i % 1000], track=i % 2,
                       media_time=i / 60)
        writer.close()
        seconds = time.perf_counter() - started
        assert db.execute("SELECT count(*) FROM detections").fetchone()[0] == rows
    return rows / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rates = [rows_per_second(args.rows, seed) for seed in range(args.repeats)]
    print(f"LogWriter: {statistics.median(rates):,.0f} face rows/s (median of {args.repeats} x {args.rows:,} rows; "
          f"runs: {', '.join(f'{r:,.0f}' for r in rates)}); target 20,000")


if __name__ == "__main__":
    main()
