"""Time every history-page callback's server-side work on a big log (issue 4 target: <= 500 ms).

Calls the page's own callback functions inside a Flask request context of the real app, and
includes Dash's JSON serialisation of what they return. Ranges: one minute inside a session,
the last 30 days, and everything; each also with filters (one device, three emotions).

    nice -n 15 .venv/bin/python bench/dashboard_queries.py --db bench/out/big.db
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dash._utils import to_json  # noqa: E402

from dashboard import queries  # noqa: E402
from dashboard.app import create_app  # noqa: E402
from model.labels import EMOTIONS  # noqa: E402


class Timing(float):
    """Median wall ms, printed as "wall (cpu)": the CPU time shows the work itself when other
    jobs share the cores (this machine trains a model while benchmarks run)."""
    cpu: float

    def __format__(self, spec: str) -> str:
        return f"{float(self):{spec}} ({self.cpu:{spec}})"


def median_ms(function, repeats: int) -> tuple[Timing, object]:
    """Median wall and CPU time in ms over `repeats` calls (after one warm-up), and the last result."""
    result = function()
    walls, cpus = [], []
    for _ in range(repeats):
        began, began_cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append((time.perf_counter() - began) * 1000)
        cpus.append((time.process_time() - began_cpu) * 1000)
    timing = Timing(statistics.median(walls))
    timing.cpu = statistics.median(cpus)
    return timing, result


def scenarios(db_path: Path) -> list[tuple[str, str, float, list, list]]:
    """(name, preset, now, devices, emotions): "now" puts the last minute inside a session."""
    connection = queries.connect(db_path)
    first, last = queries.data_bounds(connection)
    middle_session = connection.execute(
        "SELECT started_at FROM sessions ORDER BY started_at LIMIT 1 OFFSET "
        "(SELECT COUNT(*) / 2 FROM sessions)").fetchone()[0]
    device = connection.execute("SELECT device FROM sessions ORDER BY id LIMIT 1").fetchone()[0]
    connection.close()
    inside = middle_session + 3600.5
    some = ["happy", "sad", "neutral"]
    return [("1 minute", "1m", inside, [], list(EMOTIONS)),
            ("1 minute, 1 device, 3 emotions", "1m", inside, [device], some),
            ("30 days", "30d", last + 60, [], list(EMOTIONS)),
            ("30 days, 1 device, 3 emotions", "30d", last + 60, [device], some),
            ("everything", "all", last + 60, [], list(EMOTIONS))]


def time_scenario(page, name, preset, now, devices, emotions, repeats: int) -> dict:
    def full():
        return page.counted_state(False, None, now, preset, None, None, devices, None, emotions)

    def cold_full():
        queries._SESSION_HOURS.clear()  # as if the server had not counted any session yet
        return to_json(full())

    cold_ms, _ = median_ms(cold_full, repeats)
    full_ms, state = median_ms(lambda: to_json(full()), repeats)
    state = full()
    tick_ms, _ = median_ms(lambda: to_json(page.counted_state(True, dict(state), now + 2, preset, None, None,
                                                              devices, None, emotions)), repeats)

    def tick_with_new_rows():
        pretend = dict(state, counts={k: dict(v) for k, v in state["counts"].items()},
                       last_id=state["last_id"] - 1000)
        return to_json(page.counted_state(True, pretend, now + 2, preset, None, None, devices, None, emotions))

    tick_new_ms, _ = median_ms(tick_with_new_rows, repeats)
    draw_ms, _ = median_ms(lambda: to_json(page.draw(state, emotions)), repeats)
    table_ms, _ = median_ms(lambda: to_json(page.sessions_table(state)), repeats)

    def cold_table():
        queries._SESSION_HOURS.clear()  # as if the server had not counted any session yet
        return to_json(page.sessions_table(state))

    cold_table_ms, _ = median_ms(cold_table, repeats)
    faces = sum(sum(v.values()) for v in state["counts"].values())
    return {"name": name, "faces": faces, "bucket": state["bucket"], "buckets": len(state["counts"]),
            "count": full_ms, "count_cold": cold_ms, "tick": tick_ms, "tick_1000_new": tick_new_ms, "draw": draw_ms, "sessions": table_ms,
            "sessions_cold": cold_table_ms}


def big_log_page(argv, description: str, page_name: str):
    """The real app on `--db` (the big log) and one of its page modules: (args, db path, app, page,
    detections in the log). Shared with bench/dashboard_sessions.py."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="bench/out/big.db")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    db_path = Path(args.db)
    app = create_app(db_path)
    connection = queries.connect(db_path)
    rows = connection.execute("SELECT MAX(id) FROM detections").fetchone()[0]
    connection.close()
    return args, db_path, app, sys.modules[f"pages.{page_name}"], rows


def main(argv=None) -> int:
    args, db_path, app, page, rows = big_log_page(argv, __doc__, "history")
    print(f"{db_path}: {rows:,} detections; median of {args.repeats} runs, wall ms (CPU ms), "
          "including JSON serialisation\n")
    with app.server.test_request_context("/"):
        def cold_layout():
            queries._SESSION_HOURS.clear()  # as if the server had not counted any session yet
            return to_json(page.layout())

        cold_ms, _ = median_ms(cold_layout, args.repeats)
        layout_ms, _ = median_ms(lambda: to_json(page.layout()), args.repeats)
        print("page layout (menus, and counts, charts and sessions for the default range, everything): "
              f"{layout_ms:.1f} ms; nothing cached: {cold_ms:.1f} ms\n")
        print("| range | faces | bucket | count, nothing cached | count (filter change) | tick, no new rows "
              "| tick, 1,000 new rows | draw charts | sessions table, nothing cached | sessions table |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for scenario in scenarios(db_path):
            r = time_scenario(page, *scenario, repeats=args.repeats)
            print(f"| {r['name']} | {r['faces']:,} | {r['bucket']} s × {r['buckets']} | {r['count_cold']:.1f} | {r['count']:.1f} | "
                  f"{r['tick']:.1f} | {r['tick_1000_new']:.1f} | {r['draw']:.1f} | {r['sessions_cold']:.1f} | "
                  f"{r['sessions']:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
