"""What checking a trace file costs: explain.load with and without the digest, on a 100 MB trace.

    $ .venv/bin/python benchmarks/bench_trace_load.py                  # 100 MB, 15 rounds
    $ .venv/bin/python benchmarks/bench_trace_load.py --megabytes 20 --rounds 5

The trace is a recording's shape: 40 float32 tensors [T, B, H] and a module configuration. Each
round reads the file four ways, in rotating order, from the page cache: ``load(path)`` (every
check and the SHA-256 digest), ``load(path, verify=False)`` (every check but the digest), reading
the bytes into memory (the floor: the least an eager load must do) and reading them, then
``safetensors.torch.load`` (how explain loaded before it checked anything; it copies every
tensor once more). Medians are printed, with the ratio of each to the floor.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load as load_bytes

import explain


def make_trace(megabytes: float, tensors: int = 40) -> explain.Trace:
    per_tensor = int(megabytes * 2**20 / 4 / tensors)
    hidden, batch = 256, 4
    steps = max(1, per_tensor // (hidden * batch))
    torch.manual_seed(0)
    trace = explain.Trace(meta={"modules": {"lstm": {"type": "LSTM", "hidden_size": hidden}}})
    for index in range(tensors):
        trace[f"lstm.l{index // 7}.fwd.{'xifgoch'[index % 7]}"] = torch.randn(steps, batch, hidden)
    return trace


def medians(path: Path, rounds: int) -> dict[str, float]:
    variants = {
        "load (verified)": lambda: explain.load(path),
        "load(verify=False)": lambda: explain.load(path, verify=False),
        "read the bytes": path.read_bytes,
        "read + safetensors": lambda: load_bytes(path.read_bytes()),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for round_ in range(rounds + 1):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            start = time.perf_counter()
            variants[name]()
            if round_:  # the first round warms the page cache
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=100.0)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        path = make_trace(args.megabytes).save(Path(folder) / "big.safetensors")
        size = path.stat().st_size / 2**20
        result = medians(path, args.rounds)
    floor = result["read the bytes"]
    print(f"trace file: {size:.1f} MiB, median of {args.rounds} rounds")
    for name, seconds in result.items():
        print(f"{name:<22} {seconds * 1000:8.1f} ms   {seconds / floor:5.2f}× reading the bytes")
    print(f"the digest costs {(result['load (verified)'] - result['load(verify=False)']) * 1000:.1f} ms "
          f"({result['load (verified)'] / result['load(verify=False)']:.2f}× the unverified load)")


if __name__ == "__main__":
    main()
