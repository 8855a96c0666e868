"""Runs stopped by Ctrl+C and carried on: real Keras training on real FER2013 faces (--limit), through the
real app.py, stopped with SIGINT as a terminal's Ctrl+C stops it."""

from __future__ import annotations

import csv
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from test_cli import app, assert_clean_error

ROOT = Path(__file__).resolve().parents[2]


def interrupted(arguments: list, ready, deadline_s: float = 300) -> subprocess.CompletedProcess:
    """Run app.py with `arguments` and send it SIGINT as soon as `ready()` holds."""
    command = [sys.executable, str(ROOT / "app.py"), *map(str, arguments)]
    running = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + deadline_s
    while running.poll() is None and time.monotonic() < deadline and not ready():
        time.sleep(0.05)
    running.send_signal(signal.SIGINT)
    stdout, stderr = running.communicate(timeout=300)
    return subprocess.CompletedProcess(command, running.returncode, stdout, stderr)


def epochs_logged(history: Path) -> int:
    return len(history.read_text().strip().splitlines()) - 1 if history.is_file() else 0


def training(data, out: Path, *extra) -> list:
    return ["train", "--data", data, "--limit", 300, "--epochs", 3, "--threads", 1, "--out", out, "--quiet", *extra]


@pytest.fixture(scope="module")
def stopped_run(fer2013, tmp_path_factory) -> Path:
    """A 3-epoch run in mixed precision (as `auto` picks on a CPU with bfloat16 units), stopped by Ctrl+C
    after its first epoch: the checkpoint, history.csv and the moodnet.keras that SaveBest wrote."""
    out = tmp_path_factory.mktemp("stopped") / "run"
    result = interrupted(training(fer2013, out, "--precision", "mixed_bfloat16"),
                         lambda: epochs_logged(out / "history.csv") >= 1)
    assert result.returncode == 130 and "--resume" in result.stderr, result.stderr[-3000:]
    assert 1 <= epochs_logged(out / "history.csv") < 3 and (out / "checkpoint").is_dir()
    return out


@pytest.fixture
def run_copy(stopped_run, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(stopped_run, copy)
    return copy


def history_rows(out: Path) -> list[dict]:
    with (out / "history.csv").open(newline="") as rows:
        return list(csv.DictReader(rows))


def weights(path: Path) -> list:
    import keras

    return keras.saving.load_model(path, compile=False).get_weights()


def test_resume_keeps_the_best_model_when_no_later_epoch_beats_it(run_copy, fer2013):
    """SaveBest started again from -inf on --resume, so the first resumed epoch replaced moodnet.keras
    even when it was worse than the best before the stop."""
    rows = history_rows(run_copy)
    rows[0]["val_accuracy"] = "1.0"            # a best epoch that no resumed epoch can beat
    with (run_copy / "history.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    before = weights(run_copy / "moodnet.keras")
    result = app(*training(fer2013, run_copy, "--precision", "mixed_bfloat16"), "--resume")
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = history_rows(run_copy)
    assert [int(row["epoch"]) for row in resumed] == [0, 1, 2]
    assert all(float(row["val_accuracy"]) < 1.0 for row in resumed[len(rows):])
    after = weights(run_copy / "moodnet.keras")
    assert len(after) == len(before) and all(np.array_equal(a, b) for a, b in zip(after, before)), \
        "the best epoch's weights are kept"


@pytest.fixture(scope="module")
def small_fer(fer2013, tmp_path_factory) -> Path:
    """Links to the first 10 real FER2013 faces of each emotion in each split: a dataset that loads in a moment."""
    data = tmp_path_factory.mktemp("small") / "fer"
    for split in ("train", "validation", "test"):
        for emotion_dir in (fer2013 / split).iterdir():
            (data / split / emotion_dir.name).mkdir(parents=True)
            for image in sorted(emotion_dir.iterdir())[:10]:
                (data / split / emotion_dir.name / image.name).symlink_to(image)
    return data


def computes_in_bfloat16(path: Path) -> bool:
    import zipfile

    return "bfloat16" in zipfile.ZipFile(path).read("config.json").decode()


def test_a_stopped_mixed_precision_run_leaves_a_float32_model_every_command_uses(run_copy, small_fer, face_photos):
    """SaveBest saved the network as trained, in mixed_bfloat16: evaluate and quantize ended in a 273-line
    ConverterError traceback and predict pointed at quantize."""
    model = run_copy / "moodnet.keras"
    assert not computes_in_bfloat16(model)
    scored = app("evaluate", "--model", model, "--data", small_fer)          # no int8 file yet: float32 TFLite
    assert scored.returncode == 0 and "test: accuracy" in scored.stdout, scored.stderr[-3000:]
    quantized = app("quantize", "--model", model, "--data", small_fer)
    assert quantized.returncode == 0 and len(list(run_copy.glob("moodnet-*.int8.tflite"))) == 1, quantized.stderr[-3000:]
    photo = sorted((face_photos / "cfd" / "happy").glob("*"))[0]
    assert app("predict", photo, "--model", model).returncode == 0


def test_a_model_saved_in_mixed_precision_earlier_is_used_as_float32(small_fer, tmp_path):
    """Files that SaveBest wrote in mixed precision before it saved float32 are converted when loaded."""
    import keras

    from model.training.network import build_model

    old = tmp_path / "old" / "moodnet.keras"
    old.parent.mkdir()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        build_model(widths=(8, 16)).save(old)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert computes_in_bfloat16(old)
    for command in (["evaluate", "--model", old, "--data", small_fer],
                    ["ensemble", old, ROOT / "model" / "weights" / "fast" / "moodnet.keras", "--data", small_fer,
                     "--out", tmp_path / "fused"],
                    ["quantize", "--model", old, "--data", small_fer]):
        result = app(*command)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (command, result.stderr[-3000:])
    assert len(list(old.parent.glob("moodnet-*.int8.tflite"))) == 1
    assert not computes_in_bfloat16(tmp_path / "fused" / "moodnet.keras")


def test_a_resume_with_other_widths_is_refused_in_one_line(run_copy, fer2013):
    """BackupAndRestore could not restore the checkpoint into the other network: a 98-line traceback."""
    result = app(*training(fer2013, run_copy, "--widths", "8,16"), "--resume")
    assert_clean_error(result, f"error: --resume: the checkpoint in {run_copy / 'checkpoint'} was started with "
                               "--widths 16,32,96,192 (not 8,16); resume with the settings it was started with, "
                               "or start afresh without --resume")
    assert "train:" not in result.stdout, "refused before the data loads"


def test_a_resumed_runs_report_counts_every_session_and_says_which_faces_it_scored(run_copy, fer2013):
    """After --resume, 'Training time' covered the last session alone; with --limit, Data said
    'validation: 3589 kept' above scores 'on 294 images'."""
    import json

    result = app(*training(fer2013, run_copy, "--precision", "mixed_bfloat16"), "--resume")
    assert result.returncode == 0, result.stderr[-3000:]
    seconds = sum(float(row["seconds"]) for row in history_rows(run_copy))
    assert json.loads((run_copy / "run.json").read_text())["minutes"] == pytest.approx(seconds / 60, abs=1e-9)
    report = (run_copy / "REPORT.md").read_text()
    assert f"- Training time: {seconds / 60:.1f} minutes (wall clock)" in report
    assert "- validation: accuracy" in report and "on 294 images" in report
    for split in ("validation", "test"):
        assert f"- {split} (used, --limit 300): 294 kept (angry 42, disgust 42, fear 42, happy 42" in report, report


def test_ctrl_c_while_the_report_is_written_says_how_train_finish_completes_the_run(fer2013, tmp_path):
    """Ctrl+C after the last epoch printed only 'stopped' (exit 130), and --resume then found no checkpoint."""
    out = tmp_path / "run"
    command = ["train", "--data", fer2013, "--limit", 300, "--epochs", 1, "--threads", 1, "--out", out, "--quiet"]
    result = interrupted(command, lambda: (out / "run.json").is_file())      # written as training ends
    assert result.returncode == 130 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert f"the trained model is {out / 'moodnet.keras'}, and `python app.py train --finish {out}` writes the rest" \
        in result.stderr, result.stderr[-3000:]
    assert not (out / "checkpoint").exists() and not (out / "REPORT.md").exists()
    resumed = app(*command, "--resume")
    assert_clean_error(resumed, f"error: --resume: no checkpoint in {out / 'checkpoint'}: the run there finished "
                                f"training; `python app.py train --finish {out}` writes its int8 model and report")
    finished = app("train", "--finish", out)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "test: accuracy" in (out / "REPORT.md").read_text() and len(list(out.glob("moodnet-*.int8.tflite"))) == 1
