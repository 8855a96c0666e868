"""Every setting of `app.py start` in one table: name, default, bounds and help.

The CLI is built from this table (`add_arguments`) and so is the README's option list
(`markdown_table`), so the two cannot drift apart.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

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
    Setting("model", None, "emotion model: a .keras file made by `app.py train` or `app.py ensemble` "
            "(default: the shipped model)", metavar="PATH"),
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
    Setting("quiet", False, "no live status line and no summary", bool),
)


def bounded(setting: Setting):
    """An argparse type that converts and checks the bounds, with the setting's name in errors."""
    def convert(text: str):
        value = setting.kind(text)
        if (setting.low is not None and value < setting.low) or (setting.high is not None and value > setting.high):
            raise argparse.ArgumentTypeError(f"--{setting.name} must be between {setting.low:g} and {setting.high:g}")
        return value
    convert.__name__ = setting.kind.__name__
    return convert


def add_arguments(parser: argparse.ArgumentParser, settings=START_SETTINGS) -> None:
    for setting in settings:
        option = f"--{setting.name}"
        if setting.flag:
            parser.add_argument(option, action="store_true", help=setting.help)
        elif setting.choices:
            parser.add_argument(option, default=setting.default, choices=setting.choices,
                                help=f"{setting.help} (default: {setting.default})")
        else:
            default = "" if setting.default is None else f" (default: {setting.default})"
            parser.add_argument(option, default=setting.default, type=bounded(setting),
                                metavar=setting.metavar, help=setting.help + default)


def markdown_table(settings=START_SETTINGS) -> str:
    """The settings as a README table."""
    lines = ["| option | default | help |", "| --- | --- | --- |"]
    for setting in settings:
        default = "off" if setting.flag else ("-" if setting.default is None else f"`{setting.default}`")
        extra = f" ({', '.join(setting.choices)})" if setting.choices else ""
        lines.append(f"| `--{setting.name}` | {default} | {setting.help}{extra} |")
    return "\n".join(lines)
