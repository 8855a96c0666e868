"""The Dash app: `create_app(db_path)` builds it, `serve()` runs it under waitress.

Nothing runs at import. The app only reads the log (see queries.py); uploads are analysed
in memory (see uploads.py). Dash's debug mode is never switched on here.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import sqlite3
import threading
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, State, clientside_callback, html

from dashboard import localtime, queries
from dashboard.auth import AUTH_ENV, AuthError, BasicAuth, LoopbackHostOnly, is_loopback, parse_credentials
from dashboard.context import build_recognizer
from dashboard.live import chosen_label_set, filters_from_query
from dashboard.queries import LogUnavailable
from dashboard.report import SERVED_IMAGES
from dashboard.sessions import label_sets_of
from dashboard.uploads import MAX_UPLOAD_BYTES
from model.errors import MoodlogError
from model.classifier import DEFAULT_MODEL
from model.recognizer import warn_of_problems

HERE = Path(__file__).resolve().parent
DEFAULT_DB = Path("data/moodlog.db")
REFRESH_MS = 2000
# A request may carry one upload (base64 grows it by 4/3) plus Dash's JSON around it; larger
# requests are refused by Flask before they are read into memory.
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES * 4 // 3 + 1024 * 1024


def create_app(db_path: str | os.PathLike = DEFAULT_DB, *, recognizer=None,
               model: str | os.PathLike = DEFAULT_MODEL, refresh_ms: int = REFRESH_MS) -> dash.Dash:
    """The dashboard for the log at `db_path` (which may not exist yet).

    `model` is the one uploads are recognised with and the model page reports on (its folder holds
    the report). `recognizer` (a model.recognizer.Recognizer) is built from it on the first upload
    when not given. Dash registers page callbacks process-wide, so build one app per process.
    """
    app = dash.Dash(__name__, use_pages=True, pages_folder=str(HERE / "pages"), title="Moodlog",
                    update_title=None, serve_locally=True, suppress_callback_exceptions=True)
    app.server.config.update(MOODLOG_DB=Path(db_path), MOODLOG_MODEL=Path(model),
                             MOODLOG_REFRESH_MS=refresh_ms, MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES)
    if recognizer is not None:
        app.server.extensions["moodlog_recognizer"] = recognizer
    app.layout = shell
    app.server.add_url_rule("/history/export.csv", "export_csv", export_csv)
    app.server.add_url_rule("/model-files/<name>", "model_file", model_file)
    return app


def shell() -> html.Div:
    """Navigation bar around the current page; a function so the registry is read per request."""
    links = [dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact"))
             for page in dash.page_registry.values()]
    navbar = dbc.Navbar(dbc.Container([
        dbc.NavbarBrand("Moodlog", href="/"),
        dbc.NavbarToggler(id="navbar-toggler"),
        dbc.Collapse(dbc.Nav(links, class_name="ms-auto", navbar=True), id="navbar-collapse", navbar=True),
    ], fluid=True), color="dark", dark=True, class_name="mb-3")
    return html.Div([navbar, dbc.Container(dash.page_container, fluid="xl", class_name="pb-4")])


# On a phone the menu opens over the page; a tap on a link changes the page without reloading it, so
# the menu is closed here when the address changes (dbc.NavbarSimple would leave it open).
# "_pages_location" is the dcc.Location that Dash Pages adds to every page.
clientside_callback(
    """function(clicks, path, open) {
        const trigger = (window.dash_clientside.callback_context.triggered[0] || {}).prop_id || '';
        return trigger.startsWith('navbar-toggler') ? !open : false;
    }""",
    Output("navbar-collapse", "is_open"), Input("navbar-toggler", "n_clicks"),
    Input("_pages_location", "pathname"), State("navbar-collapse", "is_open"), prevent_initial_call=True)


def export_csv() -> flask.Response:
    """Stream the detections of the filtered range as CSV, without holding them in memory."""
    try:
        filters = filters_from_query(flask.request.args)
    except ValueError as error:
        return flask.Response(f"bad filter: {error}\n", status=400, mimetype="text/plain")
    try:
        connection = queries.connect_moodlog(flask.current_app.config["MOODLOG_DB"])
    except LogUnavailable as error:
        return flask.Response(f"{error}\n", status=404, mimetype="text/plain")
    if filters.label_set is None:   # a log of several label sets exports one: the sessions', else the page's default
        try:
            found = queries.label_sets(connection)
            of_sessions = set(label_sets_of(connection, list(filters.sessions)).values()) if filters.sessions else set()
        except sqlite3.DatabaseError as error:
            connection.close()
            return flask.Response(f"cannot read the log ({error})\n", status=404, mimetype="text/plain")
        if len(of_sessions) > 1:     # one file has one set of probability columns: say so, never drop rows silently
            connection.close()
            return flask.Response("bad filter: these sessions were logged with different label sets; export the "
                                  "sessions of one label set at a time (or add label_set=[...] to choose one)\n",
                                  status=400, mimetype="text/plain")
        chosen = next(iter(of_sessions)) if len(of_sessions) == 1 and len(found) > 1 else chosen_label_set(found, None)
        filters = dataclasses.replace(filters, label_set=chosen)
    return flask.Response(_csv_lines(connection, filters), mimetype="text/csv",
                          headers={"Content-Disposition": "attachment; filename=moodlog-detections.csv"})


def _csv_lines(connection, filters):
    """CSV text in chunks: a local-time column first, then the detection columns as stored (with
    `media_time`, the position in the video, where the log has it; for a taught label set, one
    probability column per label in place of the emotions', see queries.export_columns), then one
    column per session label name (label_participant...).

    The local time carries its UTC offset (2025-11-02T01:30:00.000-05:00), so the two readings
    of the hour repeated when daylight saving ends stay apart and sort as they happened.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    try:
        columns = queries.export_columns(connection, filters.label_set)
        labels = queries.session_labels(connection)
        names = sorted({name for found in labels.values() for name in found})
        writer.writerow(("local_time",) + columns + tuple(f"label_{name}" for name in names))
        ts_at, session_at = columns.index("ts"), columns.index("session_id")
        for count, row in enumerate(queries.export_rows(connection, filters, columns), start=1):
            session = labels.get(row[session_at], {})
            writer.writerow((localtime.iso(row[ts_at], "milliseconds"),) + row
                            + tuple(queries.spreadsheet_safe(session.get(n, "")) for n in names))
            if count % queries.EXPORT_CHUNK == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()
    finally:
        connection.close()


def model_file(name: str) -> flask.Response:
    """The model report's plots, and nothing else from the weights folder."""
    if name not in SERVED_IMAGES:
        flask.abort(404)
    return flask.send_from_directory(flask.current_app.config["MOODLOG_MODEL"].parent, name, max_age=60)


class PortUnavailable(MoodlogError, OSError):
    """The dashboard's port cannot be bound (in use, or not permitted)."""


def serve(db_path: str | os.PathLike = DEFAULT_DB, host: str = "127.0.0.1", port: int = 8050,
          auth: str | None = None, *, model: str | os.PathLike | None = None, threads: int = 8) -> None:
    """Serve the dashboard with waitress until interrupted.

    Binding anything but loopback requires credentials (`auth` or $MOODLOG_DASHBOARD_AUTH).
    """
    server = make_server(db_path, host, port, auth, model=model, threads=threads)
    try:
        server.run()
    except KeyboardInterrupt:
        print("dashboard stopped", flush=True)
    finally:
        server.close()


def make_server(db_path, host: str = "127.0.0.1", port: int = 8050, auth: str | None = None, *,
                model: str | os.PathLike | None = None, threads: int = 8):
    """A waitress server, not yet running: `.run()` blocks, `.close()` stops it (for `start --dashboard`).

    A `model` other than the shipped one is loaded now, so a wrong path fails here with its name
    rather than on the first upload.
    """
    from waitress import create_server

    credentials = auth or os.environ.get(AUTH_ENV)
    if not is_loopback(host) and not credentials:
        raise AuthError(f"binding {host} lets other machines reach the dashboard: give --auth USER:PASS "
                        f"or set {AUTH_ENV}")
    recognizer = build_recognizer(model) if model is not None else None
    warn_of_problems(recognizer)
    app = create_app(db_path, recognizer=recognizer, model=model or DEFAULT_MODEL)
    threading.Thread(target=queries.warm_cache, args=(db_path,), daemon=True, name="warm-cache").start()
    wsgi = app.server
    if credentials:
        user, password = parse_credentials(credentials)
        wsgi.wsgi_app = BasicAuth(wsgi.wsgi_app, user, password)
    else:
        wsgi.wsgi_app = LoopbackHostOnly(wsgi.wsgi_app)
    try:
        # A body over the limit is refused from its Content-Length, before waitress reads it to disk;
        # one under it stays in memory (uploads are analysed there, never written to a file).
        server = create_server(wsgi, host=host, port=port, threads=threads, clear_untrusted_proxy_headers=True,
                               max_request_body_size=MAX_REQUEST_BYTES, inbuf_overflow=MAX_REQUEST_BYTES)
    except OSError as error:                 # the port is taken, or not ours to bind
        raise PortUnavailable(f"cannot serve the dashboard on {host}:{port} ({error.strerror or error}); "
                              "choose another with --port (0: any free port)") from None
    server.dash_app = app                    # waitress wraps the WSGI app; keep the one it serves at hand
    login = f", login required (user {parse_credentials(credentials)[0]})" if credentials else ""
    print(f"Moodlog dashboard on http://{_url_host(host)}:{server.effective_port}/ reading {db_path}{login}",
          flush=True)
    if not is_loopback(host):
        print(f"note: bound to {host}: anyone who can reach this machine on port {server.effective_port} "
              "can open the dashboard (with the password)", flush=True)
    return server


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serve_in_background(db_path, host: str = "127.0.0.1", port: int = 8050, auth: str | None = None, *,
                        model: str | os.PathLike | None = None):
    """Start serving on a daemon thread (for `start --dashboard`); returns the server, `.close()` stops it."""
    server = make_server(db_path, host, port, auth, model=model)
    threading.Thread(target=server.run, daemon=True, name="dashboard").start()
    return server
