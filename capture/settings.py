"""Every setting of `app.py start` in one table: name, default, bounds and help.

The CLI is built from this table (`add_arguments`) and so is the README's option list
(`markdown_table`), so the two cannot drift apart.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

from model.errors import MoodlogError
from model.faces import DEFAULT_DETECTOR, DETECTORS
from model.recognizer import MIN_FACE

DEFAULT_DB = "data/moodlog.db"
DEFAULT_RECONNECT_SECONDS = 30.0


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str
    kind: type = str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    metavar: str | None = None

    @property
    def flag(self) -> bool:
        return self.kind is bool


START_SETTINGS = (
    Setting("db", DEFAULT_DB, "SQLite file to log to, created if missing (another program's database is refused)", metavar="PATH"),
    Setting("fps", None, "analyse at most N frames a second (files: every frame unless given)", float, 0.1, 1000, metavar="N"),
    Setting("detector", DEFAULT_DETECTOR, "face detector", str, choices=tuple(DETECTORS)),
    Setting("model", None, "emotion model: a .keras file made by `app.py train` or `app.py ensemble`, or one "
            "taught your own labels by `app.py teach` (default: the shipped model)", metavar="PATH"),
    Setting("min-face", MIN_FACE, "smallest face side in pixels that is classified; smaller faces are "
            "counted, not logged", int, 8, 4096, metavar="PX"),
    Setting("smooth", False, "smooth each tracked face's emotions over half a second, so the logged "
            "emotion does not flicker", bool),
    Setting("reconnect", DEFAULT_RECONNECT_SECONDS, "seconds to keep reopening a camera or stream that "
            "dropped, before giving up", float, 0, 7 * 24 * 3600, metavar="SECONDS"),
    Setting("preview", False, "show an annotated window (needs a display and an OpenCV with GUI)", bool),
    Setting("dashboard", False, "serve the dashboard on this database while capturing (uploads use --model too)", bool),
    Setting("port", 8050, "TCP port of --dashboard on 127.0.0.1 (0: any free port, printed)", int, 0, 65535,
            metavar="PORT"),
    Setting("label", (), "label the session NAME=VALUE (a value without a comma), stored, filterable and exported with it "
            "(repeat it: --label participant=P07 --label condition=B)", list, metavar="NAME=VALUE"),
    Setting("note", None, "a free-text note stored with the session", metavar="TEXT"),
    Setting("markers-port", None, "live sources: accept timeline markers on this port of 127.0.0.1 "
            "(curl -d label=start http://127.0.0.1:PORT/marker); keys pressed on the terminal mark too",
            int, 0, 65535, metavar="PORT"),
    Setting("workers", 1, "files: analyse this many at once, one process and one core each", int, 1, 1024,
            metavar="N"),
    Setting("engine", None, "files: spread them over local worker processes or a Dask cluster; local unless "
            "--cluster is given", str, choices=("local", "dask")),
    Setting("cluster", None, "files on Dask (--cluster implies --engine dask): the scheduler's address "
            "(tcp://host:8786), or 'local' for a Dask cluster of --workers processes on this machine "
            "(default with --engine dask: local)", metavar="ADDRESS"),
    Setting("again", False, "files: analyse again the files this log already holds a finished session of, made "
            "the same way (same file, size and time, model, sampling settings and labels); without it a batch "
            "skips them, so a batch run again adds only what is missing (`start FILE` alone always analyses)", bool),
    Setting("quiet", False, "no live status line and no summary; errors still go to stderr (a batch: each file that "
            "failed, and how many were not done)", bool),
)
# Settings that change which rows a run writes, recorded with each session (see SessionDetails).
RECORDED_SETTINGS = ("fps", "detector", "min_face", "smooth", "reconnect")
# Those that change a file's rows (--reconnect is for live sources only): a batch run again compares them.
SAMPLING_SETTINGS = tuple(name for name in RECORDED_SETTINGS if name != "reconnect")
LABEL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
LONGEST_LABEL_VALUE = 200


def session_label(text: str) -> tuple[str, str]:
    """'participant=P07' -> ('participant', 'P07'); argparse.ArgumentTypeError for anything else.

    Names are identifiers (a letter, then letters, digits, _ . -; at most 64), so they can be
    columns of an export and filters in a URL; values are any printable text up to 200 characters
    but a comma, which separates labels in the Sessions page's filter.
    """
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not LABEL_NAME.fullmatch(name):
        raise argparse.ArgumentTypeError(f"wants NAME=VALUE with a name of letters, digits, _ . - "
                                         f"(e.g. participant=P07), not {text!r}")
    if not value or len(value) > LONGEST_LABEL_VALUE or not value.isprintable():
        raise argparse.ArgumentTypeError(f"{name}= wants a value of 1-{LONGEST_LABEL_VALUE} printable "
                                         f"characters")
    if "," in value:        # the Sessions page's filter separates labels by commas: such a value could not be chosen
        raise argparse.ArgumentTypeError(f"{name}= wants a value without a comma (the Sessions page's label "
                                         f"filter separates labels with commas), not {value!r}")
    return name, value


def session_labels(pairs) -> dict[str, str]:
    """Pairs from repeated --label options -> {name: value}; a name given twice with two values is
    refused (MoodlogError)."""
    labels: dict[str, str] = {}
    for name, value in pairs or ():
        if name in labels and labels[name] != value:
            raise MoodlogError(f"--label {name} given twice ({labels[name]!r} and {value!r})")
        labels[name] = value
    return labels


def bounded(setting: Setting):
    """An argparse type that converts and checks the bounds (argparse puts the option's name before the error)."""
    def convert(text: str):
        value = setting.kind(text)
        if (setting.low is not None and value < setting.low) or (setting.high is not None and value > setting.high):
            raise argparse.ArgumentTypeError(f"must be between {setting.low:g} and {setting.high:g}")
        return value
    convert.__name__ = setting.kind.__name__
    return convert


def add_arguments(parser: argparse.ArgumentParser, settings=START_SETTINGS) -> None:
    for setting in settings:
        option = f"--{setting.name}"
        default = "" if setting.default is None else f" (default: {setting.default})"   # None: its help says
        if setting.flag:
            parser.add_argument(option, action="store_true", help=setting.help)
        elif setting.kind is list:
            parser.add_argument(option, action="append", default=[], type=session_label,
                                metavar=setting.metavar, help=setting.help)
        elif setting.choices:
            parser.add_argument(option, default=setting.default, choices=setting.choices, help=setting.help + default)
        else:
            parser.add_argument(option, default=setting.default, type=bounded(setting),
                                metavar=setting.metavar, help=setting.help + default)


def markdown_table(settings=START_SETTINGS) -> str:
    """The settings as a README table."""
    lines = ["| option | default | help |", "| --- | --- | --- |"]
    for setting in settings:
        default = "off" if setting.flag else ("-" if setting.default in (None, ()) else f"`{setting.default}`")
        extra = f" ({', '.join(setting.choices)})" if setting.choices else ""
        lines.append(f"| `--{setting.name}` | {default} | {setting.help}{extra} |")
    return "\n".join(lines)
