"""`teach` on real portraits: a model with the right labels and a report, used by predict, evaluate and
start; and clear messages for inputs it cannot teach from."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import ROOT

LABELS = {"teeth": ("happy", "-HO."), "closed smile": ("happy", "-HC."), "neutral": ("neutral", "")}
PER_LABEL = 6


def app(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def teaching_folder(root, face_photos, labels=LABELS, per_label=PER_LABEL):
    """root/<label>/ of links to the first CFD portraits of each kind (never copies of the shared data)."""
    for label, (emotion, needle) in labels.items():
        (root / label).mkdir(parents=True)
        photos = sorted(p for p in (face_photos / "cfd" / emotion).iterdir() if needle in p.name)[:per_label]
        for photo in photos:
            (root / label / photo.name).symlink_to(photo)
    return root


@pytest.fixture(scope="module")
def taught(tmp_path_factory, face_photos):
    """One real `app.py teach` run on 18 CFD portraits, shared by the tests of this module."""
    root = tmp_path_factory.mktemp("teach")
    photos = teaching_folder(root / "smiles", face_photos)
    result = app("teach", str(photos), "--out", str(root / "out" / "smiles"), "--person", r"^(CFD-\w+?-\d+)", "--quiet")
    assert result.returncode == 0, result.stderr
    return root / "out" / "smiles", result


def test_teach_writes_a_model_with_its_labels_a_report_and_an_int8_file(taught):
    from model.classifier import EmotionClassifier
    from model.labels import model_labels

    out, result = taught
    model = out / "smiles.keras"
    assert model_labels(model) == ("closed smile", "neutral", "teeth")      # sorted folder names
    assert len(list(out.glob("smiles-*.int8.tflite"))) == 1
    report = (out / "REPORT.md").read_text()
    assert "5-fold cross-validation" in report and "grouped by person" in report
    for label in ("closed smile", "neutral", "teeth"):
        assert f"| {label} | {PER_LABEL} | {PER_LABEL} |" in report
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["faces"] == {"closed smile": 6, "neutral": 6, "teeth": 6}
    assert 0.0 <= metrics["cross_validation"]["accuracy"] <= 1.0
    assert (out / "confusion.png").stat().st_size > 10_000
    assert "cross-validated accuracy" in result.stdout
    classifier = EmotionClassifier(model)
    assert classifier.labels == ("closed smile", "neutral", "teeth")


def test_a_taught_model_reads_a_real_photo_through_predict(taught, face_photos):
    out, _ = taught
    photo = sorted((face_photos / "cfd" / "happy").glob("*-HO.jpg"))[-1]      # not among the taught photos
    result = app("predict", str(photo), "--model", str(out / "smiles.keras"), "--json")
    assert result.returncode == 0, result.stderr
    face = json.loads(result.stdout)[0]["faces"][0]
    assert set(face["probabilities"]) == {"closed smile", "neutral", "teeth"}
    assert face["emotion"] in face["probabilities"]
    assert abs(sum(face["probabilities"].values()) - 1) < 0.01


def test_start_with_a_taught_model_logs_its_labels(taught, face_photos, tmp_path):
    out, _ = taught
    video = face_photos / "videos" / "huimiang_1543684773.avi"
    db = tmp_path / "log.db"
    result = app("start", str(video), "--model", str(out / "smiles.keras"), "--db", str(db), "--quiet")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(db) as connection:
        label_set, model = connection.execute("SELECT label_set, model FROM sessions").fetchone()
        rows = connection.execute("SELECT emotion, probabilities, happy FROM detections").fetchall()
    assert json.loads(label_set) == ["closed smile", "neutral", "teeth"]
    assert model.startswith("smiles.keras")
    assert len(rows) > 50
    for emotion, probabilities, happy in rows:
        by_label = json.loads(probabilities)
        assert set(by_label) == {"closed smile", "neutral", "teeth"} and happy is None
        assert emotion == max(by_label, key=by_label.get)
    # the dashboard's queries read the session in its own labels
    from dashboard import queries

    connection = queries.connect(db)
    try:
        taught_labels = ("closed smile", "neutral", "teeth")
        assert queries.label_sets(connection) == [taught_labels]
        columns = queries.export_columns(connection, taught_labels)
        assert {"closed smile", "neutral", "teeth"} <= set(columns) and "happy" not in columns
        exported = list(queries.export_rows(connection, queries.Filters(label_set=taught_labels),
                                            columns))
        assert len(exported) == len(rows)
        first = dict(zip(columns, exported[0]))
        assert abs(first["closed smile"] + first["neutral"] + first["teeth"] - 1) < 0.01
    finally:
        connection.close()


def test_evaluate_reads_a_taught_model_in_its_own_labels_and_refuses_fer2013(taught, tmp_path, face_photos, fer2013):
    out, _ = taught
    held_out = tmp_path / "held"
    for label, (emotion, needle) in LABELS.items():
        (held_out / label).mkdir(parents=True)
        for photo in sorted(p for p in (face_photos / "cfd" / emotion).iterdir() if needle in p.name)[-3:]:
            (held_out / label / photo.name).symlink_to(photo)
    result = app("evaluate", "--data", str(held_out), "--model", str(out / "smiles.keras"), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "| closed smile | 3 |" in result.stdout and "faces read in 9 of 9 photos" in result.stdout
    refused = app("evaluate", "--data", str(fer2013), "--model", str(out / "smiles.keras"))
    assert refused.returncode == 2
    assert "not labels of the model" in refused.stderr and "closed smile, neutral, teeth" in refused.stderr


@pytest.mark.parametrize("make, message", [
    (lambda root, photos: teaching_folder(root, photos, {"teeth": ("happy", "-HO.")}),
     "needs a sub-folder of photos for each of at least two labels, found 1"),
    (lambda root, photos: (teaching_folder(root, photos, {"teeth": ("happy", "-HO.")}), (root / "neutral").mkdir()),
     "label(s) neutral hold no photos"),
    (lambda root, photos: teaching_folder(root, photos, {"teeth": ("happy", "-HO."), "neutral": ("neutral", "")},
                                          per_label=1),
     "teach needs at least 5 per label"),
    (lambda root, photos: teaching_folder(root, photos, {"teeth": ("happy", "-HO."), "bad.name": ("neutral", "")}),
     "'bad.name' cannot be a label name"),
    (lambda root, photos: (teaching_folder(root, photos, {"teeth": ("happy", "-HO."), "neutral": ("neutral", "")}),
                           (root / "teeth ").mkdir()),
     "the folders 'teeth' and 'teeth ' name the same label"),
])
def test_inputs_teach_cannot_use_get_a_clear_message(tmp_path, face_photos, make, message):
    make(tmp_path / "photos", face_photos)
    result = app("teach", str(tmp_path / "photos"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_photos_without_a_face_are_dropped_and_named(tmp_path, face_photos):
    photos = teaching_folder(tmp_path / "photos", face_photos, {"teeth": ("happy", "-HO."), "neutral": ("neutral", "")})
    for scene in sorted((face_photos / "nonface").iterdir())[:3]:
        (photos / "neutral" / scene.name).symlink_to(scene)
    (photos / "neutral" / "notes.jpg").write_text("not an image")
    for photo in list((photos / "teeth").iterdir())[2:]:
        photo.unlink()                                   # teeth: 2 faces, too few
    result = app("teach", str(photos), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "teeth has 2" in result.stderr and "dropped 4 photo(s)" in result.stderr
    assert "neutral/notes.jpg: not an image" in result.stderr and "no readable face" in result.stderr


def test_label_names_cannot_escape_or_break_anything():
    from model.labels import LabelError, check_label, check_label_set

    for bad in ("../x", "..", "a/b", "", " ", ".hidden", "x" * 41, "a\nb", "_x"):
        with pytest.raises(LabelError):
            check_label(bad)
    assert check_label(" closed smile ") == "closed smile"
    assert check_label("süß-1") == "süß-1"
    with pytest.raises(LabelError, match="must differ"):
        check_label_set(["Smile", "smile"])


def test_teach_refuses_to_overwrite_the_shipped_model(tmp_path, face_photos):
    photos = teaching_folder(tmp_path / "photos", face_photos, {"teeth": ("happy", "-HO."), "neutral": ("neutral", "")})
    result = app("teach", str(photos), "--out", "model/weights/mine")
    assert result.returncode == 2 and "would overwrite the shipped model" in result.stderr


@pytest.mark.parametrize("options, message", [
    (["--person", "^(CFD"], "is not a regular expression"),
    (["--people", "missing.csv"], "cannot be read"),
    (["--people", "wrong-columns.csv"], "expected a CSV with the columns file,person"),
    (["--out", "a-file"], "is a file; give a folder"),
    (["--out", "photos/out"], "lies inside the photos folder"),
    (["--base", "taught"], "was taught its own labels"),
    (["--person", "x", "--people", "wrong-columns.csv"], "not allowed with argument"),
])
def test_option_mistakes_are_refused_before_any_face_is_read(tmp_path, face_photos, taught, options, message):
    photos = teaching_folder(tmp_path / "photos", face_photos, {"teeth": ("happy", "-HO."), "neutral": ("neutral", "")})
    (tmp_path / "wrong-columns.csv").write_text("name,who\nx.jpg,a\n")
    (tmp_path / "a-file").write_text("")
    model = str(taught[0] / "smiles.keras")
    options = [model if option == "taught" else str(tmp_path / option) if option.endswith((".csv", "a-file", "/out"))
               else option for option in options]
    if "--out" not in options:
        options += ["--out", str(tmp_path / "out")]
    result = app("teach", str(photos), *options, "--status", str(tmp_path / "status.json"))
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "status.json").exists()              # refused before the first photo


def taught_before_framing_was_recorded(model, folder):
    """A copy of a taught model without its framing record, as `teach` wrote them before 2026-11-30,
    with its int8 file under the copy's own name."""
    import shutil
    import zipfile

    from model.labels import LABELS_MEMBER, model_details, write_model_labels
    from model.lite import int8_path

    old = folder / model.name
    details = {key: value for key, value in model_details(model).items() if key != "framing"}
    with zipfile.ZipFile(model) as source, zipfile.ZipFile(old, "w") as copy:
        for member in source.infolist():
            if member.filename != LABELS_MEMBER:
                copy.writestr(member, source.read(member))
    write_model_labels(old, details.pop("labels"), details)
    shutil.copy(int8_path(model), int8_path(old))
    return old


def test_only_the_crop_of_the_detector_a_model_was_taught_through_can_make_it_stale(taught, monkeypatch):
    import model.recognizer as recognizer

    model = taught[0] / "smiles.keras"
    monkeypatch.setitem(recognizer.CROP, "some-new-detector", (0.1, 0.0))     # other detectors' crops: no matter
    monkeypatch.setitem(recognizer.CROP, "haar", (0.3, 0.1))
    assert recognizer.framing_problem(model) is None
    monkeypatch.setitem(recognizer.CROP, "blazeface-tiles", (0.2, 0.0))      # its own: taught on another framing
    assert "framed otherwise than Moodlog frames them now" in recognizer.framing_problem(model)


def test_a_taught_model_records_its_framing_and_one_taught_on_another_framing_is_named_on_use(taught, tmp_path,
                                                                                                face_photos):
    from model.labels import model_details
    from model.recognizer import framing

    model = taught[0] / "smiles.keras"
    assert model_details(model)["framing"] == framing("blazeface-tiles")      # teach's detector, predict's too
    photo = sorted((face_photos / "cfd" / "happy").glob("*-HO.jpg"))[-1]
    current = app("predict", str(photo), "--model", str(model))
    assert current.returncode == 0 and "warning" not in current.stderr, current.stderr

    older = taught_before_framing_was_recorded(model, tmp_path)
    video = face_photos / "videos" / "huimiang_1543684773.avi"
    for command in (["predict", str(photo)], ["evaluate", "--data", str(taught[0].parent.parent / "smiles"), "--quiet"],
                    ["start", str(video), "--db", str(tmp_path / "log.db"), "--quiet"]):
        result = app(*command, "--model", str(older))
        assert result.returncode == 0, result.stderr
        said = result.stdout + result.stderr
        assert "warning: " + str(older) + " was taught on faces framed otherwise than Moodlog frames them now " \
               "(taught 20" in said and "teach it again" in said, said
    # the same faces read either way: the warning changes nothing but what the user is told
    assert json.loads(app("predict", str(photo), "--model", str(older), "--json").stdout)[0]["faces"] == \
        json.loads(app("predict", str(photo), "--model", str(model), "--json").stdout)[0]["faces"]


@pytest.mark.parametrize("command", [
    ["quantize", "--model", "{model}"],
    ["ensemble", "{model}", "model/weights/moodnet.keras", "--out", "{tmp}/ensemble"],
    ["train", "--init", "{model}", "--data", "{tmp}", "--epochs", "1"],
])
def test_a_taught_model_is_never_taken_for_a_seven_emotion_one(taught, tmp_path, command):
    model = str(taught[0] / "smiles.keras")
    result = app(*[part.format(model=model, tmp=tmp_path) for part in command])
    assert result.returncode == 2, result.stderr
    assert "was taught its own labels (closed smile, neutral, teeth)" in result.stderr, result.stderr
    assert not (tmp_path / "ensemble").exists()


def test_a_label_folder_named_the_macos_way_reads_as_its_label(tmp_path, face_photos):
    import unicodedata

    from model.training.teach import label_folders

    photos = teaching_folder(tmp_path / "photos", face_photos, {"teeth": ("happy", "-HO."), "neutral": ("neutral", "")})
    (photos / "teeth").rename(photos / unicodedata.normalize("NFD", "sourire é"))
    assert list(label_folders(photos)) == ["neutral", "sourire é"]


def test_a_photo_given_twice_is_read_once_and_other_files_are_named(tmp_path, face_photos):
    """A copy of a photo (same bytes, any name, any label) would sit on both sides of a fold and flatter
    the cross-validation; a file Moodlog cannot read (an iPhone HEIC) is named, not skipped silently."""
    from model.training.teach import read_teaching_set

    photos = teaching_folder(tmp_path / "photos", face_photos, {"teeth": ("happy", "-HO."), "neutral": ("neutral", "")})
    first = sorted((photos / "teeth").iterdir())[0]
    (photos / "neutral" / "contradiction.jpg").write_bytes(first.read_bytes())
    (photos / "neutral" / "IMG_0001.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")
    second = sorted((photos / "teeth").iterdir())[1]
    (photos / "teeth" / "again.jpg").symlink_to(second.resolve())
    taught = read_teaching_set(photos)
    assert taught.counts() == {"neutral": PER_LABEL, "teeth": PER_LABEL - 1}
    why = {path.name: reason for path, reason in taught.dropped}
    assert why["again.jpg"] == f"the same photo as teeth/{second.name}"
    assert why["contradiction.jpg"] == why[first.name] == "the same photo is under the labels neutral and teeth"
    assert "not an image" in why["IMG_0001.HEIC"]


def people_folder(root, face_photos, groups: dict[str, list[tuple[str, str, str]]], per_group: int = 3):
    """root/<label>/ of links to CFD portraits, `per_group` of each (emotion, name part, CFD group) given."""
    for label, picks in groups.items():
        (root / label).mkdir(parents=True)
        for emotion, needle, group in picks:
            photos = sorted(p for p in (face_photos / "cfd" / emotion).iterdir()
                            if needle in p.name and p.name.startswith(f"CFD-{group}-"))[:per_group]
            for photo in photos:
                (root / label / photo.name).symlink_to(photo)
    return root


def test_a_label_whose_photos_are_all_of_one_person_group_is_refused_in_one_line(tmp_path, face_photos):
    """--person '^CFD-\\w+' makes each CFD group one 'person'; with every neutral photo in one group, a fold
    holding it out had no neutral face to learn from: a scikit-learn ValueError traceback."""
    photos = people_folder(tmp_path / "photos", face_photos, {
        "teeth": [("happy", "-HO.", "BF"), ("happy", "-HO.", "BM")],
        "neutral": [("neutral", "", "AF")]}, per_group=6)
    result = app("teach", str(photos), "--out", str(tmp_path / "out"), "--person", r"^CFD-\w+", "--quiet")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == (
        "error: cross-validation grouped by person needs each label's photos of two people or more, but every "
        "neutral photo is of CFD-AF; add photos of other people, or leave out --person/--people")
    assert not (tmp_path / "out").exists()


def test_two_people_with_every_label_each_are_cross_validated_in_two_folds(tmp_path, face_photos):
    """Each outer fold trains on one person's photos; choosing the head's strength within them by person is
    impossible, which ended in 'needs photos of at least two people' though the photos showed two."""
    photos = people_folder(tmp_path / "photos", face_photos, {
        "teeth": [("happy", "-HO.", "BF"), ("happy", "-HO.", "BM")],
        "neutral": [("neutral", "", "BF"), ("neutral", "", "BM")]})
    result = app("teach", str(photos), "--out", str(tmp_path / "out"), "--person", r"^CFD-\w+", "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["cross_validation"]["folds"] == 2 and metrics["cross_validation"]["grouped_by_person"]
    assert metrics["faces"] == {"neutral": 6, "teeth": 6}


@pytest.mark.parametrize("status, message", [
    ("a-folder", "--status {tmp}/a-folder is a folder; give a file for the progress, e.g. {tmp}/a-folder/status.json"),
    ("a-file/status.json", "--status {tmp}/a-file/status.json: its folder {tmp}/a-file is a file; give a file in an "
                           "existing folder"),
    ("absent/status.json", "--status {tmp}/absent/status.json: its folder {tmp}/absent does not exist; give a file "
                           "in an existing folder"),
])
def test_a_status_file_that_cannot_be_written_is_refused_before_any_face_is_read(tmp_path, face_photos, status,
                                                                                 message):
    """--status FOLDER (or a path under a file) ended in an IsADirectoryError (NotADirectoryError) traceback at
    the first step, leaving a .part file."""
    photos = teaching_folder(tmp_path / "photos", face_photos, {"teeth": ("happy", "-HO."), "neutral": ("neutral", "")})
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "a-file").write_text("")
    result = app("teach", str(photos), "--out", str(tmp_path / "out"), "--status", str(tmp_path / status), "--quiet")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == "error: " + message.format(tmp=tmp_path)
    assert not (tmp_path / "out").exists() and not list(tmp_path.rglob("*.part"))
