"""Sources behind a URL: a video file served over HTTP is a file (read once, on its own clock), an
MJPEG camera is a live stream; what each kind of failure is called and when its gap begins."""

from __future__ import annotations

import base64
import functools
import http.server
import sys
import threading

import pytest

from capture.source import open_capture, source_info
from capture_helpers import ROOT, background, db_rows, detectable_fer_faces, moving_face_video, start_app, write_video

sys.path.insert(0, str(ROOT / "bench"))
from mjpeg_server import MjpegServer, encode_frames  # noqa: E402  (a real HTTP MJPEG camera)

FRAMES_EACH = 34          # two faces: a 68-frame video, about 2.3 s at 30 fps


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def file_server(tmp_path):
    """`python -m http.server` on a folder of its own, on a free port: its base URL."""
    folder = tmp_path / "served"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=folder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_video_file_over_http_is_a_file_and_an_mjpeg_camera_is_live(file_server):
    folder, base = file_server
    write_video(folder / "short.avi", [background(i) for i in range(67)])
    camera = MjpegServer(encode_frames([background(i) for i in range(5)]), fps=15).start()
    try:
        served, stream = f"{base}/short.avi", camera.url
        file_capture, stream_capture = open_capture(served), open_capture(stream)
        file_info, stream_info = source_info(served, file_capture), source_info(stream, stream_capture)
    finally:
        camera.stop()
    file_capture.release()
    stream_capture.release()
    assert not file_info.live and file_info.frames == 67 and file_info.fps == 30.0
    assert file_info.duration == pytest.approx(67 / 30)
    assert stream_info.live and stream_info.frames is None and stream_info.duration is None


def test_start_on_a_video_file_over_http_reads_it_once_on_its_own_clock_and_exits_0(file_server, tmp_path, fer2013,
                                                                                     recognizer):
    """Found by a review: the 67-frame video was reopened 38 times in 24 s as a stream that kept
    dropping (38 'source lost, reconnected' gaps, 2,546 frames read, 2,054 dropped, media time from
    the wall clock), and only Ctrl+C ended it."""
    folder, base = file_server
    faces = detectable_fer_faces(fer2013, recognizer, 1, ("happy", "neutral"))
    placed = moving_face_video(folder / "short.avi", faces, FRAMES_EACH)
    db = tmp_path / "h1.db"
    process = start_app(f"{base}/short.avi", "--db", db)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-2000:]
    session, = db_rows(db, "SELECT * FROM sessions")
    assert session["status"] == "finished" and session["kind"] == "file"
    assert session["frames_read"] == session["frames_analysed"] == len(placed) == session["source_frames"]
    assert session["frames_dropped"] == 0 and session["reconnects"] == 0
    assert db_rows(db, "SELECT * FROM gaps") == []
    rows = db_rows(db, "SELECT frame, media_time FROM detections ORDER BY frame")
    assert len(rows) >= 0.9 * len(placed)
    assert all(row["media_time"] == pytest.approx(row["frame"] / 30, abs=1e-6) for row in rows)
    assert f"file {base}/short.avi" in stderr and "session 1 finished" in stdout
    assert f"frames: {len(placed)} read, {len(placed)} analysed" in stdout



class _PasswordHandler(_QuietHandler):
    """Serves its folder only to the login user:s3cret (HTTP basic auth), and notes each login it is sent."""
    logins: list = []

    def send_head(self):
        sent = self.headers.get("Authorization", "")
        self.logins.append(sent)
        if sent != "Basic " + base64.b64encode(b"user:s3cret").decode():
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="camera"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return super().send_head()


def test_a_password_in_a_url_is_masked_in_the_log_and_in_every_line_printed(tmp_path):
    """Found in review: start "http://user:s3cret@host/x.avi" stored the password in sessions.device,
    and the dashboard showed it in its session and device filters."""
    folder = tmp_path / "served"
    folder.mkdir()
    write_video(folder / "x.avi", [background(i) for i in range(10)])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_PasswordHandler, directory=folder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    db = tmp_path / "p.db"
    try:
        process = start_app(f"http://user:s3cret@127.0.0.1:{port}/x.avi", "--db", db)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        server.shutdown()
        server.server_close()
    assert process.returncode == 0, stderr[-2000:]
    assert "Basic dXNlcjpzM2NyZXQ=" in _PasswordHandler.logins          # the real URL was opened, login and all
    session, = db_rows(db, "SELECT * FROM sessions")
    assert session["device"] == f"http://user:***@127.0.0.1:{port}/x.avi" and session["frames_read"] == 10
    assert f"file http://user:***@127.0.0.1:{port}/x.avi" in stderr
    assert not any(b"s3cret" in path.read_bytes() for path in tmp_path.glob("p.db*"))
    failures = [start_app(f"rtsp://admin:s3cret@127.0.0.1:{port}/live?channel=1&token=s3cret", "--db", db,
                          "--reconnect", "0"),
                start_app(f"http://user:s3cret@127.0.0.1:{port}/x.avi", tmp_path / "a.avi", "--db", db)]
    printed = []
    for process in failures:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 2 and stderr.startswith("error: ") and ":***@127.0.0.1" in stderr, stderr
        printed.append(stdout + stderr)
    assert "channel=1&token=***" in printed[0] and "is a camera or a stream" in printed[1]
    assert not any("s3cret" in text for text in printed)


@pytest.mark.parametrize("given, stored", [
    ("rtsp://admin:s3cret@cam/live", "rtsp://admin:***@cam/live"),
    # IP cameras (XMEye / NetSurveillance) put the login in the path (found in review: stored as given)
    ("rtsp://10.0.0.5:554/user=admin&password=s3cret&channel=1&stream=0.sdp",
     "rtsp://10.0.0.5:554/user=admin&password=***&channel=1&stream=0.sdp"),
    # signed URLs
    ("https://b.s3.amazonaws.com/v.mp4?X-Amz-Credential=AKIA1&X-Amz-Signature=abc123&X-Amz-Expires=60",
     "https://b.s3.amazonaws.com/v.mp4?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Expires=60"),
    ("http://h/v.mp4?sig=zz&t=1&api_key=k", "http://h/v.mp4?sig=***&t=1&api_key=***"),
    ("http://h/talk.mp4?t=30", "http://h/talk.mp4?t=30"),
    ("videos/pass=1.mp4", "videos/pass=1.mp4"),          # a file path is not a URL: as it is
])
def test_secrets_in_a_url_are_masked_wherever_the_url_keeps_them(given, stored):
    from capture.source import masked_device

    assert masked_device(given) == stored
