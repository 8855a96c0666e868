"""Logs of more than one label set (issue 16): a session made by a taught model is counted, exported,
summarised and coloured in its own labels, and never summed with sessions of another label set.
Real logs written by capture.log's writer (tests/dashboard/logdata.py)."""

from __future__ import annotations

import csv
import io
import sys
import urllib.parse

import numpy as np
import pytest

from capture.log import add_markers, open_log
from dashboard import figures, live, queries, sessions
from dashboard.app import create_app
from dashboard.queries import Filters
from logdata import BASE, TAUGHT, known_log, mixed_log
from model.labels import EMOTIONS, colours_for, write_model_labels

TAUGHT_KEY = live.label_set_key(TAUGHT)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """(path, emotion session id, taught session id); the taught session has a marker at 20 s."""
    path, emotion_id, taught_id = mixed_log(tmp_path_factory.mktemp("mixed") / "moodlog.db")
    db = open_log(path)
    add_markers(db, taught_id, [(None, 20.0, "smile now")], "csv")
    db.close()
    return path, emotion_id, taught_id


def counted(path, key=None, preset="all") -> dict:
    """The History page's state for the whole log and the Label set menu's `key`."""
    connection = queries.connect(path)
    try:
        filters = live.resolve_filters(connection, preset, None, None, None, None, list(EMOTIONS) + list(TAUGHT),
                                       BASE + 1000, key)
        return live.full_state(connection, filters, None, BASE + 1000)
    finally:
        connection.close()


def test_the_log_lists_its_label_sets_emotions_first(mixed, tmp_path):
    assert queries.label_sets(queries.connect(mixed[0])) == [EMOTIONS, TAUGHT]
    only_emotions, _ = known_log(tmp_path / "known.db")
    assert queries.label_sets(queries.connect(only_emotions)) == [EMOTIONS]


def test_history_counts_the_emotions_by_default_and_never_the_taught_rows(mixed):
    state = counted(mixed[0])
    assert live.labels_of(state) == EMOTIONS
    totals = live.totals(state)
    assert (totals["happy"], totals["neutral"], sum(totals.values())) == (10, 5, 15)   # not 7 neutral
    assert "teeth" not in totals


def test_history_counts_a_chosen_taught_set_alone(mixed):
    state = counted(mixed[0], TAUGHT_KEY)
    assert live.labels_of(state) == TAUGHT
    assert live.totals(state) == {"teeth": 12, "closed smile": 6, "neutral": 2}


@pytest.mark.parametrize("bucket", [1, 60, 3600, 86400])
def test_every_bucket_size_keeps_the_label_sets_apart(mixed, bucket):
    """Edge minutes from the detections, whole minutes from the rollup, whole hours from the per-session cache."""
    connection = queries.connect(mixed[0])
    for labels, expected in ((EMOTIONS, {"happy": 10, "neutral": 5}),
                             (TAUGHT, {"teeth": 12, "closed smile": 6, "neutral": 2})):
        for start, end in ((None, None), (BASE - 30, BASE + 3000)):
            rows, _ = queries.bucket_counts(connection, Filters(start, end, label_set=labels), bucket)
            found: dict[str, int] = {}
            for _, label, faces in rows:
                found[label] = found.get(label, 0) + faces
            assert found == expected, (labels, start, bucket)


def test_live_refresh_adds_only_rows_of_the_chosen_label_set(mixed):
    connection = queries.connect(mixed[0])
    rows, last_id = queries.new_bucket_counts(connection, Filters(label_set=TAUGHT), 60, after_id=0)
    assert sum(faces for _, _, faces in rows) == 20 and last_id == 35


def test_the_sessions_table_and_menus_hold_the_chosen_label_set(mixed):
    connection = queries.connect(mixed[0])
    _, emotion_id, taught_id = mixed
    table = queries.session_table(connection, Filters(label_set=TAUGHT), now=BASE + 1000)
    assert [(row["id"], row["faces"], row["dominant"]) for row in table] == [(taught_id, 20, "teeth")]
    assert [row["id"] for row in queries.session_table(connection, Filters(label_set=EMOTIONS))] == [emotion_id]
    assert [c["id"] for c in queries.session_choices(connection, TAUGHT)] == [taught_id]
    assert [c["id"] for c in queries.session_choices(connection)] == [taught_id, emotion_id]


def test_a_label_set_is_matched_however_its_json_was_written(tmp_path):
    """Non-ASCII labels as the writer stores them (escaped), and compact JSON, both match."""
    assert '["teeth","closed smile","neutral"]' in queries.label_set_spellings(TAUGHT)
    path = tmp_path / "accents.db"
    db = open_log(path)
    labels = ("tête", "sourire")
    from logdata import write_taught_session

    session_id = write_taught_session(db, "v.mp4", [(BASE, "tête"), (BASE + 1, "sourire")], labels,
                                      started_at=BASE, ended_at=BASE + 2)
    db.close()
    connection = queries.connect(path)
    assert queries.label_sets(connection) == [labels]
    assert [r["id"] for r in queries.session_table(connection, Filters(label_set=labels))] == [session_id]
    rows, _ = queries.bucket_counts(connection, Filters(label_set=labels), 60)
    assert sorted(label for _, label, _ in rows) == ["sourire", "tête"]


def test_a_label_is_never_written_into_sql():
    assert queries.probability_path("closed smile") == '$."closed smile"'
    with pytest.raises(ValueError):
        queries.probability_path('x") OR 1=1 --')


def export(path, query: str = "") -> list[dict]:
    with create_app(path).server.test_client() as client:
        response = client.get("/history/export.csv" + query)
        assert response.status_code == 200, response.get_data(as_text=True)
        return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_the_csv_export_has_one_column_per_label_of_the_chosen_set(mixed):
    query = "?" + live.filters_to_query(Filters(label_set=TAUGHT))
    rows = export(mixed[0], query)
    assert len(rows) == 20 and {r["session_id"] for r in rows} == {str(mixed[2])}
    assert {"teeth", "closed smile", "neutral", "label_participant"} <= set(rows[0]) and "angry" not in rows[0]
    assert [float(rows[0][name]) for name in TAUGHT] == pytest.approx([0.8, 0.1, 0.1])
    assert rows[0]["emotion"] == "teeth" and float(rows[0]["media_time"]) == 0.0
    ticked = export(mixed[0], "?" + live.filters_to_query(Filters(emotions=("closed smile",), label_set=TAUGHT)))
    assert len(ticked) == 6


def test_an_export_without_a_label_set_gives_the_default_one(mixed):
    rows = export(mixed[0])
    assert len(rows) == 15 and "angry" in rows[0] and "teeth" not in rows[0]


def test_an_export_of_a_taught_session_without_a_label_set_is_in_its_labels(mixed):
    """A URL naming only a taught session's id exports it in its own labels (it used to export the
    emotions' columns, and so no row)."""
    rows = export(mixed[0], f"?sessions={mixed[2]}")
    assert len(rows) == 20 and "teeth" in rows[0] and "angry" not in rows[0]


def test_an_export_of_sessions_of_two_label_sets_is_refused_with_what_to_do(mixed):
    """Found by a new user: it exported one set's rows and left the other session out, saying nothing."""
    with create_app(mixed[0]).server.test_client() as client:
        response = client.get(f"/history/export.csv?sessions={mixed[1]},{mixed[2]}")
        chosen = client.get(f"/history/export.csv?sessions={mixed[1]},{mixed[2]}&"
                            + live.filters_to_query(Filters(label_set=TAUGHT)))
    assert response.status_code == 400 and "different label sets" in response.get_data(as_text=True)
    assert chosen.status_code == 200 and len(chosen.get_data(as_text=True).splitlines()) == 21


def test_a_label_called_like_a_column_gets_a_prefix():
    assert queries.probability_columns(("face", "x", "label_y", "smile")) == {
        "p_face": "face", "p_x": "x", "p_label_y": "label_y", "smile": "smile"}


def test_the_export_query_refuses_a_label_not_of_the_set():
    args = dict(urllib.parse.parse_qsl(live.filters_to_query(Filters(emotions=("teeth",), label_set=TAUGHT))))
    assert live.filters_from_query(args) == Filters(emotions=("teeth",), label_set=TAUGHT)
    with pytest.raises(ValueError, match="unknown label 'happy'"):
        live.filters_from_query({**args, "emotions": "happy"})
    with pytest.raises(ValueError, match="label_set"):
        live.filters_from_query({"label_set": "teeth"})


def test_the_charts_use_the_taught_labels_and_their_colours(mixed):
    state = counted(mixed[0], TAUGHT_KEY)
    colours = colours_for(TAUGHT)
    timeline = figures.timeline_figure(state["counts"], state["bucket"], state["range"], ["teeth", "neutral"], colours)
    drawn = {t["name"]: t["fillcolor"] for t in timeline["data"][1:]}
    assert drawn == {"teeth": colours["teeth"], "neutral": colours["neutral"]}   # as when all three are shown
    bars = figures.distribution_figure(live.totals(state), list(TAUGHT), colours)["data"][0]
    assert bars["y"] == ["neutral", "closed smile", "teeth"] and bars["x"] == [2, 6, 12]


def test_the_probability_bars_follow_a_faces_own_labels():
    from model.faces import Box
    from model.recognizer import Face

    face = Face(Box(0, 0, 48, 48), "ok", np.array([0.2, 0.7, 0.1], np.float32), labels=TAUGHT)
    bars = figures.probability_figure(face.as_dict()["probabilities"])["data"][0]
    assert bars["y"] == ["neutral", "closed smile", "teeth"] and bars["x"] == pytest.approx([0.1, 0.7, 0.2])
    assert bars["marker"]["color"] == [colours_for(TAUGHT)[name] for name in bars["y"]]
    seven = Face(Box(0, 0, 48, 48), "ok", np.full(7, 1 / 7, np.float32))
    assert figures.probability_figure(seven.as_dict()["probabilities"])["data"][0]["y"] == list(EMOTIONS)[::-1]


def test_a_taught_session_is_summarised_in_its_own_labels(mixed):
    connection = queries.connect(mixed[0])
    emotion, taught = sessions.summaries(connection, [mixed[1], mixed[2]])
    assert emotion.label_set == EMOTIONS and emotion.valence is not None
    assert taught.label_set == TAUGHT and taught.faces == 20 and taught.valence is None
    assert taught.share == {"teeth": 0.6, "closed smile": 0.3, "neutral": 0.1}
    assert taught.mean["teeth"] == pytest.approx((12 * 0.8 + 8 * 0.1) / 20)
    assert set(taught.mean) == set(TAUGHT)


def test_a_taught_sessions_curves_and_segments_are_in_its_labels(mixed):
    connection = queries.connect(mixed[0])
    curve = sessions.series(connection, mixed[2], 10.0)
    assert curve.labels == TAUGHT and set(curve.mean) == set(TAUGHT) and curve.faces == [5, 5, 5, 5]
    assert curve.mean["teeth"][0] == pytest.approx(0.8) and curve.valence == [None] * 4
    pieces = sessions.segments(connection, mixed[2])
    assert [(p.label, p.faces) for p in pieces] == [("start", 10), ("smile now", 10)]
    assert pieces[1].share == pytest.approx({"teeth": 0.2, "closed smile": 0.6, "neutral": 0.2})
    assert pieces[1].valence is None


def test_the_intensity_figure_of_a_taught_session_has_no_valence(mixed):
    from dashboard.session_figures import intensity_figure, overlay_figure

    curve = sessions.series(queries.connect(mixed[0]), mixed[2], 10.0)
    figure = intensity_figure(curve, curve.labels)
    assert [t["name"] for t in figure["data"]][:3] == list(TAUGHT) and "valence" not in [t["name"] for t in figure["data"]]
    assert "yaxis2" not in figure["layout"]
    assert figure["data"][0]["line"]["color"] == colours_for(TAUGHT)["teeth"]
    assert [t["name"] for t in overlay_figure([("a", curve)], "teeth")["data"]] == ["a"]


def test_the_sessions_csv_keeps_each_label_set_in_its_own_columns(mixed):
    pages = _pages(mixed[0])
    connection = queries.connect(mixed[0])
    rows = sessions.summaries(connection, [mixed[2], mixed[1]])
    table = list(csv.DictReader(io.StringIO(pages["sessions"].summary_csv(rows))))
    by_id = {int(r["session"]): r for r in table}
    assert by_id[mixed[2]]["label_set"] == '["teeth", "closed smile", "neutral"]'
    assert by_id[mixed[2]]["mean_happy"] == "" and float(by_id[mixed[2]]["share_teeth"]) == 0.6
    assert by_id[mixed[1]]["mean_teeth"] == "" and by_id[mixed[2]]["valence"] == ""
    assert float(by_id[mixed[1]]["share_neutral"]) == pytest.approx(1 / 3, abs=1e-4)
    assert float(by_id[mixed[2]]["share_neutral"]) == pytest.approx(0.1)
    only_emotions = pages["sessions"].summary_csv(rows[1:]).splitlines()[0].split(",")
    assert "label_set" not in only_emotions and "mean_teeth" not in only_emotions


def _pages(db_path, model=None) -> dict:
    """The page modules of an app (Dash Pages imports them as pages.NAME)."""
    create_app(db_path, **({"model": model} if model else {}))
    return {name: sys.modules[f"pages.{name}"] for name in ("history", "sessions", "model")}


def _find(component, wanted: str):
    """The component with id `wanted` in a Dash layout tree, or None."""
    if getattr(component, "id", None) == wanted:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            found = _find(child, wanted)
            if found is not None:
                return found
    return None


def _text(component) -> str:
    if component is None or isinstance(component, (str, int, float)):
        return "" if component is None else str(component)
    children = getattr(component, "children", None)
    return " ".join(_text(c) for c in (children if isinstance(children, (list, tuple)) else [children]))


@pytest.fixture
def taught_model(tmp_path):
    """A copy of the shipped model file carrying a taught label set (its network still has seven outputs:
    enough for the Model page, which reads the file's labels and report, never its weights)."""
    import shutil

    from model.classifier import DEFAULT_MODEL

    path = tmp_path / "smiles" / "taught.keras"
    path.parent.mkdir()
    shutil.copy(DEFAULT_MODEL, path)
    write_model_labels(path, TAUGHT)
    return path


def test_a_models_labels_are_read_again_when_its_file_changes_and_each_reader_gets_its_own_copy(tmp_path):
    """model_details reads a file's label member once per version of the file (the classifier, the
    recognizer and the Model page all ask): a rewritten or replaced file is read afresh."""
    import os
    import shutil

    from model.classifier import DEFAULT_MODEL
    from model.labels import model_details, model_labels

    path = tmp_path / "taught.keras"
    shutil.copy(DEFAULT_MODEL, path)
    assert model_details(path) == {} and model_labels(path) == EMOTIONS
    write_model_labels(path, TAUGHT)                                   # appended in place, at once
    assert model_labels(path) == TAUGHT
    model_details(path)["labels"].append("not saved")                  # a caller's copy, not the cache's
    assert model_labels(path) == TAUGHT
    other = tmp_path / "other.keras"
    shutil.copy(DEFAULT_MODEL, other)
    write_model_labels(other, ("yes", "no"))
    os.replace(other, path)                                            # replaced by another file
    assert model_labels(path) == ("yes", "no")


def test_the_model_page_shows_a_taught_models_labels_and_says_when_it_has_no_report(mixed, taught_model):
    app = create_app(mixed[0], model=taught_model)
    page = sys.modules["pages.model"]
    with app.server.test_request_context("/model"):
        shown = page.layout()
    assert "3 taught labels" in _text(_find(shown, "model-labels"))
    assert "teeth, closed smile, neutral" in _text(_find(shown, "model-labels"))
    missing = _text(_find(shown, "model-no-report"))
    assert "No report beside taught.keras" in missing and "python app.py teach" in missing

    (taught_model.parent / "REPORT.md").write_text(
        "# Taught model: taught.keras\n\n## test\n\n| label | faces | recall |\n|---|---|---|\n"
        "| teeth | 10 | 0.9 |\n| closed smile | 8 | 0.75 |\n| neutral | 9 | 0.5 |\n")
    with app.server.test_request_context("/model"):
        shown = page.layout()
    assert "Taught model" in _find(shown, "model-report").children
    recall = _find(shown, "model-recall").figure["data"][0]
    assert recall["y"] == ["neutral", "closed smile", "teeth"] and recall["x"] == [0.5, 0.75, 0.9]


@pytest.mark.parametrize("details, warned", [
    ({}, False),                                                              # not written by `teach`
    ({"task": "taught", "taught_at": "2026-11-29T10:00:00Z"}, True),          # taught before framing was recorded
    ({"task": "taught", "taught_at": "2026-11-30T10:00:00Z",                 # a crop since changed
      "framing": {"detector": "blazeface", "margin": 0.2, "shift": 0.0}}, True),
    ({"task": "taught", "taught_at": "2026-11-30T10:00:00Z", "framing": "earlier form"}, True),
    ({"task": "taught", "taught_at": "2026-11-30T10:00:00Z", "framing": "current"}, False),
])
def test_the_model_page_warns_when_a_taught_model_learnt_another_framing(mixed, tmp_path, details, warned):
    import shutil

    from model.classifier import DEFAULT_MODEL
    from model.recognizer import framing

    path = tmp_path / "taught.keras"
    shutil.copy(DEFAULT_MODEL, path)
    current = {**details, "framing": framing("blazeface")}
    write_model_labels(path, TAUGHT, current if details.get("framing") == "current" else details)
    app = create_app(mixed[0], model=path)
    with app.server.test_request_context("/model"):
        warning = _find(sys.modules["pages.model"].layout(), "model-framing")
    assert (warning is not None) == warned
    with app.server.app_context():
        on_recognize = sys.modules["pages.recognize"].framing_alert()     # the page uploads are read on
    assert (on_recognize is not None) == warned
    if warned:
        assert "framed otherwise than Moodlog frames them now (taught 2026-11-" in _text(warning)
        assert "teach it again" in _text(warning) and _text(on_recognize) == _text(warning)


def test_the_model_page_shows_the_seven_emotions_of_the_shipped_model(mixed):
    app = create_app(mixed[0])
    with app.server.test_request_context("/model"):
        shown = sys.modules["pages.model"].layout()
    assert "the seven FER2013 emotions" in _text(_find(shown, "model-labels"))


def test_a_log_of_one_taught_set_is_charted_and_exported_in_its_labels(tmp_path):
    from logdata import write_taught_session

    path = tmp_path / "taught-only.db"
    db = open_log(path)
    write_taught_session(db, "v.mp4", [(BASE + i, "teeth" if i < 3 else "neutral") for i in range(5)],
                         started_at=BASE, ended_at=BASE + 5)
    db.close()
    state = counted(path)
    assert live.labels_of(state) == TAUGHT and live.totals(state) == {"teeth": 3, "closed smile": 0, "neutral": 2}
    rows = export(path)
    assert len(rows) == 5 and "teeth" in rows[0] and "angry" not in rows[0]


def test_a_seven_emotion_log_is_queried_without_any_label_set_condition(tmp_path):
    """The fast path of big logs stays as it was: no condition on the sessions' label sets."""
    path, _ = known_log(tmp_path / "known.db")
    connection = queries.connect(path)
    filters = live.resolve_filters(connection, "all", None, None, None, None, list(EMOTIONS), BASE + 1000,
                                   live.label_set_key(EMOTIONS))
    assert filters == Filters() and filters.conditions() == ([], [])
    assert "label_set" not in live.filters_to_query(filters)


def test_every_label_keeps_its_own_export_column_whatever_its_name():
    """Labels named like the export's own columns, or like another label's renamed column, each
    keep a column of their own (a reviewer's "face" and "p_face" once shared one)."""
    from dashboard.queries import EXPORT_COLUMNS, probability_columns

    for labels in (("face", "neutral", "p_face", "sourire é 笑"), ("x", "p_x", "p_p_x"), ("teeth", "label_a", "ts")):
        columns = probability_columns(labels)
        assert sorted(columns.values()) == sorted(labels)
        assert not set(columns) & set(EXPORT_COLUMNS[:-7])
    assert probability_columns(("teeth", "closed smile")) == {"teeth": "teeth", "closed smile": "closed smile"}
