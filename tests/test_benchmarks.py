"""The benchmarks still run (with the fewest repetitions): they are run by hand, so nothing else
would notice when a change breaks one. Their numbers are not checked here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
@pytest.mark.parametrize(
    "script, arguments, expected",
    [
        ("bench_recurrent.py", ["--runs", "1", "--warmup", "0", "--no-memory"], "book LSTM(35,35,3)"),
        ("bench_features.py", ["--rounds", "1"], "MNIST CNN"),
        ("bench_cnn_scenes.py", ["--runs", "1", "--stop-after", "1", "parameters"], "per drawn frame"),
        ("bench_trace_load.py", ["--megabytes", "2", "--rounds", "1"], "the digest costs"),
    ],
)
def test_benchmark_runs(script, arguments, expected):
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *arguments], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert expected in done.stdout
