"""How many labels on annotated group photos cover another face (issue 15: none should).

Every photo of ../shared/datasets/faces/group_photos through predict's recognizer (blazeface-tiles)
at --min-face 32 and 16, annotated as `predict --out` does; a label band counts when it overlaps the
box of any other readable face.

    .venv/bin/python bench/label_overlap.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import model.annotate as annotate_module  # noqa: E402
from model.classifier import EmotionClassifier  # noqa: E402
from model.faces import PHOTO_DETECTOR  # noqa: E402
from model.images import load_image  # noqa: E402
from model.recognizer import TOO_SMALL, Recognizer  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "datasets" / "faces" / "group_photos"


def main() -> None:
    classifier = EmotionClassifier()
    for min_face in (32, 16):
        recognizer = Recognizer(classifier, PHOTO_DETECTOR, min_face=min_face)
        covering = total = 0
        for path in sorted(PHOTOS.glob("*")):
            image = load_image(path)
            faces = [face for face in recognizer.recognize(image)]
            bands = []
            draw = annotate_module._draw_band

            def spy(canvas, text, band, *rest):
                bands.append(band)
                return draw(canvas, text, band, *rest)

            annotate_module._draw_band = spy
            try:
                annotate_module.annotate(image, faces)
            finally:
                annotate_module._draw_band = draw
            labelled = [(f.box.x, f.box.y, f.box.w, f.box.h) for f in faces if f.status != TOO_SMALL]
            for own, band in zip(labelled, bands):
                total += 1
                covering += any(annotate_module._overlaps(band, other) for other in labelled if other != own)
        print(f"--min-face {min_face}: {covering} of {total} labels cover another face")


if __name__ == "__main__":
    main()
