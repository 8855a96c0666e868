"""Figures of the Sessions page: sessions on their own time (seconds since each one's start).

Plain dicts in Plotly's JSON schema, like dashboard/figures.py, whose look (`_layout`) they share.
The x axis is time since the session's start (video time for a file), labelled m:ss or h:mm:ss,
so sessions of different days and participants line up. A session is drawn in its own labels
(the seven emotions, or a taught label set with no valence), and sessions of different label sets
are never overlaid together (dashboard/pages/sessions.py chooses which are).
"""

from __future__ import annotations

from dashboard.figures import chart_layout
from dashboard.sessions import Series
from model.labels import colours_for, is_emotions

HEIGHT = 360
OVERLAY_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                   "#bcbd22", "#17becf")


def clock(seconds: float) -> str:
    """Seconds since the start as m:ss or h:mm:ss, with tenths under an hour when not whole
    (4.5 -> 0:04.5); negative: before the start."""
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    whole = int(seconds)
    hours, minutes, rest = whole // 3600, whole % 3600 // 60, whole % 60
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{rest:02d}"
    tenths = int(round((seconds - whole) * 10))
    if tenths == 10:
        return clock(float(whole + 1) * (-1 if sign else 1))
    return f"{sign}{minutes}:{rest:02d}" + (f".{tenths}" if tenths else "")


def _time_axis(end: float) -> dict:
    """Ticks every round step of time since the start, labelled with `clock`."""
    step = next((s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400)
                 if end / s <= 8), 86400)
    ticks = [i * step for i in range(int(end // step) + 2)]
    # No axis title: the card's heading says what the axis is, and on a phone a title and the legend
    # below it would share the same few pixels.
    return {"tickmode": "array", "tickvals": ticks, "ticktext": [clock(t) for t in ticks]}


def intensity_figure(series: Series, emotions, markers=(), gaps=(), duration: float | None = None) -> dict:
    """One session: the mean probability of each label in `emotions` (labels of the session's set,
    `series.labels`) per bucket (lines), valence for a seven-emotion session (dashed black, right
    axis), the share of uncertain readings (grey dots), markers (vertical lines with their labels),
    outages (shaded red) and steps without a face (shaded grey, the lines broken there)."""
    x, mean, valence, uncertain, faceless = _with_breaks(series)
    colours = colours_for(series.labels)
    traces = [{"type": "scatter", "mode": "lines", "name": e, "x": x, "y": mean[e], "connectgaps": False,
               "line": {"color": colours[e], "width": 2}, "hovertemplate": f"{e}: %{{y:.2f}}<extra></extra>"}
              for e in emotions]
    with_valence = is_emotions(series.labels)
    if with_valence:
        traces.append({"type": "scatter", "mode": "lines", "name": "valence", "x": x, "y": valence,
                       "yaxis": "y2", "line": {"color": "#212529", "width": 2, "dash": "dash"},
                       "hovertemplate": "valence: %{y:.2f}<extra></extra>"})
    if any(u is not None for u in uncertain):
        traces.append({"type": "scatter", "mode": "markers", "name": "uncertain readings (share)", "x": x,
                       "y": uncertain, "marker": {"color": "#adb5bd", "size": 4, "symbol": "circle-open"},
                       "hovertemplate": "uncertain: %{y:.0%}<extra></extra>"})
    end = max([duration or 0.0] + (x[-1:] or [0.0]) + [m[0] for m in markers] + [0.0])
    shapes, notes = [], []
    for start, stop in faceless:
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": start, "x1": stop, "y0": 0, "y1": 1,
                       "fillcolor": "#e9ecef", "opacity": 0.6, "line": {"width": 0}, "layer": "below"})
    for start, stop, reason in gaps:
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": start, "x1": stop, "y0": 0, "y1": 1,
                       "fillcolor": "#f8d7da", "opacity": 0.5, "line": {"width": 0}, "layer": "below"})
        notes.append({"x": (start + stop) / 2, "y": 1, "yref": "paper", "text": "outage", "showarrow": False,
                      "font": {"size": 10, "color": "#842029"}, "yanchor": "bottom"})
    for media_time, _, label, _ in markers:
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": media_time, "x1": media_time, "y0": 0,
                       "y1": 1, "line": {"color": "#6c757d", "width": 1, "dash": "dot"}})
        notes.append({"x": media_time, "y": 1, "yref": "paper", "text": label[:24], "showarrow": False,
                      "textangle": -30, "xanchor": "left", "yanchor": "bottom", "font": {"size": 10}})
    layout = chart_layout(HEIGHT, showlegend=True, legend={"orientation": "h", "y": -0.25},
                     margin={"t": 48, "b": 8, "r": 56}, hovermode="x unified",
                     xaxis={**_time_axis(end), "range": [min([0.0] + [m[0] for m in markers]), end]},
                     yaxis={"title": {"text": "mean probability"}, "range": [0, 1]},
                     shapes=shapes, annotations=notes)
    if with_valence:
        layout["yaxis2"] = {"title": {"text": "valence"}, "overlaying": "y", "side": "right", "range": [-1, 1],
                            "showgrid": False, "zeroline": True, "fixedrange": True}
    return {"data": traces, "layout": layout}


def _with_breaks(series: Series):
    """The curves with a break (None) wherever a step had no face, so a line never bridges face-less
    time, and those stretches [(from, to)] to shade."""
    x, mean, valence, uncertain, faceless = [], {e: [] for e in series.mean}, [], [], []
    # A step finer than the sampling (`--fps 5` charted at 0.1 s) leaves every other step empty
    # without any face-less time: a break needs a gap well over both the step and the usual spacing.
    spacing = sorted(b - a for a, b in zip(series.seconds, series.seconds[1:]))
    usual = spacing[len(spacing) // 2] if spacing else 0.0
    step = max(series.step, usual)
    for i, second in enumerate(series.seconds):
        if i and step and second - series.seconds[i - 1] > max(series.step * 1.5, usual * 2.5):
            faceless.append((series.seconds[i - 1] + step, second))
            x.append(series.seconds[i - 1] + step)
            for e in mean:
                mean[e].append(None)
            valence.append(None)
            uncertain.append(None)
        x.append(second)
        for e in mean:
            mean[e].append(series.mean[e][i])
        valence.append(series.valence[i])
        uncertain.append(series.uncertain[i])
    return x, mean, valence, uncertain, faceless


def overlay_figure(curves: list[tuple[str, Series]], measure: str) -> dict:
    """Several sessions of one label set on their own time: `measure` is 'valence' (seven-emotion
    sessions) or a label of their set (its mean probability); a session without it is left out."""
    traces, end = [], 0.0
    for index, (name, series) in enumerate(curves):
        if measure not in series.mean and not (measure == "valence" and is_emotions(series.labels)):
            continue
        x, mean, valence, _, _ = _with_breaks(series)
        y = valence if measure == "valence" else mean[measure]
        traces.append({"type": "scatter", "mode": "lines", "name": name, "x": x, "y": y,
                       "line": {"color": OVERLAY_PALETTE[index % len(OVERLAY_PALETTE)], "width": 2},
                       "hovertemplate": f"{name}: %{{y:.2f}}<extra></extra>"})
        end = max([end] + series.seconds[-1:])
    y_axis = ({"title": {"text": "valence"}, "range": [-1, 1]} if measure == "valence"
              else {"title": {"text": f"mean P({measure})"}, "range": [0, 1]})
    layout = chart_layout(HEIGHT, showlegend=True, legend={"orientation": "h", "y": -0.25}, hovermode="x unified",
                     xaxis=_time_axis(end), yaxis=y_axis)
    return {"data": traces, "layout": layout}

