"""Rows in, Plotly figures out; one colour per label everywhere, from model/labels.py (the seven
emotions keep theirs; a taught label set's colours come from `colours_for` of the whole set, so a
label keeps its colour whichever others are ticked).

Figures are plain dicts in Plotly's JSON schema rather than `go.Figure` objects: a month of
hourly buckets is 7 x 720 bars, and plotly.py's validation of that takes longer than the
query behind it (hundreds of ms), while a dict goes straight to the browser.

Times arrive as UTC epoch seconds and are labelled in the server's local time (the dashboard is
meant to run on the machine that captures), right across daylight-saving changes, as the
architecture asks. Plotly.js date axes know no time zones: it drops a UTC offset from a date
string and draws its wall-clock digits, so local times with offsets would still draw the
repeated autumn hour on top of the first one; and the browser's own zone may not be the
server's. So the timeline's x values are UTC instants (monotonic in real time), and the server
writes the tick labels and the hover times from its local clock (dashboard/localtime.py).
"""

from __future__ import annotations

from dashboard import localtime
from model.labels import EMOTIONS, colours_for
from model.report import crossdomain_pipelines, crossdomain_sets

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
CHART_HEIGHT = 340
STATIC_CONFIG = {"displayModeBar": False, "responsive": True}
GRID = "#e9ecef"


# Steps between tick labels on the local clock (seconds; the day multiples count local midnights)
# and how many labels a chart may carry: about what Plotly picks on its own for a laptop width.
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
              2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400, 56 * 86400, 91 * 86400, 182 * 86400, 364 * 86400)
MAX_TICKS = 6


def chart_layout(height: int, **extra) -> dict:
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
                    emotions=EMOTIONS, colours: dict[str, str] | None = None) -> dict:
    """Stacked steps: each label's share of all the faces in each time bucket.

    `counts` maps a bucket start (UTC seconds, as a string) to faces per label; `emotions`
    are the labels drawn (the seven emotions or those of a taught set), as shares of every face
    counted (hiding one leaves its share empty rather than stretching the others to 100%);
    `colours` {label: "#RRGGBB"} of the whole label set (default: `colours_for(emotions)`).
    Drawn as stacked areas with step edges rather
    than 7 x 720 bars, which a phone draws in a fraction of the time; a bucket without faces
    drops to zero, so a pause in capture shows as a gap rather than as a line across it.
    """
    clock = localtime.LocalBuckets(bucket, *x_range)
    starts = sorted(int(s) for s in counts)
    points = _step_points(starts, clock)
    x = [localtime.utc_iso(t) for t, _ in points]
    when = [localtime.label(t, _hover_form(bucket)) for t, _ in points]
    data = [_time_trace(x, when)]
    colours = colours or colours_for(emotions)
    for emotion in emotions:
        shares, faces = [], []
        for _, start in points:
            per_emotion = counts.get(str(start), {}) if start is not None else {}
            total = sum(per_emotion.values())
            faces.append(per_emotion.get(emotion, 0))
            shares.append(round(faces[-1] / total, 4) if total else 0)
        data.append({"type": "scatter", "mode": "lines", "name": emotion, "x": x, "y": shares,
                     "customdata": faces, "stackgroup": "shares", "line": {"width": 0, "shape": "hv"},
                     "fillcolor": colours[emotion], "marker": {"color": colours[emotion]},
                     "hovertemplate": "%{y:.0%} (%{customdata} faces)"})
    start = clock.floor(x_range[0])
    end = max(clock.ceil(x_range[1]), clock.following(start))
    # The hover box's title would be the UTC x value; the first trace writes the local time instead.
    xaxis = {"type": "date", "range": [localtime.utc_iso(start), localtime.utc_iso(end)], "fixedrange": False,
             "unifiedhovertitle": {"text": " "}, **local_ticks(start, end)}
    layout = chart_layout(CHART_HEIGHT, hovermode="x unified", showlegend=True,
                     legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "traceorder": "normal"},
                     margin={"t": 36}, xaxis=xaxis, yaxis={"tickformat": ".0%", "range": [0, 1]})
    return {"data": data, "layout": layout}


def _time_trace(x: list[str], when: list[str]) -> dict:
    """An invisible first trace that puts each bucket's local time at the top of the hover box
    (the box's own title would be the UTC x value), out of the legend and the stack."""
    return {"type": "scatter", "mode": "lines", "name": "", "x": x, "y": [0] * len(x), "text": when,
            "line": {"width": 0}, "showlegend": False, "meta": "local-time",
            "hovertemplate": "<b>%{text}</b>, share of all faces<extra></extra>"}


def _hover_form(bucket: int) -> str:
    if bucket >= 86400:
        return "%a %Y-%m-%d"
    return "%a %Y-%m-%d %H:%M:%S %Z" if bucket < 60 else "%a %Y-%m-%d %H:%M %Z"


def local_ticks(start: float, end: float) -> dict:
    """Plotly x-axis settings that label [start, end] (UTC seconds) in local time: tick positions
    as UTC instants and their local readings as text, about MAX_TICKS of them, on round local
    times (:00, midnight). The date is added under the first label and where it changes; the
    zone's abbreviation too where the range crosses a change of offset (01:00 EDT, 01:00 EST)."""
    step = next((s for s in TICK_STEPS if (end - start) / s <= MAX_TICKS), TICK_STEPS[-1])
    clock = localtime.LocalBuckets(step, start, end)
    ticks = clock.edges(start, end)
    zone = " %Z" if len(clock.offsets(start, end)) > 1 and step < 86400 else ""
    clock_form = ("%H:%M:%S" if step < 60 else "%H:%M") + zone
    text, shown_day = [], None
    for tick in ticks:
        day = localtime.label(tick, "%Y-%m-%d")
        if step >= 86400:
            text.append(localtime.label(tick, "%b %d" if day[:4] == (shown_day or "")[:4] else "%b %d<br>%Y"))
        else:
            text.append(localtime.label(tick, clock_form if day == shown_day else clock_form + "<br>%b %d, %Y"))
        shown_day = day
    return {"tickmode": "array", "tickvals": [localtime.utc_iso(t) for t in ticks], "ticktext": text}


def _step_points(starts: list[int], clock: localtime.LocalBuckets) -> list[tuple[int, int | None]]:
    """(x, bucket start or None) for a step chart: one point per bucket with faces, and a point
    with no bucket (drawn as zero) wherever the next bucket has none, including after the last.
    A bucket ends where the next one starts on the local clock (a local day may be 23 or 25 h)."""
    points = []
    for i, start in enumerate(starts):
        points.append((start, start))
        following = starts[i + 1] if i + 1 < len(starts) else None
        end = clock.following(start)
        if following != end:
            points.append((end, None))
    return points


def distribution_figure(totals: dict[str, int], emotions=EMOTIONS, colours: dict[str, str] | None = None) -> dict:
    """Horizontal bars: faces per label over the whole range for `emotions` (in their order, top
    down), each labelled with its share of all the faces in `totals` (hiding a label does not
    inflate the rest); `colours` as in `timeline_figure`."""
    total = sum(totals.values()) or 1
    colours = colours or colours_for(emotions)
    names = [e for e in emotions if e in totals][::-1]
    shares = [f"{totals[e] / total:.0%}" for e in names]
    bars = {"type": "bar", "orientation": "h", "x": [totals[e] for e in names], "y": names,
            "marker": {"color": [colours[e] for e in names]}, "textposition": "auto", "text": shares,
            "hovertemplate": "%{y}: %{x} faces, %{text} of all faces<extra></extra>"}
    return {"data": [bars], "layout": chart_layout(CHART_HEIGHT)}


def probability_figure(probabilities: dict[str, float]) -> dict:
    """One face's probabilities {label: 0-1}, in its model's label order (Face.as_dict: the seven
    emotions, or a taught set), as horizontal bars from the top, in the labels' colours, 0-100 %."""
    colours = colours_for(probabilities)
    names = list(probabilities)[::-1]
    bars = {"type": "bar", "orientation": "h", "x": [probabilities[e] for e in names], "y": names,
            "marker": {"color": [colours[e] for e in names]}, "text": [f"{probabilities[e]:.0%}" for e in names],
            "textposition": "outside", "cliponaxis": False, "hovertemplate": "%{y}: %{x:.1%}<extra></extra>"}
    layout = chart_layout(200, xaxis={"range": [0, 1.15], "showticklabels": False, "showgrid": False})
    return {"data": [bars], "layout": layout}


def recall_figure(recall: dict[str, float], labels=EMOTIONS) -> dict:
    """Per-label recall of the served model (`labels`: its label set, in order) as horizontal bars, 0-100 %."""
    colours = colours_for(labels)
    names = [e for e in labels if e in recall][::-1]
    bars = {"type": "bar", "orientation": "h", "x": [recall[e] for e in names], "y": names,
            "marker": {"color": [colours[e] for e in names]}, "text": [f"{recall[e]:.0%}" for e in names],
            "textposition": "outside", "cliponaxis": False, "hovertemplate": "%{y}: recall %{x:.1%}<extra></extra>"}
    return {"data": [bars], "layout": chart_layout(260, xaxis={"range": [0, 1.1], "tickformat": ".0%"})}


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
