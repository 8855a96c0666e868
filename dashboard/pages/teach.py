"""Teach page: name labels, drop photos into each, teach in the background, see the cross-validated
result, and recognise uploads with the taught model."""

from __future__ import annotations

import os
from pathlib import Path
import dash
import dash_bootstrap_components as dbc
import flask
from dash import ALL, MATCH, Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from dashboard import figures
from dashboard.context import build_recognizer, recognizer
from dashboard.teaching import DEFAULT_FOLDER, TeachFolder, TeachJob, taught_result, training_tools_missing
from dashboard.uploads import MAX_UPLOAD_BYTES
from model.classifier import DEFAULT_MODEL
from model.errors import MoodlogError
from model.labels import ADVISED_FACES_PER_LABEL, MIN_FACES_PER_LABEL, colours_for

dash.register_page(__name__, path="/teach", name="Teach", title="Moodlog · Teach", order=4)

TICK_MS = 1000
# One drop is one request: the files of a drop together may not pass the server's request limit
# (dashboard/app.py MAX_REQUEST_BYTES, one upload's worth), or the request is refused before it is read.
DROP_BYTES = MAX_UPLOAD_BYTES


def teach_folder() -> TeachFolder:
    """The app's teaching folder: its MOODLOG_TEACH_DIR setting, else that environment variable, else data/teach."""
    return TeachFolder(flask.current_app.config.get("MOODLOG_TEACH_DIR") or os.environ.get("MOODLOG_TEACH_DIR")
                       or DEFAULT_FOLDER)


def teach_job() -> TeachJob:
    """The server's one teaching job (one child process at a time)."""
    server = flask.current_app
    job = server.extensions.get("moodlog_teach_job")
    if job is None:
        job = server.extensions.setdefault("moodlog_teach_job", TeachJob(teach_folder()))
    return job


def layout(**_query) -> html.Div:
    folder = teach_folder()
    missing = training_tools_missing()
    return html.Div([
        html.H1("Teach", className="h3"),
        html.P(["Teach Moodlog labels of your own (a smile with teeth, a closed smile, neutral...) from a few dozen "
                f"photos each: at least {MIN_FACES_PER_LABEL} per label, {ADVISED_FACES_PER_LABEL} or more advised. "
                "Only photos with a readable face are kept."], className="mb-1"),
        html.P([f"Photos you add here are kept on this machine, in {folder.root}, and nowhere else, until you empty "
                "it. ", dbc.Button("Empty it", id="teach-empty", color="link", size="sm", class_name="p-0 align-baseline")],
               className="small text-muted", id="teach-privacy"),
        dcc.ConfirmDialog(id="teach-empty-confirm", message="Delete every photo and every model taught here?"),
        dbc.Alert(["Teaching needs the training tools (" + ", ".join(missing) + " missing): ",
                   html.Code("pip install -r requirements-train.txt")], color="warning", id="teach-tools")
        if missing else None,
        dbc.InputGroup([dbc.Input(id="teach-name", placeholder="a label, e.g. closed smile", maxLength=40),
                        dbc.Button("Add label", id="teach-add", color="secondary")], class_name="mb-2"),
        html.Div(id="teach-message"),
        html.Div(label_cards(folder), id="teach-labels"),
        html.Div([dbc.Button("Teach", id="teach-start", color="primary", disabled=bool(missing), class_name="me-2"),
                  dbc.Button("Cancel", id="teach-cancel", color="secondary", outline=True, disabled=True)],
                 className="my-3"),
        dbc.Progress(id="teach-progress", value=0, label="", style={"height": "1.4rem"}, class_name="mb-2"),
        html.Div(id="teach-state", className="small text-muted"),
        dcc.Interval(id="teach-tick", interval=TICK_MS, disabled=not teach_job().running()),
        html.Div(last_result(folder), id="teach-result"),
    ])


def last_result(folder: TeachFolder):
    """What was taught last, so a reload or a visit to another page does not lose it: this server's
    finished run, else the newest model in the folder."""
    state = teach_job().state()
    if state["state"] == "done" and state.get("model") and Path(state["model"]).is_file() and state.get("metrics"):
        return result_card(state)
    latest = folder.latest_model()
    if latest is None or teach_job().running():
        return None
    found = taught_result(latest)
    return result_card({"state": "done", **found}) if found["metrics"] else None


def label_cards(folder: TeachFolder) -> list:
    labels = folder.labels()
    if not labels:
        return [html.P("No labels yet: add two or more.", className="text-muted", id="teach-none")]
    colours = colours_for(labels)
    return [dbc.Card(dbc.CardBody([
        html.Div([html.Span(name, className="fw-semibold me-2"),
                  html.Span(count_text(count), id={"type": "teach-count", "label": name}, className="small"),
                  dbc.Button("Remove", id={"type": "teach-remove", "label": name}, color="link", size="sm",
                             class_name="ms-auto p-0")], className="d-flex align-items-center mb-2"),
        dcc.Upload(id={"type": "teach-upload", "label": name}, accept="image/*", multiple=True,
                   className="upload-zone upload-zone-small mb-1",
                   children=html.Div([html.Strong("Drop photos"), " or ", html.U("choose them"),
                                      html.Span(f" (up to {DROP_BYTES // 1024 // 1024} MB per drop)",
                                                className="text-muted")], className="small")),
        dcc.Store(id={"type": "teach-drop", "label": name}),
        html.Div(id={"type": "teach-added", "label": name}, className="small"),
    ]), class_name="mb-2", style={"borderLeft": f"6px solid {colours[name]}"}) for name, count in labels.items()]


def count_text(count: int) -> str:
    if count < MIN_FACES_PER_LABEL:
        return f"{count} photos: at least {MIN_FACES_PER_LABEL - count} more needed"
    if count < ADVISED_FACES_PER_LABEL:
        return f"{count} photos: {ADVISED_FACES_PER_LABEL - count} more advised"
    return f"{count} photos: enough"


@callback(Output("teach-labels", "children"), Output("teach-message", "children"), Output("teach-name", "value"),
          Input("teach-add", "n_clicks"), Input("teach-name", "n_submit"),
          Input({"type": "teach-remove", "label": ALL}, "n_clicks"), Input("teach-empty-confirm", "submit_n_clicks"),
          State("teach-name", "value"), prevent_initial_call=True)
def change_labels(_add, _submit, removes, _empty, name):
    """Add a label, remove one, or empty the folder; then draw the labels again."""
    folder, trigger = teach_folder(), ctx.triggered_id
    try:
        if isinstance(trigger, dict):
            if not any(removes):
                return no_update, no_update, no_update       # a card was drawn, nothing was clicked
            refuse_while_teaching()
            folder.remove_label(trigger["label"])
        elif trigger == "teach-empty-confirm":
            refuse_while_teaching()
            folder.empty()
            back = back_to_own_model(folder)
            if back:
                return label_cards(folder), dbc.Alert(back, color="secondary", class_name="py-2"), no_update
        else:
            folder.add_label(name or "")
            name = ""
    except MoodlogError as error:
        return no_update, dbc.Alert(str(error), color="danger", id="teach-error", class_name="py-2"), no_update
    return label_cards(folder), None, name


def refuse_while_teaching() -> None:
    if teach_job().running():
        raise MoodlogError("teaching is running: cancel it first, or wait for it to finish")


def back_to_own_model(folder: TeachFolder) -> str | None:
    """After the folder was emptied: a taught model in it that Recognize was using is gone with it, so
    Recognize goes back to the model the dashboard was started with; says so, or None."""
    server = flask.current_app
    if not folder.holds(server.config["MOODLOG_MODEL"]):
        return None
    before = server.extensions.get("moodlog_model_before_teach")
    # The dashboard may have been started on a model inside the folder itself: then the shipped one.
    server.config["MOODLOG_MODEL"] = before if before is not None and not folder.holds(before) else DEFAULT_MODEL
    server.extensions["moodlog_recognizer"] = None               # built again from that model on the next upload
    return f"Emptied. Recognize is back on {server.config['MOODLOG_MODEL'].name}."


@callback(Output("teach-empty-confirm", "displayed"), Input("teach-empty", "n_clicks"), prevent_initial_call=True)
def confirm_empty(_clicks):
    return True


# In the browser: a drop whose files together pass the request limit is never sent (the server would
# refuse it unread); the user is told to drop fewer at a time.
clientside_callback(
    """function(contents, names) {
        if (!contents) { return [window.dash_clientside.no_update, '']; }
        let bytes = 0;
        for (const c of contents) { bytes += Math.floor((c.length - c.indexOf(',') - 1) * 3 / 4); }
        if (bytes > %(limit)d) {
            return [null, 'These ' + contents.length + ' files are ' + (bytes / 1048576).toFixed(1) +
                    ' MB together; drop at most %(limit_mb)d MB at a time.'];
        }
        return [{contents: contents, names: names}, 'Checking ' + contents.length + ' photo(s)...'];
    }""" % {"limit": DROP_BYTES, "limit_mb": DROP_BYTES // 1024 // 1024},
    Output({"type": "teach-drop", "label": MATCH}, "data"), Output({"type": "teach-added", "label": MATCH}, "children"),
    Input({"type": "teach-upload", "label": MATCH}, "contents"),
    State({"type": "teach-upload", "label": MATCH}, "filename"), prevent_initial_call=True)


@callback(Output({"type": "teach-count", "label": MATCH}, "children"),
          Output({"type": "teach-added", "label": MATCH}, "children", allow_duplicate=True),
          Input({"type": "teach-drop", "label": MATCH}, "data"), prevent_initial_call=True)
def add_photos(drop):
    """Check and keep the dropped photos of one label; say what was kept and what was refused, and why."""
    if not drop:
        return no_update, no_update
    uploads = dropped_files(drop)
    if uploads is None:      # only a hand-made request sends anything else; the browser sends lists
        return no_update, html.Span("This drop is not a list of files; drop the photos again.", className="text-danger")
    label = ctx.triggered_id["label"]
    folder = teach_folder()
    try:
        added = folder.add_photos(label, uploads, recognizer().finder)
    except MoodlogError as error:
        return no_update, html.Span(str(error), className="text-danger")
    already = f" ({added.already} already there)" if added.already else ""
    lines = [html.Div(f"{added.kept} photo(s) kept{already}", className="text-success")]
    lines += [html.Div(f"{name}: {why}", className="text-danger") for name, why in added.refused[:10]]
    if len(added.refused) > 10:
        lines.append(html.Div(f"and {len(added.refused) - 10} more refused", className="text-danger"))
    return count_text(folder.labels().get(label, 0)), lines


def dropped_files(drop) -> list[tuple[str, str | None]] | None:
    """The (data URI, file name) pairs of a drop `{"contents": [...], "names": [...]}`, as the
    browser's callback above sends it; None for anything else."""
    if not isinstance(drop, dict) or not isinstance(drop.get("contents"), list):
        return None
    contents, names = drop["contents"], drop.get("names") or []
    if not isinstance(names, list):
        return None
    names = [name if isinstance(name, str) else None for name in names] + [None] * (len(contents) - len(names))
    if not all(isinstance(item, str) for item in contents):
        return None
    return list(zip(contents, names))


@callback(Output("teach-tick", "disabled"), Output("teach-message", "children", allow_duplicate=True),
          Output("teach-result", "children", allow_duplicate=True),
          Output("teach-progress", "value", allow_duplicate=True), Output("teach-progress", "label", allow_duplicate=True),
          Output("teach-state", "children", allow_duplicate=True),
          Output("teach-cancel", "disabled", allow_duplicate=True), Output("teach-start", "disabled", allow_duplicate=True),
          Input("teach-start", "n_clicks"), Input("teach-cancel", "n_clicks"), prevent_initial_call=True)
def start_or_cancel(_start, _cancel):
    job = teach_job()
    if ctx.triggered_id == "teach-cancel":
        job.cancel()
        return True, dbc.Alert("Teaching cancelled.", color="secondary", class_name="py-2"), None, 0, "", "", True, False
    try:
        job.start()
    except (MoodlogError, RuntimeError) as error:
        alert = dbc.Alert(str(error), color="danger", id="teach-error", class_name="py-2")
        return True, alert, no_update, no_update, no_update, no_update, no_update, no_update
    return False, None, None, 0, "starting", "", False, True


@callback(Output("teach-progress", "value"), Output("teach-progress", "label"), Output("teach-state", "children"),
          Output("teach-result", "children"), Output("teach-tick", "disabled", allow_duplicate=True),
          Output("teach-cancel", "disabled"), Output("teach-start", "disabled"),
          Input("teach-tick", "n_intervals"), prevent_initial_call=True)
def show_progress(_tick):
    state = teach_job().state()
    if state["state"] == "running":
        share = state.get("done", 0) / max(state.get("total", 1), 1)
        step = state.get("step", "starting (loading TensorFlow)")
        return (round(100 * share), f"{step} {state.get('done', 0)}/{state.get('total', '?')}" if "total" in state
                else step, f"{state['seconds']:.0f} s", no_update, False, False, True)
    if state["state"] == "failed":
        return 0, "", "", dbc.Alert(f"Teaching failed: {state['error']}", color="danger", id="teach-error"), True, True, False
    if state["state"] == "done":
        return 100, "done", f"taught in {state['seconds']:.0f} s", result_card(state), True, True, False
    return 0, "", "", no_update, True, True, False


def result_card(state: dict):
    metrics = state.get("metrics") or {}
    validation = metrics.get("cross_validation", {})
    recall = validation.get("recall", {})
    lines = [html.H2("Result", className="h5"),
             html.P([f"{validation.get('folds', '?')}-fold cross-validated accuracy ",
                     html.Strong(f"{validation.get('accuracy', 0):.0%}"), ", macro-F1 ",
                     html.Strong(f"{validation.get('macro_f1', 0):.2f}"),
                     f", on {sum(metrics.get('faces', {}).values())} faces: each face read by a model taught "
                     "without it."], id="teach-score")]
    if recall:
        lines.append(dcc.Graph(figure=figures.recall_figure(recall, tuple(recall)),
                               config=figures.STATIC_CONFIG, id="teach-recall"))
    if metrics.get("dropped"):
        lines.append(html.P(f"{metrics['dropped']} photo(s) had no usable face and were left out.", className="small"))
    lines += [dbc.Button("Recognize with this model", id="teach-use", color="success", class_name="me-2"),
              html.Span(state.get("model") or "", className="small text-muted", id="teach-model-path"),
              dcc.Store(id="teach-model", data=state.get("model")), html.Div(id="teach-used", className="mt-2")]
    return dbc.Card(dbc.CardBody(lines), class_name="mt-3")


@callback(Output("teach-used", "children"), Input("teach-use", "n_clicks"), State("teach-model", "data"),
          prevent_initial_call=True)
def use_model(_clicks, path):
    """The Recognize and Model pages switch to the taught model (until the dashboard restarts)."""
    if not path:
        return no_update
    # The path comes from the browser: only a model this page taught, in its own folder, is loaded,
    # and nothing is said about files elsewhere (whether they exist, what they are).
    if not (isinstance(path, str) and path.endswith(".keras") and teach_folder().holds(Path(path))
            and Path(path).is_file()):
        return dbc.Alert("That is not a model taught on this page; teach again.", color="danger", class_name="py-2")
    server = flask.current_app
    try:
        server.extensions["moodlog_recognizer"] = build_recognizer(path)
    except MoodlogError as error:
        return dbc.Alert(str(error), color="danger", class_name="py-2")
    server.extensions.setdefault("moodlog_model_before_teach", server.config["MOODLOG_MODEL"])
    server.config["MOODLOG_MODEL"] = Path(path)
    return dbc.Alert(["The Recognize page now uses this model. ", dcc.Link("Try it", href="/recognize")],
                     color="success", class_name="py-2", id="teach-in-use")
