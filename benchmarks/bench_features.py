"""Recording overhead as a ratio: recorded forward / plain forward, interleaved in one process.

    $ .venv/bin/python benchmarks/bench_features.py            # both cases, 15 rounds, 2 threads
    $ .venv/bin/python benchmarks/bench_features.py --rounds 31 --threads 1

Cases (the issue's): the book's VGG(base_dim=16) at 3×224×224, batch 4, and the MNIST CNN at batch
256, each recording every layer. Each round runs, in rotating order, the plain forward, the recorded
forward, and a "keep" baseline: the plain forward with bare hooks that only keep every output
alive. Keeping every feature map costs fresh memory (page faults) that a plain forward reuses; the
keep baseline shows that floor. Medians are printed as ratios to the plain forward.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

import explain
from explain.models.cnn import MNISTCNN
from explain.models.vgg import VGG


def keeping_outputs(model: torch.nn.Module, inputs: torch.Tensor) -> list[torch.Tensor]:
    """The plain forward with minimal hooks that keep every module output (the retention floor)."""
    kept: list[torch.Tensor] = []
    handles = [module.register_forward_hook(lambda m, a, out: kept.append(out)) for module in model.modules()]
    try:
        model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return kept


def medians(model: torch.nn.Module, inputs: torch.Tensor, rounds: int) -> dict[str, float]:
    """Median seconds of each variant over ``rounds`` rotating rounds (after two warm-up rounds)."""
    model.eval()
    variants: dict[str, Callable[[], object]] = {
        "plain": lambda: model(inputs),
        "recorded": lambda: explain.record(model, inputs),
        "keep": lambda: keeping_outputs(model, inputs),
    }
    order = list(variants)
    times: dict[str, list[float]] = {name: [] for name in order}
    with torch.no_grad():
        for index in range(rounds + 2):
            for name in order[index % 3 :] + order[: index % 3]:
                began = time.perf_counter()
                variants[name]()
                if index >= 2:
                    times[name].append(time.perf_counter() - began)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = {
        "VGG(base_dim=16) 4×3×224×224": (VGG(16), torch.rand(4, 3, 224, 224)),
        "MNIST CNN 256×1×28×28": (MNISTCNN(), torch.rand(256, 1, 28, 28)),
    }
    for label, (model, inputs) in cases.items():
        m = medians(model, inputs, args.rounds)
        print(
            f"{label}: plain {m['plain'] * 1e3:.1f} ms; recorded {m['recorded'] / m['plain']:.3f}×; "
            f"keep-outputs baseline {m['keep'] / m['plain']:.3f}×"
        )


if __name__ == "__main__":
    main()
