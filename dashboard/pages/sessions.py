"""Sessions page: compare sessions as a study does. A summary table per session (labels, duration,
faces, mean probability and share of each emotion, valence, outages), one session's curves on its
own time with markers, outages and uncertain readings, its segments between markers, and several
sessions overlaid on time since their start. Filter by session labels and by track (person).

Each session is shown in the labels of the model that made it (the seven emotions, or a taught
label set, which has no valence): the summary has one table per label set, and only sessions of
the chosen session's label set are overlaid."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update

from capture.status import command_hint, db_option
from dashboard import localtime, queries, session_figures, sessions
from dashboard.context import db_path
from dashboard.queries import LogUnavailable, spreadsheet_safe
from model.labels import EMOTIONS, is_emotions

dash.register_page(__name__, path="/sessions", name="Sessions", title="Moodlog · Sessions", order=1)

MOST_OVERLAID = 10
BUCKETS = [("auto", "auto"), ("1 s", 1.0), ("5 s", 5.0), ("10 s", 10.0), ("30 s", 30.0), ("1 min", 60.0), ("5 min", 300.0),
           ("15 min", 900.0), ("1 h", 3600.0)]
SCHEMA_NEEDED = 3
# "auto" steps a session into about this many points (a 6 s clip: 0.1 s; an hour: 30 s).
AUTO_POINTS = 120
STEPS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


def step_for(bucket, duration: float | None) -> float:
    """The chosen step in seconds (one of BUCKETS), or for "auto" (or anything else, which only a
    hand-made request sends) the first of STEPS giving at most AUTO_POINTS points."""
    try:                                 # the browser's Select sends the value as text: "5" for 5.0
        step = float(bucket)
    except (TypeError, ValueError):
        step = None
    if step in {value for _, value in BUCKETS if value != "auto"}:
        return step
    return next((s for s in STEPS if (duration or 0.0) / s <= AUTO_POINTS), STEPS[-1])


def layout(**_query) -> html.Div:
    return html.Div([
        html.H1("Sessions", className="h3"),
        html.P(["Each session on its own time: seconds since its start, video time for a file. ",
                html.Span(sessions.VALENCE_DEFINITION, id="sessions-valence-definition")],
               className="text-muted small"),
        dbc.Card(dbc.CardBody(dbc.Row([
            dbc.Col([dbc.Label("Labels", html_for="sessions-labels", className="small mb-1"),
                     dbc.Input(id="sessions-labels", placeholder="participant=P07, condition=B", debounce=True,
                               type="text")], md=4),
            dbc.Col([dbc.Label("Session", html_for="sessions-one", className="small mb-1"),
                     dcc.Dropdown(id="sessions-one", clearable=False, placeholder="choose a session")], md=4),
            dbc.Col([dbc.Label("Track (person)", html_for="sessions-track", className="small mb-1"),
                     dcc.Dropdown(id="sessions-track", placeholder="all faces")], md=2),
            dbc.Col([dbc.Label("Step", html_for="sessions-bucket", className="small mb-1"),
                     dbc.Select(id="sessions-bucket", options=[{"label": n, "value": v} for n, v in BUCKETS],
                                value="auto")], md=2),
        ], className="g-2")), className="mb-3"),
        html.Div(id="sessions-message"),
        dbc.Card(dbc.CardBody([
            html.Div([html.H2("Summary per session", className="h6 mb-0 me-3"),
                      html.A("Download CSV", id="sessions-export", download="moodlog-sessions.csv", href="",
                             className="small")], className="d-flex align-items-baseline mb-2"),
            html.Div(id="sessions-summary", className="table-responsive")]), className="mb-3"),
        dbc.Card(dbc.CardBody([
            html.H2(["One session over time ", html.Small("(time since its start; video time for a file)",
                                                        className="text-muted fw-normal")], className="h6"),
            dcc.Graph(id="sessions-intensity", config={"displaylogo": False, "responsive": True}),
            html.Div([html.H3("Between markers", className="h6 mb-0 me-3"),
                      html.A("Download CSV", id="sessions-segments-export", download="moodlog-segments.csv", href="",
                             className="small")], className="d-flex align-items-baseline mt-3 mb-2"),
            html.Div(id="sessions-segments", className="table-responsive")]), className="mb-3"),
        dbc.Card(dbc.CardBody([
            dbc.Row([dbc.Col(html.H2(["Sessions side by side ", html.Small("(time since each one's start)",
                                                                          className="text-muted fw-normal")],
                                     className="h6"), md=6),
                     dbc.Col(dbc.Select(id="sessions-measure", value="valence", options=measure_options(EMOTIONS)),
                             md=6)]),
            html.Div(id="sessions-overlay-note"),
            dcc.Graph(id="sessions-overlay", config={"displaylogo": False, "responsive": True})])),
    ])


def _connect():
    connection = queries.connect_moodlog(db_path())
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version < SCHEMA_NEEDED:
        connection.close()
        raise LogUnavailable(f"this log was written by an older Moodlog (layout {version}); open it once with "
                             f"`python app.py upgrade --db {db_path()}` to upgrade it in place")
    return connection


@callback(Output("sessions-summary", "children"), Output("sessions-one", "options"), Output("sessions-one", "value"),
          Output("sessions-export", "href"), Output("sessions-message", "children"),
          Input("sessions-labels", "value"), State("sessions-one", "value"))
def summary(labels_text, chosen):
    """The summary table of the sessions whose labels match, newest first."""
    try:
        wanted = sessions.label_filter(labels_text)
    except ValueError as error:
        return None, [], None, "", dbc.Alert(f"Labels: {error}; write NAME=VALUE, separated by commas.",
                                             color="warning")
    try:
        connection = _connect()
    except LogUnavailable as error:
        return None, [], None, "", dbc.Alert(str(error), color="info")
    try:
        rows = sessions.summaries(connection, sessions.session_ids(connection, wanted))
    except sqlite3.DatabaseError as error:
        return None, [], None, "", dbc.Alert(f"the log cannot be read: {error}", color="warning")
    finally:
        connection.close()
    if not rows:
        note = "No session has these labels." if wanted else "Nothing captured yet."
        return None, [], None, "", dbc.Alert(note, color="secondary")
    options = [{"label": f"#{r.id} · {_labels(r.labels) or r.device}", "value": r.id} for r in rows]
    value = chosen if chosen in {r.id for r in rows} else rows[0].id
    return _tables(rows), options, value, "data:text/csv;charset=utf-8," + _quote(summary_csv(rows)), None


def measure_options(labels) -> list[dict]:
    """What the overlay can show for sessions of `labels`: valence (seven emotions only) and each label's mean."""
    valence = [{"label": "valence", "value": "valence"}] if is_emotions(labels) else []
    return valence + [{"label": f"mean P({e})", "value": e} for e in labels]


def _label_sets_in_order(rows) -> list[tuple[str, ...]]:
    """The label sets of summary rows, the seven emotions first, then in the order of the rows."""
    found = list(dict.fromkeys(r.label_set for r in rows))
    return sorted(found, key=lambda labels: not is_emotions(labels))


def _labels(labels: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in labels.items())


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text)


def summary_csv(rows) -> str:
    """The summary table as CSV: one row per session, local start time with its UTC offset,
    a column per label name (label_NAME, as in the History export, so a label called "session"
    cannot shadow a column), shares and means 0-1. Where a session was made with a taught label
    set, a `label_set` column (JSON list) says which labels each row's mean_/share_ columns are,
    and a label missing from a row's set is left empty (never summed with another set's)."""
    names = sorted({name for r in rows for name in r.labels})
    sets = _label_sets_in_order(rows)
    classes = list(dict.fromkeys(label for labels in sets for label in labels)) if rows else list(EMOTIONS)
    which = ["label_set"] if any(not is_emotions(labels) for labels in sets) else []
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["session", "device", "kind", *[f"label_{n}" for n in names], "note", "started", "duration_s", "status", "face_share", "faces",
                     *which, *[f"mean_{e}" for e in classes], *[f"share_{e}" for e in classes], "valence", "outages",
                     "outage_s", "reconnects", "markers", "version", "model_sha256", "settings"])
    for r in rows:
        own = [json.dumps(list(r.label_set), ensure_ascii=False)] if which else []
        writer.writerow([r.id, spreadsheet_safe(r.device), r.kind, *[spreadsheet_safe(r.labels.get(n, "")) for n in names],
                         spreadsheet_safe(r.note or ""),
                         localtime.iso(r.started_at), _round(r.duration), r.status or "running", _round(r.face_share),
                         r.faces, *own,
                         *[_round(r.mean.get(e)) for e in classes], *[_round(r.share.get(e)) for e in classes],
                         _round(r.valence), r.outages, _round(r.outage_seconds), r.reconnects, r.markers,
                         r.version or "", r.model_sha256 or "", json.dumps(r.settings, sort_keys=True)])
    return out.getvalue()


def _round(value, digits: int = 4):
    return "" if value is None else round(value, digits)


def _tables(rows):
    """One summary table per label set: the seven emotions' (id sessions-table) as before, then one
    per taught label set under a heading naming its labels."""
    sets = _label_sets_in_order(rows)
    if len(sets) == 1 and is_emotions(sets[0]):
        return _table(rows, EMOTIONS, "sessions-table")
    parts = []
    for number, labels in enumerate(sets):
        table_id = "sessions-table" if number == 0 else f"sessions-table-{number + 1}"
        heading = "The seven emotions" if is_emotions(labels) else "Labels: " + ", ".join(labels)
        parts += [html.H3(heading, className="h6 mt-3 mb-1 sessions-label-set"),
                  _table([r for r in rows if r.label_set == labels], labels, table_id)]
    return html.Div(parts)


def incomplete(summary) -> str | None:
    """Why a session's figures cover less than its duration, or None: a file not read to its end
    (stopped, failed, crashed, its source lost, or still running), or a live session still running.
    A live session that was stopped ended as its user chose: complete."""
    status = summary.status or "running"
    if summary.kind == "file" and status != "finished":
        return f"{status}: the file was not read to its end, so its figures cover only the part read"
    if status == "running":
        return "running: its figures grow as it is logged"
    return None


def _duration_cell(summary) -> html.Td:
    clock = session_figures.clock(summary.duration) if summary.duration is not None else "—"
    why = incomplete(summary)
    if why is None:
        return html.Td(clock)
    return html.Td([clock, " ", html.Span(summary.status or "running", className="badge text-bg-warning")],
                   title=why)


def _table(rows, labels, table_id: str) -> html.Table:
    """Sessions of one label set, a column per label (mean probability · share of readings), then
    valence, outages and how many markers each has."""
    head = ["Session", "Labels", "Started", "Duration", "Face in frame", "Faces", *labels, "Valence", "Outages",
            "Markers"]
    body = []
    for r in rows:
        cells = [html.Td(f"#{r.id}", title=r.device), html.Td(_labels(r.labels) or "—", title=r.note or ""),
                 html.Td(localtime.label(r.started_at, "%Y-%m-%d %H:%M %Z")),
                 _duration_cell(r),
                 html.Td("—" if r.face_share is None else f"{r.face_share:.0%}"), html.Td(f"{r.faces:,}")]
        cells += [html.Td("—" if not r.mean else f"{r.mean[e]:.2f} · {r.share[e]:.0%}",
                          title=f"mean probability of {e} · share of readings whose top label is {e}")
                  for e in labels]
        cells.append(html.Td("—" if r.valence is None else f"{r.valence:+.2f}"))
        cells.append(html.Td(f"{r.outages} ({session_figures.clock(r.outage_seconds)})" if r.outages else "0"))
        cells.append(html.Td(f"{r.markers:,}", title="events marked on the timeline (start --marker-port, keys, "
                                                   "or `app.py markers`)"))
        body.append(html.Tr(cells))
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
                      className="table table-sm table-hover align-middle mb-0 text-nowrap sessions-summary-table",
                      id=table_id)


@callback(Output("sessions-track", "options"), Output("sessions-track", "value"), Input("sessions-one", "value"))
def track_choices(session_id):
    if session_id is None:
        return [], None
    try:
        connection = _connect()
    except LogUnavailable:
        return [], None
    try:
        found = sessions.tracks(connection, session_id)
    finally:
        connection.close()
    return [{"label": f"track {track} ({faces:,} faces)", "value": track} for track, faces in found], None


@callback(Output("sessions-intensity", "figure"), Output("sessions-segments", "children"),
          Output("sessions-segments-export", "href"),
          Input("sessions-one", "value"), Input("sessions-track", "value"), Input("sessions-bucket", "value"))
def one_session(session_id, track, bucket):
    """The chosen session's curves, markers, outages and segments."""
    if session_id is None:
        return {"data": [], "layout": {}}, None, ""
    try:
        connection = _connect()
    except LogUnavailable:
        return {"data": [], "layout": {}}, None, ""
    try:
        summary_row = sessions.summaries(connection, [session_id])
        duration = summary_row[0].duration if summary_row else None
        curves = sessions.series(connection, session_id, step_for(bucket, duration), track)
        marks = sessions.markers(connection, session_id)
        outages = sessions.gaps(connection, session_id)
        pieces = sessions.segments(connection, session_id, track) if marks else []
    finally:
        connection.close()
    figure = session_figures.intensity_figure(curves, curves.labels, marks, outages, duration)
    if not pieces:
        hint = command_hint("markers", "FILE.csv", "--session", str(session_id), *db_option(db_path()))
        return figure, html.P(["No markers in this session: add them from a CSV with ", html.Code(hint),
                               ", or during live capture."], className="text-muted small mb-0"), ""
    return (figure, _segments_table(pieces, curves.labels),
            "data:text/csv;charset=utf-8," + _quote(segments_csv(session_id, pieces, curves.labels, track, duration)))


def segments_csv(session_id: int, pieces, labels=EMOTIONS, track: int | None = None,
                 duration: float | None = None) -> str:
    """A session's segments between markers as CSV: from/to in seconds since its start (media time;
    the last runs to the session's `duration`), the marker that opens each, the track (person) they
    cover (empty: every face), faces, mean probability and share per label of its set, valence."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["session", "track", "from_s", "to_s", "marker", "faces", *[f"mean_{e}" for e in labels],
                     *[f"share_{e}" for e in labels], "valence"])
    for p in pieces:
        writer.writerow([session_id, "" if track is None else track, _round(p.start, 3),
                         _round(p.end if p.end is not None else duration, 3), spreadsheet_safe(p.label), p.faces,
                         *[_round(p.mean.get(e)) for e in labels], *[_round(p.share.get(e)) for e in labels],
                         _round(p.valence)])
    return out.getvalue()


def _segments_table(pieces, labels=EMOTIONS) -> html.Table:
    head = ["From", "To", "Marker", "Faces", *labels, "Valence"]
    rows = [html.Tr([html.Td(session_figures.clock(p.start)), html.Td("end" if p.end is None else
                                                                    session_figures.clock(p.end)),
                     html.Td(p.label), html.Td(f"{p.faces:,}"),
                     *[html.Td("—" if not p.mean else f"{p.mean[e]:.2f} · {p.share[e]:.0%}") for e in labels],
                     html.Td("—" if p.valence is None else f"{p.valence:+.2f}")]) for p in pieces]
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
                      className="table table-sm align-middle mb-0 text-nowrap", id="sessions-segments-table")


@callback(Output("sessions-measure", "options"), Output("sessions-measure", "value"),
          Input("sessions-one", "value"), State("sessions-measure", "options"), State("sessions-measure", "value"))
def measure_choices(session_id, shown, measure):
    """The overlay's measures follow the chosen session's label set; unchanged (nothing sent, no
    redraw) while it stays the same."""
    labels = _label_set_of(session_id)
    options = measure_options(labels)
    if options == shown:
        return no_update, no_update
    return options, measure if measure in {o["value"] for o in options} else options[0]["value"]


def _label_set_of(session_id) -> tuple[str, ...]:
    if session_id is None:
        return EMOTIONS
    try:
        connection = _connect()
    except LogUnavailable:
        return EMOTIONS
    try:
        return sessions.label_sets_of(connection, [session_id]).get(session_id, EMOTIONS)
    finally:
        connection.close()


@callback(Output("sessions-overlay", "figure"), Output("sessions-overlay-note", "children"),
          Input("sessions-one", "options"), Input("sessions-measure", "value"), Input("sessions-measure", "options"),
          Input("sessions-bucket", "value"), State("sessions-one", "value"))
def overlay(options, measure, _measures, bucket, session_id):
    """Up to MOST_OVERLAID of the listed sessions on time since their start: those of the chosen
    session's label set, never sessions of different label sets together."""
    if not options:
        return {"data": [], "layout": {}}, None
    try:
        connection = _connect()
    except LogUnavailable:
        return {"data": [], "layout": {}}, None
    try:
        sets = sessions.label_sets_of(connection, [o["value"] for o in options])
        labels = sets.get(session_id) or sets.get(options[0]["value"], EMOTIONS)
        alike = [o for o in options if sets.get(o["value"]) == labels]
        # The chosen session always, then the others in the list's order (newest first).
        drawn = sorted(alike, key=lambda o: o["value"] != session_id)[:MOST_OVERLAID]
        chosen = sessions.summaries(connection, [o["value"] for o in drawn])
        longest = max((r.duration or 0.0 for r in chosen), default=0.0)
        curves = [(o["label"], sessions.series(connection, o["value"], step_for(bucket, longest))) for o in drawn]
    finally:
        connection.close()
    offered = [o["value"] for o in measure_options(labels)]
    figure = session_figures.overlay_figure(curves, measure if measure in offered else offered[0])
    notes = [note for note in (_overlay_note(labels, len(options) - len(alike)),
                               _overlay_limit_note(len(alike) - len(drawn), len(alike))) if note is not None]
    return figure, notes or None


def _overlay_note(labels, others: int):
    """Why some listed sessions are not overlaid: they were made with another label set."""
    if not others:
        return None
    shown = "the seven emotions" if is_emotions(labels) else "the labels " + ", ".join(labels)
    return html.P(f"Only sessions made with {shown} (the chosen session's) are overlaid; {others} listed "
                  f"session{'s' if others > 1 else ''} of other label sets {'are' if others > 1 else 'is'} not, "
                  "as their measures cannot be compared. Choose one of them above to overlay its label set.",
                  className="small text-muted mb-1", id="sessions-overlay-mixed")


def _overlay_limit_note(left_out: int, alike: int):
    """That sessions past MOST_OVERLAID were left out of the overlay (found in review: silently)."""
    if not left_out:
        return None
    return html.P(f"{MOST_OVERLAID} of these {alike} sessions are overlaid (the chosen one and the newest); "
                  f"{left_out} {'are' if left_out > 1 else 'is'} not, as more lines cannot be told apart. "
                  "Narrow the list with the label filter above to compare others.",
                  className="small text-muted mb-1", id="sessions-overlay-limit")
