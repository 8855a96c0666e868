"""Accuracy of the shipped model on FER2013 PrivateTest (`test/`), beside the `fer` package's
model on the same faces in the same run.

Ours goes through `EmotionClassifier.predict` (mirror-averaged, as at run time). The peer runs in
bench/.venv-fer (bash bench/setup_fer_peer.sh). Targets (issue 2): at least 70% accuracy, aiming
for 73.3%; macro-F1 reported because disgust has 55 test images.
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
    from model.dataset import load_fer2013
    from model.evaluate import score
    from model.labels import EMOTIONS

    splits, _ = load_fer2013(str(fer2013_path()))
    faces = splits[args.split]
    results = {"moodlog": score(faces.labels, EmotionClassifier(args.model).predict(faces.images))}
    for name, probabilities in peer_probabilities(faces.images).items():
        results[f"fer 25.10.3, {name}"] = score(faces.labels, probabilities)

    print(f"FER2013 {args.split}: {len(faces.labels)} faces")
    print("| model | accuracy | macro-F1 | " + " | ".join(f"{e} recall" for e in EMOTIONS) + " |")
    print("|---|---:|---:|" + "---:|" * len(EMOTIONS))
    for name, metrics in results.items():
        recalls = " | ".join(f"{r:.3f}" for r in metrics.recall)
        print(f"| {name} | {metrics.accuracy:.4f} | {metrics.macro_f1:.4f} | {recalls} |")
    print(json.dumps({name: {"accuracy": round(m.accuracy, 4), "macro_f1": round(m.macro_f1, 4)}
                      for name, m in results.items()}))


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
