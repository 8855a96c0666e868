"""Accuracy of the shipped model on FER2013 PrivateTest (`test/`), beside the `fer` package's
model on the same faces in the same run.

Ours goes through `EmotionClassifier.predict` (mirror-averaged, as at run time). The peer runs in
bench/.venv-fer (bash bench/setup_fer_peer.sh). Targets (issue 2): at least 70% accuracy, aiming
for 73.3%; macro-F1 reported because disgust has 55 test images.
Beside FER2013's own labels, every model is scored against the FER+ crowd majority (10 taggers per
face, ../shared/datasets/ferplus) on the faces whose votes have one clear top among the seven
emotions (3,349 of the test faces); issue 13's targets: >= 0.68 and >= 0.75.
Usage: python bench/accuracy.py [--model PATH] [--split test]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from common import ROOT, fer2013_path

PEER_PYTHON = ROOT / "bench" / ".venv-fer" / "bin" / "python"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a .keras model (default: the shipped one)")
    parser.add_argument("--split", default="test", help="test (PrivateTest) or validation (PublicTest)")
    args = parser.parse_args()
    from model.classifier import EmotionClassifier
    from model.training.dataset import load_fer2013
    from model.training.evaluate import score
    from model.labels import EMOTIONS

    splits, _ = load_fer2013(str(fer2013_path()))
    faces = splits[args.split]
    crowd = crowd_labels(faces)
    probabilities = {"moodlog": EmotionClassifier(args.model).predict(faces.images)}
    probabilities.update({f"fer 25.10.3, {name}": p for name, p in peer_probabilities(faces.images).items()})
    results = {name: score(faces.labels, p) for name, p in probabilities.items()}
    if crowd is not None:
        clear = crowd >= 0
        print(f"FER+ crowd majority ({clear.sum()} faces with one clear top among the seven):")
        for name, p in probabilities.items():
            crowd_metrics = score(crowd[clear], p[clear])
            print(f"  {name}: accuracy {crowd_metrics.accuracy:.4f}, macro-F1 {crowd_metrics.macro_f1:.4f}")

    print(f"FER2013 {args.split}: {len(faces.labels)} faces")
    print("| model | accuracy | macro-F1 | " + " | ".join(f"{e} recall" for e in EMOTIONS) + " |")
    print("|---|---:|---:|" + "---:|" * len(EMOTIONS))
    for name, metrics in results.items():
        recalls = " | ".join(f"{r:.3f}" for r in metrics.recall)
        print(f"| {name} | {metrics.accuracy:.4f} | {metrics.macro_f1:.4f} | {recalls} |")
    print(json.dumps({name: {"accuracy": round(m.accuracy, 4), "macro_f1": round(m.macro_f1, 4)}
                      for name, m in results.items()}))


def crowd_labels(faces) -> np.ndarray | None:
    """The FER+ crowd majority of each face (-1: none), or None when the votes are not beside FER2013."""
    from model.training.ferplus import majority_labels, read_votes

    votes = fer2013_path().parent / "ferplus" / "labels.csv"
    if faces.files is None or not votes.is_file():
        print(f"FER+ votes not found at {votes}: crowd-majority accuracy skipped")
        return None
    return majority_labels(faces.files, read_votes(votes))


def peer_probabilities(images: np.ndarray) -> dict[str, np.ndarray]:
    if not PEER_PYTHON.exists():
        print("fer peer not installed: bash bench/setup_fer_peer.sh (skipped)")
        return {}
    with tempfile.TemporaryDirectory() as folder:
        faces, out = Path(folder) / "faces.npz", Path(folder) / "probabilities.npz"
        np.savez(faces, images=images)
        subprocess.run([str(PEER_PYTHON), str(ROOT / "bench" / "fer_accuracy_peer.py"), str(faces), str(out)],
                       check=True)
        with np.load(out) as peer:
            return {name: peer[name] for name in peer.files}


if __name__ == "__main__":
    main()
