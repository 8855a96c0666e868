"""Weight-space interpolation of a network and its fine-tuned self (WiSE-FT, Wortsman et al. 2022,
"Robust fine-tuning of zero-shot models"): theta = (1 - alpha) * theta_base + alpha * theta_tuned.

A fine-tune from a trained network at a low learning rate stays in its basin, so the straight line
between the two holds networks as accurate as either; the paper finds the middle of it keeps the
base's accuracy and much of the fine-tune's robustness. Used on 2026-11-30 with the members of the
ensemble shipped until then (base) and their over-exposure fine-tunes (bench/RESULTS.md, "Over-exposure
alone in training" and "... with the shipped ensemble as teacher": the second made the model shipped
since). Each pair of members is interpolated per alpha and fused with `app.py ensemble` (int8 and
report); score each with bench/crossdomain.py and bench/robustness.py.
Usage: python bench/weight_average.py --base A0.keras A1.keras --tuned B0.keras B1.keras
           --alpha 0.5 [--out bench/out/wise] [--data ../shared/datasets/fer2013]
       python bench/weight_average.py --members-of ENSEMBLE.keras --out bench/out/base
           (saves an ensemble's member networks, layers member0, member1, ..., as member0.keras, ...:
           how bench/out/base/ was made from the ensemble of 2026-11-25, `git show a35ff57:model/weights/moodnet.keras`)
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


def save_members(ensemble_path: Path, folder: Path) -> list[Path]:
    """Each member network of a fused ensemble (`app.py ensemble`: layers member0, member1, ...) saved
    as its own model file, folder/memberN.keras, weights unchanged."""
    sys.path.insert(0, str(ROOT))
    from model.training.keras_model import emotion_model

    fused = emotion_model(ensemble_path, "--members-of")
    members = [layer for layer in fused.layers if layer.name.startswith("member")]
    if not members:
        raise ValueError(f"{ensemble_path} is not an ensemble made by `app.py ensemble` (no member layers)")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for member in members:
        paths.append(folder / f"{member.name}.keras")
        member.save(paths[-1])
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", nargs="+", type=Path)
    parser.add_argument("--tuned", nargs="+", type=Path)
    parser.add_argument("--members-of", type=Path, metavar="ENSEMBLE", help="save this ensemble's members and stop")
    parser.add_argument("--alpha", nargs="+", type=float, default=[0.5])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "wise")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "fer2013"))
    args = parser.parse_args()
    if args.members_of:
        for path in save_members(args.members_of, args.out):
            print(path)
        return
    if not args.base or not args.tuned or len(args.base) != len(args.tuned):
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
