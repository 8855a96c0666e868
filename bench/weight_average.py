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
       python bench/weight_average.py --soup greedy --lineage START0.keras TUNED0a.keras ... \
           --lineage START1.keras TUNED1a.keras ... --out bench/out/soup
           (a model soup per lineage, Wortsman et al. 2022, "Model soups: averaging weights of multiple
           fine-tuned models improves accuracy without increasing inference time", arXiv:2203.05482:
           "uniform" averages every network of a lineage; "greedy", the paper's Recipe 1, ranks them by
           FER2013 validation accuracy and adds each to the soup only if the soup's validation accuracy
           does not fall. A lineage is networks fine-tuned from one start, so in one basin; the soups
           of the lineages are then fused by `app.py ensemble`. FER2013 validation is the only set read
           to choose, as the paper holds out a split of the training distribution.)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def averaged(paths: list[Path], shares: list[float]):
    """The first network with every weight (kernels, biases and batch-norm statistics alike) replaced
    by the weighted mean sum(share_i * theta_i) over `paths`; shares should sum to 1. ValueError
    unless all share one architecture."""
    sys.path.insert(0, str(ROOT))
    from model.training.keras_model import emotion_model

    networks = [emotion_model(path, "weight averaging") for path in paths]
    weights = [network.get_weights() for network in networks]
    for path, theirs in zip(paths[1:], weights[1:]):
        if [w.shape for w in theirs] != [w.shape for w in weights[0]]:
            raise ValueError(f"{paths[0]} and {path} are not the same architecture")
    networks[0].set_weights([sum(share * layer for share, layer in zip(shares, layers))
                             for layers in zip(*weights)])
    return networks[0]


def interpolated(base_path: Path, tuned_path: Path, alpha: float):
    """WiSE-FT: the base network moved `alpha` of the way to the tuned one's weights."""
    return averaged([base_path, tuned_path], [1 - alpha, alpha])


def validation_accuracy(network, validation) -> float:
    """FER2013 validation accuracy of a Keras network, read as `evaluate --runtime keras` reads it
    (EmotionClassifier: light normalisation and the mirrored view)."""
    from model.classifier import EmotionClassifier
    from model.training.evaluate import evaluate_split
    from model.training.keras_model import compiled_forward

    classifier = EmotionClassifier(ROOT / "model" / "weights" / "moodnet.keras", runtime="keras",
                                   forward=compiled_forward(network))
    return evaluate_split(classifier, validation).accuracy


def soup(lineage: list[Path], recipe: str, validation) -> tuple[object, list[str]]:
    """A model soup of one lineage (see the module's docstring) and the lines that say how it was
    made: each network's validation accuracy and, for "greedy", whether it went in."""
    scores = {path: validation_accuracy(averaged([path], [1.0]), validation) for path in lineage}
    lines = [f"  {score:.4f}  {path}" for path, score in scores.items()]
    if recipe == "uniform":
        chosen = list(lineage)
    else:
        ranked = sorted(lineage, key=scores.get, reverse=True)
        chosen, best = ranked[:1], scores[ranked[0]]
        for path in ranked[1:]:
            tried = validation_accuracy(averaged(chosen + [path], [1 / (len(chosen) + 1)] * (len(chosen) + 1)),
                                        validation)
            verdict = "in" if tried >= best else "out"
            lines.append(f"  + {path}: soup {tried:.4f} ({verdict})")
            if tried >= best:
                chosen, best = chosen + [path], tried
    network = averaged(chosen, [1 / len(chosen)] * len(chosen))
    lines.append(f"  {recipe} soup of {len(chosen)}: validation {validation_accuracy(network, validation):.4f}")
    return network, lines


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
    parser.add_argument("--soup", choices=("greedy", "uniform"), help="a model soup of each --lineage")
    parser.add_argument("--lineage", nargs="+", type=Path, action="append",
                        help="with --soup: networks fine-tuned from one start (give one --lineage per member)")
    parser.add_argument("--alpha", nargs="+", type=float, default=[0.5])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "wise")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "fer2013"))
    args = parser.parse_args()
    if args.members_of:
        for path in save_members(args.members_of, args.out):
            print(path)
        return
    if args.soup:
        if not args.lineage:
            parser.error("--soup needs at least one --lineage")
        make_soups(args.lineage, args.soup, args.out, args.data)
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


def make_soups(lineages: list[list[Path]], recipe: str, out: Path, data: str) -> None:
    """One soup per lineage, saved as out/memberN.keras, then fused by `app.py ensemble` when there
    are several; how each soup was made goes to out/soup.txt and stdout."""
    sys.path.insert(0, str(ROOT))
    from model.training import dataset

    splits, _ = dataset.load_fer2013(data)
    out.mkdir(parents=True, exist_ok=True)
    members, record = [], [f"recipe: {recipe}"]
    for index, lineage in enumerate(lineages):
        network, lines = soup(lineage, recipe, splits["validation"])
        record += [f"member {index}:"] + lines
        print("\n".join([f"member {index}:"] + lines), flush=True)
        members.append(str(out / f"member{index}.keras"))
        network.save(members[-1])
    (out / "soup.txt").write_text("\n".join(record) + "\n")
    if len(members) > 1:
        subprocess.run([sys.executable, str(ROOT / "app.py"), "ensemble", *members, "--data", data,
                        "--out", str(out)], check=True)


if __name__ == "__main__":
    main()
