"""Carry FER2013's train and validation splits to a GPU machine inside the device tool's 64 MiB limit.

Why this exists: the lent GPU machine cannot reach ../shared, and everything it gets travels with
the working tree (at most 64 MiB, the repo itself ~10 MiB). FER2013's faces are noisy and barely
compress: xz alone gives 0.78 of the 74 MB of raw pixels, PNG 0.81, lossless WebP 0.80. Coding
each pixel as its error against the median edge detector of LOCO-I / JPEG-LS (a lossless
predictor from its left, upper and upper-left neighbours) before xz gives 0.74, which fits.

    python bench/gpu/fer_pack.py pack ../shared/datasets/fer2013 .fer/trainval.xz [FER+ labels.csv]
    python bench/gpu/fer_pack.py unpack .fer/trainval.xz /tmp/fer2013          # image folders

`unpack` writes `train/` and `validation/` image folders (lossless PNGs under the original file
names) and, when the pack holds FER+ votes, `ferplus.csv` joined to those files, so that
`train --ferplus` works there as here. The round trip is exact (checked by `pack`, which decodes
what it wrote). Not a product feature: a transport for bench/gpu/train.sh. Needs numpy and
OpenCV alone, so it runs before anything else is installed.
"""

from __future__ import annotations

import lzma
import sys
from pathlib import Path

import numpy as np

USAGE = {"train": "Training", "validation": "PublicTest"}
# FER+ vote columns, in model/training/ferplus.py's order (the seven emotions, then the rest).
VOTE_COLUMNS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral",
                "contempt", "unknown", "NF")
NO_VOTES = 255
FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "lc": 4, "lp": 0, "pb": 0}]


def _neighbours(x: np.ndarray, row: int, col: int):
    """Left, upper and upper-left pixel of (row, col) for every face; edges fall back to what exists."""
    zero = np.zeros(len(x), np.int16)
    up = x[:, row - 1, col] if row else zero
    left = x[:, row, col - 1] if col else up
    corner = x[:, row - 1, col - 1] if row and col else (up if row else zero)
    return left, up, corner


def _med(left, up, corner):
    low, high = np.minimum(left, up), np.maximum(left, up)
    return np.where(corner >= high, low, np.where(corner <= low, high, left + up - corner))


def encode(faces: np.ndarray) -> bytes:
    x = faces.astype(np.int16)
    residual = np.empty_like(x)
    for row in range(x.shape[1]):
        for col in range(x.shape[2]):
            residual[:, row, col] = x[:, row, col] - _med(*_neighbours(x, row, col))
    return (residual % 256).astype(np.uint8).tobytes()


def decode(data: bytes, count: int, size: int = 48) -> np.ndarray:
    residual = np.frombuffer(data, np.uint8).reshape(count, size, size).astype(np.int16)
    x = np.zeros((count, size, size), np.int16)
    for row in range(size):
        for col in range(size):
            x[:, row, col] = (residual[:, row, col] + _med(*_neighbours(x, row, col))) % 256
    return x.astype(np.uint8)


def pack(source: str, target: str, ferplus: str | None = None) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from model.training.dataset import load_fer2013
    from model.training.ferplus import read_votes

    splits, _ = load_fer2013(source)
    faces = np.concatenate([splits[s].images for s in USAGE])
    header = np.array([len(splits[s]) for s in USAGE], np.int64)
    labels = np.concatenate([splits[s].labels for s in USAGE]).astype(np.uint8)
    files = [file for s in USAGE for file in splits[s].files]
    votes = np.full((len(files), len(VOTE_COLUMNS)), NO_VOTES, np.uint8)
    if ferplus:
        by_file = read_votes(ferplus)
        for i, file in enumerate(files):
            if file in by_file:
                votes[i] = by_file[file]
    names = "\n".join(files).encode()
    blob = (header.tobytes() + labels.tobytes() + np.int64(len(names)).tobytes() + names + votes.tobytes()
            + encode(faces))
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_bytes(lzma.compress(blob, format=lzma.FORMAT_XZ, filters=FILTERS))
    back = read(target)
    assert np.array_equal(back[0], faces) and np.array_equal(back[1], labels) and back[3] == files \
        and np.array_equal(back[4], votes), "round trip differs"
    print(f"{target}: {Path(target).stat().st_size / 1e6:.1f} MB for {len(faces)} faces "
          f"({Path(target).stat().st_size / faces.size:.3f} of raw), {int((votes[:, 0] != NO_VOTES).sum())} "
          f"with FER+ votes, round trip exact")


def read(path: str):
    """(faces (N, 48, 48) uint8, labels (N,) uint8, counts per split, file names, votes (N, 10) uint8)."""
    blob = lzma.decompress(Path(path).read_bytes())
    counts = np.frombuffer(blob[:16], np.int64)
    total = int(counts.sum())
    at = 16
    labels = np.frombuffer(blob[at:at + total], np.uint8)
    at += total
    size = int(np.frombuffer(blob[at:at + 8], np.int64)[0])
    files = blob[at + 8:at + 8 + size].decode().split("\n")
    at += 8 + size
    votes = np.frombuffer(blob[at:at + total * len(VOTE_COLUMNS)], np.uint8).reshape(total, len(VOTE_COLUMNS))
    at += total * len(VOTE_COLUMNS)
    return decode(blob[at:], total), labels, counts, files, votes


def unpack(source: str, target: str) -> None:
    """Write the faces as image folders (`train/<emotion>/<name>.png`, `validation/...`) and, when
    the pack holds FER+ votes, `ferplus.csv` (file and the 10 vote columns) for `train --ferplus`."""
    import cv2

    faces, labels, counts, files, votes = read(source)
    root = Path(target)
    rows = []
    for face, file, face_votes in zip(faces, files, votes):
        png = Path(file).with_suffix(".png").as_posix()
        (root / png).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / png), face)
        if face_votes[0] != NO_VOTES:
            rows.append(png + "," + ",".join(map(str, face_votes.tolist())))
    if rows:
        (root / "ferplus.csv").write_text("file," + ",".join(VOTE_COLUMNS) + "\n" + "\n".join(rows) + "\n")
    print(f"{target}: {len(faces)} faces ({', '.join(f'{s} {c}' for s, c in zip(USAGE, counts))}), "
          f"{len(rows)} with FER+ votes")


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5) or sys.argv[1] not in ("pack", "unpack"):
        sys.exit(__doc__)
    {"pack": pack, "unpack": unpack}[sys.argv[1]](*sys.argv[2:])
