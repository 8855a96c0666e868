"""Ensembles: a fused model gives exactly the mean of its members, and `app.py ensemble` ships one."""

import shutil

import keras
import numpy as np
import pytest

from model.classifier import DEFAULT_MODEL, EmotionClassifier
from model.training.keras_model import classifier_for
from model.training.ensemble import fuse
from model.errors import ModelFileError
from model.training.network import build_model
from test_cli import app, assert_clean_error


@pytest.fixture(scope="module")
def second_model(tmp_path_factory):
    """A real network of another shape, untrained: its probabilities differ from the shipped model's."""
    keras.utils.set_random_seed(3)
    path = tmp_path_factory.mktemp("second") / "moodnet.keras"
    build_model(widths=(8, 16)).save(path)
    return path


def test_a_fused_model_gives_the_mean_of_its_members(second_model, tmp_path, fer2013):
    from model.training.dataset import load_fer2013

    faces = load_fer2013(str(fer2013))[0]["test"].images[:40]
    fused_path = tmp_path / "fused.keras"
    fuse([DEFAULT_MODEL, second_model]).save(fused_path)
    members = [classifier_for(path, "keras", flip_average=False).predict(faces)
               for path in (DEFAULT_MODEL, second_model)]
    assert np.abs(members[0] - members[1]).max() > 0.1, "members must disagree for the test to mean anything"
    fused = classifier_for(fused_path, "keras", flip_average=False).predict(faces)
    np.testing.assert_allclose(fused, (members[0] + members[1]) / 2, atol=1e-5)
    mirrored = classifier_for(fused_path, "tflite").predict(faces)
    np.testing.assert_allclose(mirrored.sum(axis=1), 1.0, atol=1e-5)


def test_one_model_or_a_non_model_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="at least two"):
        fuse([DEFAULT_MODEL])
    fake = tmp_path / "m.keras"
    fake.write_text("nope")
    assert_clean_error(app("ensemble", DEFAULT_MODEL, fake, "--out", tmp_path / "out"), "not a Keras model")


def test_ensemble_command_writes_the_fused_model_its_int8_version_and_a_report(second_model, fer2013, tmp_path):
    data = tmp_path / "fer"
    for split in ("train", "validation", "test"):
        for emotion_dir in (fer2013 / split).iterdir():
            (data / split / emotion_dir.name).mkdir(parents=True)
            for image in sorted(emotion_dir.iterdir())[:10]:
                shutil.copy(image, data / split / emotion_dir.name)
    out = tmp_path / "out"
    (out / "members" / "2").mkdir(parents=True)          # left by an earlier three-model ensemble
    (out / "members" / "2" / "REPORT.md").write_text("stale")
    result = app("ensemble", DEFAULT_MODEL, second_model, "--data", data, "--out", out)
    assert result.returncode == 0, result.stderr[-3000:]
    fused = EmotionClassifier(out / "moodnet.keras")
    assert fused.runtime == "int8" and fused.predict(np.zeros((1, 48, 48), np.uint8)).shape == (1, 7)
    report = (out / "REPORT.md").read_text()
    assert "test: accuracy" in report and "on 70 images" in report and "## Members" in report
    assert "python app.py ensemble" in report and "curves.png" not in report
    assert (out / "members" / "0" / "REPORT.md").read_text() == (DEFAULT_MODEL.parent / "REPORT.md").read_text()
    assert (out / "confusion.png").exists()
    assert sorted(path.name for path in (out / "members").iterdir()) == ["0", "1"]


def test_a_warm_restart_from_an_ensemble_is_refused_with_a_pointer_to_its_members(second_model, fer2013, tmp_path):
    fused = tmp_path / "fused.keras"
    fuse([second_model, second_model]).save(fused)
    result = app("train", "--data", fer2013, "--limit", 70, "--init", fused, "--out", tmp_path / "out", "--quiet")
    assert_clean_error(result, "is an ensemble made by `app.py ensemble`")
