"""Shared test settings: deterministic torch, its threads, and hypothesis profiles.

Run everything CI runs: ``python -m pytest`` (pytest-xdist spreads the tests over one worker per
core, ``-n auto`` in pyproject.toml; ``-n 0`` runs them in this process). Slow tests are marked
``slow``; ``-m "not slow"`` gives a quick loop while developing.
"""

import os

import torch
from hypothesis import HealthCheck, settings

#: torch threads per test process: two, shared among xdist's workers (one each on two cores, not
#: two each: torch's threads spin while they wait for a core)
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
torch.set_num_threads(max(1, min(2, (os.cpu_count() or 2) // WORKERS)))
os.environ.setdefault("MPLBACKEND", "Agg")

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("thorough", max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    """One switch accepts intended changes: ``--trace-update`` rewrites the trace fixtures (the
    plugin) and the reference stills (tests/scene_checks.py reads EXPLAIN_UPDATE_REFERENCES)."""
    if config.getoption("trace_update", default=False):
        os.environ["EXPLAIN_UPDATE_REFERENCES"] = "1"
