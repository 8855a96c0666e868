"""The history page's state: faces per time bucket, which live refresh extends with new rows only.

The state is a small JSON-able dict kept in the browser (a `dcc.Store`): the filters it was
computed for, the bucket size, the highest detection id already counted, and the counts. A
refresh tick asks SQLite only for detections with a higher id, adds them, and drops the
buckets that slid out of a "last N minutes" window; a filter change recomputes from scratch.
"""

from __future__ import annotations

import datetime
import urllib.parse

from dashboard import queries
from dashboard.queries import Filters
from model.labels import EMOTIONS

# Range presets of the history page: label and window in seconds (None: everything logged).
PRESETS = {
    "1m": ("Last minute", 60),
    "5m": ("Last 5 minutes", 300),
    "1h": ("Last hour", 3600),
    "24h": ("Last 24 hours", 86400),
    "7d": ("Last 7 days", 7 * 86400),
    "30d": ("Last 30 days", 30 * 86400),
    "all": ("Everything", None),
    "custom": ("Dates…", None),
}
DEFAULT_PRESET = "all"
# Past this many buckets (an "everything" range that kept growing) a refresh recomputes with
# a coarser bucket instead of extending.
REBUCKET_AT = 2 * queries.MAX_BUCKETS


def resolve_filters(connection, preset: str, start_date: str | None, end_date: str | None,
                    devices, sessions, emotions, now: float) -> Filters:
    """Turn the page's filter controls into Filters (UTC seconds, session ids, emotions)."""
    start, end = _range(preset, start_date, end_date, now)
    chosen = _chosen_sessions(connection, devices, sessions)
    emotions = tuple(e for e in EMOTIONS if e in (emotions or ()))
    return Filters(start, end, chosen, None if len(emotions) == len(EMOTIONS) else emotions)


def _range(preset: str, start_date, end_date, now: float) -> tuple[float | None, float | None]:
    """Start and end of a preset; custom dates are local days, the end day included."""
    if preset == "custom" and start_date and end_date:
        start = datetime.datetime.fromisoformat(start_date[:10]).timestamp()
        end = (datetime.datetime.fromisoformat(end_date[:10]) + datetime.timedelta(days=1)).timestamp()
        return start, end
    window = PRESETS.get(preset, PRESETS[DEFAULT_PRESET])[1]
    return (None, None) if window is None else (now - window, now)


def _chosen_sessions(connection, devices, sessions) -> tuple[int, ...] | None:
    """Session ids matching both menus; None when neither menu narrows anything."""
    chosen = None
    if devices:
        chosen = set(queries.sessions_of_devices(connection, devices))
    if sessions:
        picked = {int(s) for s in sessions}
        chosen = picked if chosen is None else chosen & picked
    return None if chosen is None else tuple(sorted(chosen))


def full_state(connection, filters: Filters, window: float | None, now: float) -> dict:
    """Count the whole filtered range; the bucket adapts to its length."""
    first, last = queries.data_bounds(connection)
    span_start = filters.start if filters.start is not None else (first or now)
    span_end = filters.end if filters.end is not None else max(last or now, span_start)
    bucket = queries.choose_bucket(max(span_end - span_start, 1))
    rows, last_id = queries.bucket_counts(connection, filters, bucket)
    state = {"filters": _filters_dict(filters), "window": window, "bucket": bucket, "last_id": last_id,
             "counts": {}, "updated": now, "live": bool(window) or filters.end is None or filters.end > now,
             "range": [span_start, span_end], "log": [first, last]}
    _add(state, rows)
    if rows and filters.start is None:  # "everything" of a filtered selection: fit what it shows
        state["range"] = [min(row[0] for row in rows), max(row[0] for row in rows) + bucket]
    return state


def advance_state(connection, state: dict, now: float) -> dict:
    """Add the detections written since the state was computed; slide a "last N" window."""
    filters = filters_from(state)
    if state["window"]:
        filters = Filters(now - state["window"], now, filters.sessions, filters.emotions)
        state["filters"] = _filters_dict(filters)
        _drop_before(state, filters.start)
    # New rows are counted whatever their time beyond the start: the id cursor moves past them
    # once, so a row stamped slightly ahead of this clock must not be skipped for good.
    new = Filters(filters.start, None if state["window"] else filters.end, filters.sessions, filters.emotions)
    rows, state["last_id"] = queries.new_bucket_counts(connection, new, state["bucket"], state["last_id"])
    _add(state, rows)
    state["range"] = _shown_range(state, filters, now)
    state["updated"] = now
    return state


def _shown_range(state: dict, filters: Filters, now: float) -> list[float]:
    """The x-axis range: the window up to now, the custom dates, or everything logged so far."""
    if state["window"]:
        return [now - state["window"], now]
    if filters.end is not None:
        return state["range"]
    last_end = max((int(k) + state["bucket"] for k in state["counts"]), default=state["range"][1])
    return [state["range"][0], max(state["range"][1], last_end)]


def needs_recount(state: dict) -> bool:
    """True when the range grew past REBUCKET_AT buckets (new rows long after the old ones:
    time for a coarser bucket), or the log was empty when counted."""
    span = state["range"][1] - state["range"][0]
    return span / state["bucket"] > REBUCKET_AT or state["last_id"] == 0


def filters_from(state: dict) -> Filters:
    f = state["filters"]
    return Filters(f["start"], f["end"], None if f["sessions"] is None else tuple(f["sessions"]),
                   None if f["emotions"] is None else tuple(f["emotions"]))


def _filters_dict(filters: Filters) -> dict:
    return {"start": filters.start, "end": filters.end,
            "sessions": None if filters.sessions is None else list(filters.sessions),
            "emotions": None if filters.emotions is None else list(filters.emotions)}


def _add(state: dict, rows) -> None:
    counts = state["counts"]
    for start, emotion, faces in rows:
        per_emotion = counts.setdefault(str(int(start)), {})
        per_emotion[emotion] = per_emotion.get(emotion, 0) + faces


def _drop_before(state: dict, start: float) -> None:
    bucket = state["bucket"]
    for key in [k for k in state["counts"] if int(k) + bucket <= start]:
        del state["counts"][key]


def totals(state: dict) -> dict[str, int]:
    """Faces per emotion over the whole state, every emotion present (0 when unseen)."""
    result = dict.fromkeys(EMOTIONS, 0)
    for per_emotion in state["counts"].values():
        for emotion, faces in per_emotion.items():
            result[emotion] = result.get(emotion, 0) + faces
    return result


def filters_to_query(filters: Filters) -> str:
    """URL query for the CSV export: an absent key means all, an empty one means none."""
    params = {name: value for name, value in (("start", filters.start), ("end", filters.end)) if value is not None}
    if filters.sessions is not None:
        params["sessions"] = ",".join(map(str, filters.sessions))
    if filters.emotions is not None:
        params["emotions"] = ",".join(filters.emotions)
    return urllib.parse.urlencode(params)


def filters_from_query(args) -> Filters:
    """The inverse of filters_to_query; ValueError on a malformed value or unknown emotion."""
    start = float(args["start"]) if args.get("start") else None
    end = float(args["end"]) if args.get("end") else None
    sessions = None if "sessions" not in args else tuple(int(s) for s in args["sessions"].split(",") if s)
    emotions = None if "emotions" not in args else tuple(e for e in args["emotions"].split(",") if e)
    unknown = set(emotions or ()) - set(EMOTIONS)
    if unknown:
        raise ValueError(f"unknown emotion {sorted(unknown)[0]!r}")
    return Filters(start, end, sessions, emotions)
