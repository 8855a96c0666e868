"""Time the recognize page's server-side work for a 12-megapixel photo (issue 4 target: <= 300 ms).

The photo is made at run time by upscaling a real group photo from ../shared/datasets/faces
to 4000x3000 (nothing is written to disk). Timed: the page's callback inside a request
context of the real app (base64 decoding, size and pixel checks, decoding, detection,
classification, the annotated preview, thumbnails, probability charts) plus Dash's JSON
serialisation of the result.

    nice -n 15 .venv/bin/python bench/dashboard_recognize.py
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PHOTOS = ROOT.parent / "shared" / "datasets" / "faces" / "group_photos"

from dash._utils import to_json  # noqa: E402

from dashboard import uploads  # noqa: E402
from model.faces import PHOTO_DETECTOR  # noqa: E402
from dashboard.app import create_app  # noqa: E402
from model.recognizer import Recognizer  # noqa: E402


def twelve_megapixel_upload(photo: Path) -> tuple[str, int]:
    """The photo upscaled to 4000x3000 as a JPEG data URI (what the browser sends), and its size."""
    image = cv2.imread(str(photo))
    big = cv2.resize(image, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    ok, encoded = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    data = encoded.tobytes()
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii"), len(data)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", default=str(PHOTOS / "deepface_couple.jpg"))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    contents, size = twelve_megapixel_upload(Path(args.photo))
    recognizer = Recognizer(detector=PHOTO_DETECTOR)
    app = create_app("bench/out/none.db", recognizer=recognizer)
    page = sys.modules["pages.recognize"]
    with app.server.test_request_context("/"):
        def callback():       # the page's callback after Dash has picked the latest upload
            return to_json(page._recognized(contents, "big.jpg", whole_image=False, min_face=page.MIN_FACE))

        callback()            # warm-up: the first call builds the interpreter's graph
        stages = {"callback + JSON": callback,
                  "  analyse() only": lambda: uploads.analyse(recognizer, contents, "big.jpg"),
                  "  decode + load_image": lambda: uploads.load_image(uploads.decode_upload(contents))}
        analysis = uploads.analyse(recognizer, contents, "big.jpg")
        print(f"{Path(args.photo).name} upscaled to 4000x3000, JPEG {size / 1e6:.1f} MB, "
              f"{len(analysis.faces)} faces ({sum(1 for f in analysis.faces if f['emotion'])} classified); "
              f"median of {args.repeats}:")
        for name, stage in stages.items():
            times, cpus = [], []
            for _ in range(args.repeats):
                began, began_cpu = time.perf_counter(), time.process_time()
                stage()
                times.append((time.perf_counter() - began) * 1000)
                cpus.append((time.process_time() - began_cpu) * 1000)
            print(f"{name}: wall {statistics.median(times):.0f} ms (min {min(times):.0f}, max {max(times):.0f}), "
                  f"CPU {statistics.median(cpus):.0f} ms (all threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
