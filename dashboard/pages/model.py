"""Model page: the label set and the report of the model that uploads are recognised with (the shipped
one unless `--model` names another, such as one made by `teach`), so users know what it tells apart
and how far to trust what it says."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import figures
from dashboard.context import model_path
from dashboard.report import CrossDomain, ModelReport, read_report
from model.classifier import DEFAULT_MODEL
from model.errors import ModelFileError
from model.labels import is_emotions
from model.provenance import model_identity, moodlog_version
from model.report import crossdomain_meaning, measured_line

dash.register_page(__name__, path="/model", name="Model", title="Moodlog · Model", order=3)


def layout(**_query) -> html.Div:
    """Read the report on every visit: training rewrites it while the dashboard runs."""
    report = read_report(model_path())
    return html.Div([html.H1("Model", className="h3"), _model_line(report), _labels_line(report),
                     _metric_cards(report.metrics), _recall_chart(report.recall, report.labels),
                     _crossdomain_card(report.crossdomain), _report_body(report)])


def _labels_line(report: ModelReport):
    """What the model tells apart: the seven emotions, or the labels it was taught."""
    if report.model_size is None:
        return None
    if report.labels_problem:
        return dbc.Alert(report.labels_problem, color="warning", id="model-labels")
    kind = "the seven FER2013 emotions" if is_emotions(report.labels) else f"{len(report.labels)} taught labels"
    line = html.P([f"It tells apart {kind}: ", html.Span(", ".join(report.labels), className="fw-semibold")],
                  id="model-labels")
    if report.framing_problem:
        return html.Div([line, dbc.Alert(report.framing_problem, color="warning", id="model-framing")])
    return line


def _recall_chart(recall: dict[str, float], labels):
    """How often each label is recognised when it is the true one: where to trust the model."""
    if not recall:
        return None
    word = "emotion" if is_emotions(labels) else "label"
    title = "Recall per emotion (FER2013 test)" if is_emotions(labels) else "Recall per label (test split)"
    return dbc.Card(dbc.CardBody([
        html.H2(title, className="h6"),
        html.P(f"The share of faces showing each {word} that the model labels correctly.",
               className="small text-muted mb-1"),
        dcc.Graph(figure=figures.recall_figure(recall, labels), config=figures.STATIC_CONFIG, id="model-recall")]),
        className="mb-3")


def _crossdomain_card(crossdomain: CrossDomain | None):
    """Beside the FER2013 figures, how the whole pipeline reads real photos of other datasets, or, when
    those were measured for another model file, only a warning that they are stale."""
    if crossdomain is None:
        return None
    body = _stale_warning(crossdomain) if crossdomain.stale else _crossdomain_tables(crossdomain)
    return dbc.Card(dbc.CardBody([
        html.H2("Real photos from other datasets (whole pipeline)", className="h6"),
        html.P(crossdomain_meaning(crossdomain.figures), className="small text-muted mb-2"), body]),
        className="mb-3", id="model-crossdomain")


def _crossdomain_tables(crossdomain: CrossDomain) -> html.Div:
    """One small table per set (pooled first), two abreast on wide screens; each scrolls sideways on a phone."""
    header = html.Thead(html.Tr([html.Th(title) for title in ("", "photos", "faces read", "accuracy", "macro-F1")]))
    columns = [dbc.Col([html.H3(title, className="small fw-semibold mb-1"),
                        dbc.Table([header, html.Tbody([html.Tr([html.Td(cell) for cell in row]) for row in rows])],
                                  size="sm", responsive=True, class_name="model-crossdomain-table mb-0")], xs=12, lg=6)
               for title, rows in figures.crossdomain_tables(crossdomain.figures)]
    unchecked = ("" if crossdomain.measured_model else
                 " The file does not record which model file it measured, so it may be another model's.")
    return html.Div([dbc.Row(columns, className="g-3"),
                     html.P(measured_line(crossdomain.figures) + "." + unchecked,
                            className="small text-muted mt-2 mb-0", id="model-crossdomain-measured")])


def _stale_warning(crossdomain: CrossDomain) -> dbc.Alert:
    return dbc.Alert([
        "Stale: these figures were measured for another model file (", html.Code(crossdomain.measured_model),
        f"; this one is {crossdomain.this_model or 'missing'}). {measured_line(crossdomain.figures)}. "
        "Measure this model with ", html.Code("python bench/crossdomain.py --model PATH --write-report"), "."],
        color="warning", className="small mb-0", id="model-crossdomain-stale")


def _model_line(report: ModelReport) -> html.P:
    if report.model_size is None:
        return dbc.Alert(f"No model file at {report.model_file}: train one with python app.py train.",
                         color="warning")
    shown = report.model_file.name if report.model_file == DEFAULT_MODEL else report.model_file
    try:
        identity = model_identity(report.model_file)
    except ModelFileError:   # an unreadable label set: _labels_line says so
        return html.P(f"{shown}: {report.model_size / 1e6:.1f} MB.", className="text-muted text-break",
                      id="model-identity")
    trained = f", trained {identity.trained.replace('T', ' ')}" if identity.trained else ""
    # text-break: a model's path has no spaces to wrap at, and on a phone it would widen the whole page.
    # The content hash and training date are what each session records (sessions.model_sha256), so a
    # reader can tell which sessions this model made.
    return html.P([f"{shown}: {report.model_size / 1e6:.1f} MB{trained}; content SHA-256 ",
                   html.Code(identity.sha256, id="model-sha256"), f" (first 20 digits); Moodlog {moodlog_version()}."],
                  className="text-muted text-break", id="model-identity")


SPLIT_NAMES = {"cross_validation": "cross-validated"}


def _metric_cards(metrics: dict) -> dbc.Row:
    """Accuracy and macro-F1 per split from metrics.json, when training (validation, test) or teach
    (cross-validated) wrote one; its other figures (timings, counts, flags) are the report's."""
    cards = []
    for split, values in metrics.items():
        if not isinstance(values, dict):
            continue
        for name, title in (("accuracy", "accuracy"), ("macro_f1", "macro-F1")):
            value = values.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
                cards.append(dbc.Col(dbc.Card(dbc.CardBody([
                    html.Div(f"{SPLIT_NAMES.get(split, split)} {title}", className="small text-muted"),
                    html.Div(f"{value:.1%}", className="h4 mb-0")])), xs=6, md=3))
    return dbc.Row(cards, className="g-3 mb-3", id="model-metrics")


def _report_body(report: ModelReport):
    if report.markdown is None and not is_emotions(report.labels):
        return dbc.Alert([f"No report beside {report.model_file.name}: REPORT.md is written next to a taught model "
                          "when teaching finishes (", html.Code("python app.py teach"), "). Until then, treat its "
                          "labels as rough."], color="info", id="model-no-report")
    if report.markdown is None:
        return dbc.Alert(["No report yet: REPORT.md is written next to the model when training finishes "
                          "(", html.Code("python app.py train"), "). Until then, treat its emotions as rough."],
                         color="info", id="model-no-report")
    return dbc.Card(dbc.CardBody(dcc.Markdown(report.markdown, className="model-report", id="model-report")))
