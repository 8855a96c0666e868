"""Moodlog's front door: one subcommand per job, each a thin call into model/, capture/ or dashboard/."""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def train_command(args) -> int:
    from model.train import TrainConfig, train

    config = TrainConfig(**{k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__ and v is not None})
    path = train(config)
    print(f"model saved to {path}; report in {path.parent / 'REPORT.md'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py", description="Moodlog: facial-emotion analytics.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train the emotion model on FER2013",
                                epilog="example: python app.py train --data data/fer2013.csv --epochs 30")
    train.add_argument("--data", help="fer2013.csv or a folder with train/ validation/ test/ (default: data/)")
    train.add_argument("--out", help="folder for the model, its report and checkpoints (default: model/weights)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--learning-rate", type=float)
    train.add_argument("--width", type=int, help="channels of the first stage (default 16)")
    train.add_argument("--seed", type=int)
    train.add_argument("--extra", action="store_true", help="also train on extra-images/<emotion>/*")
    train.add_argument("--filter-faces", action="store_true", help="drop training images where no face is detected")
    train.add_argument("--detector", help="face detector for --extra and --filter-faces")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run from its checkpoint")
    train.add_argument("--threads", type=int, help="CPU threads for TensorFlow (default: all)")
    train.add_argument("--limit", type=int, help="use at most N images per split (smoke runs)")
    train.add_argument("--quiet", action="store_true")
    train.set_defaults(handler=train_command)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from model.errors import MoodlogError

    try:
        return args.handler(args)
    except MoodlogError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
