"""Does `train --filter-faces` help? Two equal training runs, side by side, with and without it.

Both runs use the same network, seed, epochs and schedule, one CPU thread each, at the same
time (so neither gets a quieter machine); the only difference is that one drops the training
images in which the detector finds no face. Prints the images kept per class and test accuracy
and macro-F1 of both (through EmotionClassifier.predict, as every report in Moodlog).
Usage: python bench/filter_faces.py [--epochs 12] [--widths 16,32,64,128] [--out bench/out/filter]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from common import ROOT, fer2013_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--widths", default="16,32,64,128")
    parser.add_argument("--detector", default=None)
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "filter"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    common = [sys.executable, str(ROOT / "app.py"), "train", "--data", str(fer2013_path()), "--epochs",
              str(args.epochs), "--widths", args.widths, "--threads", "1", "--quiet"]
    if args.detector:
        common += ["--detector", args.detector]
    runs = {"all images": [], "--filter-faces": ["--filter-faces"]}
    processes = {name: subprocess.Popen(common + extra + ["--out", str(out / slug(name))],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for name, extra in runs.items()}
    for name, process in processes.items():
        log = process.communicate()[0]
        (out / f"{slug(name)}.log").write_text(log)
        if process.returncode != 0:
            sys.exit(f"{name}: training failed, see {out / (slug(name) + '.log')}")
    print(f"{args.epochs} epochs, widths {args.widths}, one thread each, run at the same time")
    print("| training data | images kept | test accuracy | test macro-F1 | kept per class |")
    print("|---|---:|---:|---:|---|")
    for name in runs:
        folder = out / slug(name)
        metrics = json.loads((folder / "metrics.json").read_text())["test"]
        used = re.search(r"train \(used\): (\d+) kept \(([^)]*)\)", (folder / "REPORT.md").read_text())
        print(f"| {name} | {used.group(1)} | {metrics['accuracy']:.4f} | {metrics['macro_f1']:.4f} | {used.group(2)} |")


def slug(name: str) -> str:
    return "filtered" if "filter" in name else "all"


if __name__ == "__main__":
    main()
