"""EmotionClassifier: the predict contract, real accuracy on FER2013 test faces, bad model files."""

import numpy as np
import pytest

import cv2

from model.classifier import FAST_MODEL, TRIM, EmotionClassifier, normalise_light, to_model_input
from model.training.keras_model import classifier_for
from model.training.dataset import load_fer2013
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


def test_trim_reads_the_face_a_little_tighter_at_any_size():
    face = np.random.default_rng(2).integers(0, 256, (48, 48), dtype=np.uint8)
    np.testing.assert_array_equal(to_model_input([face], trim=1)[0, :, :, 0],
                                  normalise_light(cv2.resize(face[1:-1, 1:-1], (48, 48), interpolation=cv2.INTER_LINEAR)))
    np.testing.assert_array_equal(to_model_input([face])[0, :, :, 0], normalise_light(face))
    big = cv2.resize(face, (480, 480), interpolation=cv2.INTER_NEAREST)
    np.testing.assert_array_equal(to_model_input([big], trim=1)[0, :, :, 0],
                                  normalise_light(cv2.resize(big[10:-10, 10:-10], (48, 48), interpolation=cv2.INTER_AREA)))
    assert to_model_input([np.zeros((3, 3), np.uint8)], trim=TRIM).shape == (1, 48, 48, 1)


def test_predict_trims_as_measured_unless_told_not_to(fer2013):
    """The shipped trim is on by default; trim=0 reads FER2013 faces exactly as they are."""
    faces = load_fer2013(fer2013)[0]["test"].images[:64]
    trimmed, untrimmed = EmotionClassifier(), EmotionClassifier(trim=0)
    assert trimmed.trim == TRIM == 1
    tighter = [cv2.resize(face[1:-1, 1:-1], (48, 48), interpolation=cv2.INTER_LINEAR) for face in faces]
    np.testing.assert_allclose(trimmed.predict(faces), untrimmed.predict(tighter), atol=1e-6)
    assert not np.allclose(trimmed.predict(faces), untrimmed.predict(faces), atol=1e-3)


def fer2013_test_accuracy(classifier, fer2013) -> float:
    """Accuracy on every third FER2013 test face (1,197 faces) through `predict`."""
    test = load_fer2013(fer2013)[0]["test"]
    return float(np.mean(classifier.predict(test.images[::3]).argmax(axis=1) == test.labels[::3]))


def test_shipped_model_is_far_above_chance_on_real_fer2013_test_faces(classifier, fer2013):
    accuracy = fer2013_test_accuracy(classifier, fer2013)
    assert accuracy > 0.55, f"accuracy {accuracy:.3f} on FER2013 test faces"


def test_fast_model_runs_int8_and_is_far_above_chance_on_real_fer2013_test_faces(fer2013):
    fast = EmotionClassifier(FAST_MODEL)
    accuracy = fer2013_test_accuracy(fast, fer2013)
    assert fast.runtime == "int8" and accuracy > 0.55, f"accuracy {accuracy:.3f}, runtime {fast.runtime}"


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    fake = tmp_path / "model.keras"
    fake.write_text("definitely not a model")
    with pytest.raises(ModelFileError, match="not a Keras model"):
        EmotionClassifier(fake)
    with pytest.raises(ModelFileError, match="no model file"):
        EmotionClassifier(tmp_path / "absent.keras")


def test_tflite_runtime_gives_the_keras_probabilities(classifier):
    """Float TFLite (converted and cached by content hash) against the model itself."""
    faces = np.random.default_rng(3).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    lite = classifier_for(classifier.path, "tflite")
    keras_runtime = classifier_for(classifier.path, "keras")
    np.testing.assert_allclose(lite.predict(faces), keras_runtime.predict(faces), atol=1e-5)
    np.testing.assert_allclose(lite.predict(faces[:1]), keras_runtime.predict(faces[:1]), atol=1e-5)


def test_shipped_int8_runtime_reads_real_faces_as_the_float_model_does(classifier, fer2013):
    """The default runtime is the shipped int8 file; quantisation may move probabilities a little,
    not the verdicts."""
    assert classifier.runtime == "int8"
    faces = load_fer2013(fer2013)[0]["test"].images[::10]
    quantised = classifier.predict(faces)
    exact = classifier_for(classifier.path, "tflite").predict(faces)
    agreement = float(np.mean(quantised.argmax(axis=1) == exact.argmax(axis=1)))
    assert agreement > 0.95, f"int8 and float32 agree on {agreement:.3f} of {len(faces)} faces"
    assert float(np.abs(quantised - exact).mean()) < 0.02


def test_int8_file_belongs_to_one_exact_model(tmp_path, classifier):
    """A model without its own int8 file runs float TFLite; asking for int8 then says what is missing;
    writing one replaces older int8 files of the same name."""
    import shutil

    from model.lite import int8_path
    from model.training.keras_model import load_model, write_int8

    path = tmp_path / "moodnet.keras"
    shutil.copy(classifier.path, path)
    path.write_bytes(path.read_bytes() + b"\0")        # another model file: another hash, no int8 yet
    stale = tmp_path / "moodnet-0123456789abcdef0123.int8.tflite"
    stale.write_bytes(b"an older model's int8 file")
    assert classifier_for(path).runtime == "tflite"            # training's tools fall back to float
    with pytest.raises(ModelFileError, match="no int8 version.*quantize"):
        EmotionClassifier(path)                                 # the run time says what to do
    with pytest.raises(ModelFileError, match="no int8 version"):
        classifier_for(path, "int8")
    calibration = np.random.default_rng(4).integers(0, 256, (32, 48, 48, 1), dtype=np.uint8)
    assert write_int8(load_model(path), path, calibration) == int8_path(path)
    assert not stale.exists() and EmotionClassifier(path).runtime == "int8"
    with pytest.raises(ValueError, match="runtime must be one of"):
        classifier_for(path, "onnx")
    with pytest.raises(ValueError, match="needs the training tools"):
        EmotionClassifier(path, runtime="keras")


def test_light_normalisation_reads_a_face_the_same_in_any_exposure_or_contrast(fer2013):
    """The contrast stretch undoes a darker exposure and a flatter contrast: the same FER2013 face,
    dimmed to a quarter or squeezed into the middle half of the grey range, gives one model input
    (within the grey levels the dimmer face lost)."""
    face = load_fer2013(fer2013)[0]["test"].images[0].astype(np.float32)
    dim = (face * 0.25).round().astype(np.uint8)               # 64 grey levels left
    flat = (64 + face * 0.5).round().astype(np.uint8)
    plain = to_model_input([face.astype(np.uint8)]).astype(int)
    for changed in (dim, flat):
        assert np.mean(np.abs(to_model_input([changed]).astype(int) - plain) <= 6) > 0.95
    assert np.array_equal(normalise_light(normalise_light(dim)), normalise_light(dim))    # idempotent
    flat_grey = np.full((48, 48), 37, np.uint8)
    assert np.array_equal(normalise_light(flat_grey), flat_grey)                         # nothing to stretch


def test_litert_gives_the_int8_probabilities_tensorflow_lite_gave(fer2013):
    """The run time moved from tf.lite.Interpreter to LiteRT: the shipped int8 model's probabilities on
    real FER2013 faces are the ones TensorFlow's interpreter gives, within 1e-5 (issue 15)."""
    import warnings

    import cv2

    tf = pytest.importorskip("tensorflow", reason="the training tools are not installed")
    from model.classifier import DEFAULT_MODEL
    from model.lite import LiteForward, int8_path

    paths = sorted((fer2013 / "test" / "happy").glob("*"))[:16] + sorted((fer2013 / "test" / "sad").glob("*"))[:16]
    faces = to_model_input([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths], TRIM)
    blob = int8_path(DEFAULT_MODEL).read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                     # tf.lite's notice of its move to LiteRT
        interpreter = tf.lite.Interpreter(model_content=blob, num_threads=1)
    source = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(source, faces.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(source, faces.astype(np.float32))
    interpreter.invoke()
    before = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert np.abs(LiteForward(blob)(faces) - before).max() <= 1e-5
