"""The Teach page's photos and its one background job, kept apart from the page layout.

Photos a user adds are the only images the dashboard ever writes: each is checked as an upload is
on the Recognize page (size, pixel count, a readable face), then kept under one folder
(`data/teach/` by default: `photos/<label>/<sha1>.<ext>`, `models/<when>/`) that the page can empty.
File names are the content's hash, never the user's, and a label must pass `check_label`, so
nothing a user sends can name a path outside that folder.

Teaching runs `python app.py teach` in a child process: the dashboard itself never imports
TensorFlow (the run time stays lean), a cancel is a terminate, and a crash of the teaching cannot
take the server down. The child writes its progress to `status.json`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from dashboard.uploads import MAX_UPLOAD_PIXELS, UploadError, analysis_slot, decode_upload
from model.recognizer import framed_face
from model.labels import MAX_LABELS, LabelError, check_label, check_label_set

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = Path("data") / "teach"
# Formats kept as they arrive (their bytes already passed load_image): the suffix comes from what
# Pillow found in the file, not from the user's file name.
KEPT_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif", "GIF": ".gif"}
# The files teaching writes beside photos/ and models/ (TeachingJob), which emptying deletes too.
STATUS_FILE, LOG_FILE = "status.json", "teach.log"
WRITTEN_FILES = (STATUS_FILE, LOG_FILE)


@dataclass
class Added:
    """What became of a drop of photos on one label: kept, already there, and refused with why."""
    kept: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    already: int = 0


class TeachFolder:
    """`root/photos/<label>/` of checked photos and `root/models/` of what was taught from them."""

    def __init__(self, root: Path):
        # Absolute: `teach` runs as a child process in the repository's folder, and a relative path
        # (data/teach, the default) must name the folder the dashboard was started in.
        self.root = Path(root).absolute()
        self.photos = self.root / "photos"
        self.models = self.root / "models"

    def labels(self) -> dict[str, int]:
        """{label: photos kept}, sorted by label, as `teach` will read them."""
        if not self.photos.is_dir():
            return {}
        return {path.name: sum(1 for _ in path.iterdir()) for path in sorted(self.photos.iterdir()) if path.is_dir()}

    def add_label(self, name: str) -> str:
        """Make a label's folder; LabelError for a name that cannot be a label or is taken."""
        name = check_label(name)
        same = [label for label in self.labels() if label.casefold() == name.casefold()]
        if same:
            raise LabelError(f"there is already a label {same[0]!r}")
        if len(self.labels()) >= MAX_LABELS:
            raise LabelError(f"at most {MAX_LABELS} labels")
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.photos.mkdir(exist_ok=True, mode=0o700)
        self.folder_of(name).mkdir(mode=0o700)
        self._keep_private(self.folder_of(name))
        return name

    def _keep_private(self, label_folder: Path) -> None:
        """Face photos are biometric data: the folders that hold them are this user's alone (0700) on a
        shared machine, also a folder an earlier Moodlog made 0755; photos are written 0600."""
        for folder in (self.root, self.photos, label_folder):
            if folder.is_dir() and folder.stat().st_mode & 0o077:
                folder.chmod(0o700)

    def remove_label(self, name: str) -> None:
        folder = self.folder_of(check_label(name))
        if folder.is_dir():
            shutil.rmtree(folder)

    def folder_of(self, label: str) -> Path:
        """The label's folder, checked to lie inside `photos/` (check_label already forbids separators)."""
        folder = (self.photos / label).resolve()
        if folder.parent != self.photos.resolve():
            raise LabelError(f"{label!r} cannot be a label name")
        return folder

    def add_photos(self, label: str, uploads: list[tuple[str, str | None]], finder) -> Added:
        """Check and keep each `(data URI, file name)` upload under `label`: refused when it is too
        large, not an image, or holds no face `finder` can read (a FaceFinder)."""
        folder = self.folder_of(check_label(label))
        if not folder.is_dir():
            raise LabelError(f"there is no label {label!r}; add it first")
        self._keep_private(folder)
        added = Added()
        for contents, filename in uploads:
            try:
                new = self._keep(folder, contents, finder)
            except UploadError as error:
                added.refused.append((filename or "a file", str(error)))
                continue
            added.kept += new
            added.already += 1 - new
        return added

    def _keep(self, folder: Path, contents: str, finder) -> int:
        data = decode_upload(contents)
        with analysis_slot:
            face, why = framed_face(finder, data, MAX_UPLOAD_PIXELS)      # as `teach` will read it
        if face is None:
            raise UploadError(why)
        path = folder / (hashlib.sha1(data).hexdigest()[:20] + _suffix(data))
        if path.exists():
            return 0                                  # the same photo twice counts once
        elsewhere = [other.parent.name for other in self.photos.glob(f"*/{path.name}")]
        if elsewhere:                                 # one photo under two labels would teach a contradiction
            raise UploadError(f"the same photo is already under the label {elsewhere[0]!r}")
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
            file.write(data)
        return 1

    def empty(self) -> None:
        """Delete every photo and every model taught here, and teaching's status and log: only what
        the page wrote. The folder itself and anything else in it stay, since MOODLOG_TEACH_DIR may
        name a folder that holds the user's own files."""
        for folder in (self.photos, self.models):
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder)
            elif folder.is_symlink():
                folder.unlink()
        for name in WRITTEN_FILES:
            if (self.root / name).is_file() or (self.root / name).is_symlink():   # never a folder of that name
                (self.root / name).unlink()

    def latest_model(self) -> Path | None:
        """The model taught last here (folders are named by the time teaching began), or None."""
        models = sorted(self.models.glob("*/*.keras")) if self.models.is_dir() else []
        return models[-1] if models else None

    def holds(self, path: Path) -> bool:
        """Whether `path` lies inside this folder (a taught model that emptying it would delete)."""
        try:
            return self.root.resolve() in Path(path).resolve().parents
        except (OSError, ValueError):        # a name with a NUL byte, a link loop
            return False


def _suffix(data: bytes) -> str:
    from io import BytesIO

    from PIL import Image

    with Image.open(BytesIO(data)) as image:
        return KEPT_FORMATS.get(image.format or "", ".img")


def taught_result(model: Path | None) -> dict:
    """{"model": path or None, "metrics": its metrics.json (what teach measured) or None}."""
    if model is None:
        return {"model": None, "metrics": None}
    try:
        metrics = json.loads((model.parent / "metrics.json").read_text())
    except (OSError, ValueError):
        metrics = None
    return {"model": str(model), "metrics": metrics}


def training_tools_missing() -> list[str]:
    """The training packages `teach` needs that are not installed (requirements-train.txt adds them)."""
    return [name for name in ("tensorflow", "keras", "sklearn") if importlib.util.find_spec(name) is None]


class TeachJob:
    """One `app.py teach` child process at a time per dashboard: start, progress, cancel, result."""

    def __init__(self, folder: TeachFolder):
        self.folder = folder
        self.process: subprocess.Popen | None = None
        self.out: Path | None = None
        self.started = 0.0
        self._lock = threading.Lock()

    @property
    def status_file(self) -> Path:
        return self.folder.root / STATUS_FILE

    def start(self) -> Path:
        """Start teaching the labels there are now; LabelError/RuntimeError when it cannot start."""
        with self._lock:
            if self.running():
                raise RuntimeError("teaching is already running")
            check_label_set(self.folder.labels())
            self.out = self.folder.models / time.strftime("%Y%m%d-%H%M%S")
            self.status_file.unlink(missing_ok=True)
            log = open(self.folder.root / LOG_FILE, "wb")
            command = [sys.executable, str(ROOT / "app.py"), "teach", str(self.folder.photos), "--out", str(self.out),
                       "--status", str(self.status_file), "--quiet"]
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            log.close()
            self.started = time.time()
            return self.out

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cancel(self) -> None:
        with self._lock:
            if self.running():
                self.process.terminate()
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
            self.process = None

    def state(self) -> dict:
        """{"state": idle|running|done|failed, "step", "done", "total", "seconds", "error", "model", "metrics"}."""
        from model.status_file import read_status

        if self.process is None:
            return {"state": "idle"}
        seconds = time.time() - self.started
        code = self.process.poll()
        if code is None:
            return {"state": "running", "seconds": seconds, **(read_status(self.status_file) or {})}
        if code != 0:
            return {"state": "failed", "seconds": seconds, "error": self._error()}
        model = next(self.out.glob("*.keras"), None) if self.out else None
        return {"state": "done", "seconds": seconds, **taught_result(model)}

    def _error(self) -> str:
        """The child's own one-line error ("error: ..."), else the last line it wrote."""
        try:
            lines = (self.folder.root / LOG_FILE).read_text(errors="replace").splitlines()
        except OSError:
            return "teaching stopped"
        errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
        return errors[-1] if errors else (lines[-1] if lines else "teaching stopped")
