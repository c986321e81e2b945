#!/usr/bin/python3
"""Training throughput of PyTorch on the scalelock benchmark CNN.

Trains the same network as bench/train_bench.cpp (three 3x3 convs with 32, 32
and 64 channels, two 2x2 max pools, a linear layer to 10 classes) with SGD
(lr 0.01, momentum 0.9) and softmax cross-entropy on the batches that
`train_bench --dump-batches` wrote. For each thread count it prints one JSON
line with the median samples/s over the repeats. Each repeat builds a fresh
model, runs `warmup` untimed steps, then times `steps` steps.

Run it with the Debian interpreter (/usr/bin/python3, python3-torch 1.13) and
OMP_NUM_THREADS set to the thread count, as bench/run.sh does.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

IMAGE_VALUES = 28 * 28


def build_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 10),
    )


def load_batches(path: str, batch_size: int):
    """Read the records of train_bench --dump-batches: per batch, batch_size*784
    float32 inputs then batch_size int32 labels."""
    record = batch_size * IMAGE_VALUES * 4 + batch_size * 4
    size = os.path.getsize(path)
    if size == 0 or size % record != 0:
        sys.exit(f"torch_peer: {path} has {size} bytes, expected a non-zero multiple of "
                 f"{record} for batch size {batch_size}; rerun train_bench --dump-batches")
    raw = np.fromfile(path, dtype=np.uint8).reshape(size // record, record)
    batches = []
    for row in raw:
        split = batch_size * IMAGE_VALUES * 4
        inputs = row[:split].view(np.float32).reshape(batch_size, 1, 28, 28)
        labels = row[split:].view(np.int32).astype(np.int64)
        batches.append((torch.from_numpy(inputs.copy()), torch.from_numpy(labels)))
    return batches


def time_one_run(batches, warmup: int, steps: int, batch_size: int) -> float:
    """Train a fresh model and return samples/s over the timed steps."""
    model = build_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def train_step(index: int) -> None:
        inputs, labels = batches[index % len(batches)]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(inputs), labels)
        loss.backward()
        optimizer.step()

    for index in range(warmup):
        train_step(index)
    start = time.perf_counter()
    for index in range(warmup, warmup + steps):
        train_step(index)
    seconds = time.perf_counter() - start
    return steps * batch_size / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", required=True, help="file from train_bench --dump-batches")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="torch.set_num_threads values to measure")
    parser.add_argument("--steps", type=int, default=200, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=25, help="untimed steps before timing")
    parser.add_argument("--repeats", type=int, default=3, help="runs per thread count")
    parser.add_argument("--batch-size", type=int, default=64, help="samples per step")
    args = parser.parse_args()

    torch.manual_seed(1)
    batches = load_batches(args.batches, args.batch_size)
    for threads in args.threads:
        torch.set_num_threads(threads)
        rates = [time_one_run(batches, args.warmup, args.steps, args.batch_size)
                 for _ in range(args.repeats)]
        print(json.dumps({"impl": "pytorch", "threads": threads, "steps": args.steps,
                          "batch_size": args.batch_size,
                          "samples_per_s": statistics.median(rates), "repeats": rates,
                          "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
