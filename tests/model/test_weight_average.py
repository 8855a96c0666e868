"""bench/weight_average.py: weight averaging (WiSE-FT, model soups) of real networks of the shipped
ensemble, and the greedy soup's choice on real FER2013 faces."""

from __future__ import annotations

import sys

import keras
import numpy as np
import pytest

from model.classifier import DEFAULT_MODEL
from model.training.network import build_model
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import weight_average  # noqa: E402  (a bench script, found on its folder's path)


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    """The shipped ensemble's two member networks as their own files, and an untrained network of their
    architecture (seeded): three networks of one shape whose weights all differ."""
    folder = tmp_path_factory.mktemp("members")
    paths = weight_average.save_members(DEFAULT_MODEL, folder)
    keras.utils.set_random_seed(5)
    untrained = folder / "untrained.keras"
    build_model().save(untrained)
    return paths + [untrained]


def weights(path):
    return keras.saving.load_model(path, compile=False).get_weights()


def test_an_average_holds_the_weighted_mean_of_every_weight_and_wise_ft_its_ends(members):
    first, second = weights(members[0]), weights(members[1])
    mixed = weight_average.averaged(members[:2], [0.25, 0.75]).get_weights()
    assert any(np.abs(a - b).max() > 1e-3 for a, b in zip(first, second)), "the members must differ"
    for a, b, m in zip(first, second, mixed):
        np.testing.assert_allclose(m, 0.25 * a + 0.75 * b, rtol=1e-5, atol=1e-6)
    for a, m in zip(first, weight_average.interpolated(members[0], members[1], 0.0).get_weights()):
        np.testing.assert_array_equal(a, m)


def test_networks_of_another_architecture_are_refused(members, tmp_path):
    other = tmp_path / "narrow.keras"
    build_model(widths=(8, 16)).save(other)
    with pytest.raises(ValueError, match="not the same architecture"):
        weight_average.averaged([members[0], other], [0.5, 0.5])


def test_the_greedy_soup_keeps_out_a_network_that_lowers_validation_accuracy(members, fer2013):
    from model.training.dataset import Split, load_fer2013

    test = load_fer2013(str(fer2013))[0]["test"]
    faces = Split(test.images[:300], test.labels[:300])
    trained, untrained = members[0], members[2]
    alone = weight_average.validation_accuracy(weight_average.averaged([trained], [1.0]), faces)
    assert alone > 0.5, "a member of the shipped model reads FER2013 faces"
    network, lines = weight_average.soup([untrained, trained], "greedy", faces)
    assert any("untrained.keras: soup" in line and line.endswith("(out)") for line in lines), lines
    assert lines[-1].startswith("  greedy soup of 1:")
    for a, b in zip(weights(trained), network.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    _, uniform = weight_average.soup([untrained, trained], "uniform", faces)
    assert uniform[-1].startswith("  uniform soup of 2:")
