"""Recognize page: drop a photo, get every face boxed with its probabilities over the model's labels
(the seven emotions, or those a taught model was taught), in their colours."""

from __future__ import annotations

import dash
import flask
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from dashboard import figures
from dashboard.context import model_path, preload_recognizer, recognizer
from dashboard.uploads import MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS, UploadError, analyse
from model.labels import colours_for
from dashboard.report import served_framing_problem
from model.recognizer import MIN_FACE, TOO_SMALL

dash.register_page(__name__, path="/recognize", name="Recognize", title="Moodlog · Recognize", order=2)

# The smallest face sides offered, in pixels of the photo. Below the default (MIN_FACE) the crop is
# scaled up and reads less reliably, but a group photo's small faces can still be tried.
FACE_SIZES = sorted({16, 24, MIN_FACE, 48})


def layout(**_query) -> html.Div:
    """The upload zone; opening the page starts loading the model, while the user picks a photo."""
    preload_recognizer(flask.current_app._get_current_object())
    limits = (f"JPG, PNG, WebP, BMP or TIFF, up to {MAX_UPLOAD_BYTES // 1024 // 1024} MB and "
              f"{MAX_UPLOAD_PIXELS // 1_000_000} megapixels")
    return html.Div([
        html.H1("Recognize", className="h3"),
        html.P("Photos are analysed in memory and never stored.", className="text-muted"),
        framing_alert(),
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
        _face_size_field(),
        dcc.Store(id="recognize-photo"), dcc.Store(id="recognize-face"),
        dbc.Alert(id="recognize-limit", color="danger", is_open=False),
        dcc.Loading(html.Div(id="recognize-result"), type="default", delay_show=150),
    ])


def framing_alert():
    """A warning when the served model was taught on faces framed otherwise than today's crop
    (dashboard.report.served_framing_problem), since it then reads uploads worse than its report says."""
    problem = served_framing_problem(model_path())
    return dbc.Alert(problem, color="warning", id="recognize-framing") if problem else None


def _face_size_field() -> html.Div:
    """The smallest face side read; changing it reads the last photo again."""
    options = [{"label": f"{size} px" + (" (default)" if size == MIN_FACE else ""), "value": str(size)}
               for size in FACE_SIZES]
    return html.Div([
        dbc.Label("Smallest face to read", html_for="recognize-min-face", className="small text-muted mb-0 me-2"),
        dbc.Select(id="recognize-min-face", options=options, value=str(MIN_FACE), size="sm",
                   style={"width": "auto"}),
        html.Span("smaller faces are read less reliably", className="small text-muted ms-2"),
    ], className="d-flex flex-wrap align-items-center mb-3")


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


@callback(Output("recognize-result", "children"), Input("recognize-photo", "data"), Input("recognize-face", "data"),
          Input("recognize-min-face", "value"), State("recognize-photo", "modified_timestamp"),
          State("recognize-face", "modified_timestamp"), prevent_initial_call=True)
def recognize(photo, face_crop, min_face, photo_time, face_time):
    """Analyse the latest upload (a photo, or a face crop read whole) and show it; a new smallest face
    size reads the latest upload again. A refused upload becomes a message, never an error page."""
    whole_image = _latest_is_face_crop(ctx.triggered_id, photo_time, face_time)
    upload = face_crop if whole_image else photo
    if not upload:
        return None if ctx.triggered_id != "recognize-min-face" else no_update
    if not isinstance(upload, dict):          # only a hand-made request: refused as not a file, below
        upload = {}
    return _recognized(upload.get("contents"), upload.get("filename"), whole_image=whole_image,
                       min_face=_face_size(min_face))


def _latest_is_face_crop(trigger, photo_time, face_time) -> bool:
    if trigger in ("recognize-photo", "recognize-face"):
        return trigger == "recognize-face"
    return (face_time or -1) > (photo_time or -1)


def _face_size(value) -> int:
    """The chosen smallest face side; anything not offered (a hand-made request) reads as the default."""
    return int(value) if str(value) in {str(size) for size in FACE_SIZES} else MIN_FACE


def _recognized(contents, filename, *, whole_image: bool, min_face: int):
    try:
        analysis = analyse(recognizer(), contents, filename, whole_image=whole_image, min_face=min_face)
    except UploadError as error:
        return dbc.Alert([html.Strong(f"{filename or 'This file'}: "), str(error)], color="danger",
                         id="recognize-error")
    return _result(analysis, filename)


def _result(analysis, filename: str | None) -> html.Div:
    classified = [face for face in analysis.faces if face["probabilities"]]
    summary = _summary(len(analysis.faces), len(classified), analysis, filename)
    carded = [face for face in analysis.faces if face["status"] != TOO_SMALL]
    too_small = len(analysis.faces) - len(carded)
    return dbc.Row([
        dbc.Col([summary, html.Img(src=analysis.image, id="recognize-image", className="img-fluid rounded border",
                                   alt=f"{filename} with the faces found boxed")], lg=7),
        dbc.Col([*map(_face_card, carded), _too_small_note(too_small, bool(carded), analysis.min_face)],
                lg=5, id="recognize-faces"),
    ], className="g-3")


def _too_small_note(count: int, others: bool, min_face: int | None):
    """One line for every face too small to read, instead of a card each (a group photo has dozens)."""
    if not count:
        return None
    faces = f"{count}{' more' if others else ''} face{'s were' if count > 1 else ' was'}"
    smaller = [size for size in FACE_SIZES if min_face is None or size < min_face]
    hint = ("; choose a smaller face size to try them" if smaller else
            f"; {FACE_SIZES[0]} px is the smallest size offered")
    return dbc.Alert(f"{faces} too small to read (under {min_face or MIN_FACE} px){hint}.", color="secondary",
                     id="recognize-too-small", class_name="py-2")


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
    """A face's thumbnail, its verdict in its label's colour, and its probability bars."""
    emotion = face["emotion"]
    colour = colours_for(face["probabilities"]).get(emotion, "#6c757d") if face["probabilities"] else "#6c757d"
    title = f"Face {face['number']}: {emotion} {face['confidence']:.0%}" if emotion else \
        f"Face {face['number']}: not classified ({face['status']})"
    header = html.Div([html.Img(src=face["thumbnail"], className="face-thumb me-3", alt=f"face {face['number']}"),
                       html.Div(title, className="fw-semibold")], className="d-flex align-items-center")
    body = [header]
    if face["probabilities"]:
        body.append(dcc.Graph(figure=figures.probability_figure(face["probabilities"]),
                              config=figures.STATIC_CONFIG, className="face-probabilities"))
    return dbc.Card(dbc.CardBody(body), className="mb-3 face-card", style={"borderLeft": f"6px solid {colour}"})
