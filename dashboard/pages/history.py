"""History page: emotion timeline, distribution and sessions of the log, refreshed live."""

from __future__ import annotations

import dataclasses
import datetime
import sqlite3
import time

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, Patch, State, callback, ctx, dcc, html, no_update

from dashboard import figures, live, localtime, queries
from dashboard.context import db_path
from dashboard.queries import LogUnavailable
from model.labels import EMOTIONS, colours_for, is_emotions

dash.register_page(__name__, path="/", name="History", title="Moodlog · History", order=0)

START_HINT = "python app.py start 0"


def layout(**_query) -> html.Div:
    """Filters, charts and sessions, drawn already for the default filters, so that the first
    view needs no callback round trip; the callbacks take over when a filter changes or new
    rows arrive. The menus list the sessions of now, and the tick adds those that begin later."""
    sets = _read_log(queries.label_sets) or []
    counted = live.chosen_label_set(sets, None)
    labels = counted or EMOTIONS
    choices = _session_choices(counted)
    state = counted_state(False, None, time.time(), live.DEFAULT_PRESET, None, None, None, None, list(labels),
                          label_set=live.label_set_key(labels))
    timeline, distribution, hidden, message, status, export = draw(state, list(labels))
    return html.Div([
        dcc.Store(id="history-state", data=state),
        dcc.Interval(id="history-tick", interval=_refresh_ms()),
        dcc.Store(id="history-choices-mark", data=_read_log(queries.sessions_mark)),
        html.Div([html.H1("History", className="h3 mb-0 me-3"),
                  html.Span(status, id="history-status", className="text-muted small")],
                 className="d-flex flex-wrap align-items-baseline mb-3"),
        _filters(choices, sets, labels),
        html.Div(_initial(message), id="history-message"),
        html.Div(id="history-charts", hidden=hidden, children=[
            _charts(_initial(timeline), _initial(distribution), export, labels),
            dbc.Card(dbc.CardBody([html.H2("Sessions", className="h6"),
                                   html.Div(sessions_table(state), id="history-sessions",
                                            className="table-responsive")]), className="mt-3"),
        ]),
    ])


def _initial(value):
    """A callback's `no_update` means "nothing yet" when the same function builds the layout."""
    return None if value is no_update else value


def _refresh_ms() -> int:
    return flask.current_app.config["MOODLOG_REFRESH_MS"]


def _session_choices(label_set: tuple[str, ...] | None = None) -> list[dict]:
    """The sessions of `label_set` (None: of every label set) for the Session and Device menus."""
    return _read_log(lambda connection: queries.session_choices(connection, label_set)) or []


def _read_log(query):
    """`query(connection)` on the log, or None when there is no readable log (yet)."""
    try:
        connection = queries.connect(db_path())
    except LogUnavailable:
        return None
    try:
        return query(connection)
    except sqlite3.DatabaseError:
        return None
    finally:
        connection.close()


def _device_options(choices: list[dict]) -> list[str]:
    return sorted({str(c["device"]) for c in choices})


def _session_options(choices: list[dict]) -> list[dict]:
    return [{"label": f"#{c['id']} · {c['device']} · {_when(c['started_at'])}", "value": c["id"]} for c in choices]


def _label_set_options(sets: list[tuple[str, ...]]) -> list[dict]:
    """The Label set menu: the seven emotions by that name, a taught set by its labels."""
    return [{"label": "the seven emotions" if is_emotions(labels) else " · ".join(labels),
             "value": live.label_set_key(labels)} for labels in sets]


@callback(Output("history-sessions-filter", "options"), Output("history-devices", "options"),
          Output("history-choices-mark", "data"), Output("history-label-set", "options"),
          Output("history-label-set-box", "hidden"), Output("history-label-set", "value"),
          Input("history-tick", "n_intervals"), State("history-choices-mark", "data"),
          State("history-label-set", "value"), State("history-label-set", "options"), prevent_initial_call=True)
def refresh_choices(_tick, mark, key, shown_sets):
    """Sessions that began after the page opened join the menus (those of the chosen label set); a
    tick when none did costs one count query and sends nothing back. A session of a new label set
    shows the Label set menu and sets its value again, which recounts with the label sets apart."""
    now = _read_log(queries.sessions_mark)
    if now is None or now == mark:
        return (no_update,) * 6
    sets = _read_log(queries.label_sets) or []
    counted = live.chosen_label_set(sets, key)
    choices = _session_choices(counted)
    menus = _session_options(choices), _device_options(choices), now
    options = _label_set_options(sets)
    if options == shown_sets:
        return *menus, no_update, no_update, no_update
    return *menus, options, len(sets) < 2, live.label_set_key(counted or EMOTIONS)


@callback(Output("history-emotions", "options"), Output("history-emotions", "value"),
          Output("history-emotions-heading", "children"), Output("history-timeline-title", "children"),
          Output("history-sessions-filter", "options", allow_duplicate=True),
          Output("history-sessions-filter", "value"), Input("history-label-set", "value"), prevent_initial_call=True)
def choose_label_set(key):
    """A label set chosen: its labels to tick, all ticked, and only its sessions in the Session menu."""
    sets = _read_log(queries.label_sets) or []
    counted = live.chosen_label_set(sets, key)
    labels = counted or EMOTIONS
    return (_label_checks(labels), list(labels), _labels_word(labels).capitalize(),
            _timeline_title(labels), _session_options(_session_choices(counted)), None)


def _labels_word(labels) -> str:
    return "emotions" if is_emotions(labels) else "labels"


def _timeline_title(labels) -> str:
    return f"Share of all faces over time, by {_labels_word(labels)[:-1]}"


def _label_checks(labels) -> list[dict]:
    """The ticks of a label set, each underlined in its colour."""
    colours = colours_for(labels)
    return [{"label": html.Span(name, style={"borderBottom": f"3px solid {colours[name]}"}), "value": name}
            for name in labels]


def _filters(choices: list[dict], sets: list[tuple[str, ...]], labels: tuple[str, ...]) -> dbc.Card:
    """The filter controls; the Label set menu only where the log holds more than one label set."""
    devices = _device_options(choices)
    sessions = _session_options(choices)
    presets = [{"label": label, "value": key} for key, (label, _) in live.PRESETS.items()]
    label_set = html.Div([dbc.Label("Label set", html_for="history-label-set", className="small text-muted mb-1"),
                          dbc.Select(id="history-label-set", options=_label_set_options(sets),
                                     value=live.label_set_key(labels))],
                         id="history-label-set-box", className="col-12 col-md-4", hidden=len(sets) < 2)
    return dbc.Card(dbc.CardBody(dbc.Row([
        label_set,
        _field("Range", [dbc.Select(id="history-range", options=presets, value=live.DEFAULT_PRESET),
                         html.Div(dcc.DatePickerRange(id="history-dates", display_format="YYYY-MM-DD",
                                                      clearable=True), id="history-dates-box",
                                  className="mt-2", hidden=True)], md=3),
        _field("Device", dcc.Dropdown(id="history-devices", options=devices, multi=True,
                                      placeholder="All devices"), md=2),
        _field("Session", dcc.Dropdown(id="history-sessions-filter", options=sessions, multi=True,
                                       placeholder="All sessions"), md=3),
        _field(_labels_word(labels).capitalize(), dbc.Checklist(id="history-emotions", inline=True, value=list(labels),
                                                                options=_label_checks(labels)), md=4,
               label_id="history-emotions-heading"),
    ], className="g-3")), className="mb-3")


def _field(label: str, controls, md: int, label_id: str | None = None) -> dbc.Col:
    controls = controls if isinstance(controls, list) else [controls]
    heading = dbc.Label(label, className="small text-muted mb-1", **({"id": label_id} if label_id else {}))
    return dbc.Col([heading, *controls], xs=12, md=md)


def _charts(timeline, distribution, export: str, labels) -> dbc.Row:
    return dbc.Row([
        dbc.Col(dbc.Card(dbc.CardBody([html.H2(_timeline_title(labels), className="h6", id="history-timeline-title"),
                                       dcc.Graph(id="history-timeline", figure=timeline, config=figures.STATIC_CONFIG,
                                                 style={"height": f"{figures.CHART_HEIGHT}px"})])), lg=8),
        dbc.Col(dbc.Card(dbc.CardBody([
            html.Div([html.H2("Distribution", className="h6 mb-0"),
                      html.A("Export CSV", id="history-export", href=export, className="btn btn-sm btn-outline-secondary")],
                     className="d-flex justify-content-between align-items-center mb-2"),
            dcc.Graph(id="history-distribution", figure=distribution, config=figures.STATIC_CONFIG,
                      style={"height": f"{figures.CHART_HEIGHT}px"})])), lg=4),
    ], className="g-3")


@callback(Output("history-dates-box", "hidden"), Input("history-range", "value"))
def show_dates(preset):
    return preset != "custom"


@callback(Output("history-state", "data"),
          Input("history-range", "value"), Input("history-dates", "start_date"), Input("history-dates", "end_date"),
          Input("history-devices", "value"), Input("history-sessions-filter", "value"),
          Input("history-emotions", "value"), Input("history-tick", "n_intervals"),
          Input("history-label-set", "value"), State("history-state", "data"), prevent_initial_call=True)
def count(preset, start_date, end_date, devices, sessions, emotions, _tick, label_set, state):
    """Recount on a filter change; on a tick add only the rows written since the last count. A tick
    that also set the label set (a session of a new label set began) recounts."""
    ticking = set(ctx.triggered_prop_ids) == {"history-tick.n_intervals"}
    return counted_state(ticking, state, time.time(), preset, start_date, end_date, devices, sessions, emotions,
                         label_set=label_set)


def counted_state(ticking: bool, state, now: float, preset, start_date, end_date, devices, sessions, emotions,
                  label_set: str | None = None):
    """The new page state (see dashboard/live.py), or a {"problem", "message"} dict to explain.
    `label_set` is the Label set menu's value (None: the default, see live.chosen_label_set)."""
    if ticking and state and not state.get("live", False):
        return no_update
    try:
        connection = queries.connect(db_path())
    except LogUnavailable as error:
        problem = {"problem": queries.describe(db_path()).state, "message": str(error), "live": True}
        return no_update if ticking and problem == state else problem
    try:
        return _count(connection, ticking, state, now, preset, start_date, end_date, devices, sessions, emotions,
                      label_set)
    except sqlite3.DatabaseError as error:
        # A log being migrated or locked for long reads as an error; keep showing what we had.
        return state or {"problem": "unreadable", "message": f"cannot read the log ({error})", "live": True}
    finally:
        connection.close()


def _count(connection, ticking, state, now, preset, start_date, end_date, devices, sessions, emotions,
           label_set) -> dict:
    status = queries.describe(db_path())
    if status.state != "ok":
        problem = {"problem": status.state, "message": status.message, "live": True, "running": len(status.running)}
        return no_update if ticking and problem == state else problem
    if ticking and state and "counts" in state and not live.needs_recount(state):
        last_id = state["last_id"]
        state = live.advance_state(connection, state, now)
        if state["last_id"] == last_id and not state["window"]:
            return no_update  # nothing new: do not redraw the charts every tick
    if not ticking or "counts" not in (state or {}) or live.needs_recount(state):
        filters = live.resolve_filters(connection, preset, start_date, end_date, devices, sessions, emotions, now,
                                       label_set)
        # Every emotion is counted whatever is ticked: the charts show the ticked ones as shares
        # of all faces (53% angry stays 53% when the others are hidden); draw() applies the ticks.
        filters = dataclasses.replace(filters, emotions=None)
        window = None if preset == "custom" else live.PRESETS.get(preset, (None, None))[1]
        state = live.full_state(connection, filters, window, now)
    state["running"] = len(status.running)
    return state


@callback(Output("history-timeline", "figure"), Output("history-distribution", "figure"),
          Output("history-charts", "hidden"), Output("history-message", "children"),
          Output("history-status", "children"), Output("history-export", "href"),
          Input("history-state", "data"), State("history-emotions", "value"), prevent_initial_call=True)
def draw(state, emotions):
    """Figures from the counted state, or a message saying why there is nothing to draw."""
    if not state:
        return no_update, no_update, True, no_update, "", ""
    status = _status_line(state)
    if "problem" in state:
        return no_update, no_update, True, _problem(state), status, ""
    if not state["counts"]:
        return no_update, no_update, True, _nothing_in_range(state), status, ""
    labels = live.labels_of(state)
    shown = [e for e in labels if emotions is None or e in emotions]
    if not shown:
        return no_update, no_update, True, _no_emotion(labels), status, ""
    colours = colours_for(labels)
    timeline = figures.timeline_figure(state["counts"], state["bucket"], state["range"], shown, colours)
    distribution = figures.distribution_figure(live.totals(state), shown, colours)
    ticked = None if len(shown) == len(labels) else tuple(shown)
    export = "/history/export.csv?" + live.filters_to_query(
        dataclasses.replace(live.filters_from(state), emotions=ticked))
    return timeline, distribution, False, None, status, export


@callback(Output("history-timeline", "figure", allow_duplicate=True), Input("history-timeline", "relayoutData"),
          prevent_initial_call=True)
def relabel(relayout):
    """Local tick labels for the stretch of time shown after a zoom or pan (Plotly's own
    labels would be UTC, and the drawn ones are only the ones for the whole range)."""
    shown = _zoomed_range(relayout or {})
    if shown is None:
        return no_update
    patch = Patch()
    for key, value in figures.local_ticks(*shown).items():
        patch["layout"]["xaxis"][key] = value
    return patch


def _zoomed_range(relayout: dict) -> tuple[float, float] | None:
    """(start, end) in UTC seconds from Plotly's relayout event, None when the x range did not change."""
    if "xaxis.range[0]" in relayout and "xaxis.range[1]" in relayout:
        ends = relayout["xaxis.range[0]"], relayout["xaxis.range[1]"]
    elif isinstance(relayout.get("xaxis.range"), list):
        ends = tuple(relayout["xaxis.range"][:2])
    else:
        return None
    try:
        start, end = (_utc_seconds(end) for end in ends)
    except (TypeError, ValueError):
        return None
    return (start, end) if end > start else None


def _utc_seconds(value) -> float:
    """UTC seconds of a date axis value: the timeline's axis reads UTC (see dashboard/figures.py)."""
    if isinstance(value, (int, float)):
        return value / 1000
    parsed = datetime.datetime.fromisoformat(str(value).strip().replace(" ", "T").rstrip("Z"))
    return parsed.replace(tzinfo=datetime.timezone.utc).timestamp()


@callback(Output("history-sessions", "children"), Input("history-state", "data"), prevent_initial_call=True)
def sessions_table(state):
    """The sessions overlapping the range; redrawn when the counts change."""
    if not state or "counts" not in state:
        return None
    try:
        connection = queries.connect(db_path())
    except LogUnavailable:
        return None
    try:
        rows = queries.session_table(connection, live.filters_from(state))
    finally:
        connection.close()
    return _table(rows, colours_for(live.labels_of(state))) if rows else \
        html.P("No session in this range.", className="text-muted")


def _status_line(state: dict) -> str:
    parts = []
    if state.get("live"):
        parts.append("live")
    if state.get("bucket"):
        parts.append(f"one step = {_duration(state['bucket'])}")
    if state.get("running", 0) > 1:
        parts.append(f"{state['running']} daemons are writing this log now")
    elif state.get("running") == 1:
        parts.append("a daemon is writing this log now")
    return " · ".join(parts)


def _problem(state: dict) -> dbc.Alert:
    """The friendly empty states: no log yet, an empty log, or a file that is not a log."""
    if state["problem"] in ("missing", "empty"):
        return dbc.Alert([html.H2("Nothing captured yet", className="h5"),
                          html.P(["Start capturing with ", html.Code(START_HINT),
                                  " (0 is the first webcam; a video file or URL works too). "
                                  "This page fills in by itself while it runs."], className="mb-1"),
                          html.Small(state["message"], className="text-muted")],
                         color="info", id="history-empty")
    return dbc.Alert([html.H2("This is not a log Moodlog can read", className="h5"),
                      html.P(state["message"], className="mb-1"),
                      html.Small(["Point the dashboard at the log with ", html.Code("--db PATH"), "."])],
                     color="warning", id="history-empty")


def _no_emotion(labels) -> dbc.Alert:
    word = _labels_word(labels)
    return dbc.Alert(f"No {word[:-1]} is ticked: tick one or more to see their share of all faces.",
                     color="secondary", id="history-none")


def _nothing_in_range(state: dict) -> dbc.Alert:
    first, last = state.get("log", [None, None])
    span = f" The log runs from {_when(first)} to {_when(last)}." if first else ""
    return dbc.Alert(["No faces in this range with these filters." + span,
                      " Choose “Everything” to see all of it."], color="secondary", id="history-none")


def _table(rows: list[dict], colours: dict[str, str]) -> html.Table:
    header = html.Thead(html.Tr([html.Th(h) for h in ("Session", "Device", "Labels", "Started", "Duration", "Frames",
                                                      "Face in frame", "Faces", "Mostly", "Outages", "Status")]))
    body = html.Tbody([html.Tr([
        html.Td(f"#{r['id']}"), html.Td(str(r["device"])),
        html.Td(", ".join(f"{k}={v}" for k, v in r["labels"].items()) or "—"),
        html.Td(_when(r["started_at"])),
        html.Td(_duration(r["duration"]) + (" of video" if r["kind"] == "file" else "")),
        html.Td(f"{r['frames']:,}"), html.Td("—" if r["face_share"] is None else f"{r['face_share']:.0%}"),
        html.Td(f"{r['faces']:,}"), html.Td(_emotion_badge(r["dominant"], colours)),
        html.Td(_outages(r)), html.Td(r["status"]),
    ]) for r in rows])
    return html.Table([header, body], className="table table-sm table-hover align-middle mb-0 text-nowrap")


def _emotion_badge(emotion: str | None, colours: dict[str, str]):
    if emotion is None:
        return "—"
    return html.Span([html.Span(className="emotion-dot", style={"backgroundColor": colours.get(emotion, "#6c757d")}),
                      emotion])


def _outages(row: dict) -> str:
    """Camera or stream outages and reconnects: '2 (1 min 5 s), 2 reconnects' or '0'."""
    if not row["outages"]:
        return "0"
    text = f"{row['outages']} ({_duration(row['outage_seconds'])})"
    return text + (f", {row['reconnects']} reconnect{'s' if row['reconnects'] != 1 else ''}" if row["reconnects"] else "")


def _when(ts: float | None) -> str:
    """Local time with the zone's abbreviation, so the hour repeated in autumn reads apart (EDT, EST)."""
    return "—" if ts is None else localtime.label(ts, "%Y-%m-%d %H:%M %Z")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s" if seconds % 60 else f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    days, hours = seconds // 86400, seconds % 86400 // 3600
    return f"{days} d {hours} h" if hours else f"{days} d"
