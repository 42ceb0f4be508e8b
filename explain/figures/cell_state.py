"""The numbers of figure 4 (from RNN to LSTM): the hidden state and the cell state on their lines.

    >>> import torch
    >>> from explain import Trace
    >>> parts = {q: torch.full((4, 1, 2), 0.5) for q in "ifgo"}
    >>> c = torch.tensor([[0.25, 1.25], [0.375, 0.875], [0.4375, 0.6875], [0.46875, 0.59375]]).reshape(4, 1, 2)  # Cₜ = 0.5·Cₜ₋₁ + 0.5·0.5
    >>> tr = Trace({**{f"l0.fwd.{q}": v for q, v in parts.items()}, "l0.fwd.c": c, "l0.fwd.h": 0.5 * torch.tanh(c)})
    >>> v = line_values(tr, {"steps": "2-3"})
    >>> v["steps"], v["units"], v["c"][1], [round(h, 3) for h in v["h"][3]], v["cell"]
    ([2, 3], [0, 1], [0.375, 0.875], [0.219, 0.266], 3)
    >>> strongest_units(torch.tensor([[0.1, -0.9, 0.3], [0.0, 0.2, 0.8]]), 2)
    [1, 2]

The chain shows consecutive steps; between two copies of the cell each line carries the state one
step hands to the next, so the lines hold the states after steps ``steps[0] − 1 … steps[-1]``.
Every value is the trace's ``{q}.l{k}.fwd.c`` / ``.h``; nothing is derived. The single cell with its
four ports is the chain's last step: Cₜ₋₁ and hₜ₋₁ enter, Cₜ and hₜ leave.
"""

from __future__ import annotations

from typing import Any

import torch

from explain.figures.cells import cell_view, symmetric_range
from explain.figures.recurrent import MissingValues, check_indices, parse_indices
from explain.trace import Trace

__all__ = ["DEFAULT_STEPS", "DEFAULT_UNITS", "MAX_STEPS", "line_values", "strongest_units"]

#: steps of the chain when none are chosen (the state before step 1 is recorded; before step 0 it is not)
DEFAULT_STEPS = [1, 2, 3]
#: copies of the cell that fit across the frame
MAX_STEPS = 3
#: how refusals name this figure
FIGURE = "figure 4 (from RNN to LSTM)"
#: units shown on the lines when none are chosen
DEFAULT_UNITS = 6


def line_values(trace: Trace, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Steps, units, tokens, and h and c on the lines (``h[t]``, ``c[t]`` for t = steps[0]−1 … steps[-1]).

    Options: ``steps`` (consecutive, at most :data:`MAX_STEPS`, the first ≥ 1; default 1–3, fewer
    if the trace is shorter), ``units`` (default the :data:`DEFAULT_UNITS` units whose h and c on
    these lines are largest, see :func:`strongest_units`), ``layer`` (default the top one),
    ``batch``. ``cell`` is the step the single cell shows; ``c_range`` the scale of c;
    ``chosen_units`` is True when the units were picked by size.
    """
    options = dict(options or {})
    probe = cell_view(trace, "lstm", {**options, "steps": [0], "units": [0]}, FIGURE)
    length = len(probe.tokens)
    if length < 2:
        raise MissingValues(f"figure 4 needs at least 2 recorded steps (a state handed on); the trace has {length}")
    default_steps = [t for t in DEFAULT_STEPS if t < length]
    steps = parse_indices(options.get("steps"), default_steps, what="steps")
    check_indices(length, steps, "time step", probe.module or "the model")
    if len(steps) > MAX_STEPS or steps != list(range(steps[0], steps[0] + len(steps))):
        raise MissingValues(f"steps must be at most {MAX_STEPS} consecutive steps, e.g. '1-3'; got {steps}")
    if steps[0] < 1:
        raise MissingValues("the first step shown must be 1 or later: the state before step 0 is not recorded")
    on_lines = [steps[0] - 1, *steps]
    if probe.direction != "fwd":
        raise MissingValues("figure 4 draws the forward direction (time left to right); choose direction 'fwd'")
    full = {q: trace[probe.name(q)][:, probe.batch].detach().double() for q in ("c", "h")}
    strongest = strongest_units(torch.cat([full["c"][on_lines], full["h"][on_lines]]), DEFAULT_UNITS)
    units = parse_indices(options.get("units"), strongest, what="units")
    view = cell_view(trace, "lstm", {**options, "steps": on_lines, "units": units}, FIGURE)
    rows = {q: full[q][:, view.units] for q in full}
    lines = {q: {t: rows[q][t].tolist() for t in view.steps} for q in rows}
    return {
        "module": view.module,
        "layer": view.layer,
        "layers": view.layers,
        "steps": steps,
        "units": view.units,
        "labels": view.labels,
        "size": view.size,
        "tokens": [view.tokens[t] for t in steps],
        "h": lines["h"],
        "c": lines["c"],
        "cell": steps[-1],
        "c_range": symmetric_range(list(lines["c"].values())),
        "chosen_units": options.get("units") is None,
        "view": view,
    }


def strongest_units(rows: torch.Tensor, count: int) -> list[int]:
    """The ``count`` units (columns of ``rows``) with the largest |value| anywhere, in index order."""
    largest = rows.abs().amax(dim=0)
    return sorted(torch.argsort(largest, descending=True, stable=True)[:count].tolist())
