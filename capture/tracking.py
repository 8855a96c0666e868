"""Follow faces across frames by box overlap, and smooth each face's emotions over time.

A track is a face seen in consecutive frames: each new box joins the track whose last box
overlaps it most (intersection over union above `MIN_OVERLAP`), else starts a new track.
That is enough for faces in front of a fixed camera, which move little between frames.

Smoothing is an exponential moving average with a time constant in seconds rather than a
window of frames, so that it means the same at 5 and at 100 analysed frames a second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_OVERLAP = 0.3
# A track not seen for this long is forgotten; a face that comes back later is a new track.
FORGET_AFTER_SECONDS = 1.0
SMOOTH_SECONDS = 0.5


@dataclass
class Track:
    id: int
    box: tuple[int, int, int, int]
    last_seen: float
    probabilities: np.ndarray


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two (x, y, w, h) boxes, 0 to 1."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


class Tracker:
    """Gives each face a track id and, with `smooth_seconds`, its smoothed probabilities."""

    def __init__(self, smooth_seconds: float = 0.0):
        self.smooth_seconds = smooth_seconds
        self.tracks: dict[int, Track] = {}
        self.next_id = 1

    def follow(self, boxes: list[tuple[int, int, int, int]], probabilities: list[np.ndarray],
               ts: float) -> list[tuple[int, np.ndarray]]:
        """(track id, probabilities to log) for each box, in the order given."""
        self._forget(ts)
        matches = self._match(boxes)
        return [self._update(matches.get(i), box, p, ts) for i, (box, p) in enumerate(zip(boxes, probabilities))]

    def _forget(self, ts: float) -> None:
        self.tracks = {i: t for i, t in self.tracks.items() if ts - t.last_seen <= FORGET_AFTER_SECONDS}

    def _match(self, boxes) -> dict[int, int]:
        """Greedy matching, best overlap first: box index -> track id."""
        pairs = sorted(((overlap(box, track.box), i, track.id) for i, box in enumerate(boxes)
                        for track in self.tracks.values()), reverse=True)
        matches, taken = {}, set()
        for score, box_index, track_id in pairs:
            if score < MIN_OVERLAP:
                break
            if box_index not in matches and track_id not in taken:
                matches[box_index] = track_id
                taken.add(track_id)
        return matches

    def _update(self, track_id: int | None, box, probabilities: np.ndarray, ts: float) -> tuple[int, np.ndarray]:
        if track_id is None:
            track_id, self.next_id = self.next_id, self.next_id + 1
            self.tracks[track_id] = Track(track_id, box, ts, np.asarray(probabilities, np.float32))
            return track_id, self.tracks[track_id].probabilities
        track = self.tracks[track_id]
        if self.smooth_seconds > 0:
            weight = 1 - math.exp(-max(ts - track.last_seen, 0.0) / self.smooth_seconds)
            track.probabilities = (1 - weight) * track.probabilities + weight * np.asarray(probabilities, np.float32)
        else:
            track.probabilities = np.asarray(probabilities, np.float32)
        track.box, track.last_seen = box, ts
        return track_id, track.probabilities
