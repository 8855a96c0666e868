"""EmotionClassifier: the predict contract, real accuracy on FER2013 test faces, bad model files."""

import numpy as np
import pytest

from model.classifier import EmotionClassifier, to_model_input
from model.dataset import load_fer2013
from model.errors import ModelFileError


@pytest.fixture(scope="module")
def classifier():
    return EmotionClassifier()


def test_predict_contract_for_grey_colour_and_any_size(classifier):
    rng = np.random.default_rng(0)
    faces = [rng.integers(0, 256, (48, 48), dtype=np.uint8),
             rng.integers(0, 256, (120, 90, 3), dtype=np.uint8),
             rng.integers(0, 256, (31, 40), dtype=np.uint8),
             rng.integers(0, 256, (64, 64, 1), dtype=np.uint8)]
    probabilities = classifier.predict(faces)
    assert probabilities.shape == (4, 7) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert (probabilities >= 0).all()
    assert classifier.predict([]).shape == (0, 7)


def test_predict_batches_agree_with_single_faces(classifier):
    faces = np.random.default_rng(1).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    together = classifier.predict(faces)
    alone = np.concatenate([classifier.predict(faces[i:i + 1]) for i in range(5)])
    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_preprocessing_turns_colour_to_48x48_grey():
    face = np.zeros((96, 96, 3), np.uint8)
    face[:, :, 2] = 255  # pure red in BGR
    batch = to_model_input([face])
    assert batch.shape == (1, 48, 48, 1) and batch.dtype == np.uint8
    assert 70 <= batch[0, 0, 0, 0] <= 80  # OpenCV's luma weight for red is 0.299


def test_shipped_model_is_far_above_chance_on_real_fer2013_test_faces(classifier, fer2013):
    test = load_fer2013(fer2013)[0]["test"]
    probabilities = classifier.predict(test.images[::3])
    accuracy = float(np.mean(probabilities.argmax(axis=1) == test.labels[::3]))
    assert accuracy > 0.55, f"accuracy {accuracy:.3f} on {len(probabilities)} FER2013 test faces"


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    fake = tmp_path / "model.keras"
    fake.write_text("definitely not a model")
    with pytest.raises(ModelFileError, match="not a Keras model"):
        EmotionClassifier(fake)
    with pytest.raises(ModelFileError, match="no model file"):
        EmotionClassifier(tmp_path / "absent.keras")


def test_tflite_runtime_gives_the_keras_probabilities(classifier):
    """The shipped runtime (TFLite, converted and cached by content hash) against the model itself."""
    faces = np.random.default_rng(3).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    keras_runtime = EmotionClassifier(classifier.path, runtime="keras")
    assert classifier.runtime == "tflite"
    np.testing.assert_allclose(classifier.predict(faces), keras_runtime.predict(faces), atol=1e-5)
    np.testing.assert_allclose(classifier.predict(faces[:1]), keras_runtime.predict(faces[:1]), atol=1e-5)
