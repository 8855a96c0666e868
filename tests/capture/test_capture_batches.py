"""Batches as reviewers ran them (`app.py start FOLDER`, several files, --workers, --engine dask): what
a folder brings in, what a bad --cluster says, what --quiet still says, what a stream's password
becomes in the log, how Ctrl+C stops a Dask cluster, and that a batch run again adds no session twice."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import psutil
import pytest

from capture.batch import batch_inputs, run_batch
from capture.daemon import CaptureOptions
from capture_helpers import ROOT, background, count_rows, db_rows, wait_for, write_video
from test_capture_research import FramesSeen, happy_then_neutral, long_files, pool_workers  # noqa: F401  (fixtures)


def start(*args, timeout: float = 300, cwd=ROOT) -> subprocess.CompletedProcess:
    """The real `python app.py start ...`, run to its end (in the repository, unless `cwd`)."""
    return subprocess.run([sys.executable, str(ROOT / "app.py"), "start", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def short_video(path, frames: int = 5):
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_video(path, [background(i) for i in range(frames)])


def test_a_folder_leaves_hidden_files_and_photos_out_and_a_named_photo_is_refused(tmp_path):
    """Found in review: a folder copied from a Mac holds ._p01.avi (a resource fork, not a video),
    which failed and made the whole batch exit 2; a photo named on the command line became a
    one-frame 'video' session."""
    folder = tmp_path / "videos"
    clip = short_video(folder / "p01.avi")
    (folder / "._p01.avi").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    short_video(folder / ".Trashes" / "old.avi")
    cv2.imwrite(str(folder / "photo.jpg"), background(0))
    assert batch_inputs([str(folder)]) == [clip]
    assert batch_inputs([str(folder / "._p01.avi")]) == [folder / "._p01.avi"]      # named: it counts
    db = tmp_path / "b.db"
    done = start(folder, "--db", db)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "batch of 1 files" in done.stdout and "1 logged, 0 failed" in done.stdout
    assert [row["device"] for row in db_rows(db, "SELECT device FROM sessions")] == [str(clip)]
    for named in ([folder / "photo.jpg"], [clip, folder / "photo.jpg"]):
        done = start(*named, "--db", tmp_path / "photo.db")
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith("error: ") and "a still image, not a video" in done.stderr
        assert "app.py predict" in done.stderr and not (tmp_path / "photo.db").exists()


@pytest.mark.parametrize("cluster", ["bogus", "foo://scheduler:8786"])
def test_a_bad_cluster_address_is_one_error_line_and_exit_2(tmp_path, cluster):
    """Found in review: --cluster bogus ended in a 54-line traceback (ValueError: missing port number)."""
    done = start(short_video(tmp_path / "clip.avi"), "--engine", "dask", "--cluster", cluster, "--db", tmp_path / "b.db")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr[-3000:]
    assert done.stderr.startswith(f"error: --cluster '{cluster}' is not a Dask scheduler's address")
    assert "tcp://HOST:PORT" in done.stderr and "Traceback" not in done.stderr


def test_a_cluster_alone_runs_on_dask_and_with_engine_local_is_refused(tmp_path):
    """Found in review: --cluster without --engine dask was ignored, and the batch ran locally."""
    clip = short_video(tmp_path / "clip.avi")
    done = start(clip, "--cluster", "bogus", "--db", tmp_path / "a.db")
    assert done.returncode == 2 and "is not a Dask scheduler's address" in done.stderr, done.stdout + done.stderr
    done = start(clip, "--engine", "local", "--cluster", "tcp://127.0.0.1:8786", "--db", tmp_path / "b.db")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--engine local" in done.stderr, done.stderr
    assert not (tmp_path / "b.db").exists()
    db = tmp_path / "c.db"
    done = start(clip, "--cluster", "local", "--db", db)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "batch of 1 files on a local Dask cluster (1 workers)" in done.stdout
    assert len(db_rows(db, "SELECT * FROM sessions WHERE status = 'finished'")) == 1


@pytest.fixture(scope="module")
def faceless_files(tmp_path_factory):
    """Three 4,000-frame videos of an empty room: several seconds of work each (about 500 frames/s)."""
    folder = tmp_path_factory.mktemp("faceless")
    first = write_video(folder / "room0.avi", (background(i % 600) for i in range(4000)))
    return [first] + [Path(shutil.copy(first, folder / f"room{index}.avi")) for index in (1, 2)]


def test_quiet_still_names_each_file_that_failed_and_counts_those_not_done(tmp_path, faceless_files):
    """Found in review: a --quiet batch whose files failed printed nothing at all (exit 2, no reason),
    where one bad file alone printed its error."""
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"not a video")
    done = start(short_video(tmp_path / "clip.avi"), broken, "--quiet", "--db", tmp_path / "a.db")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"FAILED {broken}: cannot open file {broken}: not a video OpenCV can decode\n"
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "start", *map(str, faceless_files), "--quiet",
                                "--db", str(tmp_path / "b.db")], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: len(psutil.Process(process.pid).children(recursive=True)) >= 1, 60)
    time.sleep(2)                                        # the worker is reading the first file
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    logged = db_rows(tmp_path / "b.db", "SELECT count(*) FROM sessions")[0][0]
    assert process.returncode == 0 and stdout == "" and logged < 3
    assert stderr == f"{3 - logged} of 3 files not done: stopped before they were done, nothing of them logged\n"


def dask_process(kind: str, tmp_path, *args, path: str | None = None) -> subprocess.Popen:
    """A real `dask scheduler` or `dask worker` (kind) started in tmp_path, with PYTHONPATH `path` or none."""
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    environment.update({"PYTHONPATH": path} if path else {})
    return subprocess.Popen([sys.executable, "-m", f"distributed.cli.dask_{kind}", *map(str, args), "--no-dashboard"],
                            cwd=tmp_path, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_scheduler_or_worker_that_cannot_import_moodlog_is_named_with_the_fix(tmp_path):
    """Found in review: following the README, every file failed with Dask's opaque 'Error during
    deserialization of the task graph': the scheduler, not only the workers, unpickles the tasks and
    needs this checkout on its path (`No module named 'capture'` in its log)."""
    from distributed import LocalCluster

    clip = short_video(tmp_path / "clip.avi")
    address_file = tmp_path / "scheduler.json"
    scheduler = dask_process("scheduler", tmp_path, "--host", "127.0.0.1", "--port", "0",
                             "--scheduler-file", address_file)
    try:
        assert wait_for(address_file.exists, 60)
        address = json.loads(address_file.read_text())["address"]
        done = start(clip, "--cluster", address, "--db", tmp_path / "a.db")
    finally:
        scheduler.terminate()
        scheduler.wait(30)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stdout + done.stderr
    assert done.stderr.startswith(f"error: the Dask scheduler at {address} cannot import Moodlog "
                                  "(No module named 'capture')") and f"PYTHONPATH={ROOT}" in done.stderr
    with LocalCluster(n_workers=0, processes=True, host="127.0.0.1", dashboard_address=None) as cluster:
        worker = dask_process("worker", tmp_path, cluster.scheduler_address, "--nthreads", "1")
        try:
            assert wait_for(lambda: len(cluster.scheduler.workers) == 1, 60)
            done = start(clip, "--cluster", cluster.scheduler_address, "--db", tmp_path / "b.db")
        finally:
            worker.terminate()
            worker.wait(30)
    assert done.returncode == 2 and done.stderr.startswith("error: the Dask worker at tcp://"), done.stdout + done.stderr
    assert "cannot import Moodlog (No module named 'capture')" in done.stderr and done.stderr.count("\n") == 1


def test_ctrl_c_stops_the_files_a_dask_cluster_is_reading_and_logs_them_as_stopped(long_files, tmp_path):
    """Found in review: after Ctrl+C a Dask cluster went on analysing the 'cancelled' files to their
    end (its workers' CPU kept rising), and nothing of them was logged. The batch's distributed Event
    now ends them where they are, and they are logged as stopped sessions, as on local workers; the
    files no worker has begun are cancelled (one worker here: it holds two, the others wait)."""
    from distributed import Client, LocalCluster

    db, stop, seen, result = tmp_path / "b.db", threading.Event(), FramesSeen(), {}
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                      silence_logs=50) as cluster, Client(cluster) as client:
        thread = threading.Thread(target=lambda: result.setdefault("s", run_batch(
            [long_files], CaptureOptions("", db=db, quiet=True), cluster=cluster.scheduler_address,
            stop=stop, progress=seen)))
        thread.start()
        assert wait_for(lambda: any(frames >= 30 for frames in seen.frames.values()), 120), seen.frames
        stop.set()                                       # what Ctrl+C does in batch_command
        thread.join(60)
        workers = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
        before = sum(sum(worker.cpu_times()[:2]) for worker in workers)
        time.sleep(3)
        busy = sum(sum(worker.cpu_times()[:2]) for worker in workers) - before
    summary = result["s"]
    assert busy < 1.0, f"the workers used {busy:.1f} s of CPU in the 3 s after the batch stopped"
    stopped = [(path, session_id) for path, session_id, status, _ in summary.sessions
               if status == "stopped" and session_id is not None]
    assert len(stopped) == 1 and "on the Dask cluster at tcp://127.0.0.1" in summary.text(), summary.text()
    for path, session_id in stopped:
        session, = db_rows(db, "SELECT * FROM sessions WHERE id = ?", [session_id])
        assert session["device"] == path and session["status"] == "stopped" and session["ended_at"] is not None
        assert 0 < session["frames_read"] == session["frames_analysed"] < 720
        rows = db_rows(db, "SELECT count(*) AS n FROM detections WHERE session_id = ?", [session_id])[0]
        assert rows["n"] == session["faces"] > 0
    logged = [s for s in summary.sessions if s[1] is not None]
    assert len(logged) == db_rows(db, "SELECT count(*) FROM sessions")[0][0]
    assert sum(line.startswith("  not done ") for line in summary.text().splitlines()) == 4 - len(logged)


def test_a_batch_run_again_skips_the_files_already_logged_the_same_way_unless_again(tmp_path):
    """Found in review: the summary after Ctrl+C says to run the batch again, which analysed the files
    already finished a second time: each got two identical sessions, counted twice on the Sessions page."""
    folder = tmp_path / "videos"
    first, second = short_video(folder / "p01.avi"), short_video(folder / "p02.avi", 6)
    db = tmp_path / "b.db"

    def batch(*options) -> str:
        done = start(folder, "--db", db, *options)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    assert start(first, "--db", db).returncode == 0       # `start FILE` alone: session 1, of p01
    out = batch()
    assert ": 1 logged, 0 failed, 1 already in the log, skipped," in out.splitlines()[0]
    assert f"  skipped {first}: already in the log as session 1" in out and "--again analyses" in out
    out = batch()
    assert ": 0 logged, 0 failed, 2 already in the log, skipped," in out.splitlines()[0]
    assert db_rows(db, "SELECT count(*) FROM sessions")[0][0] == 2
    assert ": 2 logged, 0 failed," in batch("--again").splitlines()[0]
    assert db_rows(db, "SELECT count(*) FROM sessions")[0][0] == 4
    stat = second.stat()
    os.utime(second, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))     # p02 changed since
    out = batch()
    assert ": 1 logged, 0 failed, 1 already in the log, skipped," in out.splitlines()[0]
    assert f"({second}" not in out and f"{second} (finished)" in out
    for made_otherwise in (["--fps", "5"], ["--label", "study=S2"], ["--min-face", "40"]):
        first_line = batch(*made_otherwise).splitlines()[0]
        assert ": 2 logged, 0 failed, " in first_line and "already in the log" not in first_line, made_otherwise
    assert ": 0 logged, 0 failed, 2 already in the log, skipped," in batch("--fps", "5").splitlines()[0]
    settings = json.loads(db_rows(db, "SELECT settings FROM sessions ORDER BY id DESC LIMIT 1")[0]["settings"])
    assert (settings["file_size"], settings["file_mtime_ns"]) == (second.stat().st_size, second.stat().st_mtime_ns)


def test_a_file_logged_by_a_relative_path_is_known_to_a_batch_of_its_folder(tmp_path):
    """Found in review: `start a.avi` in the videos' folder stores the device as typed, and a batch of
    that folder, comparing absolute paths, analysed a.avi a second time."""
    folder = tmp_path / "videos"
    first, _ = short_video(folder / "a.avi"), short_video(folder / "b.avi", 6)
    db = tmp_path / "r.db"
    assert start(first.name, "--db", db, cwd=folder).returncode == 0
    assert db_rows(db, "SELECT device FROM sessions")[0]["device"] == "a.avi"
    done = start(folder, "--db", db)
    assert done.returncode == 0 and ": 1 logged, 0 failed, 1 already in the log, skipped," in done.stdout.splitlines()[0]
    assert f"  skipped {first}: already in the log as session 1" in done.stdout
    assert db_rows(db, "SELECT count(*) FROM sessions")[0][0] == 2


def test_ctrl_c_from_the_terminal_stops_a_batch_on_a_local_dask_cluster_and_keeps_its_files_in_hand(long_files,
                                                                                                    tmp_path):
    """Found in review: a terminal's Ctrl+C reaches every process of the job, and killed the local Dask
    cluster's workers with KeyboardInterrupt tracebacks; the batch then failed with a traceback of its own
    (FuturesCancelledError) or kept nothing of the files in hand. The workers now leave it to the batch."""
    db = tmp_path / "b.db"
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "start", str(long_files), "--cluster", "local",
                                "--workers", "2", "--db", str(db)], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    parent = psutil.Process(process.pid)

    def analysing() -> bool:              # both workers have loaded the model and read a second or so
        try:
            workers = pool_workers(parent)
            return len(workers) == 2 and sum(sum(worker.cpu_times()[:2]) for worker in workers) > 5
        except psutil.Error:
            return False

    assert wait_for(analysing, 120)
    os.killpg(process.pid, signal.SIGINT)               # as the terminal sends it: to every process of the job
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr[-3000:]
    sessions = db_rows(db, "SELECT * FROM sessions")
    assert any(session["status"] == "stopped" for session in sessions), stdout
    assert all(session["frames_read"] == session["frames_analysed"] for session in sessions)
    assert count_rows(db) == sum(session["faces"] for session in sessions)
    assert sum(line.startswith("  not done ") for line in stdout.splitlines()) == 4 - len(sessions)
