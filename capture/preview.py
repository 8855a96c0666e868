"""The optional annotated preview window (`--preview`): boxes, emotions, statuses.

The window is a convenience, never a reason to stop capturing: without a display, or with a
headless OpenCV build (no GUI), it says so once and capture goes on without it.
"""

from __future__ import annotations

import os
import sys

import cv2


WINDOW = "Moodlog"


def _bgr(hex_colour: str) -> tuple[int, int, int]:
    red, green, blue = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return blue, green, red


def annotate(image, faces):
    """A copy of the frame with each face's box and its emotion (or why it was not read)."""
    image = image.copy()
    for face in faces:
        box = face.box
        colour = _bgr(face.colour) if face.emotion else (160, 160, 160)
        label = f"{face.emotion} {face.confidence:.0%}" if face.emotion else face.status
        cv2.rectangle(image, (box.x, box.y), (box.x + box.w, box.y + box.h), colour, 2)
        cv2.putText(image, label, (box.x, max(12, box.y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1)
    return image


class Preview:
    """Shows annotated frames when enabled and possible; otherwise does nothing."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and self._possible()

    @staticmethod
    def _possible() -> bool:
        if os.name == "posix" and sys.platform != "darwin" and not os.environ.get("DISPLAY") \
                and not os.environ.get("WAYLAND_DISPLAY"):
            print("warning: --preview needs a display; capturing without it", file=sys.stderr)
            return False
        return True

    def show(self, image, faces) -> None:
        if not self.enabled:
            return
        try:
            cv2.imshow(WINDOW, annotate(image, faces))
            cv2.waitKey(1)
        except cv2.error:
            print("warning: this OpenCV has no GUI (opencv-python-headless); capturing without preview",
                  file=sys.stderr)
            self.enabled = False

    def close(self) -> None:
        if self.enabled:
            cv2.destroyAllWindows()
