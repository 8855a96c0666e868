"""The tracker and smoother on real numbers: boxes that move, faces that come and go."""

from __future__ import annotations

import numpy as np
import pytest

from capture.tracking import FORGET_AFTER_SECONDS, Tracker, overlap

HAPPY = np.array([0.05, 0, 0.05, 0.5, 0.1, 0.1, 0.2], np.float32)
NEUTRAL = np.array([0.05, 0, 0.05, 0.2, 0.1, 0.1, 0.5], np.float32)


def test_overlap_of_boxes():
    assert overlap((0, 0, 10, 10), (0, 0, 10, 10)) == 1
    assert overlap((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert overlap((0, 0, 10, 10), (20, 20, 5, 5)) == 0


def test_two_faces_keep_their_tracks_as_they_move_and_swap_order():
    tracker = Tracker()
    left, right = (10, 10, 100, 100), (300, 10, 100, 100)
    first = [track for track, _ in tracker.follow([left, right], [HAPPY, NEUTRAL], ts=0.0)]
    moved = [(14, 12, 100, 100), (296, 11, 100, 100)]
    second = [track for track, _ in tracker.follow(moved[::-1], [NEUTRAL, HAPPY], ts=0.04)]
    assert first == [1, 2] and second == [2, 1]


def test_a_face_gone_longer_than_the_forget_time_comes_back_as_a_new_track():
    tracker = Tracker()
    box = (10, 10, 100, 100)
    (first, _), = tracker.follow([box], [HAPPY], ts=0.0)
    (same, _), = tracker.follow([box], [HAPPY], ts=FORGET_AFTER_SECONDS / 2)
    (new, _), = tracker.follow([box], [HAPPY], ts=2 * FORGET_AFTER_SECONDS + 1)
    assert first == same == 1 and new == 2


def test_without_smoothing_the_probabilities_pass_through():
    tracker = Tracker()
    (_, logged), = tracker.follow([(0, 0, 50, 50)], [HAPPY], ts=0.0)
    (_, logged), = tracker.follow([(0, 0, 50, 50)], [NEUTRAL], ts=0.03)
    np.testing.assert_array_equal(logged, NEUTRAL)


def test_smoothing_stops_a_label_flickering_at_frame_rate():
    plain, smooth = Tracker(), Tracker(smooth_seconds=0.5)
    labels = {"plain": [], "smooth": []}
    for frame in range(60):                      # two seconds at 30 fps, mostly happy, neutral every 3rd
        probabilities = NEUTRAL if frame % 3 == 2 else HAPPY
        for name, tracker in (("plain", plain), ("smooth", smooth)):
            (_, logged), = tracker.follow([(0, 0, 50, 50)], [probabilities], ts=frame / 30)
            labels[name].append(int(np.argmax(logged)))
            assert logged.sum() == pytest.approx(1.0, abs=1e-5)
    changes = {name: sum(a != b for a, b in zip(seq, seq[1:])) for name, seq in labels.items()}
    assert changes["plain"] >= 30 and changes["smooth"] == 0
    assert set(labels["smooth"]) == {3}


def test_a_face_less_frame_is_looked_at_closer_after_a_face_and_every_tenth_time_in_a_row():
    """The close-up retry (a second detection) runs right after a frame with a face, and on every
    tenth face-less frame in a row: an empty room pays a tenth more, a person leaning in is kept."""
    from capture.daemon import LookCloser

    closer = LookCloser()
    pattern = []
    for faces in [["face"], [], [], *[[]] * 18, ["face"], []]:
        pattern.append(closer.now())
        closer.saw(faces)
    assert pattern[0] and pattern[1]                    # the first frame; the frame after a face
    assert pattern[2:11] == [False] * 9 and pattern[11]  # then one in ten face-less frames
    assert pattern[-1]                                  # right after the next face
