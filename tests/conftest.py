"""Shared test settings: deterministic torch, 2 threads, and hypothesis profiles.

Run everything CI runs: ``python -m pytest``. Slow tests are marked ``slow``; ``-m "not slow"``
gives a quick loop while developing.
"""

import os

import torch
from hypothesis import HealthCheck, settings

torch.set_num_threads(2)
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
