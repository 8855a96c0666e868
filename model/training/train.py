"""Training: data in, a saved model, its training log, plots and a markdown report out.

The run is resumable: a checkpoint is written at the end of every epoch, so Ctrl+C (or a
crash) loses at most the epoch in progress, and `--resume` carries on from there.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np

from model.training import dataset
from model.errors import DatasetError
from model.labels import EMOTIONS
from model.training.network import WIDTHS
from model.training.photometric import KINDS as LIGHT_KINDS
from model.training.reporting import check_out_folder, command_line

CALIBRATION_FACES = 1000


@dataclass
class TrainConfig:
    """Every knob of a training run; the CLI builds one, the report records it."""
    data: str | None = None
    out: str = str(Path(__file__).resolve().parents[1] / "weights")
    epochs: int = 50
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    widths: str = ",".join(map(str, WIDTHS))
    class_weight: str = "sqrt"
    erasing: float = 0.0
    precision: str = "auto"
    seed: int = 1
    extra: bool = False
    extra_dir: str = str(Path(__file__).resolve().parents[2] / "extra-images")
    filter_faces: bool = False
    detector: str | None = None
    resume: bool = False
    init: str | None = None
    teacher: str | None = None
    distill: float = 0.5
    ferplus: str | None = None
    ferplus_weight: float = 0.5
    light: float = 0.0
    light_kinds: tuple[str, ...] = LIGHT_KINDS
    mixup: float = 0.0
    threads: int = 0
    limit: int = 0
    # "tf.data" distorts training faces in a tf.data pipeline (TensorFlow, the default there);
    # "graph" runs the same distortions as the first layers of the trained graph, which is what
    # backends without tf.data (JAX, PyTorch: KERAS_BACKEND, e.g. on a GPU) use.
    pipeline: str = "auto"
    quiet: bool = False
    # The first 20 hex digits of the sha256 of each model file the run starts from or learns towards
    # ({"init": ..., "teacher": ..., "teacher_runtime": "int8" or "tflite"}), taken when it starts: a
    # path alone names whatever lies there later.
    input_digests: dict = field(default_factory=dict)
    command: str = field(default_factory=command_line)


def train(config: TrainConfig) -> Path:
    """Run one training; returns the path of the saved model (the best epoch on validation)."""
    check_settings(config)
    out = Path(config.out)
    checkpoint_dir = out / "checkpoint"
    splits, report = prepare_data(config)
    for line in report.lines():
        print(line)
    if config.threads and keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(config.threads)
    targets = None
    if config.teacher:   # after the thread setting: the teacher starts TensorFlow
        from model.training.distill import teacher_targets
        targets = teacher_targets(splits["train"], config.teacher, config.distill)
    if config.ferplus:
        splits["train"], targets = crowd_trained(splits["train"], config)
    keras.utils.set_random_seed(config.seed)
    config.precision = chosen_precision(config.precision)
    config.pipeline = chosen_pipeline(config.pipeline)
    keras.mixed_precision.set_global_policy(config.precision)
    out.mkdir(parents=True, exist_ok=True)
    if not config.resume:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
        record_start(checkpoint_dir, config)
    network = build_network(config)
    if config.init and not config.resume:
        start_from(network, Path(config.init))
    trainee = network if config.pipeline == "tf.data" else with_distortions(network, config)
    compile_for_training(trainee, config, steps_per_epoch=int(np.ceil(len(splits["train"]) / config.batch_size)))
    started = time.time()
    fit(trainee, network, light_normalised(splits), config, out, targets)
    minutes = training_minutes(out / "history.csv") if config.resume else None
    minutes = minutes or (time.time() - started) / 60
    model_path = out / "moodnet.keras"
    write_results(model_path, splits, report, config, minutes)
    return model_path


def write_results(model_path: Path, splits, report, config: TrainConfig, minutes: float) -> None:
    """run.json, then the int8 model and the report (where Keras runs on TensorFlow). Training is over and
    its checkpoint gone, so a Ctrl+C here says how `train --finish` writes what is missing."""
    out, machine = model_path.parent, machine_description()
    try:
        record_run(out, config, minutes, machine)
        if not keras_on_tensorflow():
            print(f"Keras runs on {keras.backend.backend()} here, so the int8 model and the report are still to be "
                  f"written: copy {out} to a machine with Moodlog's requirements and run "
                  f"`python app.py train --finish {out} --data FER2013`")
            return
        complete(model_path, splits, report, config, minutes, machine)
    except KeyboardInterrupt:
        record_run(out, config, minutes, machine)       # whole, whenever the Ctrl+C came: --finish reads it
        raise TrainingInterrupted(f"interrupted after training, while writing the int8 model and the report; the "
                                  f"trained model is {model_path}, and `python app.py train --finish {out}` "
                                  "writes the rest") from None


# The numeric settings' bounds, checked before any data loads: {setting: (what it is, what it must be,
# the test)}. NaN fails every comparison, so it is refused with the rest.
SEED_LIMIT = 2**32                         # NumPy's and Python's random seeds are unsigned 32-bit numbers
MAX_THREADS = 1024
SHARE = ("a number in [0, 1]", lambda value: 0 <= value <= 1)
NUMBER_RULES = {
    "epochs": ("the passes over the training data", "a whole number >= 1", lambda value: value >= 1),
    "batch_size": ("the faces per step", "a whole number >= 1", lambda value: value >= 1),
    "learning_rate": ("the peak learning rate", "a finite number > 0",
                      lambda value: math.isfinite(value) and value > 0),
    "erasing": ("the share of faces with a patch blanked", *SHARE),
    "light": ("the share of faces put under random light", *SHARE),
    "mixup": ("the Beta distribution's alpha", "a number > 0 (0 for none)",
              lambda value: math.isfinite(value) and value >= 0),
    "seed": ("the random seed", f"a whole number in [0, {SEED_LIMIT - 1}]", lambda value: 0 <= value < SEED_LIMIT),
    "threads": ("TensorFlow's threads", f"a whole number in [0, {MAX_THREADS}] (0: every core)",
                lambda value: 0 <= value <= MAX_THREADS),
    "limit": ("the images per split", "a whole number >= 0 (0: all)", lambda value: value >= 0),
    "distill": ("the teacher's share of each target", *SHARE),
    "ferplus_weight": ("the crowd's share of each target", *SHARE),
}


def check_settings(config: TrainConfig) -> None:
    """Every mistake in a run's settings, refused with a DatasetError (one line at the CLI) before
    minutes of loading data, and before anything is written."""
    for name in NUMBER_RULES:
        check_number(name, getattr(config, name))
    parse_widths(config.widths)
    check_choices(config)
    check_inputs(config)


def check_number(name: str, value) -> None:
    """DatasetError naming the option (`--batch-size`) when `value` is out of its NUMBER_RULES bounds;
    also for the --seed of the commands that calibrate an int8 model (quantize, ensemble)."""
    what, must_be, holds = NUMBER_RULES[name]
    if not holds(value):
        raise DatasetError(f"--{name.replace('_', '-')}: {what} must be {must_be}, not {value}")


def check_choices(config: TrainConfig) -> None:
    """Options that only mean something together, or only on the TensorFlow backend."""
    unknown = sorted(set(config.light_kinds) - set(LIGHT_KINDS))
    if config.light_kinds != LIGHT_KINDS and not config.light:
        raise DatasetError("--light-kinds chooses among --light's distortions: give --light P as well")
    if unknown or not config.light_kinds:
        raise DatasetError(f"--light-kinds: choose one or more of {', '.join(LIGHT_KINDS)}"
                           + (f", not {', '.join(unknown)}" if unknown else ""))
    if config.light and chosen_pipeline(config.pipeline) != "tf.data":
        raise DatasetError("--light distorts faces in the tf.data pipeline, which needs the TensorFlow backend")
    if config.mixup and chosen_pipeline(config.pipeline) != "tf.data":
        raise DatasetError("--mixup blends faces in the tf.data pipeline, which needs the TensorFlow backend")
    if config.teacher and config.ferplus:
        raise DatasetError("--teacher and --ferplus both set the training targets; choose one")


def check_inputs(config: TrainConfig) -> None:
    """The folder a run writes into, the files it starts from or learns towards, and its checkpoint
    when it resumes."""
    from model.training.keras_model import require_emotions
    from model.lite import digest, int8_path

    check_out_folder(Path(config.out))
    if config.resume:
        check_resume(config)
    for option, path in (("--init", config.init), ("--teacher", config.teacher)):
        if path and not Path(path).is_file():
            raise DatasetError(f"{option}: no model file at {path}")
        if path:
            require_emotions(Path(path), option)
            config.input_digests[option.lstrip("-")] = digest(Path(path))
    if config.teacher:    # the teacher runs as at run time where its int8 file lies beside it (classifier_for)
        config.input_digests["teacher_runtime"] = "int8" if int8_path(Path(config.teacher)).is_file() else "tflite"
    if config.init:
        start_from(build_network(config), Path(config.init))    # an ensemble, or other --widths
    if config.ferplus:
        from model.training.ferplus import check_ferplus
        check_ferplus(config.ferplus, Path(config.data) if config.data else dataset.default_location())


# The settings that shape the network a checkpoint holds (a resume with others cannot restore it), each
# with what it means to the network (`16, 32,96,192` is `16,32,96,192`).
RESUME_FIXED = {"widths": lambda text: parse_widths(text)}
STARTED_WITH = "settings.json"             # beside the checkpoint, which the end of training removes with it


def check_resume(config: TrainConfig) -> None:
    """DatasetError when there is no checkpoint to resume, or when it was started with other RESUME_FIXED
    settings (recorded by record_start; a checkpoint made before they were recorded is not checked)."""
    checkpoint_dir = Path(config.out) / "checkpoint"
    if not checkpoint_dir.is_dir() and (Path(config.out) / "run.json").is_file():
        raise DatasetError(f"--resume: no checkpoint in {checkpoint_dir}: the run there finished training; "
                           f"`python app.py train --finish {config.out}` writes its int8 model and report if they "
                           "are missing")
    if not checkpoint_dir.is_dir():
        raise DatasetError(f"--resume: no checkpoint in {checkpoint_dir}; start without --resume")
    record = checkpoint_dir / STARTED_WITH
    started = json.loads(record.read_text()) if record.is_file() else {}
    differ = [f"--{name} {started[name]} (not {getattr(config, name)})" for name, meaning in RESUME_FIXED.items()
              if name in started and meaning(started[name]) != meaning(getattr(config, name))]
    if differ:
        raise DatasetError(f"--resume: the checkpoint in {checkpoint_dir} was started with {' and '.join(differ)}; "
                           "resume with the settings it was started with, or start afresh without --resume")


def record_start(checkpoint_dir: Path, config: TrainConfig) -> None:
    """The settings a run started with, beside its checkpoint, for check_resume."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    settings = asdict(config)
    settings.pop("command")
    (checkpoint_dir / STARTED_WITH).write_text(json.dumps(settings, indent=2))


def finish(out: Path, data: str | None = None) -> Path:
    """Write the int8 model and the report of a run trained where TensorFlow was absent (`train --finish`).

    The run's settings, time and machine come from the run.json it left; `data` replaces its
    dataset path, which rarely exists on the machine that finishes it.
    """
    record_file = out / "run.json"
    if not record_file.is_file():
        raise DatasetError(f"--finish: no run.json in {out}; it is written by `python app.py train` at the end of a run")
    record = json.loads(record_file.read_text())
    config = TrainConfig(**{**record["settings"], "out": str(out), "command": record["command"]})
    if data:
        config.data = data
    model_path = out / "moodnet.keras"
    if not model_path.is_file():
        raise DatasetError(f"--finish: {out} holds no moodnet.keras")
    splits, report = prepare_data(config)
    complete(model_path, splits, report, config, record["minutes"], record["machine"])
    return model_path


def complete(model_path: Path, splits, report, config: TrainConfig, minutes: float, machine: str) -> None:
    if config.precision != "float32":
        save_as_float32(model_path)
    quantize(model_path, splits["train"], config.seed)
    write_report(model_path, splits, report, config, minutes, machine)


def record_run(out: Path, config: TrainConfig, minutes: float, machine: str) -> None:
    """run.json: how the model in `out` was made, for `--finish` and for anyone who finds the folder."""
    settings = asdict(config)
    command = settings.pop("command")
    (out / "run.json").write_text(json.dumps(
        {"command": command, "minutes": minutes, "machine": machine, "settings": settings}, indent=2))


def keras_on_tensorflow() -> bool:
    """The int8 model and the report need Keras on TensorFlow (its TFLite converter): not only
    TensorFlow installed, since KERAS_BACKEND=torch beside an installed TensorFlow fails there."""
    return keras.backend.backend() == "tensorflow"


def quantize(model_path: Path, train_split, seed: int) -> Path:
    """Write the int8 version that EmotionClassifier runs by default (model/lite.py says why here)."""
    from model.training.keras_model import emotion_model, write_int8

    return write_int8(emotion_model(model_path, "quantize"), model_path, calibration_faces(train_split, seed))


def training_split(splits: dict, command: str):
    """The training split that `command` (quantize, ensemble) calibrates its int8 model on; DatasetError
    when the data has none, before anything is written."""
    if "train" not in splits:
        raise DatasetError(f"{command} calibrates its int8 model on the training split, and the data has none "
                           f"(only {', '.join(splits)}); give fer2013.csv or a folder with train/")
    return splits["train"]


def calibration_faces(train_split, seed: int) -> np.ndarray:
    """CALIBRATION_FACES training faces, drawn at random: int8 activation ranges from the data the
    model learned on, never from validation or test faces."""
    from model.classifier import to_model_input

    count = min(CALIBRATION_FACES, len(train_split))
    picks = np.random.default_rng(seed).choice(len(train_split), count, replace=False)
    return to_model_input(list(train_split.images[picks]))


def prepare_data(config: TrainConfig):
    """Load FER2013, optionally drop faceless training images and add extra-images/; the faces as
    loaded, not yet light-normalised (light_normalised)."""
    splits, report = dataset.load_fer2013(config.data)
    if "train" not in splits or "validation" not in splits:
        raise DatasetError("training needs a train split and a validation split (PublicTest)")
    if config.limit:
        splits = {name: _first(split, config.limit) for name, split in splits.items()}
        for name in (name for name in splits if name != "train"):      # train's is counted once filtered
            report.kept[f"{name} (used, --limit {config.limit})"] = splits[name].class_counts()
    if config.filter_faces:
        from model.training.face_filter import keep_detectable
        splits["train"] = keep_detectable(splits["train"], config.detector, report, quiet=config.quiet)
    if config.extra:
        from model.training.extra import load_extra_images
        extra = load_extra_images(Path(config.extra_dir), config.detector, report)
        splits["train"] = dataset.Split(np.concatenate([splits["train"].images, extra.images]),
                                        np.concatenate([splits["train"].labels, extra.labels]))
        report.kept["extra"] = extra.class_counts()
    dataset.require_classes(splits["train"], "train")
    report.kept["train (used)"] = splits["train"].class_counts()
    return splits, report


def light_normalised(splits: dict) -> dict:
    """The training and validation faces that fit() learns from and scores epochs on, light-normalised
    here as EmotionClassifier normalises every face it reads. The splits themselves stay as loaded:
    the teacher, the int8 calibration and the report read them through EmotionClassifier, which
    normalises once (twice, on faces already normalised, scored 0.6996 for the shipped model where
    `evaluate` scores 0.6977)."""
    return {name: dataset.light_normalised(splits[name]) for name in ("train", "validation")}


def crowd_trained(train_split, config: TrainConfig):
    """The training split without the faces the FER+ crowd calls not-a-face, and its blended targets."""
    from model.training.ferplus import crowd_targets, read_votes

    targets, keep, counts = crowd_targets(train_split, read_votes(config.ferplus), config.ferplus_weight)
    print(f"FER+ votes ({config.ferplus_weight:.0%} of each target): " + ", ".join(f"{n} {what}" for what, n in counts.items()))
    return train_split.subset(keep), targets[keep]


def _first(split, limit: int):
    """A small class-balanced subset, for smoke runs: up to limit/7 images of each emotion."""
    per_class = max(1, limit // len(EMOTIONS))
    keep = np.concatenate([np.flatnonzero(split.labels == k)[:per_class] for k in range(len(EMOTIONS))])
    keep.sort()
    return split.subset(keep)


def build_network(config: TrainConfig):
    from model.training.network import build_model

    return build_model(widths=parse_widths(config.widths))


def with_distortions(network, config: TrainConfig):
    """The network behind the training distortions, as one graph to fit: the "graph" pipeline.

    Keras' random layers act only in training, so validation sees plain faces; the network
    itself is what gets saved (SaveBest), never this wrapper.
    """
    from model.training.network import INPUT_SHAPE, augmenter

    return keras.Sequential([keras.Input(INPUT_SHAPE), augmenter(seed=config.seed, erasing=config.erasing), network],
                            name="distorted_" + network.name)


def compile_for_training(model, config: TrainConfig, steps_per_epoch: int) -> None:
    """AdamW with one warm-up epoch then cosine decay to zero over the run; label smoothing."""
    total = max(steps_per_epoch * config.epochs, 2)
    warmup = min(steps_per_epoch, total // 2)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, total - warmup, alpha=0.0, warmup_target=config.learning_rate, warmup_steps=warmup)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
                  metrics=["accuracy"])


def start_from(model, path: Path) -> None:
    """Fine-tune: a further cosine cycle from a trained model's weights (warm restart).

    On two CPU cores one session holds about 25 epochs; a warm restart lets a second session
    carry a model further instead of starting over.
    """
    from model.training.keras_model import emotion_model
    from model.training.network import is_ensemble
    from model.errors import ModelFileError

    start = emotion_model(path, "--init")
    if is_ensemble(start):
        raise ModelFileError(f"--init {path} is an ensemble made by `app.py ensemble`; start from one of "
                             f"its members (or use it as --teacher)")
    try:
        model.set_weights(start.get_weights())
    except ValueError as error:
        raise ModelFileError(f"--init {path} does not fit this network (pass the --widths it was trained with): "
                             f"{error}") from None


def chosen_precision(precision: str) -> str:
    """"auto": bfloat16 mixed precision where the CPU has bfloat16 instructions (16-40% faster
    training, bench/train_speed.py), float32 elsewhere (where emulated bf16 is several times slower)."""
    if precision != "auto":
        return precision
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "float32"
    return "mixed_bfloat16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "float32"


def chosen_pipeline(pipeline: str) -> str:
    """"auto": tf.data under TensorFlow (distortions overlap the training step on other cores),
    the graph elsewhere (JAX and PyTorch have no tf.data; on a GPU the distortions run there)."""
    if pipeline == "auto":
        return "tf.data" if keras.backend.backend() == "tensorflow" else "graph"
    if pipeline not in ("tf.data", "graph"):
        raise DatasetError(f"pipeline: choose auto, tf.data or graph, not {pipeline!r}")
    return pipeline


def save_as_float32(model_path: Path) -> None:
    """Rewrite a model file whose layers compute in mixed precision as a plain float32 one (load_model
    converts it): what SaveBest saved before it saved float32, finished now by `train --finish`.

    Its weights are float32 already; only the layers' compute policy changes, so that the
    shipped model runs at full speed on CPUs without bfloat16 units (where bf16 is far slower).
    """
    from model.training.keras_model import load_model

    load_model(model_path).save(model_path)


def fit(trainee, network, splits, config: TrainConfig, out: Path, targets: np.ndarray | None = None) -> None:
    """Fit `trainee` (the network, or the network behind its distortions) and keep the `network`
    of the best validation epoch. `targets`: per-face training targets (distillation) in place of
    the one-hot labels."""
    history = out / "history.csv"
    callbacks = [
        keras.callbacks.BackupAndRestore(str(out / "checkpoint")),
        SaveBest(network, out / "moodnet.keras", best_so_far(out) if config.resume else -np.inf),
        *([EpochSeconds()] if _history_has_seconds(history, config.resume) else []),   # before the CSV log
        keras.callbacks.CSVLogger(str(history), append=config.resume),
    ]
    if config.pipeline == "tf.data":
        data = {"x": batches(splits["train"], config, shuffle=True, targets=targets),
                "validation_data": batches(splits["validation"], config, shuffle=False)}
    else:
        data = {"x": splits["train"].images[..., None].astype(np.float32),
                "y": one_hot(splits["train"]) if targets is None else targets,
                "batch_size": config.batch_size, "shuffle": True,
                "validation_data": (splits["validation"].images[..., None].astype(np.float32),
                                    one_hot(splits["validation"]))}
    try:
        trainee.fit(**data, epochs=config.epochs, callbacks=callbacks,
                    class_weight=class_weights(splits["train"].labels, config.class_weight),
                    verbose=0 if config.quiet else 1)
    except KeyboardInterrupt:
        raise TrainingInterrupted(f"interrupted; the last finished epoch is saved in {out / 'checkpoint'}; "
                                  f"carry on with the same command and --resume") from None


def training_minutes(history: Path) -> float | None:
    """The minutes every epoch of a resumed run took, over all its sessions (history.csv's seconds);
    None where an epoch's seconds were not logged (runs started before they were)."""
    with history.open(newline="") as rows:
        seconds = [row.get("seconds") for row in csv.DictReader(rows)]
    return sum(map(float, seconds)) / 60 if seconds and all(seconds) else None


def _history_has_seconds(history: Path, resume: bool) -> bool:
    """A resumed run appends to its history.csv, so it logs seconds only where that file's header
    has the column (runs started before it existed lack it, and rows must match the header)."""
    if not (resume and history.is_file()):
        return True
    return "seconds" in history.read_text().split("\n", 1)[0].split(",")


def one_hot(split) -> np.ndarray:
    return np.eye(len(EMOTIONS), dtype=np.float32)[split.labels]


def best_so_far(out: Path) -> float:
    """The best val_accuracy of the epochs before a resume (history.csv), the score a resumed epoch must
    beat to replace the moodnet.keras they saved; -inf where there is no such model or history."""
    history = out / "history.csv"
    if not ((out / "moodnet.keras").is_file() and history.is_file()):
        return -np.inf
    with history.open(newline="") as rows:
        return max((float(row["val_accuracy"]) for row in csv.DictReader(rows) if row.get("val_accuracy")),
                   default=-np.inf)


class SaveBest(keras.callbacks.Callback):
    """ModelCheckpoint(save_best_only) for the network alone, also when it is fitted behind its
    distortions: the saved model is always the plain network that `predict` runs, in float32 whatever
    the run's precision. `best`: the score to beat, the best of the epochs before a resume (best_so_far)."""

    def __init__(self, network, path: Path, best: float = -np.inf):
        super().__init__()
        self.network, self.path, self.best = network, path, best
        self.float32_copy = None

    def on_epoch_end(self, epoch, logs=None):
        score = (logs or {}).get("val_accuracy", -np.inf)
        if score > self.best:
            self.best = score
            self.float32_network().save(self.path)

    def float32_network(self):
        """The network itself where it computes in float32; under mixed precision a float32 copy with its
        present weights, so that the file a stopped run leaves is one every command can use."""
        from model.training.keras_model import as_float32

        if self.float32_copy is None:
            self.float32_copy = as_float32(self.network)
        elif self.float32_copy is not self.network:
            self.float32_copy.set_weights(self.network.get_weights())
        return self.float32_copy


class EpochSeconds(keras.callbacks.Callback):
    """Adds each epoch's wall time (validation included) to the logs, so history.csv records it."""

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = round(time.perf_counter() - self.started, 2)


class TrainingInterrupted(RuntimeError):
    """Ctrl+C during training: the checkpoint of the last finished epoch is kept."""


def parse_widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in str(text).split(","))
    except ValueError:
        widths = ()
    if not 1 <= len(widths) <= 4 or min(widths) < 4:
        raise DatasetError(f"--widths: expected 1 to 4 comma-separated channel counts >= 4, got {text!r}")
    return widths


def class_weights(labels: np.ndarray, how: str) -> dict[int, float] | None:
    """Loss weights per emotion. FER2013 has 16x more happy than disgust faces; "balanced" weighs
    each class by 1/frequency, "sqrt" by its square root (a milder push towards the rare
    classes that costs little overall accuracy), "none" leaves the data as it is."""
    if how == "none":
        return None
    counts = np.bincount(labels, minlength=len(EMOTIONS)).astype(float)
    weights = len(labels) / (len(EMOTIONS) * np.maximum(counts, 1))
    if how == "sqrt":
        weights = np.sqrt(weights)
    elif how != "balanced":
        raise DatasetError(f"--class-weight: choose none, sqrt or balanced, not {how!r}")
    weights /= (weights * counts).sum() / counts.sum()   # mean weight per image stays 1
    return {k: float(w) for k, w in enumerate(weights)}


def batches(split, config: TrainConfig, shuffle: bool, targets: np.ndarray | None = None):
    """A tf.data pipeline of (pixels, target probabilities: one-hot unless given); training
    batches are shuffled and distorted, then blended pairwise with `config.mixup`."""
    import tensorflow as tf
    from model.training.network import augmenter

    pixels = split.images[..., None]
    if targets is None:
        targets = one_hot(split)
    data = tf.data.Dataset.from_tensor_slices((pixels, targets))
    if shuffle:
        distort = augmenter(seed=config.seed, erasing=config.erasing)
        data = data.shuffle(len(pixels), seed=config.seed, reshuffle_each_iteration=True).batch(config.batch_size)
        if config.light:
            data = data.map(light_distortion(config), num_parallel_calls=tf.data.AUTOTUNE)
        data = data.map(lambda x, y: (distort(tf.cast(x, tf.float32), training=True), y),
                        num_parallel_calls=tf.data.AUTOTUNE)
        if config.mixup:
            from model.training.mixup import mixed_up
            data = mixed_up(data, config.mixup, config.seed)
    else:
        data = data.batch(config.batch_size)
    return data.prefetch(tf.data.AUTOTUNE)


def light_distortion(config: TrainConfig):
    """A tf.data map that puts `config.light` of each batch's faces under model/training/photometric.py's
    distortions and re-normalises them with the run time's own `normalise_light` (numpy, not a
    second implementation in TensorFlow ops)."""
    import tensorflow as tf
    from model.training.photometric import distort_light

    rng = np.random.default_rng(config.seed)

    def distort(pixels, targets):
        out = tf.numpy_function(lambda batch: distort_light(batch, config.light, rng, config.light_kinds), [pixels], tf.uint8)
        out.set_shape(pixels.shape)
        return out, targets

    return distort


def write_report(model_path: Path, splits, load_report, config: TrainConfig, minutes: float, machine: str) -> None:
    """REPORT.md beside the model, with the training curves, and the exact command, settings and
    machine of the run."""
    from model.training.evaluate import plot_history
    from model.training.reporting import write_model_report

    out = model_path.parent
    plot_history(out / "history.csv", out / "curves.png")
    settings = asdict(config)
    settings.pop("command")
    write_model_report(out, model_path, splits, load_report, command=config.command, minutes=minutes,
                       settings=settings, machine=machine, curves=True)


def machine_description() -> str:
    """The CPU, and the GPU where Keras trained on one: the report says where each model was made."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpus = ", ".join(accelerators())
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, Keras {keras.__version__} on {keras.backend.backend()}"
            + (f", GPU: {gpus}" if gpus else ", no GPU"))


def accelerators() -> list[str]:
    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        return [device.device_kind for device in jax.devices() if device.platform == "gpu"]
    if backend == "torch":
        import torch
        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    if backend == "tensorflow":
        import tensorflow as tf
        return [device.name for device in tf.config.list_logical_devices("GPU")]
    return []
