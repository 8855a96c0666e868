"""Training throughput on this CPU: faces per second for network shapes and float precisions.

Times real training steps (augmentation, forward, backward, AdamW) on FER2013 training faces
through model.training.train's own pipeline; the first steps (graph tracing) are not counted. Use it
to choose --widths and --precision before a long run.
Usage: python bench/train_speed.py [--steps 40] [--widths 16,32,64,128 16,32,96,192]
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import fer2013_path


def faces_per_second(widths: str, precision: str, steps: int, train_split) -> float:
    import keras
    from model.training.train import TrainConfig, batches, build_network, compile_for_training

    keras.mixed_precision.set_global_policy(precision)
    config = TrainConfig(widths=widths, precision=precision)
    model = build_network(config)
    compile_for_training(model, config, steps_per_epoch=steps)
    data = iter(batches(train_split, config, shuffle=True).repeat())
    times = []
    for step in range(steps + 5):
        x, y = next(data)
        started = time.perf_counter()
        model.train_on_batch(x, y)
        if step >= 5:
            times.append(time.perf_counter() - started)
    return config.batch_size / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--widths", nargs="+", default=["16,32,64,128", "16,32,96,192", "32,64,128,256"])
    parser.add_argument("--precisions", nargs="+", default=["float32", "mixed_bfloat16"])
    args = parser.parse_args()
    from model.training.dataset import load_fer2013

    splits, _ = load_fer2013(str(fer2013_path()))
    print("| widths | precision | training faces/s (median step, batch 128) |")
    print("|---|---|---:|")
    for widths in args.widths:
        for precision in args.precisions:
            rate = faces_per_second(widths, precision, args.steps, splits["train"])
            print(f"| {widths} | {precision} | {rate:.0f} |", flush=True)


if __name__ == "__main__":
    main()
