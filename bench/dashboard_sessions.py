"""Time every Sessions-page callback's server-side work on a big log (issue 14 target: <= 500 ms).

Calls the page's own callbacks inside a Flask request context of the real app, with Dash's JSON
serialisation of what they return, on the log of bench/make_big_log.py (10 M rows in 12 sessions of
833,000 faces, 5 markers each): the summary of every session and of a label filter, one session's
curves (all faces and one track) with its segments, and the overlay of every session.

    nice -n 15 .venv/bin/python bench/dashboard_sessions.py --db bench/out/big.db
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dash._utils import to_json  # noqa: E402

from dashboard import queries  # noqa: E402
from dashboard_queries import big_log_page, median_ms  # noqa: E402


def main(argv=None) -> int:
    args, db_path, app, page, rows = big_log_page(argv, __doc__, "sessions")
    connection = queries.connect(db_path)
    biggest = connection.execute("SELECT id, faces FROM sessions ORDER BY faces DESC LIMIT 1").fetchone()
    connection.close()
    print(f"{db_path}: {rows:,} detections; median of {args.repeats} runs, wall ms (CPU ms), with JSON\n")
    print("| callback | what | ms |\n|---|---|---:|")
    with app.server.test_request_context("/sessions"):
        options = page.summary(None, None)[1]
        cases = [
            ("page layout", "", lambda: page.layout()),
            ("summary", "every session", lambda: page.summary(None, None)),
            ("summary", "label filter participant=P03", lambda: page.summary("participant=P03", None)),
            ("tracks", f"session {biggest[0]} ({biggest[1]:,} faces)", lambda: page.track_choices(biggest[0])),
            ("one session", "curves (auto step), markers, outages, 6 segments",
             lambda: page.one_session(biggest[0], None, "auto")),
            ("one session", "one track, 1 min step", lambda: page.one_session(biggest[0], 0, 60.0)),
            ("overlay", f"{min(len(options), page.MOST_OVERLAID)} sessions, valence",
             lambda: page.overlay(options, "valence", None, "auto", None)),
        ]
        for name, what, call in cases:
            timing, _ = median_ms(lambda: to_json(call()), args.repeats)
            print(f"| {name} | {what} | {timing:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
