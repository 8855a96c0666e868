"""Speed of this tree against an earlier commit, in one run: a ratio, not two figures from two days.

The earlier commit is checked out into a git worktree under bench/out/ (its weights included), and
the same bench script runs there and here, alternately, `--rounds` times; each run prints its own
figure and the median of each side and their ratio are reported. Alternating spreads the load of
a shared machine over both sides alike.
    .venv/bin/python bench/versus.py --base 365ac02 --rounds 3
Targets (issue 13): `predict` per face at most 10% slower (recognize_speed.py), capture
throughput at most 10% lower (capture_throughput.py), against the code before the change.
Issue 14: capture throughput and logging throughput (log_throughput.py) within 10% of the code
before it: `--base 9eac56b --measures "capture frames/s ..." "log rows/s ..."`.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

from common import ROOT

# Each measured figure: (script and arguments, a pattern whose group 1 is the figure, higher is better?).
# The base tree has no bench/.venv-fer (it is git-ignored), so the peer is skipped there; --no-peer
# skips it here, and is dropped for the base, whose scripts may predate it.
MEASURES = {
    "recognize ms, video detector (blazeface, 640x480 frame, one face)":
        (["recognize_speed.py", "--photos", "20", "--repeats", "3", "--detectors", "blazeface"],
         r"\| blazeface \| ([\d.]+) \|", False),
    "recognize ms, photo detector (predict's blazeface-tiles, 640x480, one face)":
        (["recognize_speed.py", "--photos", "20", "--repeats", "3", "--detectors", "blazeface-tiles"],
         r"\| blazeface-tiles \| ([\d.]+) \|", False),
    "capture frames/s (blazeface, two faces a frame)":
        (["capture_throughput.py", "--frames", "300", "--repeats", "1", "--detectors", "blazeface", "--no-peer"],
         r"moodlog --detector blazeface: ([\d.]+) frames analysed/s", True),
    "log rows/s (LogWriter, 100,000 rows)":
        (["log_throughput.py", "--rows", "100000", "--repeats", "3"], r"LogWriter: ([\d,]+) face rows/s", True),
}
NEW_ONLY = {"--no-peer"}


def worktree(base: str) -> Path:
    """A checkout of `base` under bench/out/base-<commit>, made once."""
    commit = subprocess.run(["git", "rev-parse", "--short", base], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    path = ROOT / "bench" / "out" / f"base-{commit}"
    if not path.is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), commit], cwd=ROOT, check=True,
                       capture_output=True)
    beside = path.parent / "shared"               # the bench scripts look for ../shared beside their root
    if not beside.exists() and (ROOT.parent / "shared").is_dir():
        beside.symlink_to(ROOT.parent / "shared")
    return path


def figure(tree: Path, command: list[str], pattern: str) -> float:
    if tree != ROOT:
        command = [part for part in command if part not in NEW_ONLY]
    result = subprocess.run([sys.executable, str(tree / "bench" / command[0]), *command[1:]], cwd=tree / "bench",
                            capture_output=True, text=True)
    found = re.search(pattern, result.stdout)
    if not found:
        raise SystemExit(f"{command[0]} in {tree}: no figure matching {pattern!r}:\n{result.stdout}\n"
                         f"{result.stderr[-1500:]}")
    return float(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="365ac02", help="the earlier commit (default: before issue 13)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--measures", nargs="+", default=list(MEASURES), choices=list(MEASURES))
    args = parser.parse_args()
    base = worktree(args.base)
    print(f"base: {args.base} in {base}; new: this tree; {args.rounds} alternating rounds")
    for name in args.measures:
        command, pattern, higher_is_better = MEASURES[name]
        old, new = [], []
        for _ in range(args.rounds):
            old.append(figure(base, command, pattern))
            new.append(figure(ROOT, command, pattern))
        ratio = statistics.median(new) / statistics.median(old)
        change = ratio - 1 if higher_is_better else 1 / ratio - 1
        print(f"{name}: base median {statistics.median(old):.2f} {old}, new median {statistics.median(new):.2f} "
              f"{new}; new/base {ratio:.3f} ({change:+.1%} {'faster' if change >= 0 else 'slower'})")


if __name__ == "__main__":
    main()
