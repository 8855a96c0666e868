"""Recognize page: drop a photo, get every face boxed with its emotion probabilities."""

from __future__ import annotations

import dash
import flask
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, clientside_callback, dcc, html

from dashboard import figures
from dashboard.context import preload_recognizer, recognizer
from dashboard.uploads import MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS, UploadError, analyse
from model.labels import COLOURS

dash.register_page(__name__, path="/recognize", name="Recognize", title="Moodlog · Recognize", order=2)


def layout(**_query) -> html.Div:
    """The upload zone; opening the page starts loading the model, while the user picks a photo."""
    preload_recognizer(flask.current_app._get_current_object())
    limits = (f"JPG, PNG, WebP, BMP or TIFF, up to {MAX_UPLOAD_BYTES // 1024 // 1024} MB and "
              f"{MAX_UPLOAD_PIXELS // 1_000_000} megapixels")
    return html.Div([
        html.H1("Recognize", className="h3"),
        html.P("Photos are analysed in memory and never stored.", className="text-muted"),
        dcc.Upload(id="recognize-upload", accept="image/*", multiple=False, className="upload-zone mb-3",
                   className_active="upload-zone upload-zone-active mb-3",
                   children=html.Div([html.Strong("Drop a photo here"), " or ", html.U("choose one"),
                                      html.Div(limits, className="small text-muted mt-1")])),
        dcc.Upload(id="recognize-face-upload", accept="image/*", multiple=False,
                   className="upload-zone upload-zone-small mb-3",
                   className_active="upload-zone upload-zone-small upload-zone-active mb-3",
                   children=html.Div([html.Strong("Already one face?"), " A face crop (as in FER2013, the face "
                                      "with a little margin) dropped here is read whole, without face detection."],
                                     className="small")),
        dcc.Store(id="recognize-photo"), dcc.Store(id="recognize-face"),
        dbc.Alert(id="recognize-limit", color="danger", is_open=False),
        dcc.Loading(html.Div(id="recognize-result"), type="default", delay_show=150),
    ])


# In the browser, before anything is sent: a file over the limit gets the limit message whatever its
# size, and is never sent (a request over the server's MAX_CONTENT_LENGTH would be refused with
# HTTP 413 and leave the page silent: case upload-over-limit). Accepted files go on to the server
# through a Store, so the request carries the photo only when it is within the limit. The stale
# result of an earlier photo is cleared, so it cannot be taken for this one's.
GATE = """function(contents, filename) {
    const none = window.dash_clientside.no_update;
    if (!contents) { return [none, none, none, none]; }
    const comma = contents.indexOf(',');
    const bytes = Math.floor((contents.length - comma - 1) * 3 / 4);
    if (bytes > %(limit)d) {
        const text = (filename || 'This file') + ': the file is ' + (bytes / 1048576).toFixed(1) +
                     ' MB; the limit is %(limit_mb)d MB. Make it smaller (or crop it) and drop it again.';
        return [null, text, true, null];
    }
    return [{contents: contents, filename: filename}, '', false, null];
}""" % {"limit": MAX_UPLOAD_BYTES, "limit_mb": MAX_UPLOAD_BYTES // 1024 // 1024}

for upload, store in (("recognize-upload", "recognize-photo"), ("recognize-face-upload", "recognize-face")):
    clientside_callback(GATE, Output(store, "data"), Output("recognize-limit", "children", allow_duplicate=True),
                        Output("recognize-limit", "is_open", allow_duplicate=True),
                        Output("recognize-result", "children", allow_duplicate=True),
                        Input(upload, "contents"), State(upload, "filename"), prevent_initial_call=True)


@callback(Output("recognize-result", "children"), Input("recognize-photo", "data"), prevent_initial_call=True)
def recognize(upload):
    """Analyse the upload and show it; a refused upload becomes a message, never an error page."""
    if not upload:
        return None
    return _recognized(upload.get("contents"), upload.get("filename"), whole_image=False)


@callback(Output("recognize-result", "children", allow_duplicate=True), Input("recognize-face", "data"),
          prevent_initial_call=True)
def recognize_face_crop(upload):
    """The same for an image that is one face already: read whole, no detection."""
    if not upload:
        return None
    return _recognized(upload.get("contents"), upload.get("filename"), whole_image=True)


def _recognized(contents, filename, *, whole_image: bool):
    try:
        analysis = analyse(recognizer(), contents, filename, whole_image=whole_image)
    except UploadError as error:
        return dbc.Alert([html.Strong(f"{filename or 'This file'}: "), str(error)], color="danger",
                         id="recognize-error")
    return _result(analysis, filename)


def _result(analysis, filename: str | None) -> html.Div:
    classified = [face for face in analysis.faces if face["probabilities"]]
    summary = _summary(len(analysis.faces), len(classified), analysis, filename)
    return dbc.Row([
        dbc.Col([summary, html.Img(src=analysis.image, id="recognize-image", className="img-fluid rounded border",
                                   alt=f"{filename} with the faces found boxed")], lg=7),
        dbc.Col([_face_card(face) for face in analysis.faces], lg=5, id="recognize-faces"),
    ], className="g-3")


def _summary(found: int, classified: int, analysis, filename: str | None) -> dbc.Alert:
    size = f"{analysis.width}×{analysis.height}, {analysis.seconds * 1000:.0f} ms"
    if not found:
        return dbc.Alert(f"No face found in {filename or 'this photo'} ({size}).", color="warning",
                         id="recognize-summary")
    text = f"{found} face{'s' if found > 1 else ''} found"
    if classified < found:
        text += f", {classified} readable"
    return dbc.Alert(f"{text} ({size}).", color="success", id="recognize-summary", class_name="py-2")


def _face_card(face: dict) -> dbc.Card:
    """A face's thumbnail, its verdict in its emotion's colour, and its probability bars."""
    emotion = face["emotion"]
    colour = COLOURS.get(emotion, "#6c757d")
    title = f"Face {face['number']}: {emotion} {face['confidence']:.0%}" if emotion else \
        f"Face {face['number']}: not classified ({face['status']})"
    header = html.Div([html.Img(src=face["thumbnail"], className="face-thumb me-3", alt=f"face {face['number']}"),
                       html.Div(title, className="fw-semibold")], className="d-flex align-items-center")
    body = [header]
    if face["probabilities"]:
        body.append(dcc.Graph(figure=figures.probability_figure(face["probabilities"]),
                              config=figures.STATIC_CONFIG, className="face-probabilities"))
    return dbc.Card(dbc.CardBody(body), className="mb-3 face-card", style={"borderLeft": f"6px solid {colour}"})
