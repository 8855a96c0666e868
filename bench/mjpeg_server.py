"""Serve frames as an MJPEG stream over HTTP, the way many IP cameras do, for tests and benches.

`python bench/mjpeg_server.py VIDEO --port 8090 --fps 30` loops VIDEO forever at the given
pace; `MjpegServer` does the same inside a test, and can be stopped and restarted on the same
port to play a camera that drops off the network and comes back.
"""

from __future__ import annotations

import argparse
import http.server
import socketserver
import threading
import time

import cv2
import numpy as np

BOUNDARY = "moodlogframe"


def encode_frames(frames, quality: int = 90) -> list[bytes]:
    """JPEG-encode BGR frames once, so that serving costs no CPU per client."""
    return [cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes() for frame in frames]


def read_video(path: str, limit: int = 10_000) -> list[np.ndarray]:
    capture = cv2.VideoCapture(path)
    frames = []
    while len(frames) < limit:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class MjpegServer:
    """An endless multipart/x-mixed-replace JPEG stream at `fps`, looping over `jpegs`."""

    def __init__(self, jpegs: list[bytes], fps: float = 30.0, port: int = 0):
        self.jpegs, self.fps, self.port = jpegs, fps, port
        self.server: _Server | None = None
        self.frames_sent = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def start(self) -> "MjpegServer":
        self.running = threading.Event()
        self.running.set()
        self.server = _Server(("127.0.0.1", self.port), self._handler())
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Cut every client and stop listening, like a camera unplugged from the network."""
        self.running.clear()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                owner._stream(self.wfile, owner.running)

        return Handler

    def _stream(self, out, running: threading.Event) -> None:
        next_at = time.monotonic()
        index = 0
        while running.is_set():
            jpeg = self.jpegs[index % len(self.jpegs)]
            try:
                out.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode())
                out.write(jpeg + b"\r\n")
                out.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
            index += 1
            self.frames_sent += 1
            next_at += 1 / self.fps
            time.sleep(max(0.0, next_at - time.monotonic()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args()
    server = MjpegServer(encode_frames(read_video(args.video)), args.fps, args.port).start()
    print(f"serving {args.video} at {server.url}; Ctrl+C to stop", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
