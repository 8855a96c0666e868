"""Mistakes in the options of train, quantize, ensemble, evaluate and predict: each refused in one line
(exit 2) before any data loads or anything is written, not as a traceback (or a crash) after minutes."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from test_cli import DEFAULT_MODEL, app, assert_clean_error

ROOT = Path(__file__).resolve().parents[2]


def run_main(argv: list[str], capsys) -> tuple[int, str]:
    """app.main in this process (TensorFlow is imported once for all the cases), its exit status and stderr."""
    import app as front_door

    previous = signal.getsignal(signal.SIGINT)
    try:
        status = front_door.main([str(arg) for arg in argv])
    finally:
        signal.signal(signal.SIGINT, previous)
    return status, capsys.readouterr().err


@pytest.mark.parametrize("option, value, message", [
    ("--batch-size", 0, "--batch-size: the faces per step must be a whole number >= 1, not 0"),
    ("--batch-size", -5, "--batch-size: the faces per step must be a whole number >= 1, not -5"),
    ("--erasing", 2, "--erasing: the share of faces with a patch blanked must be a number in [0, 1], not 2.0"),
    ("--erasing", -0.5, "--erasing: the share of faces with a patch blanked must be a number in [0, 1], not -0.5"),
    ("--seed", -1, "--seed: the random seed must be a whole number in [0, 4294967295], not -1"),
    ("--learning-rate", "nan", "--learning-rate: the peak learning rate must be a finite number > 0, not nan"),
    ("--learning-rate", "inf", "--learning-rate: the peak learning rate must be a finite number > 0, not inf"),
    ("--learning-rate", -1, "--learning-rate: the peak learning rate must be a finite number > 0, not -1.0"),
    ("--threads", -1, "--threads: TensorFlow's threads must be a whole number in [0, 1024] (0: every core), not -1"),
    ("--epochs", 0, "--epochs: the passes over the training data must be a whole number >= 1, not 0"),
    ("--epochs", -1, "--epochs: the passes over the training data must be a whole number >= 1, not -1"),
    ("--light", 2, "--light: the share of faces put under random light must be a number in [0, 1], not 2.0"),
    ("--light", -1, "--light: the share of faces put under random light must be a number in [0, 1], not -1.0"),
    ("--light", "nan", "--light: the share of faces put under random light must be a number in [0, 1], not nan"),
    ("--limit", -5, "--limit: the images per split must be a whole number >= 0 (0: all), not -5"),
    ("--ferplus-weight", 1.5, "--ferplus-weight: the crowd's share of each target must be a number in [0, 1], not 1.5"),
    ("--widths", "2,4", "--widths: expected 1 to 4 comma-separated channel counts >= 4, got '2,4'"),
])
def test_bad_training_values_are_refused_before_the_data_loads(option, value, message, tmp_path, capsys):
    """--data names no dataset: a value checked only after loading would say 'no dataset at' instead."""
    out = tmp_path / "run"
    status, stderr = run_main(["train", "--data", tmp_path / "nowhere", "--out", out, option, value], capsys)
    assert (status, stderr.strip()) == (2, f"error: {message}")
    assert not out.exists(), "nothing is written: no run.json, no history.csv"


def test_a_bad_value_is_one_line_through_the_real_command_line(tmp_path):
    """--learning-rate nan trained to the end and then crashed the TFLite converter (exit 139)."""
    result = app("train", "--data", tmp_path / "nowhere", "--out", tmp_path / "run", "--learning-rate", "nan")
    assert_clean_error(result, "error: --learning-rate: the peak learning rate must be a finite number > 0, not nan")
    assert [line for line in result.stderr.splitlines() if line.startswith(("error", "Error"))] == \
        ["error: --learning-rate: the peak learning rate must be a finite number > 0, not nan"]


@pytest.mark.parametrize("argv, message", [
    (["quantize", "--model", DEFAULT_MODEL, "--seed", -1],
     "--seed: the random seed must be a whole number in [0, 4294967295], not -1"),
    (["ensemble", DEFAULT_MODEL, DEFAULT_MODEL, "--out", "OUT", "--seed", -1],
     "--seed: the random seed must be a whole number in [0, 4294967295], not -1"),
    (["evaluate", "--whole-image", "--detector", "haar"],
     "--whole-image reads each image without a detector; drop --detector"),
])
def test_other_training_commands_refuse_bad_values_before_the_data_loads(argv, message, tmp_path, capsys):
    argv = [tmp_path / "out" if arg == "OUT" else arg for arg in argv] + ["--data", tmp_path / "nowhere"]
    status, stderr = run_main(argv, capsys)
    assert (status, stderr.strip()) == (2, f"error: {message}")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("size", [0, -5])
def test_predict_refuses_a_smallest_face_below_one_pixel(size, face_photos, capsys):
    photo = sorted((face_photos / "cfd" / "happy").glob("*"))[0]
    status, stderr = run_main(["predict", photo, "--min-face", size], capsys)
    assert (status, stderr.strip()) == \
        (2, f"error: --min-face: the smallest face side to classify must be at least 1 pixel, not {size}")


@pytest.mark.parametrize("argv, message", [
    (["train", "--out", "FILE"], "--out FILE is a file; give a folder for the model and its report"),
    (["train", "--out", "FILE/run"], "--out FILE/run lies under the file FILE; give a folder for the model and its report"),
    (["ensemble", DEFAULT_MODEL, DEFAULT_MODEL, "--out", "FILE"],
     "--out FILE is a file; give a folder for the fused model and its report"),
    (["evaluate", "--report", "FILE"], "--report FILE is a file; give a folder for REPORT.md and confusion.png"),
])
def test_an_output_folder_that_is_a_file_is_refused_before_the_work(argv, message, tmp_path, capsys):
    """It ended in a FileExistsError traceback once the training, fusing or scoring was done."""
    existing = tmp_path / "existing"
    existing.write_text("a file the user keeps")
    argv = [str(arg).replace("FILE", str(existing)) for arg in argv] + ["--data", tmp_path / "nowhere"]
    status, stderr = run_main(argv, capsys)
    assert (status, stderr.strip()) == (2, "error: " + message.replace("FILE", str(existing)))
    assert existing.read_text() == "a file the user keeps"


def test_an_ensemble_into_a_members_own_folder_is_refused(tmp_path, capsys):
    """--out run1 with run1/moodnet.keras a member replaced that member's model and report by the ensemble's."""
    import shutil

    from model.lite import digest

    member = tmp_path / "run1" / "moodnet.keras"
    member.parent.mkdir()
    shutil.copy(DEFAULT_MODEL, member)
    before = digest(member)
    status, stderr = run_main(["ensemble", member, DEFAULT_MODEL, "--out", member.parent, "--data",
                               tmp_path / "nowhere"], capsys)
    assert (status, stderr.strip()) == (2, f"error: --out {member.parent} is the folder of the member {member}, "
                                           "whose model and report the ensemble's would replace; choose another folder")
    assert digest(member) == before and sorted(path.name for path in member.parent.iterdir()) == ["moodnet.keras"]


@pytest.mark.parametrize("command", ["ensemble", "quantize"])
def test_data_without_a_training_split_is_refused_before_anything_is_written(command, fer2013, tmp_path):
    """ensemble ended in KeyError: 'train' with moodnet.keras and members/ already written in --out."""
    data = tmp_path / "fer"
    for emotion_dir in (fer2013 / "test").iterdir():
        (data / "test" / emotion_dir.name).mkdir(parents=True)
        for image in sorted(emotion_dir.iterdir())[:3]:
            (data / "test" / emotion_dir.name / image.name).symlink_to(image)
    out = tmp_path / "out"
    model = tmp_path / "mine" / "moodnet.keras"
    model.parent.mkdir()
    model.write_bytes(DEFAULT_MODEL.read_bytes())
    argv = ["ensemble", DEFAULT_MODEL, model, "--out", out] if command == "ensemble" else ["quantize", "--model", model]
    result = app(*argv, "--data", data)
    assert_clean_error(result, f"error: {command} calibrates its int8 model on the training split, and the data has "
                               "none (only test); give fer2013.csv or a folder with train/")
    assert not out.exists() and sorted(path.name for path in model.parent.iterdir()) == ["moodnet.keras"]


@pytest.mark.parametrize("init, widths, message", [
    (DEFAULT_MODEL, "16,32,96,192", "is an ensemble made by `app.py ensemble`; start from one of its members"),
    (ROOT / "model" / "weights" / "fast" / "moodnet.keras", "8,16",
     "does not fit this network (pass the --widths it was trained with)"),
])
def test_an_init_model_that_cannot_start_this_network_is_refused_before_the_data_loads(init, widths, message, tmp_path,
                                                                                          capsys):
    status, stderr = run_main(["train", "--data", tmp_path / "nowhere", "--out", tmp_path / "run", "--init", init,
                               "--widths", widths], capsys)
    assert status == 2 and stderr.startswith(f"error: --init {init} ") and message in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_ferplus_with_the_challenge_csv_is_refused_before_the_csv_is_read(tmp_path, capsys):
    """The votes join faces by file name, which the CSV lacks; an empty CSV shows that it is not read first."""
    votes = ROOT.parent / "shared" / "datasets" / "ferplus" / "labels.csv"
    if not votes.is_file():
        pytest.skip("FER+ votes not found at ../shared/datasets/ferplus/labels.csv")
    challenge = tmp_path / "fer2013.csv"
    challenge.write_text("emotion,pixels,Usage\n")
    status, stderr = run_main(["train", "--data", challenge, "--out", tmp_path / "run", "--ferplus", votes], capsys)
    assert (status, stderr.strip()) == (2, "error: --ferplus needs FER2013 as image folders (train/<emotion>/...), "
                                           "whose file names FER+ votes are joined by; the CSV has none")
    status, stderr = run_main(["train", "--data", challenge, "--out", tmp_path / "run", "--ferplus",
                               tmp_path / "absent.csv"], capsys)
    assert stderr.strip().startswith(f"error: --ferplus: no file at {tmp_path / 'absent.csv'}")
