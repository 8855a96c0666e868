"""Frame sources: a webcam index, a video file or a stream URL, read on a thread of its own.

Why a thread: decoding runs apart from analysis, so a slow frame never stalls a live camera.
Live sources (cameras, streams) keep only the newest frame and count the stale ones they
replace as dropped; files hand over every frame in order and drop nothing. A video file behind
a URL (http://host/talk.mp4) is a file: its container says how long it is, which a live stream's
never does. When a live source fails, the reader reopens it with back-off for
`reconnect_seconds`, records the gap, and gives up with `SourceLost` after that; a file simply ends.
"""

from __future__ import annotations

import os
import queue
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from model.errors import MoodlogError
from model.images import IMAGE_SUFFIXES

# Streams that stop answering are given up on after this long per open or read, instead of
# FFmpeg's default of waiting (almost) forever; reconnection takes over from there.
STREAM_TIMEOUT_MS = 5_000
FIRST_RETRY_SECONDS = 0.5
LONGEST_RETRY_SECONDS = 8.0
# In a file whose container does not say how many frames it holds, a read that fails this
# many times in a row is its end; fewer, with frames after them, were damaged frames. When the
# container gives its frame count, failed reads before that count are damaged frames, however
# many in a row (../shared/cases/corrupt-stretch: five in a row ended a 60-frame file at 20).
FAILED_READS_AT_END = 30
# A container whose frame count overstates the file (a truncated recording) ends after this many.
MOST_DAMAGED_IN_A_ROW = 3_000
FILE_QUEUE_FRAMES = 8
# A live source opened before the model loaded has frames queued from that time (a stream's
# network buffer, a camera's driver queue): 35 rows in the first second covered 9 s of a stream.
# Queued frames come back in about 0.1 ms, a fresh one only when the camera makes it (33 ms at
# 30 fps; measured on an MJPEG stream, bench/mjpeg_server.py). At start they are read and thrown
# away until SLOW_READS_IN_A_ROW reads in a row each take longer than this, or for at most
# DRAIN_SECONDS. One slow read is not enough: on a busy machine (a model loading, a training run)
# a queued read can wait for a core, and draining stopped with 90 stale frames still queued.
BUFFERED_READ_SECONDS = 0.010
SLOW_READS_IN_A_ROW = 3
DRAIN_SECONDS = 2.0
# Container timestamps are whole milliseconds or rational; two within this are the same moment.
SAME_TIME_SECONDS = 1e-4
# Parameters whose values a URL's owner keeps secret (?password=, ?pwd=, ?token=, ?api_key=, ?auth=, signed
# URLs' ?X-Amz-Signature= and ?X-Amz-Credential=, ?sig=), in its query or, as many IP cameras put them,
# in its path (rtsp://cam/user=admin&password=...): masked as a password before the userinfo's @ is
# (masked_device), by a word in their name.
SECRET_PARAMETER_WORDS = ("pass", "pwd", "token", "secret", "key", "auth", "sig", "credential")
# name=value in a URL's path or query, between its separators.
URL_PARAMETER = re.compile(r"([^/?&;=#]+)=([^/?&;#]*)")
MASK = "***"


class SourceUnavailable(MoodlogError):
    """The device, file or stream could not be opened at start."""


class SourceLost(MoodlogError):
    """A live source failed mid-run and did not come back within the reconnect window."""


@dataclass
class Frame:
    """One frame as read.

    `number` counts every frame of the source (damaged ones too, so in a file it is the frame's
    position); `ts` is wall time when read (UTC epoch seconds); `media_time` is the frame's own
    time in seconds from the start of the source: the container's timestamp in a file (right
    for variable frame rates), time since the start of capture for a live source. Sampling,
    smoothing and tracking run on `media_time`, so a file gives the same rows on any machine.
    `image` is BGR (or grey) uint8.
    """
    number: int
    ts: float
    image: np.ndarray
    media_time: float = 0.0


@dataclass
class SourceInfo:
    """What the source says of itself: `live`; for files the container's frame rate (frames/s),
    frame count and duration (s = count / rate; None where the container does not say)."""
    live: bool
    fps: float | None = None
    frames: int | None = None
    duration: float | None = None
    width: int = 0
    height: int = 0


@dataclass
class Gap:
    """A stretch of time without frames from a live source (UTC epoch seconds)."""
    started_at: float
    ended_at: float
    reason: str


@dataclass
class ReaderCounters:
    frames_read: int = 0
    frames_dropped: int = 0
    frames_corrupt: int = 0
    reconnects: int = 0


def parse_device(device: str | int) -> int | str:
    """'0' -> camera index 0; anything else (a path or URL) stays text."""
    text = str(device).strip()
    return int(text) if text.isdigit() else text


def is_url(device: int | str) -> bool:
    return isinstance(device, str) and "://" in device


def is_live(device: int | str, capture: cv2.VideoCapture | None = None) -> bool:
    """Cameras are live (newest frame wins) and local files are not (read frame by frame). A URL is
    live unless its opened `capture` announces a length (a video file served over HTTP); before it
    is opened (no `capture`), a URL counts as live."""
    if not is_url(device):
        return isinstance(device, int)
    return capture is None or not announces_length(capture)


def announces_length(capture: cv2.VideoCapture) -> bool:
    """Whether the container says how many frames it holds, at a frame rate: a finite video. OpenCV
    derives the count from the container's duration; a live stream has none, and OpenCV reports
    its count as 0 or as a huge negative number (measured with OpenCV 4.13: -9.2e18 for an MJPEG
    camera over HTTP, 67 for a 67-frame AVI served by `python -m http.server`)."""
    frames = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    return 0 < frames < 2 ** 53 and capture.get(cv2.CAP_PROP_FPS) > 0


def describe(device: int | str, live: bool | None = None) -> str:
    """'camera 0', 'file talk.mp4', 'stream rtsp://user:***@cam/...' (masked_device); a URL is a file
    when `live` is False."""
    if isinstance(device, int):
        return f"camera {device}"
    shown = masked_device(device)
    return f"stream {shown}" if is_url(device) and live is not False else f"file {shown}"


def file_fingerprint(device: int | str) -> dict:
    """{'file_path': absolute path, 'file_size': bytes, 'file_mtime_ns': modification time} of a local
    file, recorded with its session so that a batch run again knows the files it has analysed
    (capture/batch.py already_logged), also one `start FILE` logged by a relative path (the device as
    typed), and a file changed since is analysed anew; {} for a camera, a URL, or a path that cannot
    be read. The absolute path keeps link names, as a batch's file list does."""
    if not isinstance(device, str) or is_url(device):
        return {}
    try:
        info = os.stat(device)
    except OSError:
        return {}
    return {"file_path": os.path.abspath(device), "file_size": info.st_size, "file_mtime_ns": info.st_mtime_ns}


def masked_device(device: int | str) -> int | str:
    """The device as it may be stored in the log and printed: a URL's password replaced by ***, the
    user name kept ('rtsp://admin:s3cret@cam/live' -> 'rtsp://admin:***@cam/live'), and so the value
    of a query parameter that names a secret (?password=, ?token=...: SECRET_PARAMETER_WORDS); a
    camera index, a path or a URL without secrets as it is. Only the device itself is ever opened."""
    if not is_url(device):
        return device
    try:
        parts = urllib.parse.urlsplit(device)
    except ValueError:                     # not a URL urllib can split (a broken [IPv6] host): hide it whole
        return f"{device.split('://', 1)[0]}://{MASK}"
    userinfo, at, host = parts.netloc.rpartition("@")
    netloc = f"{userinfo.partition(':')[0]}:{MASK}@{host}" if at and ":" in userinfo else parts.netloc
    path, query = URL_PARAMETER.sub(_masked_parameter, parts.path), URL_PARAMETER.sub(_masked_parameter, parts.query)
    if (netloc, path, query) == (parts.netloc, parts.path, parts.query):
        return device
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, path=path, query=query))


def _masked_parameter(match: re.Match) -> str:
    name, value = match.group(1), match.group(2)
    secret = value and any(word in name.lower() for word in SECRET_PARAMETER_WORDS)
    return f"{name}={MASK}" if secret else match.group(0)


def quiet_video_logs() -> None:
    """OpenCV and FFmpeg print their own warnings for every failed open or read; the daemon
    reports failures itself in one line, so theirs would only be noise in its log."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def source_info(device: int | str, capture: cv2.VideoCapture) -> SourceInfo:
    """The source's own frame rate, frame count and duration, as far as its container says."""
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if is_live(device, capture):
        return SourceInfo(True, width=width, height=height)
    fps = capture.get(cv2.CAP_PROP_FPS) or None
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    frames = frames if frames and frames > 0 else None
    duration = frames / fps if frames and fps else None
    return SourceInfo(False, fps, frames, duration, width, height)


def open_capture(device: int | str) -> cv2.VideoCapture:
    """Open the device or raise SourceUnavailable with a hint on what to check.

    A file must also hold a frame that decodes: FFmpeg opens some files that are no video at all
    (a text file named .jpg is a one-frame image to it, whose only read fails), which would
    otherwise become an empty session. It is checked on a capture of its own, so the one returned
    starts at the file's first frame. A file named as a photo is refused (refuse_still_image)."""
    quiet_video_logs()
    if isinstance(device, str) and not is_url(device):
        _check_readable(device)
    if not is_live(device):
        _check_decodes(device)                # first: a text file named .jpg is no photo either
        refuse_still_image(device)
    return _open(device)


def _check_readable(path: str) -> None:
    """SourceUnavailable, saying which, for a path that is no file or a file this user may not read
    (OpenCV reports both as a file it cannot open, which reads as a video it cannot decode)."""
    if not Path(path).is_file():
        raise SourceUnavailable(f"cannot open {describe(path)}: no such file")
    try:
        with open(path, "rb"):
            pass
    except PermissionError as error:
        raise SourceUnavailable(f"cannot open {describe(path)}: permission denied (this user may not read it; "
                                "`ls -l` shows its owner and mode)") from error


def refuse_still_image(path: str | os.PathLike) -> None:
    """SourceUnavailable for a file named as a photo (.jpg, .png...): FFmpeg would read it as a video
    of one frame, and a photo has no time to chart; `predict` is made for photos."""
    if Path(path).suffix.lower() in IMAGE_SUFFIXES:
        raise SourceUnavailable(f"cannot open {describe(str(path))}: a still image, not a video "
                                f"(photos are read by `python app.py predict {path}`)")


def _open(device: int | str) -> cv2.VideoCapture:
    if is_url(device):
        capture = cv2.VideoCapture(device, cv2.CAP_FFMPEG, [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS])
    else:
        capture = cv2.VideoCapture(device)
    if not capture.isOpened():
        capture.release()
        raise SourceUnavailable(f"cannot open {describe(device)}: {_hint(device)}")
    return capture


def _check_decodes(path: str) -> None:
    """SourceUnavailable unless a frame of the file decodes before the point where FrameReader would
    call the file ended (its container's frame count, or FAILED_READS_AT_END failed reads without
    one): a video whose first frames are damaged is read as before, its damaged frames counted."""
    capture = _open(path)
    try:
        frames = source_info(path, capture).frames
        for _ in range(min(frames, MOST_DAMAGED_IN_A_ROW) if frames else FAILED_READS_AT_END):
            ok, image = capture.read()
            if ok and image is not None and image.size and image.ndim in (2, 3):
                return
    finally:
        capture.release()
    raise SourceUnavailable(f"cannot open {describe(path)}: {_hint(path)}")


def _hint(device: int | str) -> str:
    if isinstance(device, int):
        listing = "`v4l2-ctl --list-devices` or `ls /dev/video*`" if os.name == "posix" else "the system's camera settings"
        return f"no such camera, or another program is using it (list cameras with {listing})"
    if is_url(device):
        return "the stream does not answer (check the address, credentials and network)"
    return "not a video OpenCV can decode"


class FrameReader(threading.Thread):
    """Reads a source on its own thread; the analysis takes frames with `next_frame()`.

    `fps` caps how many frames a second are handed over, by each frame's media time: for a
    live source the time since capture began, for a file the container's timestamp (so `--fps 5`
    on a 30 fps file analyses every 6th frame, as fast as the analysis goes, and a variable frame
    rate file is sampled on its own clock).
    """

    def __init__(self, device: int | str, capture: cv2.VideoCapture, stop: threading.Event, *,
                 fps: float | None = None, reconnect_seconds: float = 30.0):
        super().__init__(name="frame-reader", daemon=True)
        self.device, self.capture, self.stop = device, capture, stop
        self.info = source_info(device, capture)
        self.live = self.info.live
        self.fps, self.reconnect_seconds = fps, reconnect_seconds
        self.counters = ReaderCounters()
        self.gaps: queue.SimpleQueue[Gap] = queue.SimpleQueue()
        self.error: SourceLost | None = None
        self.ended = False                   # a file was read to its end
        self.lost_since: float | None = None  # wall time a live source was lost, while reconnecting
        self.kind = describe(device, self.live).split()[0]
        self.finished = threading.Event()
        self._frames: queue.Queue[Frame] = queue.Queue(maxsize=1 if self.live else FILE_QUEUE_FRAMES)
        self._next_wanted = 0.0
        self._clock_start = time.monotonic()
        self._failed_in_a_row = 0
        self._last_times: tuple[float | None, float | None] = (None, None)
        self._last_frame_at: float | None = None  # wall time of the last good frame
        self._held: Frame | None = None      # a file's frame read when the stop came, with the queue full

    def measured(self) -> dict:
        """A file read to its end, as read: its frames (damaged ones too) and its duration (the last
        frame's time plus the interval before it), which replace the container's estimates (a
        variable frame rate file's count is often duration x nominal rate). Empty before the end."""
        if self.live or not self.ended:
            return {}
        before, last = self._last_times
        step = last - before if before is not None and last is not None and last > before else 0.0
        return {"source_frames": self.counters.frames_read + self.counters.frames_corrupt,
                "source_duration": (last or 0.0) + step}

    def run(self) -> None:
        try:
            if self.live:
                self._discard_buffered()
            while not self.stop.is_set() and self._read_one():
                pass
        finally:
            self.capture.release()
            self.finished.set()

    def next_frame(self, timeout: float = 0.25) -> Frame | None:
        """The next frame to analyse, or None when none came within `timeout` seconds."""
        try:
            return self._frames.get(timeout=timeout)
        except queue.Empty:
            return None

    def left_over(self) -> list[Frame]:
        """Once the reader has stopped: the frames it read and handed over but nobody took (a file's
        queue, and the frame it held when the stop came), so that each frame counted as read is analysed."""
        frames = []
        while not self._frames.empty():
            frames.append(self._frames.get_nowait())
        if self._held is not None:
            frames.append(self._held)
            self._held = None
        return frames

    def exhausted(self) -> bool:
        """True once the source has ended (or failed for good) and every frame was taken."""
        return self.finished.is_set() and self._frames.empty()

    def _discard_buffered(self) -> None:
        """Read and drop the frames a live source queued before capture began (see
        BUFFERED_READ_SECONDS); they are neither analysed nor counted as dropped."""
        deadline, slow = time.monotonic() + DRAIN_SECONDS, 0
        while time.monotonic() < deadline and slow < SLOW_READS_IN_A_ROW:
            began = time.monotonic()
            if not self.capture.grab():
                break
            slow = slow + 1 if time.monotonic() - began > BUFFERED_READ_SECONDS else 0
        self._clock_start = time.monotonic()

    def _read_one(self) -> bool:
        """Read and hand over one frame; False when the source has ended or is lost."""
        ok, image = self.capture.read()
        if not ok:
            return self._recover()
        if self._failed_in_a_row:                  # the failed reads before it were damaged frames
            self.counters.frames_corrupt += self._failed_in_a_row
            self._failed_in_a_row = 0
        self._take(image)
        return True

    def _take(self, image: np.ndarray | None) -> None:
        """Count the frame and hand it over; an empty or malformed one is counted as corrupt."""
        if image is None or image.size == 0 or image.ndim not in (2, 3):
            self.counters.frames_corrupt += 1
            return
        self.counters.frames_read += 1
        # Frame numbers count corrupt frames too, so that in a file they are positions in the video.
        number = self.counters.frames_read + self.counters.frames_corrupt - 1
        frame = Frame(number, time.time(), image, self._media_time(number))
        self._last_times = (self._last_times[1], frame.media_time)
        self._last_frame_at = frame.ts
        if self._wanted(frame):
            self._hand_over(frame)

    def media_clock(self) -> float:
        """Now on a live source's media clock: seconds since capture began."""
        return time.monotonic() - self._clock_start

    def _media_time(self, number: int) -> float:
        """Seconds from the start of the source (see Frame)."""
        if self.live:
            return self.media_clock()
        position = self.capture.get(cv2.CAP_PROP_POS_MSEC)
        if position > 0 or number == 0:
            return position / 1000.0
        return number / (self.info.fps or 30.0)       # a container without timestamps

    def _wanted(self, frame: Frame) -> bool:
        if not self.fps:
            return True
        if frame.media_time + SAME_TIME_SECONDS < self._next_wanted:
            return False
        # Samples keep to a grid of 1/fps on the frame's own clock (no drift from jittery
        # timestamps); after a gap longer than a step the grid starts again at this frame.
        self._next_wanted += 1 / self.fps
        if self._next_wanted <= frame.media_time:
            self._next_wanted = frame.media_time + 1 / self.fps
        return True

    def _hand_over(self, frame: Frame) -> None:
        if self.live:
            self._replace_newest(frame)
            return
        while not self.stop.is_set():
            try:
                self._frames.put(frame, timeout=0.25)
                return
            except queue.Full:
                continue
        self._held = frame

    def _replace_newest(self, frame: Frame) -> None:
        """Keep only the newest frame: a stale one still waiting is dropped and counted."""
        try:
            self._frames.get_nowait()
            self.counters.frames_dropped += 1
        except queue.Empty:
            pass
        self._frames.put_nowait(frame)

    def _recover(self) -> bool:
        """After a failed read: skip corrupt file frames, find the end of a file, or reconnect."""
        if not self.live:
            return self._skip_corrupt_frames()
        return self._reconnect()

    def _skip_corrupt_frames(self) -> bool:
        """In a file, a failed read before the container's last frame is a damaged frame: counted,
        and reading goes on. Past the frame count (or, without one, after FAILED_READS_AT_END
        failures in a row) the file has ended; failures at the end are not counted as damage."""
        self._failed_in_a_row += 1
        position = self.counters.frames_read + self.counters.frames_corrupt + self._failed_in_a_row
        if self.info.frames is not None:
            more = position < self.info.frames and self._failed_in_a_row < MOST_DAMAGED_IN_A_ROW
        else:
            more = self._failed_in_a_row < FAILED_READS_AT_END
        if not more:
            self.ended = True
        return more

    def _reconnect(self) -> bool:
        """Reopen a live source with back-off; record the gap; give up after the window.

        The gap begins at the last good frame: a stream that stalls (a frozen server) is noticed only
        when a read times out (STREAM_TIMEOUT_MS later). The reconnect window counts from the failed read."""
        failed_at = time.time()
        lost_at = self.lost_since = self._last_frame_at or failed_at
        self.capture.release()
        try:
            return self._reopen(lost_at, failed_at)
        finally:
            self.lost_since = None

    def _reopen(self, lost_at: float, failed_at: float) -> bool:
        delay = FIRST_RETRY_SECONDS
        while not self.stop.wait(delay):
            capture = self._try_open()
            if capture is not None:
                self.capture = capture
                self.counters.reconnects += 1
                self._last_frame_at = time.time()    # back now: a failure before its next frame starts here
                self.gaps.put(Gap(lost_at, self._last_frame_at, "source lost, reconnected"))
                return True
            if time.time() - failed_at >= self.reconnect_seconds:
                break
            delay = min(delay * 2, LONGEST_RETRY_SECONDS, max(0.1, failed_at + self.reconnect_seconds - time.time()))
        reason = "stopped while reconnecting" if self.stop.is_set() else "source lost, gave up"
        self.gaps.put(Gap(lost_at, time.time(), reason))
        if not self.stop.is_set():
            self.error = SourceLost(f"lost {describe(self.device)} and could not reopen it within "
                                    f"{self.reconnect_seconds:g} s (--reconnect); every row read before was saved")
        return False

    def _try_open(self) -> cv2.VideoCapture | None:
        try:
            return open_capture(self.device)
        except SourceUnavailable:
            return None
