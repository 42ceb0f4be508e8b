"""Recording overhead of recurrent modules, as a ratio to the plain forward, measured side by side.

    .venv/bin/python benchmarks/bench_recurrent.py                          # all cases, ~1 minute
    .venv/bin/python benchmarks/bench_recurrent.py --runs 400               # steadier medians
    .venv/bin/python benchmarks/bench_recurrent.py --threads 1 --clock cpu  # on a crowded machine

Each case alternates plain and recorded calls on the same inputs in one process (2 threads by
default), after a warm-up, with the module in eval mode (as a lecture records) and again in train
mode, and reports the median of each and their ratio; absolute times on a shared machine drift,
ratios much less. The LSTM case also times, in the same loop, the floor: the one product every
exact recording needs, ``[x_t | h_{t-1}] · [W_ih | W_hh]ᵀ`` for all steps (the recorder's own
product routine, on the module's inputs and outputs), and reports recorded / (plain + product).
The memory case runs T = 10,000 in a fresh process and compares the growth of the peak resident
set, plain and recorded, with the bytes the trace holds.
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


def medians(calls: dict[str, Callable[[], object]], runs: int, warmup: int, clock=time.perf_counter) -> dict[str, float]:
    """Median milliseconds of each call, the calls interleaved run by run."""
    for _ in range(warmup):
        for call in calls.values():
            call()
    times: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(runs):
        for label, call in calls.items():
            start = clock()
            call()
            times[label].append(clock() - start)
    return {label: statistics.median(values) * 1e3 for label, values in times.items()}


def layered_case(module: torch.nn.Module, steps: int, batch: int) -> dict[str, Callable]:
    x = torch.randn(steps, batch, module.input_size)
    return {"plain": lambda: module(x), "recorded": lambda: explain.record(module, x)}


def floor_case(module: torch.nn.LSTM, steps: int, batch: int) -> dict[str, Callable]:
    """The layered case plus the one product every exact recording needs ([x_t | h_{t-1}] times the
    stacked weights, for all steps, with the recorder's own routine): plain + product is the floor."""
    calls = layered_case(module, steps, batch)
    x = torch.randn(steps, batch, module.input_size)
    with torch.no_grad():
        h = module(x)[0]
    weights = recurrent_math.layer_weights(module, 0)
    h0 = torch.zeros_like(h[0])
    calls["product"] = lambda: recurrent_math.gate_product(x, h, h0, weights, reverse=False)
    return calls


def stage_cases(module: torch.nn.LSTM, steps: int, batch: int) -> dict[str, Callable]:
    """The plain forward beside each stage an exact LSTM recording adds above its floor, alone."""
    x = torch.randn(steps, batch, module.input_size)
    with torch.no_grad():
        h = module(x)[0]
    weights = recurrent_math.layer_weights(module, 0)
    h0 = torch.zeros_like(h[0])
    pre = recurrent_math.gate_product(x, h, h0, weights, reverse=False)
    i, f, g, o = pre.unflatten(-1, (4, -1)).unbind(2)
    c = torch.randn_like(h)
    return {
        "plain": lambda: module(x),
        "sigmoid over the four gates": lambda: pre.sigmoid_(),
        "g = 2σ(2a) - 1 (three passes over g)": lambda: g.mul_(2).mul_(2).sub_(1),
        "c_t = f_t c_(t-1) + i_t g_t": lambda: recurrent_math.cell_states(i, f, g, h0, reverse=False),
        "tanh(c) · o (for the check)": lambda: recurrent_math.tanh(c).mul_(o),
        "the check: difference, min and max": lambda: torch.aminmax(c.sub(h)),
        "the copies the trace keeps (x, h)": lambda: (x.clone(), h.clone()),
    }


def book_case() -> dict[str, Callable]:
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

    return {"plain": plain, "recorded": recorded, "module": lstm}


def cell_case() -> dict[str, Callable]:
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

    return {"plain": plain, "recorded": recorded, "module": cell}


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
    parser.add_argument("--no-grad", action="store_true", help="run every case under torch.no_grad()")
    parser.add_argument("--stages", action="store_true", help="time each stage of an LSTM recording above its floor")
    parser.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall",
        help="cpu: this process's CPU time, steadier on a crowded machine (meaningful with --threads 1)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    lstm, gru = torch.nn.LSTM(64, 128), torch.nn.GRU(64, 128)
    cases = {
        "LSTM(64→128) T=100 B=16": {**floor_case(lstm, 100, 16), "module": lstm},
        "GRU(64→128) T=100 B=16": {**layered_case(gru, 100, 16), "module": gru},
        "book LSTM(35,35,3), 69 one-step calls": book_case(),
        "LSTMCell(35,35), 69 calls": cell_case(),
    }
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    context = torch.no_grad if args.no_grad else torch.enable_grad
    if args.stages:
        with context():
            result = medians(stage_cases(lstm.eval(), 100, 16), args.runs, args.warmup, clock)
        for label, milliseconds in result.items():
            print(f"LSTM(64→128) T=100 B=16 eval: {label:40s} {milliseconds:7.3f} ms  {milliseconds / result['plain']:.2f} × plain")
        return
    for label, calls in cases.items():
        if args.only and args.only not in label:
            continue
        module = calls.pop("module")
        for mode in ("eval", "train"):
            module.train(mode == "train")
            with context():
                result = medians(calls, args.runs, args.warmup, clock)
            line = (f"{label:40s} {mode:5s} plain {result['plain']:8.3f} ms  recorded {result['recorded']:8.3f} ms"
                    f"  ratio {result['recorded'] / result['plain']:.2f}")
            if "product" in result:
                floor = result["plain"] + result["product"]
                line += f"  (product {result['product']:.3f} ms; floor {floor:.3f} ms; ratio to floor {result['recorded'] / floor:.2f})"
            print(line, flush=True)
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
