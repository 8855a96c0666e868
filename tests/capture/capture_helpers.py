"""Real videos for the capture tests, built from real face images, and ways to run the daemon."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED_CASES = ROOT.parent / "shared" / "cases"      # small failing inputs, each with its README
SIZE = (320, 240)            # width, height: small frames keep the Haar detector quick on 2 cores
FACE_SIDE = 112              # FER2013's 48 px faces, enlarged 2.3x


def background(index: int = 0) -> np.ndarray:
    """A smooth, self-contained backdrop (a lit wall): gradients, no face-like pattern."""
    x = np.linspace(0, 1, SIZE[0], dtype=np.float32)[None, :]
    y = np.linspace(0, 1, SIZE[1], dtype=np.float32)[:, None]
    grey = 90 + 60 * x + 40 * y + 10 * np.sin(6 * x + index / 10)
    return cv2.merge([grey.astype(np.uint8)] * 3)


def place(frame: np.ndarray, face: np.ndarray, left: int, top: int) -> tuple[int, int, int, int]:
    """Paste a face (grey or BGR) at (left, top); returns its box (x, y, w, h)."""
    if face.ndim == 2:
        face = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)
    frame[top:top + face.shape[0], left:left + face.shape[1]] = face
    return left, top, face.shape[1], face.shape[0]


def write_video(path: Path, frames, fps: float = 30.0) -> Path:
    """An MJPG AVI, as many USB cameras produce, written with cv2.VideoWriter."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE)
    assert writer.isOpened(), "this OpenCV cannot write MJPG video"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def read_video(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)


def enlarged(path: Path) -> np.ndarray:
    return cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (FACE_SIDE, FACE_SIDE),
                      interpolation=cv2.INTER_CUBIC)


def overlap(a, b) -> float:
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(width, 0) * max(height, 0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


# Smallest lead of the top emotion over the next one for a face to be used: a face the model finds
# evenly balanced between two emotions may tip either way under video compression, which would
# make the tests that compare a video with a still test the face instead of Moodlog.
CLEAR_LEAD = 0.15


def found_alone(recognizer, frame: np.ndarray, box) -> bool:
    """The recognizer finds exactly one classifiable face, on the placed box, and reads it clearly."""
    faces = recognizer.recognize(frame)
    if not (len(faces) == 1 and faces[0].status == "ok" and
            overlap((faces[0].box.x, faces[0].box.y, faces[0].box.w, faces[0].box.h), box) > 0.5):
        return False
    second, first = np.sort(faces[0].probabilities)[-2:]
    return first - second >= CLEAR_LEAD


def detectable_fer_faces(fer2013: Path, recognizer, per_emotion: int, emotions) -> list[tuple[str, np.ndarray]]:
    """FER2013 test faces that the detector finds once enlarged; about 60% are (measured), so screen."""
    chosen = []
    for emotion in emotions:
        found = 0
        for path in sorted((fer2013 / "test" / emotion).glob("*"))[:60]:
            face = enlarged(path)
            frame = background()
            box = place(frame, face, 100, 60)
            if found_alone(recognizer, frame, box):
                chosen.append((emotion, face))
                found += 1
                if found == per_emotion:
                    break
    return chosen


def moving_face_video(path: Path, faces, frames_each: int, step: int = 3, repeat: int = 1):
    """Each face moves across the frame for `frames_each` frames, starting on alternate sides
    (so that a tracker sees a new face, not a jump); returns the placed (emotion, box) per frame."""
    placed = []

    def frames():                 # generated while written: a long video need not fit in memory
        for _ in range(repeat):
            for number, (emotion, face) in enumerate(faces):
                for i in range(frames_each):
                    frame = background(len(placed))
                    box = place(frame, face, (40 if number % 2 == 0 else 170) + step * (i % 12), 50 + (i % 4))
                    placed.append((emotion, box))
                    yield frame

    write_video(path, frames())
    return placed


def face_stream_frames(fer2013: Path, recognizer, count: int = 20) -> list[np.ndarray]:
    """`count` frames of a detectable happy FER2013 face moving a pixel a frame: a camera's view."""
    (_, face), = detectable_fer_faces(fer2013, recognizer, 1, ("happy",))
    frames = []
    for i in range(count):
        frame = background(i)
        place(frame, face, 90 + i, 60)
        frames.append(frame)
    return frames


def happy_then_neutral_frames(fer2013: Path, recognizer, frames: int = 180) -> list[np.ndarray]:
    """A detectable happy FER2013 face for the first half of the frames, a neutral one for the rest,
    moving a little (the smooth-on-files case, built without ../shared/cases)."""
    (_, happy), (_, neutral) = detectable_fer_faces(fer2013, recognizer, 1, ("happy", "neutral"))
    made = []
    for number in range(frames):
        frame = background(number)
        place(frame, happy if number < frames // 2 else neutral, 100 + number % 5, 60)
        made.append(frame)
    return made


def run_in_background(options, recognizer, stop):
    """capture.daemon.run() on a worker thread (signals stay with pytest); returns the thread and a
    dict that holds its Summary under "summary" once it has returned."""
    from capture.daemon import run

    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("summary", run(options, recognizer=recognizer, stop=stop)))
    thread.start()
    return thread, result


def db_rows(db_path: Path, sql: str, params=()) -> list[sqlite3.Row]:
    connection = sqlite3.connect(db_path, timeout=30)
    connection.row_factory = sqlite3.Row
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def count_rows(db_path: Path) -> int:
    if not Path(db_path).exists():
        return 0
    try:
        return db_rows(db_path, "SELECT count(*) AS n FROM detections")[0]["n"]
    except sqlite3.OperationalError:      # tables not created yet
        return 0


def hangup_as_typed_in_a_terminal() -> None:
    """For a child process (preexec_fn, or after a fork): SIGHUP at its default, as a command typed in a
    terminal has it. A test that runs a batch in pytest's own process leaves SIGHUP ignored there
    (stop_on_signals(then_ignore=True), for a process on its way out), a child inherits that, and the
    daemon rightly takes an ignored SIGHUP for `nohup` and goes on capturing after a hangup."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def start_app(*args, env=None) -> subprocess.Popen:
    """The real `python app.py start ...`, niced, in its own process group, as typed in a terminal."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.Popen(["nice", "-n", "5", sys.executable, str(ROOT / "app.py"), "start", *map(str, args)],
                            cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=hangup_as_typed_in_a_terminal)


def wait_for(condition, timeout: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


def summary_number(stdout: str, label: str) -> int:
    """A number from the daemon's summary, e.g. 'faces logged: 42'."""
    for line in stdout.splitlines():
        if label in line:
            return int(line.split(label)[1].split()[0])
    raise AssertionError(f"{label!r} not in summary:\n{stdout}")


class OnATerminal:
    """`python app.py start ...` with a pseudo-terminal as its controlling terminal, as typed in a
    shell: in the terminal's foreground process group, or, with `background`, in a group of its own
    as `... &` puts it. Its output is read all along, so it never blocks on a full terminal."""

    def __init__(self, *args, background: bool = False):
        import pty

        self.output = b""
        pid, self.controller = pty.fork()
        if pid == 0:                       # a session leader whose group is the terminal's foreground
            hangup_as_typed_in_a_terminal()
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
            command = [sys.executable, str(ROOT / "app.py"), "start", *map(str, args)]
            if not background:
                os.execv(sys.executable, command)
            job = os.fork()                # a session leader cannot leave its group: its child does
            if job == 0:
                os.setpgid(0, 0)
                os.execv(sys.executable, command)
            os.write(1, f"job {job}\n".encode())
            os._exit(os.waitstatus_to_exitcode(os.waitpid(job, 0)[1]) & 0xFF)
        self.shell = pid
        self.reading = threading.Thread(target=self._read, daemon=True)
        self.reading.start()
        self.pid = pid
        if background:
            assert wait_for(lambda: b"job " in self.output, 10), self.output
            self.pid = int(self.output.split(b"job ")[1].split()[0])

    def _read(self):
        while True:
            try:
                chunk = os.read(self.controller, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def state(self) -> str:
        """The process's state letter from /proc: R, S, D, or T when the kernel stopped it."""
        return Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]

    def type(self, keys: bytes) -> None:
        os.write(self.controller, keys)

    def interrupt(self) -> int:
        """Ctrl+C as the terminal sends it: SIGINT to the job's process group. Returns the exit code."""
        import signal

        os.killpg(self.pid, signal.SIGINT)
        _, status = os.waitpid(self.shell, 0)
        self.reading.join(5)
        os.close(self.controller)
        return os.waitstatus_to_exitcode(status)

    def hang_up(self) -> int:
        """Close the terminal, as closing its window or losing the SSH session does: the kernel sends
        SIGHUP to the session, and writes to the terminal fail from then on. Returns the exit code."""
        os.close(self.controller)
        _, status = os.waitpid(self.shell, 0)
        self.reading.join(5)
        return os.waitstatus_to_exitcode(status)
