"""Weight-space interpolation of a network and its fine-tuned self (WiSE-FT, Wortsman et al. 2022,
"Robust fine-tuning of zero-shot models"): theta = (1 - alpha) * theta_base + alpha * theta_tuned.

A fine-tune from a trained network at a low learning rate stays in its basin, so the straight line
between the two holds networks as accurate as either; the paper finds the middle of it keeps the
base's accuracy and much of the fine-tune's robustness. Here: the shipped ensemble's members (base)
and their over-exposure fine-tunes (bench/RESULTS.md, "Over-exposure alone in training").
Each pair of members is interpolated per alpha and fused with `app.py ensemble` (int8 and report);
score each with bench/crossdomain.py and bench/robustness.py.
Usage: python bench/weight_average.py --base A0.keras A1.keras --tuned B0.keras B1.keras
           --alpha 0.5 [--out bench/out/wise] [--data ../shared/datasets/fer2013]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def interpolated(base_path: Path, tuned_path: Path, alpha: float):
    """The base network with every weight (kernels, biases and batch-norm statistics alike) moved
    `alpha` of the way to the tuned one's; ValueError unless the two share an architecture."""
    sys.path.insert(0, str(ROOT))
    from model.training.keras_model import emotion_model

    base, tuned = emotion_model(base_path, "interpolation"), emotion_model(tuned_path, "interpolation")
    ours, theirs = base.get_weights(), tuned.get_weights()
    if [w.shape for w in ours] != [w.shape for w in theirs]:
        raise ValueError(f"{base_path} and {tuned_path} are not the same architecture")
    base.set_weights([(1 - alpha) * a + alpha * b for a, b in zip(ours, theirs)])
    return base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", nargs="+", type=Path, required=True)
    parser.add_argument("--tuned", nargs="+", type=Path, required=True)
    parser.add_argument("--alpha", nargs="+", type=float, default=[0.5])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "wise")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "fer2013"))
    args = parser.parse_args()
    if len(args.base) != len(args.tuned):
        parser.error("give one tuned network per base network")
    for alpha in args.alpha:
        folder = args.out / f"alpha{alpha:g}"
        folder.mkdir(parents=True, exist_ok=True)
        members = []
        for index, (base, tuned) in enumerate(zip(args.base, args.tuned)):
            path = folder / f"member{index}.keras"
            interpolated(base, tuned, alpha).save(path)
            members.append(str(path))
        if len(members) > 1:
            subprocess.run([sys.executable, str(ROOT / "app.py"), "ensemble", *members, "--data", args.data,
                            "--out", str(folder)], check=True)
        print(f"alpha {alpha:g}: {folder}", flush=True)


if __name__ == "__main__":
    main()
