"""`predict IMAGE...`: every face in each photo with its emotion, printed and drawn."""

from __future__ import annotations

import json
from pathlib import Path

import cv2

from model.annotate import annotate
from model.errors import ImageError
from model.images import load_image
from model.labels import EMOTIONS


def predict_files(paths, recognizer, out_dir: Path | None, as_json: bool) -> int:
    """Print results for each image; returns how many images could not be read."""
    failures = 0
    results = []
    for path in map(Path, paths):
        try:
            image = load_image(path)
        except ImageError as error:
            print(f"error: {error}")
            failures += 1
            continue
        faces = recognizer.recognize(image)
        results.append({"image": str(path), "faces": [face.as_dict() for face in faces]})
        if not as_json:
            print(describe(path, faces))
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            target = out_dir / f"{path.stem}.annotated.jpg"
            cv2.imwrite(str(target), annotate(image, faces))
            if not as_json:
                print(f"  annotated image: {target}")
    if as_json:
        print(json.dumps(results, indent=2))
    return failures


def describe(path: Path, faces) -> str:
    if not faces:
        return f"{path}: no face found"
    lines = [f"{path}: {len(faces)} face{'s' if len(faces) > 1 else ''}"]
    for index, face in enumerate(faces, start=1):
        box = f"at x={face.box.x} y={face.box.y} {face.box.w}x{face.box.h}"
        if face.emotion is None:
            lines.append(f"  {index}. {box}: not classified ({face.status})")
            continue
        ranked = sorted(zip(EMOTIONS, face.probabilities), key=lambda pair: -pair[1])
        lines.append(f"  {index}. {box}: {face.emotion} ({face.confidence:.0%}); "
                     + ", ".join(f"{name} {p:.0%}" for name, p in ranked[1:4]))
    return "\n".join(lines)
