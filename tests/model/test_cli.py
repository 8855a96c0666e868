"""The real app.py, run as users run it: predict, evaluate, train, and clear errors for bad input."""

import csv
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "model" / "weights" / "moodnet.keras"


def app(*args, timeout=600):
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def assert_clean_error(result, pattern):
    assert result.returncode == 2, result.stderr + result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    assert pattern in (result.stderr + result.stdout), result.stderr + result.stdout


def test_predict_prints_json_and_writes_annotated_images(face_photos, tmp_path):
    photo = sorted((face_photos / "cfd" / "happy").glob("*"))[0]
    empty = sorted((face_photos / "nonface").glob("*"))[0]
    result = app("predict", photo, empty, "--json", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report[0]["faces"]) == 1 and report[0]["faces"][0]["emotion"] is not None
    assert report[1]["faces"] == []
    assert (tmp_path / f"{photo.stem}.annotated.jpg").stat().st_size > 10_000


def test_predict_says_no_face_found_in_text_mode(face_photos):
    result = app("predict", sorted((face_photos / "nonface").glob("*"))[0])
    assert result.returncode == 0 and "no face found" in result.stdout


def test_predict_refuses_a_text_file_without_a_traceback(tmp_path):
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is not a photo")
    assert_clean_error(app("predict", fake), "not an image")


def test_evaluate_scores_a_folder_and_writes_a_report(fer2013, tmp_path):
    for emotion_dir in (fer2013 / "test").iterdir():
        target = tmp_path / "faces" / emotion_dir.name
        target.mkdir(parents=True)
        for image in sorted(emotion_dir.iterdir())[:15]:
            shutil.copy(image, target)
    result = app("evaluate", "--data", tmp_path / "faces", "--report", tmp_path / "report")
    assert result.returncode == 0, result.stderr
    assert "faces: accuracy" in result.stdout and "on 105 images" in result.stdout
    report = (tmp_path / "report" / "REPORT.md").read_text()
    assert (tmp_path / "report" / "confusion.png").exists() and "| disgust |" in report
    assert "curves.png" not in report, "evaluate draws no training curves, so its report must not link them"


def test_one_epoch_training_on_a_small_real_subset_gives_a_loadable_model(fer2013, face_photos, tmp_path):
    extra = tmp_path / "extra"
    (extra / "happy").mkdir(parents=True)
    (extra / "angry").mkdir()
    for photo in sorted((face_photos / "cfd" / "happy").glob("*"))[:2]:
        shutil.copy(photo, extra / "happy")
    shutil.copy(sorted((face_photos / "nonface").glob("*"))[0], extra / "angry")
    result = app("train", "--data", fer2013, "--limit", 350, "--epochs", 1, "--out", tmp_path, "--quiet",
                 "--extra", "--extra-dir", extra, "--filter-faces", "--teacher", DEFAULT_MODEL, "--distill", 0.7)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "teacher " in result.stdout and "of the training labels" in result.stdout, result.stdout
    assert "extra: 2 kept (angry 0, disgust 0, fear 0, happy 2" in result.stdout, result.stdout
    assert "no face found" in result.stdout and "(--filter-faces)" in result.stdout
    from model.classifier import EmotionClassifier

    trained = EmotionClassifier(tmp_path / "moodnet.keras")
    assert trained.runtime == "int8", "train writes the int8 version that runs by default"
    assert len(list(tmp_path.glob("moodnet-*.int8.tflite"))) == 1
    assert trained.predict([[[0] * 48] * 48]).shape == (1, 7)
    report = (tmp_path / "REPORT.md").read_text()
    assert "test: accuracy" in report and "Training time" in report and "--limit 350" in report
    assert "int8 runtime" in report and "1/48 trimmed off each side" in report
    assert "![training curves](curves.png)" in report
    assert "distill=0.7" in report
    from model.lite import digest

    recorded = json.loads((tmp_path / "run.json").read_text())["settings"]["input_digests"]
    assert recorded == {"teacher": digest(DEFAULT_MODEL), "teacher_runtime": "int8"}      # what the path held then
    assert f"'teacher': '{digest(DEFAULT_MODEL)}'" in report
    assert (tmp_path / "curves.png").exists() and (tmp_path / "confusion.png").exists()


def test_a_run_trained_with_distortions_in_the_graph_is_finished_by_train_finish(fer2013, tmp_path):
    """The "graph" pipeline is what JAX and PyTorch use (bench/gpu/train.sh on a GPU); here it runs
    under TensorFlow, and `train --finish` writes what a machine without TensorFlow could not."""
    from model.training.keras_model import load_model
    from model.training.train import TrainConfig, train

    run = tmp_path / "run"
    train(TrainConfig(data=str(fer2013), limit=350, epochs=1, out=str(run), quiet=True, pipeline="graph",
                      precision="float32", erasing=0.5))
    network = load_model(run / "moodnet.keras")
    assert network.name.startswith("moodnet_") and not any("augment" in layer.name for layer in network.layers)
    record = json.loads((run / "run.json").read_text())
    assert record["settings"]["pipeline"] == "graph" and "on tensorflow" in record["machine"]
    history = list(csv.DictReader((run / "history.csv").open()))
    assert len(history) == 1 and float(history[0]["seconds"]) > 0, "history.csv records each epoch's seconds"
    for made in [run / "REPORT.md", *run.glob("moodnet-*.int8.tflite")]:
        made.unlink()
    result = app("train", "--finish", run, "--data", fer2013)
    assert result.returncode == 0, result.stderr[-3000:]
    report = (run / "REPORT.md").read_text()
    assert "test: accuracy" in report and record["machine"] in report and "pipeline=graph" in report
    assert len(list(run.glob("moodnet-*.int8.tflite"))) == 1


def test_ctrl_c_keeps_the_finished_epochs_and_resume_completes_the_run(fer2013, tmp_path):
    """Ctrl+C during training exits 130 with a checkpoint; `--resume` carries on from the next epoch."""
    command = ["train", "--data", fer2013, "--limit", 350, "--epochs", 4, "--out", tmp_path, "--quiet"]
    running = subprocess.Popen([sys.executable, str(ROOT / "app.py"), *map(str, command)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    history = tmp_path / "history.csv"
    deadline = time.monotonic() + 300
    while running.poll() is None and time.monotonic() < deadline:
        if history.is_file() and len(history.read_text().strip().splitlines()) >= 2:   # epoch 0 is done
            break
        time.sleep(0.1)
    running.send_signal(signal.SIGINT)
    _, stderr = running.communicate(timeout=120)
    assert running.returncode == 130 and "--resume" in stderr and "Traceback" not in stderr, stderr[-3000:]
    finished = len(history.read_text().strip().splitlines()) - 1
    assert 1 <= finished < 4 and (tmp_path / "checkpoint").is_dir() and not (tmp_path / "REPORT.md").exists()
    result = app(*command, "--resume")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader(history.open()))
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2, 3], rows
    assert all(float(row["seconds"]) > 0 for row in rows)
    assert (tmp_path / "REPORT.md").is_file() and not (tmp_path / "checkpoint").exists()


def test_training_errors_are_one_line_messages(tmp_path):
    assert_clean_error(app("train", "--data", tmp_path / "absent"), "no dataset at")
    (tmp_path / "fer" / "train" / "smiling").mkdir(parents=True)
    assert_clean_error(app("train", "--data", tmp_path / "fer"), "not emotion names")
    assert_clean_error(app("train", "--resume", "--out", tmp_path / "fresh"), "no checkpoint")
    assert_clean_error(app("train", "--finish", tmp_path), "no run.json")
    assert_clean_error(app("train", "--init", tmp_path / "absent.keras", "--out", tmp_path / "fresh"), "--init")
    assert_clean_error(app("train", "--teacher", tmp_path / "absent.keras", "--out", tmp_path / "fresh"), "--teacher")
    assert_clean_error(app("train", "--teacher", DEFAULT_MODEL, "--distill", 1.5, "--out", tmp_path / "fresh"),
                       "--distill")
    bad_model = tmp_path / "m.keras"
    bad_model.write_text("nope")
    assert_clean_error(app("evaluate", "--data", tmp_path / "fer", "--model", bad_model), "")


def test_the_readme_names_every_command_and_option():
    """Docs that cannot drift: each subcommand of app.py and each of its options is in the README."""
    import argparse

    import app     # the project root is on sys.path (conftest)

    readme = (ROOT / "README.md").read_text()
    commands = next(action for action in app.build_parser()._actions
                    if isinstance(action, argparse._SubParsersAction)).choices
    missing = [f"{name} {option}" for name, command in commands.items() for action in command._actions
               for option in action.option_strings if option.startswith("--") and option != "--help"
               and option not in readme]
    assert [name for name in commands if f"app.py {name}" not in readme] == [] and missing == []


def test_a_ctrl_c_that_python_swallowed_during_imports_stops_every_long_command(tmp_path, monkeypatch, capsys):
    """A KeyboardInterrupt that Python dropped during a command's imports (recorded in INTERRUPTS, as
    app.remember_interrupts does) stops the command before its work begins: exit 130, nothing written."""
    import app as front_door

    photo = tmp_path / "face.png"
    photo.write_bytes((ROOT / "tests" / "artifacts" / "model-laptop.png").read_bytes())
    monkeypatch.setattr(front_door, "INTERRUPTS", [signal.SIGINT])
    previous = signal.getsignal(signal.SIGINT)
    try:
        for command in (["predict", str(photo), "--out", str(tmp_path / "annotated")],
                        ["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "trained")],
                        ["evaluate", "--data", str(tmp_path / "nowhere")],
                        ["teach", str(tmp_path / "nowhere"), "--out", str(tmp_path / "taught")],
                        ["quantize", "--data", str(tmp_path / "nowhere")],
                        ["ensemble", str(DEFAULT_MODEL), str(DEFAULT_MODEL), "--out", str(tmp_path / "fused")]):
            assert front_door.main(command) == 130, command
            assert capsys.readouterr().err.strip().endswith("stopped")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert not any((tmp_path / name).exists() for name in ("annotated", "trained", "taught", "fused"))
