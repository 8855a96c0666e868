"""FER2013 loading from both formats, and every kind of bad data, on files the tests write."""

import numpy as np
import pytest
from PIL import Image

from model.training.dataset import load_fer2013, require_classes
from model.errors import DatasetError
from model.labels import EMOTIONS


def face(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (48, 48), dtype=np.uint8)


def write_csv(path, rows, header="emotion,pixels,Usage"):
    lines = [header] + [f"{label},{' '.join(map(str, pixels.ravel()))},{usage}" for label, pixels, usage in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_folders(root, per_class=2, splits=("train", "test")):
    for split in splits:
        for k, emotion in enumerate(EMOTIONS):
            (root / split / emotion).mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(face(k * 10 + i)).save(root / split / emotion / f"{i}.png")
    return root


def test_csv_splits_follow_usage_and_keep_pixels(tmp_path):
    rows = [(3, face(1), "Training"), (0, face(2), "PublicTest"), (6, face(3), "PrivateTest"), (3, face(4), "Training")]
    splits, report = load_fer2013(write_csv(tmp_path / "fer.csv", rows))
    assert {name: len(s) for name, s in splits.items()} == {"train": 2, "validation": 1, "test": 1}
    assert splits["train"].labels.tolist() == [3, 3]
    np.testing.assert_array_equal(splits["test"].images[0], face(3))
    assert splits["train"].images.dtype == np.uint8 and splits["train"].images.shape == (2, 48, 48)
    assert report.kept["train"]["happy"] == 2 and not report.dropped


def test_csv_with_wrong_columns_is_refused(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("label,image\n1,2 3\n")
    with pytest.raises(DatasetError, match="missing column"):
        load_fer2013(path)


def test_csv_rows_of_wrong_length_are_dropped_and_counted(tmp_path):
    path = write_csv(tmp_path / "fer.csv", [(1, face(1), "Training"), (2, face(2), "Training")])
    with open(path, "a") as handle:
        handle.write("4,1 2 3,Training\n9," + " ".join(["0"] * 2304) + ",Training\n")
    splits, report = load_fer2013(path)
    assert len(splits["train"]) == 2
    assert sum(report.dropped.values()) == 2
    assert any("fer.csv:4" in where for where in sum(report.examples.values(), []))


def test_folders_load_per_split_and_class(tmp_path):
    splits, report = load_fer2013(write_folders(tmp_path / "fer"))
    assert set(splits) == {"train", "test"}
    assert splits["train"].class_counts() == {emotion: 2 for emotion in EMOTIONS}
    assert report.kept["test"]["disgust"] == 2


def test_folder_with_non_emotion_subfolders_is_refused(tmp_path):
    root = write_folders(tmp_path / "fer")
    (root / "train" / "happpy").mkdir()
    with pytest.raises(DatasetError, match="happpy.*not emotion names"):
        load_fer2013(root)


def test_unreadable_and_truncated_images_are_skipped_counted_and_named(tmp_path):
    root = write_folders(tmp_path / "fer")
    (root / "train" / "sad" / "notes.jpg").write_text("not an image")
    good = (root / "train" / "sad" / "0.png").read_bytes()
    (root / "train" / "sad" / "cut.png").write_bytes(good[: len(good) // 2])
    splits, report = load_fer2013(root)
    assert splits["train"].class_counts()["sad"] == 2
    assert report.dropped["unreadable image"] == 2
    named = " ".join(report.examples["unreadable image"])
    assert "notes.jpg" in named and "cut.png" in named


def test_empty_class_is_refused_for_training(tmp_path):
    root = write_folders(tmp_path / "fer")
    for file in (root / "train" / "disgust").iterdir():
        file.unlink()
    splits, _ = load_fer2013(root)
    with pytest.raises(DatasetError, match="no images of disgust"):
        require_classes(splits["train"], "train")


def test_missing_dataset_says_where_to_get_it(tmp_path):
    with pytest.raises(DatasetError, match="Kaggle.*MOODLOG_FER2013"):
        load_fer2013(tmp_path / "nowhere")


def test_real_fer2013_has_the_official_split(fer2013):
    splits, _ = load_fer2013(fer2013)
    assert (len(splits["train"]), len(splits["validation"]), len(splits["test"])) == (28709, 3589, 3589)
