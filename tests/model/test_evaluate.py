"""Scoring and `evaluate`: macro-F1 over the emotions present, photos read as `predict` reads them,
and --whole-image for face crops."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from model.training.evaluate import score
from model.labels import INDEX
from model.training.photo_evaluation import holds_photos

ROOT = Path(__file__).resolve().parents[2]


def app(*args, timeout=600):
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def one_hot(predicted):
    return np.eye(7, dtype=np.float32)[predicted]


def test_macro_f1_averages_only_the_emotions_present():
    happy, angry, sad = INDEX["happy"], INDEX["angry"], INDEX["sad"]
    metrics = score(np.array([happy, happy, angry, angry]), one_hot([happy, happy, angry, sad]))
    # happy: F1 1; angry: recall 1/2, precision 1, F1 2/3; sad is absent and only wrongly predicted.
    assert metrics.macro_f1 == pytest.approx((1 + 2 / 3) / 2)
    assert metrics.present.sum() == 2 and metrics.accuracy == 0.75


def test_with_all_seven_present_macro_f1_is_the_plain_mean():
    labels = np.arange(7).repeat(3)
    predicted = labels.copy()
    predicted[::4] = (predicted[::4] + 1) % 7
    metrics = score(labels, one_hot(predicted))
    assert metrics.macro_f1 == pytest.approx(metrics.f1.mean()) and metrics.unread.sum() == 0


def test_unread_images_count_as_wrong_and_in_no_column():
    happy = INDEX["happy"]
    probabilities = one_hot([happy, happy, 0])
    metrics = score(np.array([happy, happy, happy]), probabilities, read=np.array([True, True, False]))
    # The unread row's argmax is angry; it must not be counted as a prediction of anything.
    assert metrics.accuracy == pytest.approx(2 / 3) and metrics.recall[happy] == pytest.approx(2 / 3)
    assert metrics.count == 3 and metrics.read == 2 and metrics.confusion[:, 0].sum() == 0


def test_score_refuses_labels_and_predictions_of_different_lengths():
    with pytest.raises(ValueError, match="2 labels, 3 predictions"):
        score(np.array([0, 1]), one_hot([0, 1, 2]))


def test_evaluate_reads_faces_in_a_folder_of_portraits(face_photos, tmp_path):
    for emotion in ("happy", "angry"):
        (tmp_path / emotion).mkdir()
        for photo in sorted((face_photos / "cfd" / emotion).glob("*"))[:3]:
            shutil.copy(photo, tmp_path / emotion)
    shutil.copy(sorted((face_photos / "nonface").glob("*"))[0], tmp_path / "angry")   # no face: wrong
    (tmp_path / "happy" / "broken.jpg").write_bytes(b"\xff\xd8 not really a JPEG")      # unreadable: said, skipped
    result = app("evaluate", "--data", tmp_path, "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "read as `predict` reads it (detector blazeface-tiles" in out, out
    assert re.search(r"read as photos: \w+/\S+ is \d+x\d+, not a 48x48 face crop", out), out
    assert "dropped 1 (unreadable image), e.g. " in out and "broken.jpg" in out, out
    read = int(re.search(r"faces read in (\d) of 7 photos; the one without a readable face counts as wrong",
                         out).group(1))
    assert read >= 5, out
    accuracy, macro_f1 = map(float, re.search(r"accuracy ([\d.]+), macro-F1 ([\d.]+) \(over the 2 emotions "
                                              r"present\) on 7 images", out).groups())
    assert accuracy <= 6 / 7 + 1e-4, "the face-free photo counts as wrong"
    f1 = {row[0]: row[-1] for row in (line.strip("|").split("|") for line in out.splitlines() if "|" in line)}
    assert f1[" disgust "].strip() == "-" and f1[" sad "].strip() == "-"
    assert macro_f1 == pytest.approx((float(f1[" happy "]) + float(f1[" angry "])) / 2, abs=1e-3)


def test_whole_image_classifies_face_crops_of_any_size_without_detection(fer2013, tmp_path):
    """FER2013 test faces enlarged to 96x96 look like photos, so --whole-image must force the
    classifier path; they then score like the 48x48 originals, which that path takes by itself."""
    for emotion in ("happy", "angry", "surprise"):
        (tmp_path / "small" / emotion).mkdir(parents=True)
        (tmp_path / "large" / emotion).mkdir(parents=True)
        for face in sorted((fer2013 / "test" / emotion).glob("*"))[:10]:
            shutil.copy(face, tmp_path / "small" / emotion)
            large = cv2.resize(cv2.imread(str(face), cv2.IMREAD_GRAYSCALE), (96, 96), interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(tmp_path / "large" / emotion / f"{face.stem}.png"), large)
    assert holds_photos(tmp_path / "large") and not holds_photos(tmp_path / "small")
    whole = app("evaluate", "--data", tmp_path / "large", "--whole-image")
    original = app("evaluate", "--data", tmp_path / "small")
    assert whole.returncode == 0 and original.returncode == 0, whole.stderr[-3000:] + original.stderr[-3000:]
    assert "faces read" not in whole.stdout + original.stdout, "face crops go to the classifier, undetected"
    accuracies = [float(re.search(r"accuracy ([\d.]+)", result.stdout).group(1)) for result in (whole, original)]
    assert accuracies[1] >= 0.6 and abs(accuracies[0] - accuracies[1]) <= 0.1, accuracies
    assert "(over the 3 emotions present) on 30 images" in whole.stdout


def link_first(source: Path, destination: Path, count: int) -> list[Path]:
    """Symbolic links in `destination` to the first `count` images of `source` (shared data is never copied)."""
    destination.mkdir(parents=True, exist_ok=True)
    links = []
    for image in sorted(source.glob("*"))[:count]:
        (destination / image.name).symlink_to(image)
        links.append(destination / image.name)
    return links


def test_evaluate_reads_photos_in_sub_folders_of_an_emotion_folder(face_photos, tmp_path):
    """Photos sorted per participant (happy/anna/) carry their emotion folder's label, as a user expects."""
    link_first(face_photos / "cfd" / "happy", tmp_path / "happy" / "anna", 2)
    link_first(face_photos / "cfd" / "neutral", tmp_path / "neutral", 2)
    result = app("evaluate", "--data", tmp_path, "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"faces read in \d of 4 photos", result.stdout), result.stdout
    assert "(over the 2 emotions present) on 4 images" in result.stdout, result.stdout


def test_linked_sub_folders_are_followed_once_and_hidden_ones_left_out(face_photos, tmp_path):
    """Found in review: a study folder of links to each participant's photos was dropped silently (a
    linked folder was not followed), and a .thumbnails folder was scored as photos."""
    from model.training.photo_evaluation import _image_files

    elsewhere = tmp_path / "raw" / "anna"
    link_first(face_photos / "cfd" / "happy", elsewhere, 2)
    happy = tmp_path / "study" / "happy"
    happy.mkdir(parents=True)
    (happy / "anna").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "loop").symlink_to(tmp_path / "raw", target_is_directory=True)      # a link back up: must end
    link_first(face_photos / "cfd" / "happy", happy / ".thumbnails", 1)
    (happy / "._portrait.jpg").write_bytes(b"macOS metadata")
    found = _image_files(happy)
    assert [path.relative_to(happy).parts[0] for path in found] == ["anna", "anna"], found
    assert not any(part.startswith(".") for path in found for part in path.relative_to(happy).parts)


def test_evaluate_reads_face_crops_in_sub_folders_whole(fer2013, tmp_path):
    """Nested 48x48 crops are read too (one by one, each whole), with or without --whole-image; the
    FER2013 loader that training uses still reads only <emotion>/* and is not involved."""
    link_first(fer2013 / "test" / "happy", tmp_path / "happy" / "anna", 3)
    link_first(fer2013 / "test" / "sad", tmp_path / "sad", 2)
    for flags in ((), ("--whole-image",)):
        result = app("evaluate", "--data", tmp_path, "--quiet", *flags)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "read image by image, sub-folders included: happy/anna/" in result.stdout, result.stdout
        assert "(over the 2 emotions present) on 5 images" in result.stdout, result.stdout
    assert "5 of 5 images are 48x48 face crops, classified whole\n" in app(
        "evaluate", "--data", tmp_path, "--quiet").stdout


@pytest.mark.parametrize("layout", [("happy",), ("happy", "neutral"), ("test/happy", "train/happy")])
def test_evaluate_refuses_emotion_folders_without_images(tmp_path, layout):
    for folder in layout:
        (tmp_path / folder).mkdir(parents=True)
    where = tmp_path / "test" if layout[0].startswith("test/") else tmp_path
    result = app("evaluate", "--data", tmp_path, "--quiet")
    assert result.returncode == 2, result.stdout + result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: no images to score in {where}: looked in happy/"
                      f"{', neutral/' if 'neutral' in layout else ''} (sub-folders included) for .jpg, .jpeg, "
                      ".png, .bmp, .webp, .tif, .tiff, .gif files"], result.stderr[-3000:]
    assert "accuracy" not in result.stdout


def test_evaluate_refuses_a_test_split_without_photos_or_with_only_unreadable_ones(face_photos, tmp_path):
    link_first(face_photos / "cfd" / "happy", tmp_path / "train" / "happy", 1)   # a photo: the photo path
    (tmp_path / "test" / "happy").mkdir(parents=True)
    result = app("evaluate", "--data", tmp_path, "--quiet")
    assert result.returncode == 2 and f"error: no images to score in {tmp_path / 'test'}: looked in happy/" \
        in result.stderr, result.stderr[-3000:]
    (tmp_path / "test" / "happy" / "broken.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
    result = app("evaluate", "--data", tmp_path, "--quiet")
    assert result.returncode == 2, result.stderr[-3000:]
    assert "1 file(s) there could not be read as images" in result.stderr, result.stderr[-3000:]


def test_a_folder_mixing_face_crops_and_photos_reads_crops_whole_and_photos_by_detector(fer2013, face_photos,
                                                                                         tmp_path):
    for emotion in ("happy", "neutral"):
        link_first(fer2013 / "test" / emotion, tmp_path / emotion, 5)
        link_first(face_photos / "cfd" / emotion, tmp_path / emotion, 2)
    result = app("evaluate", "--data", tmp_path, "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert re.search(r"read as photos: \w+/CFD-\S+ is \d+x\d+, not a 48x48 face crop", out), out
    assert "48x48 face crops are classified whole, undetected" in out, out
    assert "10 of 14 images are 48x48 face crops, classified whole; the other 4 went through the face detector" \
        in out, out
    read = int(re.search(r"faces read in (\d+) of 14 photos", out).group(1))
    assert read >= 13, out
    unread = re.search(r"without a readable face counts? as wrong \(e\.g\. ([^)]*)\)", out)
    assert unread is None or "PrivateTest" not in unread.group(1), "a whole crop always gives a reading"
    whole = app("evaluate", "--data", tmp_path, "--whole-image")
    assert whole.returncode == 0 and "faces read" not in whole.stdout and "face crops" not in whole.stdout, \
        whole.stdout + whole.stderr[-3000:]


def test_a_face_crop_in_a_photo_folder_scores_exactly_as_the_classifier_reads_it(fer2013, recognizer):
    from model.images import load_image
    from model.training.photo_evaluation import read_photos

    crops = sorted((fer2013 / "test" / "happy").glob("*"))[:6]
    images = [load_image(path) for path in crops]
    probabilities, read = read_photos(recognizer, images, crops_whole=True)
    grey = [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image for image in images]
    assert read.all()
    np.testing.assert_allclose(probabilities, recognizer.classifier.predict(grey), atol=1e-6)


@pytest.mark.parametrize("image_kind", ["crop", "photo"])
def test_evaluate_names_folders_that_are_not_emotions_as_before(fer2013, face_photos, tmp_path, image_kind):
    source = fer2013 / "test" / "happy" if image_kind == "crop" else face_photos / "cfd" / "happy"
    link_first(source, tmp_path / "happy" / "anna", 1)     # a participant's sub-folder is fine ...
    link_first(source, tmp_path / "smiley", 1)             # ... an emotion folder with a wrong name is not
    result = app("evaluate", "--data", tmp_path, "--quiet")
    assert result.returncode == 2, result.stdout + result.stderr[-3000:]
    assert f"error: {tmp_path}: sub-folder(s) smiley are not emotion names; use angry, " in result.stderr, \
        result.stderr[-3000:]


def test_an_evaluation_report_says_what_was_evaluated_how_and_by_which_command(fer2013, face_photos, model_copy,
                                                                                tmp_path):
    """REPORT.md of evaluate --report was titled with the model file's name alone (as the shipped model's own),
    its command was 'python app.py evaluate' whatever was given, and its settings held only the data."""
    from model.lite import digest

    crops, photos = tmp_path / "crops", tmp_path / "photos"
    for emotion in ("happy", "angry"):
        link_first(fer2013 / "test" / emotion, crops / emotion, 5)
        link_first(face_photos / "cfd" / emotion, photos / emotion, 2)
    sha = digest(model_copy)
    for data, options, runtime, detector in ((crops, ["--runtime", "tflite"], "tflite", "None"),
                                             (photos, ["--detector", "haar", "--quiet"], "int8", "haar")):
        report_dir = tmp_path / f"report-{data.name}"
        result = app("evaluate", "--data", data, "--model", model_copy, "--report", report_dir, *options)
        assert result.returncode == 0, result.stderr[-3000:]
        report = (report_dir / "REPORT.md").read_text()
        assert report.startswith(f"# Evaluation of {model_copy} on {data}\n"), report[:300]
        command = f"- Command: `python app.py evaluate --data {data} --model {model_copy} --report {report_dir} " \
                  f"{' '.join(options)}`"
        assert command in report, report
        assert (f"- Settings: data={data}, model={model_copy}, model_sha256={sha}..., splits={data.name}, "
                f"runtime={runtime}, whole_image=False, detector={detector}\n") in report, report
