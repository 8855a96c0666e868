"""Rows in, Plotly figures out; one colour per emotion everywhere, from model/labels.py.

Figures are plain dicts in Plotly's JSON schema rather than `go.Figure` objects: a month of
hourly buckets is 7 x 720 bars, and plotly.py's validation of that takes longer than the
query behind it (hundreds of ms), while a dict goes straight to the browser.

Times arrive as UTC epoch seconds and are drawn in the server's local time (the dashboard is
meant to run on the machine that captures), as the architecture asks.
"""

from __future__ import annotations

import datetime

from model.labels import COLOURS, EMOTIONS
from model.report import crossdomain_pipelines, crossdomain_sets

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
CHART_HEIGHT = 340
STATIC_CONFIG = {"displayModeBar": False, "responsive": True}
GRID = "#e9ecef"


def local_time(ts: float) -> str:
    """ISO text of a UTC epoch time in the server's local time, which Plotly draws as is."""
    return datetime.datetime.fromtimestamp(ts).isoformat(timespec="seconds")


def _layout(height: int, **extra) -> dict:
    """The look shared by every chart: white, light grid, no title, tight margins."""
    axis = {"gridcolor": GRID, "linecolor": GRID, "zerolinecolor": GRID, "automargin": True, "fixedrange": True}
    layout = {"height": height, "paper_bgcolor": "white", "plot_bgcolor": "white",
              "font": {"family": FONT, "size": 12, "color": "#343a40"}, "hoverlabel": {"font": {"family": FONT}},
              "margin": {"l": 8, "r": 8, "t": 8, "b": 8}, "xaxis": dict(axis), "yaxis": dict(axis),
              "showlegend": False}
    for key, value in extra.items():
        layout[key] = {**layout[key], **value} if isinstance(value, dict) and key in layout else value
    return layout


def timeline_figure(counts: dict[str, dict[str, int]], bucket: int, x_range: list[float],
                    emotions=EMOTIONS) -> dict:
    """Stacked steps: each emotion's share of the faces in each time bucket.

    `counts` maps a bucket start (UTC seconds, as a string) to faces per emotion. Drawn as
    seven stacked areas with step edges rather than 7 x 720 bars, which a phone draws in a
    fraction of the time; a bucket without faces drops to zero, so a pause in capture shows
    as a gap rather than as a line across it.
    """
    starts = sorted(int(s) for s in counts)
    points = _step_points(starts, bucket)
    x = [local_time(t) for t, _ in points]
    data = []
    for emotion in emotions:
        shares, faces = [], []
        for _, start in points:
            per_emotion = counts.get(str(start), {}) if start is not None else {}
            total = sum(per_emotion.values())
            faces.append(per_emotion.get(emotion, 0))
            shares.append(round(faces[-1] / total, 4) if total else 0)
        data.append({"type": "scatter", "mode": "lines", "name": emotion, "x": x, "y": shares,
                     "customdata": faces, "stackgroup": "shares", "line": {"width": 0, "shape": "hv"},
                     "fillcolor": COLOURS[emotion], "marker": {"color": COLOURS[emotion]},
                     "hovertemplate": "%{y:.0%} (%{customdata} faces)"})
    start = (x_range[0] // bucket) * bucket
    end = max(-(-x_range[1] // bucket) * bucket, start + bucket)
    layout = _layout(CHART_HEIGHT, hovermode="x unified", showlegend=True,
                     legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "traceorder": "normal"},
                     margin={"t": 36}, xaxis={"type": "date", "range": [local_time(start), local_time(end)],
                                              "fixedrange": False},
                     yaxis={"tickformat": ".0%", "range": [0, 1]})
    return {"data": data, "layout": layout}


def _step_points(starts: list[int], bucket: int) -> list[tuple[int, int | None]]:
    """(x, bucket start or None) for a step chart: one point per bucket with faces, and a point
    with no bucket (drawn as zero) wherever the next bucket has none, including after the last."""
    points = []
    for i, start in enumerate(starts):
        points.append((start, start))
        following = starts[i + 1] if i + 1 < len(starts) else None
        if following != start + bucket:
            points.append((start + bucket, None))
    return points


def distribution_figure(totals: dict[str, int]) -> dict:
    """Horizontal bars: faces per emotion over the whole range, labelled with their share."""
    total = sum(totals.values()) or 1
    names = [e for e in EMOTIONS if e in totals][::-1]
    bars = {"type": "bar", "orientation": "h", "x": [totals[e] for e in names], "y": names,
            "marker": {"color": [COLOURS[e] for e in names]}, "textposition": "auto",
            "text": [f"{totals[e] / total:.0%}" for e in names], "hovertemplate": "%{y}: %{x} faces<extra></extra>"}
    return {"data": [bars], "layout": _layout(CHART_HEIGHT)}


def probability_figure(probabilities: dict[str, float]) -> dict:
    """One face's seven probabilities as horizontal bars, the emotion colours, 0-100 %."""
    names = list(EMOTIONS)[::-1]
    bars = {"type": "bar", "orientation": "h", "x": [probabilities[e] for e in names], "y": names,
            "marker": {"color": [COLOURS[e] for e in names]}, "text": [f"{probabilities[e]:.0%}" for e in names],
            "textposition": "outside", "cliponaxis": False, "hovertemplate": "%{y}: %{x:.1%}<extra></extra>"}
    layout = _layout(200, xaxis={"range": [0, 1.15], "showticklabels": False, "showgrid": False})
    return {"data": [bars], "layout": layout}


def recall_figure(recall: dict[str, float]) -> dict:
    """Per-emotion recall of the shipped model as horizontal bars, 0-100 %."""
    names = [e for e in EMOTIONS if e in recall][::-1]
    bars = {"type": "bar", "orientation": "h", "x": [recall[e] for e in names], "y": names,
            "marker": {"color": [COLOURS[e] for e in names]}, "text": [f"{recall[e]:.0%}" for e in names],
            "textposition": "outside", "cliponaxis": False, "hovertemplate": "%{y}: recall %{x:.1%}<extra></extra>"}
    return {"data": [bars], "layout": _layout(260, xaxis={"range": [0, 1.1], "tickformat": ".0%"})}


def crossdomain_tables(figures: dict) -> list[tuple[str, list[list[str]]]]:
    """The cells of the Model page's cross-dataset tables: `(title, rows)` for the pooled sets first, then
    each set; each row `[pipeline, photos, faces read, accuracy %, macro-F1 %]`, "-" where the file lacks a
    figure. `figures` is a crossdomain.json as bench/crossdomain.py writes it."""
    pipelines = crossdomain_pipelines(figures)
    names = crossdomain_sets(figures)
    ordered = [name for name in names if name == "pooled"] + [name for name in names if name != "pooled"]
    return [(_crossdomain_title(name), [_crossdomain_row(pipeline, figures[pipeline].get(name))
                                        for pipeline in pipelines]) for name in ordered]


def _crossdomain_title(name: str) -> str:
    return "All sets pooled" if name == "pooled" else name


def _crossdomain_row(pipeline: str, one_set) -> list[str]:
    """One pipeline's figures on one set; a set the pipeline lacks gives dashes."""
    one_set = one_set if isinstance(one_set, dict) else {}
    shown = "fer (peer)" if pipeline == "fer" else pipeline
    cells = [_number(one_set.get("photos"), "{:g}"), _number(one_set.get("read"), "{:g}"),
             _number(one_set.get("accuracy"), "{:.1%}"), _number(one_set.get("macro_f1"), "{:.1%}")]
    return [shown, *cells]


def _number(value, form: str) -> str:
    return form.format(value) if isinstance(value, (int, float)) else "-"
