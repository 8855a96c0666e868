"""`predict IMAGE...`: every face in each photo with its emotion, printed and drawn."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cv2

from model.annotate import annotate
from model.errors import MoodlogError
from model.images import MAX_PIXELS, load_image
from model.recognizer import TOO_SMALL


def predict_files(paths, recognizer, out_dir: Path | None, as_json: bool, *, max_pixels: int = MAX_PIXELS) -> int:
    """Print results for each image; returns how many images failed.

    A file that cannot be read or analysed gets one line `error: ...` on stderr (and an entry
    `{"image", "error"}` in the JSON) and the batch goes on with the next file.
    """
    paths = [Path(path) for path in paths]
    if out_dir is not None:
        check_out_dir(out_dir)
    targets = annotated_names(paths, out_dir)
    results = [predict_or_report(path, recognizer, target, as_json, max_pixels)
               for path, target in zip(paths, targets)]
    if as_json:
        print(json.dumps(results, indent=2))
    return sum("error" in result for result in results)


def check_out_dir(out_dir: Path) -> None:
    """MoodlogError (one line, exit 2) when `--out` cannot be the folder for annotated copies: a
    file, a folder that cannot be made, or one this user cannot write into. Checked before any photo."""
    if out_dir.exists() and not out_dir.is_dir():
        raise MoodlogError(f"--out {out_dir} is a file; give a folder for the annotated images")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MoodlogError(f"--out {out_dir}: cannot make this folder ({error.strerror})") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise MoodlogError(f"--out {out_dir}: this folder is not writable")


def annotated_names(paths: list[Path], out_dir: Path | None) -> list[Path | None]:
    """The annotated copy's path for each photo: NAME.annotated.jpg, and NAME-2, NAME-3... for later
    photos of the same name (a/photo.jpg and b/photo.jpg), so no copy overwrites another of this run."""
    if out_dir is None:
        return [None] * len(paths)
    taken: set[str] = set()
    names = []
    for path in paths:
        stem, number = path.stem, 1
        while (name := f"{stem}{'' if number == 1 else f'-{number}'}.annotated.jpg") in taken:
            number += 1
        taken.add(name)
        names.append(out_dir / name)
    return names


def predict_or_report(path: Path, recognizer, target: Path | None, as_json: bool,
                      max_pixels: int = MAX_PIXELS) -> dict:
    """`predict_file`'s result, or `{"image", "error"}` once the error is printed on stderr."""
    try:
        return predict_file(path, recognizer, target, as_json, max_pixels)
    except MoodlogError as error:
        message = str(error)
        if "megapixels, more than" in message:
            message += "; --max-megapixels raises the limit"
    except OSError as error:                       # the annotated copy could not be written
        message = f"{path}: {error}"
    except Exception as error:                     # one photo's unforeseen failure must not end the batch
        message = f"{path}: could not be analysed ({unforeseen(error)})"
    print(f"error: {message}", file=sys.stderr, flush=True)
    return {"image": str(path), "error": message}


def predict_file(path: Path, recognizer, target: Path | None, as_json: bool, max_pixels: int = MAX_PIXELS) -> dict:
    """Recognise one photo, print it (unless `as_json`) and draw it into `target`: `{"image", "faces"}`.

    Raises ImageError when the file cannot be read; OSError when the annotated copy cannot be written.
    """
    image = load_image(path, max_pixels=max_pixels)
    faces = recognizer.recognize(image)
    if not as_json:
        print(describe(path, faces, getattr(getattr(recognizer, "finder", None), "min_face", None)))
    if target is not None:
        write_annotated(image, faces, target)
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


def describe(path: Path, faces, min_face: int | None = None) -> str:
    """One line per face that was read or could not be (cut by the edge, turned away); faces too small
    to read are counted on one line, as a group photo may hold dozens."""
    if not faces:
        return f"{path}: no face found"
    lines = [f"{path}: {len(faces)} face{'s' if len(faces) > 1 else ''}"]
    small = [face for face in faces if face.status == TOO_SMALL]
    for index, face in enumerate(faces, start=1):
        if face.status == TOO_SMALL:
            continue
        box = f"at x={face.box.x} y={face.box.y} {face.box.w}x{face.box.h}"
        if face.emotion is None:
            lines.append(f"  {index}. {box}: not classified ({face.status})")
            continue
        ranked = sorted(zip(face.labels, face.probabilities), key=lambda pair: -pair[1])
        lines.append(f"  {index}. {box}: {face.emotion} ({face.confidence:.0%}); "
                     + ", ".join(f"{name} {p:.0%}" for name, p in ranked[1:4]))
    if small:
        under = f" (under {min_face} px)" if min_face else ""
        lines.append(f"  + {len(small)} face{'s' if len(small) > 1 else ''} too small to read{under}; "
                     f"a smaller --min-face tries them, less reliably")
    return "\n".join(lines)
