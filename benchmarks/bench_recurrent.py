"""Recording overhead of recurrent modules, as a ratio to the plain forward, measured side by side.

    .venv/bin/python benchmarks/bench_recurrent.py                          # all cases, ~1 minute
    .venv/bin/python benchmarks/bench_recurrent.py --runs 400               # steadier medians
    .venv/bin/python benchmarks/bench_recurrent.py --threads 1 --clock cpu  # on a crowded machine

Each case alternates plain and recorded calls on the same inputs in one process (2 threads by
default), after a warm-up, and reports the median of each and their ratio; absolute times on a
shared machine drift, ratios much less. The memory case runs T = 10,000 in a fresh process and
compares the growth of the peak resident set, plain and recorded, with the bytes the trace holds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch

import explain
from explain.recording import recurrent_math


def ratio(
    plain: Callable[[], object], recorded: Callable[[], object], runs: int, warmup: int, clock=time.perf_counter
) -> dict[str, float]:
    """Median seconds of ``plain`` and ``recorded``, interleaved, and recorded / plain."""
    for _ in range(warmup):
        plain()
        recorded()
    plain_times, recorded_times = [], []
    for _ in range(runs):
        for run, times in ((plain, plain_times), (recorded, recorded_times)):
            start = clock()
            run()
            times.append(clock() - start)
    p, r = statistics.median(plain_times), statistics.median(recorded_times)
    return {"plain_ms": p * 1e3, "recorded_ms": r * 1e3, "ratio": r / p}


def layered_case(module: torch.nn.Module, steps: int, batch: int) -> tuple[Callable, Callable]:
    x = torch.randn(steps, batch, module.input_size)
    return (lambda: module(x)), (lambda: explain.record(module, x))


def products_case(module: torch.nn.LSTM, steps: int, batch: int) -> tuple[Callable, Callable]:
    """The plain forward beside the one product every recording of it needs ([x_t | h_{t-1}] times
    the stacked weights, for all steps): 1 + this ratio is the floor of the LSTM's ratio."""
    x = torch.randn(steps, batch, module.input_size)
    with torch.no_grad():
        h = module(x)[0]
    rows = torch.cat((x, torch.cat((torch.zeros_like(h[:1]), h[:-1]))), dim=-1)
    weights = recurrent_math.layer_weights(module, 0)
    both = torch.cat((weights.w_ih, weights.w_hh), dim=1)
    bias = weights.b_ih + weights.b_hh
    return (lambda: module(x)), (lambda: recurrent_math.affine(rows, both, bias))


def book_case() -> tuple[Callable, Callable]:
    """The book's nn.LSTM(35, 35, num_layers=3), called one step at a time for 69 steps."""
    lstm = torch.nn.LSTM(35, 35, num_layers=3)
    xs = torch.eye(35)[torch.randint(0, 35, (69,))].view(69, 1, 1, 35)

    def plain():
        state = None
        for x_t in xs:
            _, state = lstm(x_t, state)

    def recorded():
        with explain.record(lstm):
            plain()

    return plain, recorded


def cell_case() -> tuple[Callable, Callable]:
    """nn.LSTMCell(35, 35) in a loop of 69 calls, the way tutorials write a recurrent cell."""
    cell = torch.nn.LSTMCell(35, 35)
    xs = torch.randn(69, 1, 35)

    def plain():
        state = None
        for x_t in xs:
            state = cell(x_t, state)

    def recorded():
        with explain.record(cell):
            plain()

    return plain, recorded


_MEMORY = """
import json, resource, sys, torch, explain
torch.set_num_threads(2)
lstm = torch.nn.LSTM(64, 128)
explain.record(lstm, torch.randn(10, 4, 64))  # load the kernels on a small input: the peak so far stays low
x = torch.randn(10_000, 4, 64)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = explain.record(lstm, x) if sys.argv[1] == "recorded" else lstm(x)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
storages = {}
if sys.argv[1] == "recorded":
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in result.values()}
    storages.pop(x.untyped_storage().data_ptr(), None)  # the caller's input was there before
print(json.dumps({"recorded_mb": sum(storages.values()) / 2**20, "peak_growth_mb": (after - before) / 1024}))
"""


def memory_case() -> dict[str, float]:
    """Peak resident memory growth of LSTM(64→128), T = 10,000, B = 4, plain and recorded (fresh processes)."""

    def run(mode: str) -> dict[str, float]:
        done = subprocess.run([sys.executable, "-c", _MEMORY, mode], capture_output=True, text=True, check=True)
        return json.loads(done.stdout)

    plain, recorded = run("plain"), run("recorded")
    return {
        "recorded_mb": recorded["recorded_mb"],
        "plain_peak_mb": plain["peak_growth_mb"],
        "recorded_peak_mb": recorded["peak_growth_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=150)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", help="run the cases whose label contains this text")
    parser.add_argument("--no-memory", action="store_true", help="skip the T = 10,000 memory case")
    parser.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall",
        help="cpu: this process's CPU time, steadier on a crowded machine (meaningful with --threads 1)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = {
        "LSTM(64→128) T=100 B=16": layered_case(torch.nn.LSTM(64, 128), 100, 16),
        "LSTM(64→128) T=100 B=16, products alone": products_case(torch.nn.LSTM(64, 128), 100, 16),
        "GRU(64→128) T=100 B=16": layered_case(torch.nn.GRU(64, 128), 100, 16),
        "book LSTM(35,35,3), 69 one-step calls": book_case(),
        "LSTMCell(35,35), 69 calls": cell_case(),
    }
    for label, (plain, recorded) in cases.items():
        if args.only and args.only not in label:
            continue
        for mode, context in (("grad", torch.enable_grad), ("no_grad", torch.no_grad)):
            with context():
                clock = time.process_time if args.clock == "cpu" else time.perf_counter
                result = ratio(plain, recorded, args.runs, args.warmup, clock)
            print(f"{label:40s} {mode:8s} plain {result['plain_ms']:8.3f} ms  recorded {result['recorded_ms']:8.3f} ms"
                  f"  ratio {result['ratio']:.2f}", flush=True)
    if args.no_memory:
        return
    memory = memory_case()
    print(
        f"{'LSTM(64→128) T=10,000 B=4 memory':40s} recorded {memory['recorded_mb']:.0f} MB; peak growth: plain forward "
        f"{memory['plain_peak_mb']:.0f} MB, recorded forward {memory['recorded_peak_mb']:.0f} MB",
        flush=True,
    )


if __name__ == "__main__":
    main()
