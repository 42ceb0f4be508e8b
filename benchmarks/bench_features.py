"""Recording overhead as a ratio: recorded forward / plain forward, interleaved in one process.

    $ .venv/bin/python benchmarks/bench_features.py            # every case, 15 rounds, 2 threads
    $ .venv/bin/python benchmarks/bench_features.py --rounds 41 --threads 1 --only "VGG-style"
    $ .venv/bin/python benchmarks/bench_features.py --threads 1 --cpu-time   # on a busy machine

Cases, each recording every layer, in eval mode: a VGG-style CNN whose ``forward`` applies
``F.relu``, ``F.max_pool2d``, ``F.adaptive_avg_pool2d``, ``torch.flatten`` and ``F.dropout`` as
functions (so they are recorded as ``:relu`` …, 29 functions and 11 modules per pass) at
8×3×64×64 and at 8×3×224×224; the book's VGG(base_dim=16) at 4×3×224×224; the MNIST CNN at batch
256. Each round runs, in rotating order, the plain forward, the recorded forward, and a "keep"
baseline: the plain forward with bare hooks that only keep every module's output alive (the
functional steps too, for the VGG-style net: its ``keep`` list). Keeping every feature map costs
fresh memory (page faults) that a plain forward reuses; the keep baseline shows that floor. A
"bare" baseline adds what any recorder of this design pays before doing anything: an empty
pre-hook and a keeping post-hook on every module, and a pass-through TorchFunctionMode (Python
dispatch of every torch call inside ``forward``); "bare + kernels proven" adds the byte comparison
that proves each conv's and BatchNorm's parameters unchanged since the last recording (the figures
multiply those kernels out, and a write through ``.data`` leaves no version behind): the least an
exact recorder of this design costs. Medians are printed as ratios to the plain forward.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

import explain
from explain.models.cnn import MNISTCNN
from explain.models.vgg import VGG
from explain.recording.snapshots import snapshot


class FunctionalVGG(nn.Module):
    """VGG-style: 3×3 convs (16 → 128 channels) as modules; ReLU, pooling, flatten, dropout as functions."""

    LAYOUT = (16, "M", 32, "M", 64, 64, "M", 128, 128, "M", 128, 128, "M")

    def __init__(self, classes: int = 10):
        super().__init__()
        convs, channels = [], 3
        for width in self.LAYOUT:
            if width != "M":
                convs.append(nn.Conv2d(channels, width, 3, padding=1))
                channels = width
        self.convs = nn.ModuleList(convs)
        self.fc1 = nn.Linear(channels * 2 * 2, 64)
        self.fc2 = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor, keep: list | None = None) -> torch.Tensor:
        kept = keep.append if keep is not None else lambda value: None
        convs = iter(self.convs)
        for width in self.LAYOUT:
            x = F.max_pool2d(x, 2) if width == "M" else F.relu(next(convs)(x))
            kept(x)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 2), 1)
        kept(x)
        x = F.dropout(F.relu(self.fc1(x)), 0.5, self.training)
        kept(x)
        return F.log_softmax(self.fc2(x), dim=1)


def keeping_outputs(model: nn.Module, inputs: torch.Tensor) -> list[torch.Tensor]:
    """The plain forward with minimal hooks that keep every module output (the retention floor)."""
    kept: list[torch.Tensor] = []
    handles = [module.register_forward_hook(lambda m, a, out: kept.append(out)) for module in model.modules()]
    try:
        model(inputs, kept) if isinstance(model, FunctionalVGG) else model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return kept


class _PassThrough(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


def bare_recorder(model: nn.Module, inputs: torch.Tensor) -> list[torch.Tensor]:
    """What any recorder built like this one costs at least: a pre- and a post-hook on every module
    (the post-hook keeps the output) and a pass-through TorchFunctionMode around the forward."""
    kept: list[torch.Tensor] = []
    handles = [module.register_forward_pre_hook(lambda m, a: None) for module in model.modules()]
    handles += [module.register_forward_hook(lambda m, a, out: kept.append(out)) for module in model.modules()]
    try:
        with _PassThrough():
            model(inputs, kept) if isinstance(model, FunctionalVGG) else model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return kept


def proving_kernels(model: nn.Module, inputs: torch.Tensor) -> list[torch.Tensor]:
    """:func:`bare_recorder` plus what an exact recording must add for the figures that multiply
    kernels out: each conv's and BatchNorm's parameters, proven unchanged since the last recording
    (explain's own :func:`snapshot`: a byte comparison with the shared copy)."""
    kept = bare_recorder(model, inputs)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.BatchNorm2d)):
            for key in ("weight", "bias", "running_mean", "running_var"):
                value = getattr(module, key, None)
                if isinstance(value, torch.Tensor):
                    kept.append(snapshot(value))
    return kept


def medians(model: nn.Module, inputs: torch.Tensor, rounds: int, clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median seconds of each variant over ``rounds`` rotating rounds (after two warm-up rounds)."""
    model.eval()
    variants: dict[str, Callable[[], object]] = {
        "plain": lambda: model(inputs),
        "recorded": lambda: explain.record(model, inputs),
        "keep": lambda: keeping_outputs(model, inputs),
        "bare": lambda: bare_recorder(model, inputs),
        "proof": lambda: proving_kernels(model, inputs),
    }
    order = list(variants)
    times: dict[str, list[float]] = {name: [] for name in order}
    with torch.no_grad():
        for index in range(rounds + 2):
            for name in order[index % len(order) :] + order[: index % len(order)]:
                began = clock()
                variants[name]()
                if index >= 2:
                    times[name].append(clock() - began)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--only", default="", help="run only the cases whose label contains this text")
    parser.add_argument(
        "--cpu-time", action="store_true",
        help="time the process's CPU time instead of the wall clock (steadier on a busy machine, with --threads 1)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = {
        "VGG-style, functional ReLU/pool, 8×3×64×64": (FunctionalVGG, (8, 3, 64, 64)),
        "VGG-style, functional ReLU/pool, 8×3×224×224": (FunctionalVGG, (8, 3, 224, 224)),
        "VGG(base_dim=16) 4×3×224×224": (lambda: VGG(16), (4, 3, 224, 224)),
        "MNIST CNN 256×1×28×28": (MNISTCNN, (256, 1, 28, 28)),
    }
    for label, (make, shape) in cases.items():
        if args.only not in label:
            continue
        m = medians(make(), torch.rand(shape), args.rounds, time.process_time if args.cpu_time else time.perf_counter)
        print(
            f"{label}: plain {m['plain'] * 1e3:.2f} ms; recorded {m['recorded'] / m['plain']:.3f}×; "
            f"keep-outputs baseline {m['keep'] / m['plain']:.3f}×; bare hooks + mode {m['bare'] / m['plain']:.3f}×; "
            f"bare + kernels proven {m['proof'] / m['plain']:.3f}×"
        )


if __name__ == "__main__":
    main()
