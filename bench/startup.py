"""How long the run-time commands take to start, and their memory, against an older checkout in one run.

- predict: `app.py predict PHOTO` wall time and peak resident memory (GNU time), one CFD portrait.
- start: from launching `app.py start VIDEO --db NEW` to the first row in the log (polled every 10 ms).
- dashboard: from launching `app.py dashboard` to the first answer of `/`, and the first upload's
  answer (the Recognize callback, as the browser posts it) after that.
Each is run `--rounds` times, alternating this tree and `--base` (a git worktree, as bench/versus.py
makes); medians are printed. Issue 15's targets: predict <= 1.0 s and <= 200 MB, start's first row
<= 1.5 s, the dashboard <= 1.5 s.

    .venv/bin/python bench/startup.py --base 9eac56b --rounds 3
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import ROOT
from versus import worktree

PHOTO = ROOT.parent / "shared" / "datasets" / "faces" / "cfd" / "happy" / "CFD-BF-004-009-HO.jpg"
VIDEO = ROOT.parent / "shared" / "datasets" / "faces" / "videos" / "huimiang_1543684773.avi"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def predict(tree: Path) -> tuple[float, float]:
    done = subprocess.run(["/usr/bin/time", "-f", "%e %M", sys.executable, "app.py", "predict", str(PHOTO)],
                          cwd=tree, capture_output=True, text=True, env=ENV)
    seconds, kilobytes = done.stderr.strip().splitlines()[-1].split()
    return float(seconds), float(kilobytes) / 1024


def first_row(tree: Path) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "log.db"
        began = time.perf_counter()
        process = subprocess.Popen([sys.executable, "app.py", "start", str(VIDEO), "--db", str(db), "--quiet"],
                                   cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        try:
            while True:
                if db.exists():
                    try:
                        with sqlite3.connect(db, timeout=1) as connection:
                            if connection.execute("SELECT count(*) FROM detections").fetchone()[0]:
                                return time.perf_counter() - began
                    except sqlite3.OperationalError:
                        pass
                if process.poll() is not None:
                    raise RuntimeError("start ended without a row")
                time.sleep(0.01)
        finally:
            process.kill()
            process.wait()


def dashboard(tree: Path) -> tuple[float, float, float]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch:
        began = time.perf_counter()
        process = subprocess.Popen([sys.executable, "app.py", "dashboard", "--db", str(Path(scratch) / "x.db"),
                                    "--port", str(port)], cwd=tree, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, env=ENV)
        try:
            while True:
                try:
                    with urllib.request.urlopen(url + "/recognize", timeout=1):
                        break
                except OSError:
                    time.sleep(0.01)
            page = time.perf_counter() - began
            contents = "data:image/jpeg;base64," + base64.b64encode(PHOTO.read_bytes()).decode()
            store = (tree / "dashboard" / "pages" / "recognize.py").read_text()
            if "recognize-min-face" in store:    # this tree: through a Store, with the face-size choice
                inputs = [{"id": "recognize-photo", "property": "data",
                           "value": {"contents": contents, "filename": PHOTO.name}},
                          {"id": "recognize-face", "property": "data", "value": None},
                          {"id": "recognize-min-face", "property": "value", "value": "32"}]
                changed = ["recognize-photo.data"]
                state = [{"id": "recognize-photo", "property": "modified_timestamp", "value": 2},
                         {"id": "recognize-face", "property": "modified_timestamp", "value": -1}]
            else:
                inputs = [{"id": "recognize-upload", "property": "contents", "value": contents}]
                changed = ["recognize-upload.contents"]
                state = [{"id": "recognize-upload", "property": "filename", "value": PHOTO.name}]
            body = json.dumps({"output": "recognize-result.children",
                               "outputs": {"id": "recognize-result", "property": "children"},
                               "inputs": inputs, "changedPropIds": changed, "state": state}).encode()
            answers = []
            for _ in range(3):                   # the first upload, then two more
                asked = time.perf_counter()
                request = urllib.request.Request(url + "/_dash-update-component", body,
                                                 {"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=120) as answer:
                    assert answer.status == 200
                answers.append(time.perf_counter() - asked)
            return page, answers[0], statistics.median(answers[1:])
        finally:
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="9eac56b")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = {"base " + args.base: worktree(args.base), "now": ROOT}
    figures = {name: {"predict s": [], "predict MB": [], "start first row s": [], "dashboard page s": [],
                      "first upload s": [], "later uploads s": []} for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            seconds, megabytes = predict(tree)
            figures[name]["predict s"].append(seconds)
            figures[name]["predict MB"].append(megabytes)
            figures[name]["start first row s"].append(first_row(tree))
            page, upload, later = dashboard(tree)
            figures[name]["dashboard page s"].append(page)
            figures[name]["first upload s"].append(upload)
            figures[name]["later uploads s"].append(later)
            print(name, {k: round(v[-1], 2) for k, v in figures[name].items()}, flush=True)
    print(f"\nmedians of {args.rounds}:")
    print("| measure | " + " | ".join(trees) + " |\n|---|" + "---:|" * len(trees))
    for measure in figures["now"]:
        print(f"| {measure} | " + " | ".join(f"{statistics.median(figures[n][measure]):.2f}" for n in trees) + " |")


if __name__ == "__main__":
    main()
