"""Recording overhead as a ratio: recorded forward / plain forward, interleaved in one process.

    $ .venv/bin/python benchmarks/bench_features.py            # both cases, 15 rounds
    $ .venv/bin/python benchmarks/bench_features.py --rounds 31

Cases (the issue's): the book's VGG(base_dim=16) at 3×224×224, batch 4, and the MNIST CNN at batch
256, each recording every layer. Each round times one plain forward and one recorded forward (order
alternating); the ratio of the medians is printed. Times on shared machines drift; the ratio holds.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import explain
from explain.models.cnn import MNISTCNN
from explain.models.vgg import VGG


def time_once(call) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def ratio(model: torch.nn.Module, inputs: torch.Tensor, rounds: int) -> tuple[float, float, float]:
    """(median plain seconds, median recorded seconds, their ratio)."""
    model.eval()
    plain = lambda: model(inputs)  # noqa: E731
    recorded = lambda: explain.record(model, inputs)  # noqa: E731
    with torch.no_grad():
        for _ in range(2):
            plain(), recorded()
        plain_times, recorded_times = [], []
        for index in range(rounds):
            pair = (plain, recorded) if index % 2 == 0 else (recorded, plain)
            first, second = time_once(pair[0]), time_once(pair[1])
            plain_t, recorded_t = (first, second) if index % 2 == 0 else (second, first)
            plain_times.append(plain_t)
            recorded_times.append(recorded_t)
    p, r = statistics.median(plain_times), statistics.median(recorded_times)
    return p, r, r / p


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    cases = {
        "VGG(base_dim=16) 4×3×224×224": (VGG(16), torch.rand(4, 3, 224, 224)),
        "MNIST CNN 256×1×28×28": (MNISTCNN(), torch.rand(256, 1, 28, 28)),
    }
    for label, (model, inputs) in cases.items():
        plain, recorded, factor = ratio(model, inputs, args.rounds)
        print(f"{label}: plain {plain * 1e3:.1f} ms, recorded {recorded * 1e3:.1f} ms, ratio {factor:.3f}×")


if __name__ == "__main__":
    main()
