"""The history page's state: faces per time bucket, which live refresh extends with new rows only.

The state is a small JSON-able dict kept in the browser (a `dcc.Store`): the filters it was
computed for, the bucket size, the highest detection id already counted, and the counts. A
refresh tick asks SQLite only for detections with a higher id, adds them, and drops the
buckets that slid out of a "last N minutes" window; a filter change recomputes from scratch.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
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
                    devices, sessions, emotions, now: float, label_set: str | None = None) -> Filters:
    """Turn the page's filter controls into Filters (UTC seconds, session ids, emotions, label set).

    `label_set` is the Label set menu's value (`label_set_key`); the log's own sets decide what it
    means (see `chosen_label_set`)."""
    start, end = _range(preset, start_date, end_date, now)
    chosen = _chosen_sessions(connection, devices, sessions)
    counted = chosen_label_set(queries.label_sets(connection), label_set)
    labels = counted or EMOTIONS
    emotions = tuple(e for e in labels if e in (emotions or ()))
    return Filters(start, end, chosen, None if len(emotions) == len(labels) else emotions, counted)


def chosen_label_set(found: list[tuple[str, ...]], key: str | None) -> tuple[str, ...] | None:
    """The label set to count among the log's `found` ones: the one `key` names, else the seven
    emotions when the log has them, else its first. None when the log holds only the seven
    emotions (or nothing): then every session is counted, with no condition on its label set, so
    such a log is read as fast as before label sets existed."""
    if not found or found == [EMOTIONS]:
        return None
    wanted = label_set_from_key(key)
    return wanted if wanted in found else EMOTIONS if EMOTIONS in found else found[0]


def label_set_key(labels) -> str:
    """The Label set menu's value for a label set: its JSON list."""
    return json.dumps(list(labels), ensure_ascii=False)


def label_set_from_key(key: str | None) -> tuple[str, ...] | None:
    """The inverse of label_set_key; None for no key or one that is not a JSON list of names."""
    return queries.parse_label_set(key) if key else None


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
    state = {"filters": _filters_dict(filters), "labels": list(filters.label_set or EMOTIONS),
             "window": window, "bucket": bucket, "last_id": last_id,
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
        filters = dataclasses.replace(filters, start=now - state["window"], end=now)
        state["filters"] = _filters_dict(filters)
        _drop_before(state, filters.start)
    # New rows are counted whatever their time beyond the start: the id cursor moves past them
    # once, so a row stamped slightly ahead of this clock must not be skipped for good.
    new = dataclasses.replace(filters, end=None if state["window"] else filters.end)
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
                   None if f["emotions"] is None else tuple(f["emotions"]),
                   None if f.get("label_set") is None else tuple(f["label_set"]))


def _filters_dict(filters: Filters) -> dict:
    return {"start": filters.start, "end": filters.end,
            "sessions": None if filters.sessions is None else list(filters.sessions),
            "emotions": None if filters.emotions is None else list(filters.emotions),
            "label_set": None if filters.label_set is None else list(filters.label_set)}


def labels_of(state: dict) -> tuple[str, ...]:
    """The labels the state counted: its label set's, the seven emotions unless a taught set was chosen."""
    return tuple(state.get("labels") or EMOTIONS)


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
    """Faces per label over the whole state, every label of its set present (0 when unseen)."""
    result = dict.fromkeys(labels_of(state), 0)
    for per_emotion in state["counts"].values():
        for emotion, faces in per_emotion.items():
            result[emotion] = result.get(emotion, 0) + faces
    return result


def filters_to_query(filters: Filters) -> str:
    """URL query for the CSV export: an absent key means all, an empty one means none; the label set
    (when the log holds more than the seven emotions) as a JSON list, since labels may hold spaces."""
    params = {name: value for name, value in (("start", filters.start), ("end", filters.end)) if value is not None}
    if filters.sessions is not None:
        params["sessions"] = ",".join(map(str, filters.sessions))
    if filters.emotions is not None:
        params["emotions"] = ",".join(filters.emotions)
    if filters.label_set is not None:
        params["label_set"] = label_set_key(filters.label_set)
    return urllib.parse.urlencode(params)


def filters_from_query(args) -> Filters:
    """The inverse of filters_to_query; ValueError on a malformed value or a label not of the set."""
    start = _finite(args["start"]) if args.get("start") else None
    end = _finite(args["end"]) if args.get("end") else None
    sessions = None if "sessions" not in args else tuple(_session_id(s) for s in args["sessions"].split(",") if s)
    emotions = None if "emotions" not in args else tuple(e for e in args["emotions"].split(",") if e)
    label_set = label_set_from_key(args["label_set"]) if "label_set" in args else None
    if "label_set" in args and label_set is None:
        raise ValueError("label_set must be a JSON list of label names")
    unknown = set(emotions or ()) - set(label_set or EMOTIONS)
    if unknown:
        raise ValueError(f"unknown {'emotion' if label_set in (None, EMOTIONS) else 'label'} {sorted(unknown)[0]!r}")
    return Filters(start, end, sessions, emotions, label_set)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a time")
    return value


def _session_id(text: str) -> int:
    """A session id as SQLite stores it: a positive 64-bit integer (a larger one would overflow it)."""
    value = int(text)
    if not 0 < value < 2 ** 63:
        raise ValueError(f"{text!r} is not a session id")
    return value
