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


def upload(base_url: str, data: bytes, filename: str) -> tuple[int, str]:
    """Post a file to the Recognize page as the browser's upload callback does: (HTTP status, body)."""
    contents = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    body = json.dumps({"output": "recognize-result.children",
                       "outputs": {"id": "recognize-result", "property": "children"},
                       "inputs": [{"id": "recognize-photo", "property": "data",
                                   "value": {"contents": contents, "filename": filename}}],
                       "changedPropIds": ["recognize-photo.data"], "state": []}).encode()
    request = urllib.request.Request(base_url + "/_dash-update-component", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def verdicts(body: str) -> str:
    """What the page says: how many faces, and each face's emotion and confidence."""
    return " ".join(re.findall(r"\d+ faces? found|No face found|Face \d+: [a-z ]+\d*%?", body))


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


@pytest.mark.parametrize("width, height", [(4000, 10), (1, 1)])
def test_degenerate_upload_says_no_face_instead_of_failing(dashboard, width, height):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 180, 160)).save(buffer, "PNG")
    status, body = upload(dashboard, buffer.getvalue(), "banner.png")
    assert status == 200
    page = json.dumps(json.loads(body), ensure_ascii=False)
    assert f"No face found in banner.png ({width}×{height}, " in page
