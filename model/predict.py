"""`predict IMAGE...`: every face in each photo with its emotion, printed and drawn."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2

from model.annotate import annotate
from model.errors import MoodlogError
from model.images import load_image
from model.labels import EMOTIONS


def predict_files(paths, recognizer, out_dir: Path | None, as_json: bool) -> int:
    """Print results for each image; returns how many images failed.

    A file that cannot be read or analysed gets one line `error: ...` on stderr (and an entry
    `{"image", "error"}` in the JSON) and the batch goes on with the next file.
    """
    results = [predict_or_report(path, recognizer, out_dir, as_json) for path in map(Path, paths)]
    if as_json:
        print(json.dumps(results, indent=2))
    return sum("error" in result for result in results)


def predict_or_report(path: Path, recognizer, out_dir: Path | None, as_json: bool) -> dict:
    """`predict_file`'s result, or `{"image", "error"}` once the error is printed on stderr."""
    try:
        return predict_file(path, recognizer, out_dir, as_json)
    except MoodlogError as error:
        message = str(error)
    except OSError as error:                       # the annotated copy could not be written
        message = f"{path}: {error}"
    except Exception as error:                     # one photo's unforeseen failure must not end the batch
        message = f"{path}: could not be analysed ({unforeseen(error)})"
    print(f"error: {message}", file=sys.stderr, flush=True)
    return {"image": str(path), "error": message}


def predict_file(path: Path, recognizer, out_dir: Path | None, as_json: bool) -> dict:
    """Recognise one photo, print it (unless `as_json`) and draw it into `out_dir`: `{"image", "faces"}`.

    Raises ImageError when the file cannot be read; OSError when the annotated copy cannot be written.
    """
    image = load_image(path)
    faces = recognizer.recognize(image)
    if not as_json:
        print(describe(path, faces))
    if out_dir is not None:
        target = write_annotated(image, faces, out_dir / f"{path.stem}.annotated.jpg")
        if not as_json:
            print(f"  annotated image: {target}")
    return {"image": str(path), "faces": [face.as_dict() for face in faces]}


def write_annotated(image, faces, target: Path) -> Path:
    """Save `image` with `faces` drawn on it as a JPEG; OSError naming `target` when it cannot."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(target), annotate(image, faces)):
        raise OSError(f"cannot write {target}")
    return target


def unforeseen(error: Exception) -> str:
    """'Type: first line of the message', short enough for the one-line error."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:200]}" if lines else type(error).__name__


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
