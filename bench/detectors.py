"""Face detectors on real full-frame photos: faces found, false detections, time per frame.

One-face photos (CFD, Yale): a photo counts as found when the detector returns at least one
box, and every box beyond the first is a false detection. Face-free photos (nonface/): every
box is false. Group photos have no ground truth: the faces found are listed for a look.
Time: median over the one-face photos at webcam size (longer side 640), one CPU core, and over
the group photos at full size (up to 2280 px; what `predict` and the upload page get).
Usage: python bench/detectors.py
"""

import statistics
import time

from common import one_core
from model.images import load_image
from real_photos import face_free_photos, frame_sized, group_photos, labelled_photos


def measure(detector, images) -> tuple[list[int], float]:
    counts, times = [], []
    for image in images:
        started = time.perf_counter()
        counts.append(len(detector.detect(image)))
        times.append(time.perf_counter() - started)
    return counts, statistics.median(times)


def main() -> None:
    one_core()
    from model.faces import DETECTORS, get_detector

    one_face = {name: [frame_sized(p) for s, p, _ in labelled_photos((name,))] for name in ("cfd", "yale")}
    empty = [frame_sized(p) for p in face_free_photos()]
    groups = [frame_sized(p) for p in group_photos()]
    groups_full = [load_image(p) for p in group_photos()]
    print("| detector | CFD found | Yale found | false on one-face photos | false on face-free photos "
          "| faces in 14 group photos at 640 px | at full size | median ms/frame | median ms/full group photo |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in DETECTORS:
        detector = get_detector(name)
        found, extra, times = {}, 0, []
        for set_name, images in one_face.items():
            counts, seconds = measure(detector, images)
            found[set_name] = f"{sum(c > 0 for c in counts)}/{len(counts)}"
            extra += sum(max(c - 1, 0) for c in counts)
            times.append(seconds)
        empty_counts, _ = measure(detector, empty)
        group_counts, _ = measure(detector, groups)
        full_counts, full_seconds = measure(detector, groups_full)
        print(f"| {name} | {found['cfd']} | {found['yale']} | {extra} | {sum(empty_counts)} in "
              f"{sum(c > 0 for c in empty_counts)}/{len(empty)} photos | {sum(group_counts)} | "
              f"{sum(full_counts)} | {statistics.median(times) * 1000:.1f} | {full_seconds * 1000:.0f} |", flush=True)


if __name__ == "__main__":
    main()
