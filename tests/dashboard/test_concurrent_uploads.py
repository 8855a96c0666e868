"""The Recognize page under a real waitress server (issue 13): concurrent uploads all answer as one
upload alone does, and a degenerate image is a message on the page, never an HTTP 500."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import urllib.error
import urllib.request

import pytest
from PIL import Image

CLIENTS = 4


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """`app.py dashboard`'s server (waitress, 8 threads) on a free port, serving from a thread."""
    from dashboard.app import serve_in_background

    server = serve_in_background(tmp_path_factory.mktemp("dashboard") / "log.db", port=0)
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


def upload(base_url: str, data: bytes, filename: str, min_face: str = "32") -> tuple[int, str]:
    """Post a file to the Recognize page as the browser's upload callback does: (HTTP status, body)."""
    contents = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    body = json.dumps({"output": "recognize-result.children",
                       "outputs": {"id": "recognize-result", "property": "children"},
                       "inputs": [{"id": "recognize-photo", "property": "data",
                                   "value": {"contents": contents, "filename": filename}},
                                  {"id": "recognize-face", "property": "data", "value": None},
                                  {"id": "recognize-min-face", "property": "value", "value": min_face}],
                       "changedPropIds": ["recognize-photo.data"],
                       "state": [{"id": "recognize-photo", "property": "modified_timestamp", "value": 2},
                                 {"id": "recognize-face", "property": "modified_timestamp", "value": -1}]}).encode()
    request = urllib.request.Request(base_url + "/_dash-update-component", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def verdicts(body: str) -> str:
    """What the page says: how many faces, and each face's emotion and confidence."""
    return " ".join(re.findall(r"\d+ faces? found|No face found|Face \d+: [a-z ]+\d*%?|\d+ (?:more )?faces? w[a-z]+ "
                               r"too small to read \(under \d+ px\)", body))


def test_concurrent_uploads_all_answer_200_with_the_same_faces(dashboard, face_photos):
    photos = [(face_photos / "group_photos" / name).read_bytes()
              for name in ("linzaer_imgs_1.jpg", "linzaer_imgs_13.jpg", "linzaer_imgs_15.jpg")]
    photos.append(sorted((face_photos / "cfd" / "happy").glob("*.jpg"))[0].read_bytes())
    alone = [upload(dashboard, data, f"{index}.jpg") for index, data in enumerate(photos)]
    assert all(status == 200 and "found" in verdicts(body) for status, body in alone), alone
    answers = []

    def client(start):
        for step in range(2 * len(photos)):
            index = (start + step) % len(photos)
            status, body = upload(dashboard, photos[index], f"{index}.jpg")
            answers.append((index, status, verdicts(body)))

    threads = [threading.Thread(target=client, args=(start,)) for start in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == CLIENTS * 2 * len(photos)
    assert [status for _, status, _ in answers] == [200] * len(answers)
    assert all(said == verdicts(alone[index][1]) for index, _, said in answers)


def test_a_smaller_face_size_reads_small_faces_for_that_request_only(dashboard, face_photos):
    """A group photo of 44 faces of 18-31 px: at the default size one line says they are too small (no
    card each); at 16 px all are read. Requests of both sizes at once each get their own answer: the
    size chosen for one upload never changes the recognizer the others share."""
    group = (face_photos / "group_photos" / "linzaer_imgs_1.jpg").read_bytes()
    status, default = upload(dashboard, group, "group.jpg")
    assert status == 200 and "44 faces found, 0 readable" in default
    assert "44 faces were too small to read (under 32 px); choose a smaller face size to try them" in default
    assert "Face 1:" not in default
    status, small = upload(dashboard, group, "group.jpg", min_face="16")
    assert status == 200 and "44 faces found (" in small and "too small" not in small
    assert len(re.findall(r"Face \d+: [a-z]+ \d+%", small)) == 44
    expected = {"32": verdicts(default), "16": verdicts(small)}
    answers = []

    def client(size):
        for _ in range(4):
            answers.append((size, verdicts(upload(dashboard, group, "group.jpg", min_face=size)[1])))

    threads = [threading.Thread(target=client, args=(size,)) for size in ("32", "16", "32", "16")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 16 and all(said == expected[size] for size, said in answers)


@pytest.mark.parametrize("width, height", [(4000, 10), (1, 1)])
def test_degenerate_upload_says_no_face_instead_of_failing(dashboard, width, height):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 180, 160)).save(buffer, "PNG")
    status, body = upload(dashboard, buffer.getvalue(), "banner.png")
    assert status == 200
    page = json.dumps(json.loads(body), ensure_ascii=False)
    assert f"No face found in banner.png ({width}×{height}, " in page
