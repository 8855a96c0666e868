"""The training knobs that shape the shipped model: class weights, network widths, precision."""

import numpy as np
import pytest

from model.errors import DatasetError
from model.training.train import chosen_precision, class_weights, parse_widths


FER2013_TRAIN_COUNTS = [3995, 436, 4097, 7215, 4830, 3171, 4965]


def fer_like_labels():
    return np.repeat(np.arange(7), FER2013_TRAIN_COUNTS)


@pytest.mark.parametrize("how", ["sqrt", "balanced"])
def test_class_weights_lift_rare_emotions_and_keep_the_mean_at_one(how):
    labels = fer_like_labels()
    weights = class_weights(labels, how)
    per_image = np.array([weights[k] for k in labels])
    assert per_image.mean() == pytest.approx(1.0)
    assert weights[1] > weights[0] > weights[3]          # disgust > angry > happy
    if how == "balanced":                               # every class weighs the same in total
        totals = [weights[k] * n for k, n in enumerate(FER2013_TRAIN_COUNTS)]
        assert max(totals) == pytest.approx(min(totals))


def test_no_class_weights_and_unknown_choices():
    assert class_weights(fer_like_labels(), "none") is None
    with pytest.raises(DatasetError):
        class_weights(fer_like_labels(), "inverse")


def test_widths_are_parsed_and_bad_ones_refused():
    assert parse_widths("16,32,96,192") == (16, 32, 96, 192)
    for bad in ("", "16,x", "2,4", "8,8,8,8,8"):
        with pytest.raises(DatasetError):
            parse_widths(bad)


def test_precision_is_chosen_from_the_cpu_unless_given():
    assert chosen_precision("float32") == "float32"
    assert chosen_precision("auto") in ("float32", "mixed_bfloat16")


def test_the_network_maps_48x48_grey_pixels_to_seven_probabilities():
    from model.training.network import build_model

    model = build_model(widths=(8, 16))
    out = model(np.zeros((2, 48, 48, 1), np.float32)).numpy()
    assert out.shape == (2, 7) and np.allclose(out.sum(axis=1), 1, atol=1e-5)


def test_random_erasing_blanks_patches_of_some_faces_only_when_asked():
    import tensorflow as tf

    from model.training.network import augmenter

    faces = tf.constant(np.full((64, 48, 48, 1), 128, np.float32))
    plain = augmenter(seed=3)(faces, training=True).numpy()
    erased = augmenter(seed=3, erasing=0.5)(faces, training=True).numpy()
    assert (plain == 128).all(), "flips, shifts and zooms of a flat face leave it flat"
    changed = (erased != 128).mean(axis=(1, 2, 3))
    assert 0 < (changed > 0).sum() < 64 and changed.max() <= 0.25
    assert "random_erasing" not in [layer.name for layer in augmenter(seed=3).layers]


def test_distillation_targets_blend_the_label_with_the_teachers_probabilities():
    from model.training.distill import blended_targets

    labels = np.array([3, 0])
    teacher = np.array([[0.1, 0, 0, 0.5, 0.2, 0, 0.2], [0, 0, 0, 0, 0, 0, 1.0]], np.float32)
    targets = blended_targets(labels, teacher, 0.5)
    assert targets.dtype == np.float32 and np.allclose(targets.sum(axis=1), 1)
    assert np.allclose(targets[0], [0.05, 0, 0, 0.75, 0.1, 0, 0.1])
    assert np.allclose(targets[1], [0.5, 0, 0, 0, 0, 0, 0.5]), "a teacher that disagrees pulls half the weight"
    assert np.allclose(blended_targets(labels, teacher, 0.0), np.eye(7)[labels]), "weight 0 is plain training"
    with pytest.raises(ValueError):
        blended_targets(labels, teacher[:1], 0.5)


def test_a_resumed_history_gets_seconds_only_if_its_header_has_them(tmp_path):
    from model.training.train import _history_has_seconds

    history = tmp_path / "history.csv"
    assert _history_has_seconds(history, resume=True) and _history_has_seconds(history, resume=False)
    history.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.5,1.2,0.5,1.3\n")
    assert not _history_has_seconds(history, resume=True)
    assert _history_has_seconds(history, resume=False), "a fresh run starts a new file"
    history.write_text("epoch,accuracy,loss,seconds,val_accuracy,val_loss\n0,0.5,1.2,9.5,0.5,1.3\n")
    assert _history_has_seconds(history, resume=True)
