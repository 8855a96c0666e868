"""Carry FER2013's train and validation splits to a GPU machine inside the device tool's 64 MiB limit.

Why this exists: the lent GPU machine cannot reach ../shared, and everything it gets travels with
the working tree (at most 64 MiB, the repo itself ~10 MiB). FER2013's faces are noisy and barely
compress: xz alone gives 0.78 of the 74 MB of raw pixels, PNG 0.81, lossless WebP 0.80. Coding
each pixel as its error against the median edge detector of LOCO-I / JPEG-LS (a lossless
predictor from its left, upper and upper-left neighbours) before xz gives 0.74, which fits.

    python bench/gpu/fer_pack.py pack ../shared/datasets/fer2013 .fer/trainval.xz
    python bench/gpu/fer_pack.py unpack .fer/trainval.xz /tmp/fer2013.csv   # the challenge's CSV layout

The round trip is exact (checked by `pack`, which decodes what it wrote). Not a product feature: a
transport for bench/gpu/train.sh. Needs numpy alone, so it runs before anything else is installed.
"""

from __future__ import annotations

import lzma
import sys
from pathlib import Path

import numpy as np

USAGE = {"train": "Training", "validation": "PublicTest"}
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


def pack(source: str, target: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from model.dataset import load_fer2013

    splits, _ = load_fer2013(source)
    faces = np.concatenate([splits[s].images for s in USAGE])
    header = np.array([len(splits[s]) for s in USAGE], np.int64)
    labels = np.concatenate([splits[s].labels for s in USAGE]).astype(np.uint8)
    blob = header.tobytes() + labels.tobytes() + encode(faces)
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_bytes(lzma.compress(blob, format=lzma.FORMAT_XZ, filters=FILTERS))
    back, back_labels, _ = read(target)
    assert np.array_equal(back, faces) and np.array_equal(back_labels, labels), "round trip differs"
    print(f"{target}: {Path(target).stat().st_size / 1e6:.1f} MB for {len(faces)} faces "
          f"({Path(target).stat().st_size / faces.size:.3f} of raw), round trip exact")


def read(path: str):
    blob = lzma.decompress(Path(path).read_bytes())
    counts = np.frombuffer(blob[:16], np.int64)
    total = int(counts.sum())
    labels = np.frombuffer(blob[16:16 + total], np.uint8)
    return decode(blob[16 + total:], total), labels, counts


def unpack(source: str, target: str) -> None:
    """Write the faces as the challenge's fer2013.csv (emotion,pixels,Usage), which `--data` reads."""
    faces, labels, counts = read(source)
    usage = np.repeat(list(USAGE.values()), counts)
    with open(target, "w") as out:
        out.write("emotion,pixels,Usage\n")
        for face, label, use in zip(faces, labels, usage):
            out.write(f"{label},{' '.join(map(str, face.ravel().tolist()))},{use}\n")
    print(f"{target}: {len(faces)} faces ({', '.join(f'{u} {c}' for u, c in zip(USAGE.values(), counts))})")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("pack", "unpack"):
        sys.exit(__doc__)
    {"pack": pack, "unpack": unpack}[sys.argv[1]](sys.argv[2], sys.argv[3])
