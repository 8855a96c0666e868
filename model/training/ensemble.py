"""Fuse several trained models into one that averages their probabilities.

Models trained from different seeds make partly independent mistakes, so the mean of their
probabilities is more accurate than any one of them (bench/ensemble.py measures by how much).
They are fused into one Keras model rather than kept as a list: everything downstream
(EmotionClassifier and its int8 runtime, the capture daemon, the dashboard, `evaluate`) keeps
handling exactly one model file, and one TFLite call runs every member.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from model.errors import ModelFileError
from model.training.network import ENSEMBLE_PREFIX

MEMBER_FILES = ("REPORT.md", "confusion.png", "curves.png", "history.csv", "metrics.json")


def fuse(paths: list[Path]):
    """A Keras model whose output is the mean of the members' softmax outputs."""
    import keras
    from model.training.keras_model import emotion_model
    from model.training.network import INPUT_SHAPE

    if len(paths) < 2:
        raise ModelFileError("an ensemble needs at least two models")
    pixels = keras.Input(shape=INPUT_SHAPE, name="pixels")
    outputs = []
    for index, path in enumerate(paths):
        member = emotion_model(Path(path), "an ensemble")
        member.name = f"member{index}"        # nested models need distinct names
        outputs.append(member(pixels))
    mean = keras.layers.Average(name="emotion")(outputs)
    return keras.Model(pixels, mean, name=f"{ENSEMBLE_PREFIX}_{len(paths)}")


def build_ensemble(paths: list[Path], out: Path, data: str | None, seed: int = 1) -> Path:
    """Fuse, save, quantise as `train` does, keep each member's own report for provenance, and
    write the ensemble's REPORT.md (scored through EmotionClassifier, as users run it)."""
    from model.training import dataset
    from model.lite import digest
    from model.training.reporting import check_out_folder, command_line, write_model_report
    from model.training.train import check_number, machine_description, quantize, training_split

    check_number("seed", seed)
    check_out_folder(out, what="the fused model and its report")
    paths = [Path(path) for path in paths]
    for path in paths:
        if path.parent.resolve() == out.resolve():
            raise ModelFileError(f"--out {out} is the folder of the member {path}, whose model and report the "
                                 "ensemble's would replace; choose another folder")
    fused = fuse(paths)              # first: bad members fail fast, and `out` may hold a member
    splits, load_report = dataset.load_fer2013(data)
    calibration = training_split(splits, "ensemble")
    out.mkdir(parents=True, exist_ok=True)
    model_path = out / "moodnet.keras"
    notes = ["## Members", "", "Each was trained by `python app.py train`; its own report is in `members/`.", ""]
    for index, path in enumerate(paths):
        keep = out / "members" / str(index)
        keep.mkdir(parents=True, exist_ok=True)
        for name in MEMBER_FILES:
            if (path.parent / name).is_file() and (path.parent / name).resolve() != (keep / name).resolve():
                shutil.copy(path.parent / name, keep / name)
        notes.append(f"- member {index}: `{path}`, sha256 {digest(path)}..., kept as layer `member{index}` of "
                     f"this model (its report: `members/{index}/REPORT.md`)")
    notes.append("")
    for folder in (out / "members").iterdir():     # an earlier, larger ensemble's members
        if folder.is_dir() and not (folder.name.isdigit() and int(folder.name) < len(paths)):
            shutil.rmtree(folder)
    for stale in ("curves.png", "history.csv"):  # a single model's training record no longer describes this one
        (out / stale).unlink(missing_ok=True)
    fused.save(model_path)
    quantize(model_path, calibration, seed)
    write_model_report(out, model_path, splits, load_report,
                       command=command_line(), minutes=None,
                       settings={"members": len(paths), "data": data, "seed": seed},
                       machine=machine_description(), notes=notes)
    return model_path
