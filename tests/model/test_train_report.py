"""What train's REPORT.md and metrics.json say: scores exactly as `evaluate` gives them, and the data and
time that were really used."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from test_cli import DEFAULT_MODEL, app


def finishable_run(out: Path, data: Path) -> Path:
    """A run folder as train leaves it before its int8 model and report: a copy of the shipped model, with
    the run.json and history.csv that `train --finish` reads."""
    from model.training.train import TrainConfig

    out.mkdir()
    shutil.copy(DEFAULT_MODEL, out / "moodnet.keras")
    settings = asdict(TrainConfig(data=str(data), out=str(out), precision="float32"))
    command = settings.pop("command")
    (out / "run.json").write_text(json.dumps({"command": command, "minutes": 1.0, "machine": "the test's",
                                              "settings": settings}))
    (out / "history.csv").write_text("epoch,accuracy,loss,seconds,val_accuracy,val_loss\n0,0.5,1.2,60,0.5,1.3\n")
    return out


def test_the_training_report_scores_the_test_faces_exactly_as_evaluate(fer2013, tmp_path):
    """write_report scored faces that prepare_data had light-normalised, and EmotionClassifier normalised
    them again: the shipped model scored 0.6996 there and 0.6977 by `evaluate` on the same faces."""
    run = finishable_run(tmp_path / "run", fer2013)
    finished = app("train", "--finish", run, "--data", fer2013)
    assert finished.returncode == 0, finished.stderr[-3000:]
    reported = json.loads((run / "metrics.json").read_text())
    from model.training.evaluate_cli import evaluate_model

    evaluated = evaluate_model(str(fer2013), str(run / "moodnet.keras"), None, split_names=["validation", "test"])
    assert reported == {split: {"accuracy": metrics.accuracy, "macro_f1": metrics.macro_f1}
                        for split, metrics in evaluated.items()}
