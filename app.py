"""Moodlog's front door: one subcommand per job, each a thin call into model/, capture/ or dashboard/."""

from __future__ import annotations

import sys

try:                                     # Ctrl+C in the first milliseconds: a clean stop here too
    import argparse
    import contextlib
    import os
    import shlex
    import signal
    import threading
    from pathlib import Path
except KeyboardInterrupt:
    print("stopped", file=sys.stderr)
    sys.exit(130)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Every Ctrl+C (SIGINT) that reached this process before a command put its own handler in place
# (remember_interrupts): Python drops a KeyboardInterrupt raised where it cannot propagate ("Exception
# ignored in ..." during an import), and without this record the command would run on as if never stopped.
INTERRUPTS: list[int] = []


def needs_training_tools(command: str, *modules: str) -> None:
    """Training-side commands need what requirements-train.txt adds to the run time's install;
    say so in one line instead of a ModuleNotFoundError."""
    import importlib.util

    from model.errors import MoodlogError

    missing = [name for name in modules or ("tensorflow", "keras") if importlib.util.find_spec(name) is None]
    if missing:
        requirements = Path(__file__).resolve().parent / "requirements-train.txt"
        raise MoodlogError(f"`{command}` needs the training tools ({', '.join(missing)} missing): "
                           f"{shlex.quote(sys.executable)} -m pip install -r {shlex.quote(str(requirements))}")


def train_command(args) -> int:
    needs_training_tools("train", "tensorflow", "keras", "matplotlib", "pandas")

    from model.training.train import TrainConfig, TrainingInterrupted, finish, train

    stop_if_interrupted()
    if args.finish:
        path = finish(Path(args.finish), args.data)
        print(f"int8 model and report written beside {path}")
        return 0
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops like Ctrl+C: checkpoint kept
    config = TrainConfig(**{k: v for k, v in vars(args).items()
                            if k in TrainConfig.__dataclass_fields__ and k != "command" and v is not None})
    try:
        path = train(config)
    except TrainingInterrupted as stop:
        print(f"\n{stop}", file=sys.stderr)
        return 130
    report = path.parent / "REPORT.md"
    print(f"model saved to {path}" + (f"; report in {report}" if report.is_file() else ""))
    return 0


def evaluate_command(args) -> int:
    needs_training_tools("evaluate", "matplotlib", *(("tensorflow", "keras") if args.runtime in ("keras", "tflite") else ()))
    from model.training.evaluate_cli import evaluate_model

    stop_if_interrupted()
    evaluate_model(args.data, args.model, Path(args.report) if args.report else None, split_names=args.split,
                   runtime=args.runtime, whole_image=args.whole_image, detector=args.detector, quiet=args.quiet)
    return 0


def quantize_command(args) -> int:
    needs_training_tools("quantize")
    from model.classifier import DEFAULT_MODEL
    from model.training.keras_model import require_emotions

    require_emotions(Path(args.model) if args.model else DEFAULT_MODEL, "quantize")   # before TensorFlow and FER2013
    from model.training.dataset import load_fer2013
    from model.training.train import check_number, quantize, training_split

    check_number("seed", args.seed)

    stop_if_interrupted()
    splits, _ = load_fer2013(args.data)
    path = quantize(Path(args.model) if args.model else DEFAULT_MODEL, training_split(splits, "quantize"), args.seed)
    print(f"int8 model written to {path}")
    return 0


def ensemble_command(args) -> int:
    needs_training_tools("ensemble", "tensorflow", "keras", "matplotlib")
    from model.training.ensemble import build_ensemble

    stop_if_interrupted()
    path = build_ensemble(args.models, Path(args.out), args.data, args.seed)
    print(f"ensemble saved to {path}; report in {path.parent / 'REPORT.md'}")
    return 0


def predict_command(args) -> int:
    from model.predict import predict_files
    from model.recognizer import Recognizer, refuse_detector_with_whole_image, warn_of_problems
    from model.classifier import EmotionClassifier
    from model.faces import PHOTO_DETECTOR
    from model.errors import MoodlogError

    refuse_detector_with_whole_image(args.whole_image, args.detector)
    if args.min_face < 1:
        raise MoodlogError(f"--min-face: the smallest face side to classify must be at least 1 pixel, not {args.min_face}")
    recognizer = Recognizer(EmotionClassifier(args.model), args.detector or PHOTO_DETECTOR, min_face=args.min_face,
                            whole_image=args.whole_image)
    stop_if_interrupted()
    warn_of_problems(recognizer)
    failures = predict_files(args.images, recognizer, Path(args.out) if args.out else None, args.json,
                             max_pixels=int(args.max_megapixels * 1_000_000))
    return 2 if failures else 0


def teach_command(args) -> int:
    needs_training_tools("teach", "tensorflow", "keras", "sklearn", "matplotlib")
    from model.training.teach import teach
    from model.training.teach_progress import progress_reporter

    stop_if_interrupted()
    out = Path(args.out) if args.out else Path("data") / "models" / Path(args.photos).resolve().name
    with progress_reporter(args.quiet, args.status) as report:
        def progress(*step) -> None:     # teach imports Keras and scikit-learn on its way: check again at each step
            stop_if_interrupted()
            report(*step)

        result = teach(Path(args.photos), out, base=Path(args.base) if args.base else None, detector=args.detector,
                       people_csv=Path(args.people) if args.people else None, person_pattern=args.person,
                       folds=args.folds, seed=args.seed, progress=progress)
    metrics, taught = result.metrics, result.taught
    print(f"taught {len(taught.labels)} labels ({', '.join(taught.labels)}) from {len(taught.targets)} faces"
          + (f"; {len(taught.dropped)} photo(s) without a usable face left out" if taught.dropped else "")
          + f" in {result.seconds['total']:.0f} s")
    print(f"{len(result.fold_accuracies)}-fold cross-validated accuracy {metrics.accuracy:.3f}, macro-F1 "
          f"{metrics.macro_f1:.3f}; recall " + ", ".join(f"{n} {r:.2f}" for n, r in zip(taught.labels, metrics.recall)))
    print(f"model: {result.model_path}; report: {result.model_path.parent / 'REPORT.md'}")
    print(f"use it: python app.py start 0 --model {shlex.quote(str(result.model_path))}")
    return 0


def add_teach(commands) -> None:
    teach = commands.add_parser(
        "teach", help="teach your own labels (e.g. smile / pout / neutral) from a few dozen photos each",
        description="PHOTOS holds one sub-folder of photos (or face crops) per label, two labels or more, at least "
                    "5 usable faces each (20 or more advised). Faces are found and cropped as at run time; the "
                    "shipped network's learnt features are reused with a new head (seconds, not hours). Reports "
                    "k-fold cross-validated accuracy, macro-F1, per-label recall and a confusion matrix, and writes "
                    "a model file that start, predict, evaluate and dashboard take with --model.",
        epilog="example: python app.py teach photos/ --out data/models/smiles --person '^(\\w+?)[-_]'")
    teach.add_argument("photos", help="folder with one sub-folder of photos per label: PHOTOS/<label>/*.jpg")
    teach.add_argument("--out", help="folder for the model and its report (default: data/models/<PHOTOS name>)")
    who = teach.add_mutually_exclusive_group()
    who.add_argument("--person", metavar="REGEX",
                       help="who is in each photo, from its file name: the regular expression's first group "
                            "(e.g. '^(subject\\d+)'); cross-validation then keeps each person's photos together")
    who.add_argument("--people", metavar="CSV", help="who is in each photo, from a CSV with the columns file,person "
                                                     "(file: label/name.jpg, or name.jpg where names are unique)")
    teach.add_argument("--folds", type=bounded_number("folds", int, 2, 20), default=5,
                       help="cross-validation folds (default 5; fewer when a label has fewer faces)")
    teach.add_argument("--base", metavar="MODEL", help="the network whose features are reused (default: the shipped model)")
    teach.add_argument("--detector", help="face detector (default: blazeface-tiles, as predict)")
    teach.add_argument("--seed", type=int, default=1, help="random seed of the folds (default 1)")
    teach.add_argument("--status", metavar="FILE",
                       help="also write the progress as JSON to FILE (what the dashboard's Teach page reads)")
    teach.add_argument("--quiet", action="store_true", help="no progress bars")
    teach.set_defaults(handler=teach_command)


def add_train(commands) -> None:
    train = commands.add_parser(
        "train", help="train the emotion model on FER2013",
        description="Train the emotion CNN. Writes model/weights/moodnet.keras (best epoch on validation), "
                    "REPORT.md, confusion.png, curves.png and history.csv. Ctrl+C keeps a checkpoint.",
        epilog="example: python app.py train --data data/fer2013.csv --epochs 30")
    train.add_argument("--data", help="fer2013.csv or a folder with train/ validation/ test/ "
                                      "(default: $MOODLOG_FER2013, else data/)")
    train.add_argument("--out", help="folder for the model, report and checkpoints (default: model/weights)")
    train.add_argument("--epochs", type=int, help="passes over the training data (default 50)")
    train.add_argument("--batch-size", type=int, help="faces per step (default 128)")
    train.add_argument("--learning-rate", type=float, help="peak AdamW learning rate (default 0.002)")
    train.add_argument("--widths", help="channels of each network stage (default 16,32,96,192)")
    train.add_argument("--class-weight", choices=("none", "sqrt", "balanced"),
                       help="weigh rare emotions up in the loss (default sqrt)")
    train.add_argument("--erasing", type=float, metavar="P",
                       help="blank a random patch of this share of training faces (random erasing; default 0)")
    train.add_argument("--seed", type=int, help="random seed (default 1)")
    train.add_argument("--extra", action="store_true", help="also train on extra-images/<emotion>/*")
    train.add_argument("--extra-dir", metavar="DIR", help="where --extra looks (default: extra-images/)")
    train.add_argument("--filter-faces", action="store_true",
                       help="drop training images in which the detector finds no face")
    train.add_argument("--detector", help="face detector for --extra and --filter-faces (default: the run-time one)")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run from its checkpoint")
    train.add_argument("--init", metavar="MODEL",
                       help="start from this trained model's weights (a warm restart that fine-tunes it further)")
    train.add_argument("--teacher", metavar="MODEL",
                       help="distil: train towards this model's probabilities (e.g. an ensemble) as well as the labels")
    train.add_argument("--distill", type=float, metavar="W",
                       help="with --teacher, the teacher's share of each target, 0-1 (default 0.5)")
    train.add_argument("--ferplus", metavar="CSV",
                       help="train towards the FER+ crowd votes as well as FER2013's labels (FER+ labels.csv joined "
                            "to the image folders' files, e.g. ../shared/datasets/ferplus/labels.csv)")
    train.add_argument("--ferplus-weight", type=float, metavar="W",
                       help="with --ferplus, the crowd's share of each target, 0-1 (default 0.5)")
    train.add_argument("--light", type=float, metavar="P",
                       help="share of training faces put under random exposure, gamma, noise, blur and JPEG "
                            "before light normalisation, 0-1 (default 0)")
    train.add_argument("--light-kinds", type=lambda text: tuple(word.strip() for word in text.split(",") if word.strip()),
                       metavar="KINDS", help="with --light, which distortions, comma-separated: dim, bright (clipped), "
                                             "gamma, noise, blur, jpeg (default: all)")
    train.add_argument("--mixup", type=float, metavar="ALPHA",
                       help="train on blends of two faces towards the same blend of their labels, each blend's share "
                            "drawn from Beta(ALPHA, ALPHA) (mixup; e.g. 0.2-0.4; default 0: none)")
    train.add_argument("--precision", choices=("auto", "float32", "mixed_bfloat16"),
                       help="mixed_bfloat16 trains faster on CPUs with AVX512-BF16 or AMX, slower elsewhere; "
                            "auto picks by the CPU (default auto; the saved model is float32 either way)")
    train.add_argument("--threads", type=int, help="CPU threads for TensorFlow (default: all cores)")
    train.add_argument("--limit", type=int, help="use at most N images per split, balanced (smoke runs)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.add_argument("--finish", metavar="DIR",
                       help="write the int8 model and report of a run trained without TensorFlow "
                            "(KERAS_BACKEND=jax or torch, e.g. on a GPU); --data says where FER2013 is here")
    train.set_defaults(handler=train_command)


def add_evaluate(commands) -> None:
    evaluate = commands.add_parser(
        "evaluate", help="score a model on labelled faces or photos",
        description="Accuracy, macro-F1 (over the emotions present), per-class recall and precision, confusion "
                    "matrix. Photos (any image not 48x48) are read as `predict` reads them: the largest readable "
                    "face counts, and a photo without one counts as wrong. 48x48 face crops go to the classifier.",
        epilog="example: python app.py evaluate --data data/fer2013.csv --report out/")
    evaluate.add_argument("--data", help="fer2013.csv or a folder of splits, or one folder of <emotion>/ "
                                         "sub-folders (default: $MOODLOG_FER2013, else data/)")
    evaluate.add_argument("--model", help="a .keras model (default: the shipped model)")
    evaluate.add_argument("--split", action="append", help="which split(s) to score (default: test, or all there are)")
    evaluate.add_argument("--report", help="also write REPORT.md and confusion.png into this folder")
    evaluate.add_argument("--runtime", default="auto", choices=["auto", "int8", "tflite", "keras"],
                          help="auto (default, as at run time): int8 when `train` wrote it, else tflite")
    evaluate.add_argument("--whole-image", action="store_true",
                          help="each image is one face: classify it whole, with no face detection (the default "
                               "for 48x48 faces such as FER2013; photos otherwise go through the detector)")
    evaluate.add_argument("--detector", help="face detector for photos (default: blazeface-tiles, as predict)")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar while reading photos")
    evaluate.set_defaults(handler=evaluate_command)


def add_quantize(commands) -> None:
    quantize = commands.add_parser(
        "quantize", help="write the int8 version of a model (train does this itself)",
        description="Writes <model>-<hash>.int8.tflite beside the model, its activation ranges calibrated "
                    "on 1,000 FER2013 training faces; EmotionClassifier then runs it by default (about "
                    "3-4x faster, within 0.2 points of test accuracy; bench/quantize.py).",
        epilog="example: python app.py quantize --model out/moodnet.keras --data data/fer2013.csv")
    quantize.add_argument("--model", help="a .keras model (default: the shipped model)")
    add_calibration_options(quantize, needs="train/")
    quantize.set_defaults(handler=quantize_command)


def add_calibration_options(command, needs: str) -> None:
    """--data and --seed of the commands that write an int8 model, calibrated on training faces."""
    command.add_argument("--data", help=f"fer2013.csv or a folder with {needs} (default: $MOODLOG_FER2013, else data/)")
    command.add_argument("--seed", type=int, default=1, help="which training faces calibrate int8 (default 1)")


def add_ensemble(commands) -> None:
    ensemble = commands.add_parser(
        "ensemble", help="fuse trained models into one that averages them",
        description="Fuses two or more models trained by `train` into one model file whose probabilities are "
                    "the mean of theirs (more accurate than any one member; bench/ensemble.py), writes its int8 "
                    "version and a report scored on validation and test, and keeps each member's report.",
        epilog="example: python app.py ensemble run1/moodnet.keras run2/moodnet.keras --out model/weights")
    ensemble.add_argument("models", nargs="+", help="two or more .keras models from `train`")
    ensemble.add_argument("--out", default="model/weights",
                          help="folder for the fused model and its report (default: model/weights, the shipped model)")
    add_calibration_options(ensemble, needs="train/ validation/ test/")
    ensemble.set_defaults(handler=ensemble_command)


def add_predict(commands) -> None:
    predict = commands.add_parser(
        "predict", help="find faces in photos and read their emotions",
        description="Prints each face with its emotion and probabilities; --out writes annotated copies. A file "
                    "that cannot be read is named on stderr and skipped, and the exit status is then 2.",
        epilog="example: python app.py predict photo.jpg --out annotated/")
    predict.add_argument("images", nargs="+", help="image files (jpg, png, webp, bmp, tiff, gif)")
    predict.add_argument("--out", help="folder for the annotated images")
    predict.add_argument("--json", action="store_true", help="print JSON instead of text")
    predict.add_argument("--model", help="a .keras model (default: the shipped model)")
    predict.add_argument("--detector", help="face detector (default: blazeface-tiles, which also finds the small "
                                            "faces of group photos)")
    predict.add_argument("--min-face", type=int, default=32, help="smallest face side in pixels to classify (default 32)")
    predict.add_argument("--max-megapixels", type=bounded_number("max-megapixels", float, 1, 200), default=40,
                         metavar="MP",
                         help="largest image to decode, in megapixels (default 40; up to 200 for 48-50 MP phone "
                              "photos and panoramas: each megapixel costs about 3 MB of memory)")
    predict.add_argument("--whole-image", action="store_true",
                         help="each image is already one face (a face crop, a face dataset): skip detection")
    predict.set_defaults(handler=predict_command)


def start_command(args) -> int:
    from capture.daemon import CaptureOptions, StartInterrupted, run

    if is_batch(args):
        return batch_command(args)
    args.device = args.device[0]
    server = serve_dashboard_beside(args.db, args.model, args.port) if args.dashboard else None
    args.dashboard_url = f"http://127.0.0.1:{server.effective_port}/" if server is not None else None
    options = CaptureOptions(**{name: getattr(args, name) for name in CaptureOptions.__dataclass_fields__})
    stop = threading.Event()
    with stop_on_signals_since_start(stop, quiet=True, then_ignore=True):   # a late Ctrl+C cannot cut the summary short
        try:
            summary = run(options, stop=stop)
        except StartInterrupted as stopped:
            print(stopped, file=sys.stderr)
            return 130
        if not args.quiet:
            print(summary.text())
    if server is not None and summary.status == "finished":
        keep_serving_until_interrupted(server)
    if summary.error:
        raise summary.error
    return 0


def is_batch(args) -> bool:
    """Several inputs, a folder, or a batch option: one session per file, on worker processes."""
    from pathlib import Path

    return (len(args.device) > 1 or Path(args.device[0]).is_dir() or args.workers > 1
            or args.engine not in (None, "local") or args.cluster is not None)


def batch_command(args) -> int:
    from capture.batch import run_batch
    from capture.daemon import CaptureOptions
    from capture.status import BatchProgress
    from model.errors import MoodlogError

    for refused in ("dashboard", "preview", "markers_port"):
        if getattr(args, refused) is not None and getattr(args, refused) is not False:   # 0 is a port too
            raise MoodlogError(f"--{refused.replace('_', '-')} is for one live source, not a batch of files")
    fields = {name: getattr(args, name) for name in CaptureOptions.__dataclass_fields__
              if name not in ("device", "dashboard_url")}
    options = CaptureOptions(device="", **fields)
    stop = threading.Event()
    with stop_on_signals_since_start(stop, quiet=True, then_ignore=True):
        summary = run_batch(args.device, options, workers=args.workers, engine=args.engine, cluster=args.cluster,
                            stop=stop, progress=BatchProgress(args.quiet), again=args.again)
    if not args.quiet:
        print(summary.text())
    elif summary.quiet_text():                           # --quiet silences progress, never a failure
        print(summary.quiet_text(), file=sys.stderr)
    return 2 if summary.failed else 0                    # a stop (Ctrl+C) is 0, as for one source


def serve_dashboard_beside(db_path, model=None, port: int = 8050):
    """Serve the dashboard on a background thread while the daemon captures (--dashboard), its
    uploads recognised with the capture's model.

    The log is created first, so that the dashboard has tables to read from its first request.
    """
    from capture.log import open_log
    from capture.settings import DEFAULT_DB
    from dashboard.app import serve_in_background

    # The port first: when it is taken, nothing is left behind (no empty log).
    server = serve_in_background(db_path, port=port, model=model)
    try:
        open_log(db_path, make_folder=str(db_path) == DEFAULT_DB).close()
    except BaseException:
        server.close()
        raise
    return server


def keep_serving_until_interrupted(server) -> None:
    """A file was analysed to its end: leave its charts up until Ctrl+C, as the original design did."""
    print("capture finished; the dashboard stays up until Ctrl+C", flush=True)
    stop = threading.Event()
    with stop_on_signals_since_start(stop, quiet=True):
        while not stop.wait(0.5):
            pass
    server.close()


def add_start(commands) -> None:
    from capture.settings import add_arguments

    start = commands.add_parser(
        "start", help="capture a camera, video file or stream and log every face's emotion to SQLite",
        description="Logs one row per classified face (UTC time, box, emotion, probabilities) into --db; "
                    "never stores frames. Ctrl+C or SIGTERM stops after flushing every row. "
                    "Exit codes: 0 done, 2 device not opened or lost for good.",
        epilog="examples: python app.py start 0 | python app.py start video.mp4 --db data/test.db | "
               "python app.py start rtsp://camera/stream --fps 10 --smooth | "
               "python app.py start videos/ --workers 2 --label study=S1")
    start.add_argument("device", nargs="+", help="webcam index (0, 1...), video file, or stream URL (rtsp://, "
                       "http://); several files or folders of them make a batch: one session per file")
    add_arguments(start)
    start.set_defaults(handler=start_command)


def markers_command(args) -> int:
    from capture.log import add_markers, open_log
    from capture.markers import read_marker_csv

    markers = read_marker_csv(args.csv)                  # a bad file is refused before the log opens
    db = open_log(args.db, must_exist=True)
    added = add_markers(db, args.session, markers, source="csv")
    already = len(markers) - added                      # identical to a marker the session has: not added again
    print(f"{added} markers added to session {args.session} of {args.db}"
          + (f"; {already} already there, not added again" if already else ""))
    return 0


def add_markers_command(commands) -> None:
    markers = commands.add_parser(
        "markers", help="add timeline markers to a session from a CSV file (time,label)",
        description="Reads a CSV with the header `time,label`. A time is a position in the video (seconds, mm:ss "
                    "or h:mm:ss, e.g. 01:30.5) or a date and time (ISO 8601, e.g. 2026-11-29T14:03:05+01:00; "
                    "without an offset, local time). Markers are drawn on the History timeline, exported, and "
                    "split the session into segments for its summary. A marker the session already has (same "
                    "time, same label) is not added again, so running the command twice adds nothing the second time.",
        epilog="example: python app.py markers events.csv --session 3 --db data/moodlog.db")
    markers.add_argument("csv", help="the CSV file of markers")
    markers.add_argument("--session", type=int, required=True, help="the session id (the Sessions table shows it)")
    markers.add_argument("--db", default="data/moodlog.db", help="the SQLite log (default: data/moodlog.db)")
    markers.set_defaults(handler=markers_command)


def upgrade_command(args) -> int:
    from capture.log import SCHEMA_VERSION, open_log, schema_version

    before = schema_version(args.db)
    open_log(args.db, must_exist=True).close()
    if before == SCHEMA_VERSION:
        print(f"{args.db} already has the current layout ({SCHEMA_VERSION}); nothing to do")
    else:
        print(f"{args.db} upgraded in place from layout {before} to {SCHEMA_VERSION}; every row kept")
    return 0


def add_upgrade(commands) -> None:
    upgrade = commands.add_parser(
        "upgrade", help="upgrade a log written by an older Moodlog to the current layout, in place",
        description="Every command that writes a log upgrades it when it opens it; the dashboard only reads, so a "
                    "log that no daemon has opened since an update is upgraded with this. Rows are kept as they are.")
    upgrade.add_argument("--db", default="data/moodlog.db", help="the SQLite log (default: data/moodlog.db)")
    upgrade.set_defaults(handler=upgrade_command)


def dashboard_command(args) -> int:
    from dashboard.app import serve

    serve(args.db, host=args.host, port=args.port, auth=args.auth, model=args.model)
    return 0


def bounded_number(name: str, kind: type, low: float, high: float):
    """An argparse type refusing values outside [low, high] by the option's name, as `start`'s are."""
    from capture.settings import Setting, bounded

    return bounded(Setting(name, None, "", kind, low, high))


def add_dashboard(commands) -> None:
    dashboard = commands.add_parser(
        "dashboard", help="serve the web dashboard: history of the log, photo upload, model report",
        description="Reads --db (never writes it) and serves the dashboard with waitress. Photos uploaded "
                    "on the Recognize page are analysed in memory and never stored; photos added on the Teach page "
                    "are kept in data/teach/ ($MOODLOG_TEACH_DIR) on this machine until the page empties it.",
        epilog="example: python app.py dashboard --db data/moodlog.db --port 8050, then open http://127.0.0.1:8050/")
    dashboard.add_argument("--db", default="data/moodlog.db", help="the SQLite log to show (default: data/moodlog.db)")
    dashboard.add_argument("--host", default="127.0.0.1",
                           help="address to bind (default 127.0.0.1: this machine only). 0.0.0.0 exposes the "
                                "dashboard, its log and the upload page to every machine that can reach this one, "
                                "so it requires --auth")
    dashboard.add_argument("--port", type=bounded_number("port", int, 0, 65535), default=8050, help="TCP port, 0-65535 (default 8050; 0: any "
                                                                        "free port, printed)")
    dashboard.add_argument("--model", metavar="PATH", help="recognise uploads with this model (a .keras file made "
                           "by app.py train, ensemble or teach) and report on it (default: the shipped model)")
    dashboard.add_argument("--auth", metavar="USER:PASS",
                           help="require this login (HTTP basic auth); or set MOODLOG_DASHBOARD_AUTH. "
                                "Required for any --host other than loopback")
    dashboard.set_defaults(handler=dashboard_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py", description="Moodlog: facial-emotion analytics.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_train(commands)
    add_evaluate(commands)
    add_quantize(commands)
    add_ensemble(commands)
    add_teach(commands)
    add_predict(commands)
    add_start(commands)
    add_markers_command(commands)
    add_upgrade(commands)
    add_dashboard(commands)
    return parser


def main(argv=None) -> int:
    try:
        remember_interrupts()
        args = build_parser().parse_args(argv)
        from model.errors import MoodlogError

        try:
            return args.handler(args)
        except MoodlogError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    except KeyboardInterrupt:            # Ctrl+C before a command's own handling begins (imports, start-up)
        print("stopped", file=sys.stderr)
        return 130
    except ImportError:
        # A Ctrl+C that lands inside a C extension's import (NumPy's) comes out as that module's
        # ImportError, not as KeyboardInterrupt (seen once in CI, 50 ms into `start`).
        if not INTERRUPTS:
            raise
        print("stopped", file=sys.stderr)
        return 130


def stop_if_interrupted() -> None:
    """For commands that keep Python's own Ctrl+C handling: a Ctrl+C that Python swallowed during their
    imports (INTERRUPTS) stops them before their work begins, as one that got through would have."""
    if INTERRUPTS:
        raise KeyboardInterrupt


def remember_interrupts() -> None:
    """Ctrl+C raises KeyboardInterrupt as before, and is also noted in INTERRUPTS, so that an
    import it cut short can be told from a broken install, and a KeyboardInterrupt that Python swallowed
    still stops the command (stop_on_signals_since_start). Commands that handle signals themselves (the
    capture daemon) put their own handler in place and restore this one."""
    def interrupt(signum, _frame):
        INTERRUPTS.append(signum)
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():   # main() called from a test's thread: leave it
        signal.signal(signal.SIGINT, interrupt)
        sys.unraisablehook = _quiet_about_interrupts(sys.unraisablehook)


def _quiet_about_interrupts(default_hook):
    """An unraisable-exception hook that drops KeyboardInterrupt. A Ctrl+C that lands where Python
    cannot raise (a weakref callback of importlib's module locks, early in start-up) is swallowed and
    printed as "Exception ignored ... Traceback" (seen in CI, 50 ms into `start`); it is in INTERRUPTS
    and stops the command all the same, so the traceback only alarms."""
    def hook(unraisable):
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            default_hook(unraisable)
    return hook


@contextlib.contextmanager
def stop_on_signals_since_start(stop: threading.Event, **options):
    """capture.daemon.stop_on_signals (Ctrl+C, SIGTERM and SIGHUP set `stop`), which also sets `stop` for a Ctrl+C
    that came before it and that Python swallowed on its way (INTERRUPTS): checked once the handler is in
    place, so that no Ctrl+C falls between the two."""
    from capture.daemon import stop_on_signals

    with stop_on_signals(stop, **options):
        if INTERRUPTS:
            stop.set()
        yield


if __name__ == "__main__":
    sys.exit(main())
