"""The Teach page's folder and job: what a user sends can neither escape the folder nor be kept
without a face, and a teaching run can be cancelled."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from dashboard.teaching import TeachFolder, TeachJob
from model.labels import LabelError


def data_uri(path) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode()


@pytest.fixture(scope="module")
def finder():
    from model.faces import PHOTO_DETECTOR
    from model.recognizer import FaceFinder

    return FaceFinder(PHOTO_DETECTOR)


def test_label_names_stay_inside_the_folder(tmp_path):
    folder = TeachFolder(tmp_path / "teach")
    for bad in ("../x", "..", "a/b", "/etc", ".hidden", ""):
        with pytest.raises(LabelError):
            folder.add_label(bad)
    assert not (tmp_path / "x").exists() and folder.labels() == {}
    folder.add_label("closed smile")
    with pytest.raises(LabelError, match="already a label"):
        folder.add_label("Closed Smile")
    with pytest.raises(LabelError):
        folder.remove_label("../teach")
    assert folder.labels() == {"closed smile": 0}


def test_photos_are_kept_only_with_a_readable_face_under_their_hash(tmp_path, face_photos, finder):
    folder = TeachFolder(tmp_path / "teach")
    folder.add_label("neutral")
    portrait = sorted((face_photos / "cfd" / "neutral").glob("*.jpg"))[0]
    scene = sorted((face_photos / "nonface").iterdir())[0]
    uploads = [(data_uri(portrait), "../../evil.jpg"), (data_uri(portrait), "again.jpg"), (data_uri(scene), "room.jpg"),
               ("data:image/jpeg;base64," + base64.b64encode(b"not an image").decode(), "notes.jpg"),
               ("data:text/plain,hello", "x.txt")]
    added = folder.add_photos("neutral", uploads, finder)
    assert added.kept == 1                                    # the same photo twice counts once
    refused = dict(added.refused)
    assert "no readable face" in refused["room.jpg"]
    assert "not an image" in refused["notes.jpg"] and "did not arrive as a file" in refused["x.txt"]
    kept = list((tmp_path / "teach" / "photos" / "neutral").iterdir())
    assert len(kept) == 1 and kept[0].suffix == ".jpg" and "evil" not in kept[0].name
    # face photos are biometric data: readable by this user alone
    assert kept[0].stat().st_mode & 0o777 == 0o600
    assert all((folder.root / part).stat().st_mode & 0o777 == 0o700 for part in ("", "photos", "photos/neutral"))
    assert not (tmp_path / "evil.jpg").exists()
    with pytest.raises(LabelError, match="no label"):
        folder.add_photos("teeth", uploads[:1], finder)
    folder.empty()
    assert folder.labels() == {} and not (tmp_path / "teach" / "photos").exists()


def test_emptying_deletes_only_what_the_page_wrote(tmp_path):
    """MOODLOG_TEACH_DIR may name a folder that holds the user's own files: emptying keeps them."""
    root = tmp_path / "study"
    (root / "interviews").mkdir(parents=True)
    (root / "notes.txt").write_text("precious")
    (root / "interviews" / "p01.txt").write_text("precious too")
    folder = TeachFolder(root)
    folder.add_label("teeth")
    (folder.photos / "teeth" / "a.jpg").write_bytes(b"kept photo")
    (folder.models / "2026-11-30T07-00-00").mkdir(parents=True)
    (folder.models / "2026-11-30T07-00-00" / "taught.keras").write_bytes(b"model")
    (root / "status.json").write_text("{}")
    (root / "teach.log").write_text("log")
    folder.empty()
    assert sorted(path.relative_to(root).as_posix() for path in root.rglob("*")) == [
        "interviews", "interviews/p01.txt", "notes.txt"]
    assert (root / "notes.txt").read_text() == "precious"
    folder.empty()                                            # an empty folder empties again without error
    TeachFolder(tmp_path / "never made").empty()
    (root / "status.json").mkdir()                            # a folder of the user's under that name stays
    folder.empty()
    assert (root / "status.json").is_dir()


def test_a_teach_folder_an_earlier_moodlog_left_open_is_made_private_when_used(tmp_path, face_photos, finder):
    """Found in review: only folders made since were 0700; an existing teach folder kept 0755."""
    for folder in (tmp_path / "teach", tmp_path / "teach" / "photos", tmp_path / "teach" / "photos" / "neutral"):
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)
    teach = TeachFolder(tmp_path / "teach")
    portrait = sorted((face_photos / "cfd" / "neutral").glob("*.jpg"))[0]
    assert teach.add_photos("neutral", [(data_uri(portrait), "p.jpg")], finder).kept == 1
    assert all((teach.root / part).stat().st_mode & 0o777 == 0o700 for part in ("", "photos", "photos/neutral"))


def test_a_teaching_run_reports_progress_and_can_be_cancelled(tmp_path, face_photos, monkeypatch):
    """Run, as the default data/teach is, from a folder given relative to where the dashboard was
    started, which is not the repository (found in review: `teach`, a child process started in the
    repository, was told the relative path and said "data/teach/photos does not exist")."""
    monkeypatch.chdir(tmp_path)
    folder = TeachFolder(Path("data") / "teach")
    for label, pattern in (("neutral", "neutral/*.jpg"), ("teeth", "happy/*-HO.jpg")):
        folder.add_label(label)
        for photo in sorted((face_photos / "cfd").glob(pattern))[:5]:
            (folder.photos / label / photo.name).symlink_to(photo)
    job = TeachJob(folder)
    job.start()
    assert job.state()["state"] == "running"
    with pytest.raises(RuntimeError, match="already running"):
        job.start()
    deadline = time.monotonic() + 120
    while "step" not in job.state() and time.monotonic() < deadline:   # the child wrote its first progress
        time.sleep(0.2)
    state = job.state()
    assert state["step"] == "finding faces" and state["total"] == 10
    process = job.process
    job.cancel()
    assert process.poll() is not None and job.state() == {"state": "idle"}
    assert not list(folder.models.glob("*/*.keras"))


def test_one_photo_cannot_be_kept_under_two_labels(tmp_path, face_photos, finder):
    folder = TeachFolder(tmp_path / "teach")
    folder.add_label("one")
    folder.add_label("two")
    portrait = sorted((face_photos / "cfd" / "happy").glob("*-HO.jpg"))[0]
    assert folder.add_photos("one", [(data_uri(portrait), "a.jpg")], finder).kept == 1
    added = folder.add_photos("two", [(data_uri(portrait), "b.jpg")], finder)
    assert added.kept == 0 and "already under the label 'one'" in dict(added.refused)["b.jpg"]
    assert folder.labels() == {"one": 1, "two": 0}
