"""Which distributed engine carries Moodlog's batches: Dask distributed against Ray, measured.

For each engine, in one run: installed size, the time to start a local cluster of 2 single-core
workers and get one trivial task back, and the time of a batch of files (the files of
bench/batch.py) on that cluster, end to end (workers load the model, analyse, send rows; this
process writes the log). Ray is not a Moodlog dependency: it is installed beside, into
bench/.venv-ray, which also sees the project's .venv (a .pth file):

    python3 -m venv bench/.venv-ray && bench/.venv-ray/bin/pip install ray==2.60.0
    echo "$PWD/.venv/lib/python3.11/site-packages" > bench/.venv-ray/lib/python3.11/site-packages/moodlog-main.pth
    bench/.venv-ray/bin/python bench/cluster_engines.py [--files 8] [--loops 10] [--rounds 3]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from batch import batch_arguments, make_files, rows  # noqa: E402
from capture.batch import analyse_file, one_core, write_result  # noqa: E402
from capture.daemon import CaptureOptions  # noqa: E402
from capture.log import open_log  # noqa: E402


def size_mb(*packages: str) -> float:
    total = 0
    for name in packages:
        folder = Path(__import__(name).__file__).parent
        total += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return total / 1e6


def trivial(x):
    return x + 1


def dask_start() -> tuple[float, object]:
    from distributed import Client, LocalCluster

    began = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50)
    client = Client(cluster)
    assert client.submit(trivial, 1).result() == 2
    return time.perf_counter() - began, (client, cluster)


def dask_batch(handle, files, db) -> None:
    from capture.batch import _analyse_on_dask

    client, _ = handle
    database = open_log(db)
    options = CaptureOptions("", db=db, quiet=True)
    for future in client.gather([client.submit(_analyse_on_dask, str(p), options, pure=False) for p in files]):
        write_result(database, future, options)


def dask_stop(handle) -> None:
    client, cluster = handle
    client.close()
    cluster.close()


def ray_start() -> tuple[float, object]:
    import ray

    began = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    assert ray.get(ray.remote(trivial).remote(1)) == 2
    return time.perf_counter() - began, ray


def _analyse_on_ray(path, options):
    one_core()
    return analyse_file(path, options)


def ray_batch(ray, files, db) -> None:
    database = open_log(db)
    options = CaptureOptions("", db=db, quiet=True)
    remote = ray.remote(num_cpus=1)(_analyse_on_ray)
    for result in ray.get([remote.remote(str(p), options) for p in files]):
        write_result(database, result, options)


def ray_stop(ray) -> None:
    ray.shutdown()


ENGINES = {"dask": (dask_start, dask_batch, dask_stop, ("dask", "distributed")),
           "ray": (ray_start, ray_batch, ray_stop, ("ray",))}


def main() -> None:
    args = batch_arguments(__doc__.splitlines()[0])
    files = make_files(ROOT / "bench" / "out" / "batch_videos", args.files, args.loops)
    starts: dict[str, list[float]] = {name: [] for name in ENGINES}
    batches: dict[str, list[float]] = {name: [] for name in ENGINES}
    reference = None
    with tempfile.TemporaryDirectory() as scratch:
        for round_number in range(args.rounds):
            for name, (start, batch, stop, _) in ENGINES.items():
                seconds, handle = start()
                starts[name].append(seconds)
                db = Path(scratch) / f"{name}{round_number}.db"
                began = time.perf_counter()
                batch(handle, files, db)
                batches[name].append(time.perf_counter() - began)
                stop(handle)
                logged = rows(db)
                reference = reference or logged
                assert logged == reference, f"{name}: rows differ"
                print(f"round {round_number + 1}, {name}: start {seconds:.1f} s, batch {batches[name][-1]:.1f} s",
                      flush=True)
    print(f"\n{args.files} files x {args.loops * 67} frames, 2 workers, medians of {args.rounds}:")
    print("| engine | installed size | start a local cluster + one task | batch on it (workers load the model) |")
    print("|---|---:|---:|---:|")
    for name, (_, _, _, packages) in ENGINES.items():
        print(f"| {name} | {size_mb(*packages):.0f} MB | {statistics.median(starts[name]):.1f} s | "
              f"{statistics.median(batches[name]):.1f} s |")


if __name__ == "__main__":
    main()
