"""What the LSTM and GRU cell figures show, read from a trace as plain lists of floats (no manim).

    >>> from explain import models
    >>> tr = models.load("hello-lstm").record()
    >>> view = cell_view(tr, "lstm", {"steps": [0, 1], "units": [7, 4]})
    >>> view.layer, view.labels
    (2, ['h', 'e'])
    >>> [round(value, 2) for value in lstm_step_values(tr, view, 1)["f"]]
    [0.01, 0.99]

A :class:`CellView` is the scene's choice (module, layer, direction, batch item, time steps, units)
checked against the trace; ``lstm_step_values`` / ``gru_step_values`` return every strip of one
step. The state before the first recorded step is not stored in a trace; it follows exactly from
the step's own values (c₀ = f₀ ⊙ c₋₁ + i₀ ⊙ g₀ solved for c₋₁; the same for the GRU's h).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from explain.figures.recurrent import MissingValues, check_indices, describe_indices, find_recurrent, steps_of, valid_steps
from explain.names import CELL_QUANTITIES, recurrent_name, recurrent_parts
from explain.trace import Trace

__all__ = [
    "cell_view",
    "CellView",
    "DEFAULT_STEP_COUNT",
    "DEFAULT_UNIT_COUNT",
    "erasing_step",
    "GRU_PARTS",
    "gru_step_values",
    "LSTM_PARTS",
    "lstm_step_values",
    "MAX_UNITS",
    "next_character",
    "symmetric_range",
    "unit_labels",
]

#: strips of one LSTM step, in the figure's build order (C̃ is PyTorch's g)
LSTM_PARTS = ("c_prev", "f", "i", "g", "c", "o", "h")
#: strips of one GRU step (n is PyTorch's candidate, r applied after the matrix product)
GRU_PARTS = ("h_prev", "r", "z", "n", "h")
#: quantities each kind must have recorded
#: units shown when the user names none: as many as fit with numbers 14 px tall at 720p
DEFAULT_UNIT_COUNT = 7
DEFAULT_STEP_COUNT = 4
#: the most units a strip can show legibly (cells shrink beyond 12 and lose their numbers beyond 18)
MAX_UNITS = 40


@dataclass(frozen=True)
class CellView:
    """Which values a cell figure shows: one layer and direction of one module, a batch item,
    time steps in the order they are drawn, and a subset of units with their labels."""

    module: str
    layer: int
    direction: str
    batch: int
    steps: list[int]
    units: list[int]
    labels: list[str]
    size: int
    layers: int
    tokens: list[str | None]
    #: the vocabulary the layer's units line up with (the hello LSTM's top layer), else None
    vocabulary: list[str] | None = None
    #: the values are a hand-written cell's, named through explain.Probe (not an nn.LSTM/GRU's)
    probed: bool = False

    def name(self, quantity: str) -> str:
        """The trace name of ``quantity`` for this layer and direction."""
        return recurrent_name(self.module, self.layer, quantity, self.direction)

    def units_text(self, lang: str = "en") -> str:
        """ "units 0–11 of 35 shown" / "all 12 units": said on screen whenever a subset is shown."""
        described = describe_indices(self.units, self.size)
        if described.startswith("all"):
            return f"{described} units" if lang == "en" else f"유닛 {self.size}개 전체"
        shown, _, total = described.rpartition(" of ")
        return f"units {shown} of {total} shown" if lang == "en" else f"유닛 {total}개 중 {shown}번 표시"

    def previous(self, t: int) -> int | None:
        """The step processed before ``t`` (t−1 forward, t+1 backward), None at the sequence start."""
        before = t - 1 if self.direction == "fwd" else t + 1
        return before if 0 <= before < len(self.tokens) else None


def cell_view(trace: Trace, kind: str, options: dict[str, Any], figure: str | None = None) -> CellView:
    """The view a cell scene draws, from ``options`` (layer, direction, batch, steps, units).

    Defaults: the last layer, forward, batch item 0, four steps (an LSTM's from the step whose forget
    gate erases most, see :func:`erasing_step`; a GRU's from the first), units 0–6 (all units
    of a smaller layer). Raises :class:`MissingValues` with one actionable line for a trace
    without such a module or for an option out of range.
    """
    figure = figure or f"the {kind.upper()} cell figure"  # (how refusals name the figure asking)
    module = find_recurrent(trace, CELL_QUANTITIES[kind][0], kind=kind, what=figure)
    direction = options.get("direction") or "fwd"
    layers = _layers(trace, module, direction)
    if not layers:
        raise MissingValues(f"{figure}: the trace has no {direction} direction for {module or 'the model'}")
    layer = options.get("layer")
    layer = layers[-1] if layer is None else int(layer)
    if layer not in layers:
        raise MissingValues(f"{figure}: layer {layer} is not in the trace (layers {_span(layers)})")
    missing = [q for q in CELL_QUANTITIES[kind] if recurrent_name(module, layer, q, direction) not in trace]
    if missing:
        raise MissingValues(f"{figure} needs {', '.join(recurrent_name(module, layer, q, direction) for q in missing)}")
    h = trace[recurrent_name(module, layer, "h", direction)]
    batches, size = int(h.shape[1]), int(h.shape[-1])
    cells = int(trace[recurrent_name(module, layer, "c", direction)].shape[-1]) if kind == "lstm" else size
    if cells != size:
        raise MissingValues(
            f"{figure} draws hₜ = oₜ ⊙ tanh(Cₜ) unit by unit, but {module or 'the model'} projects it (proj_size={size}: "
            f"hₜ = W_hr·(oₜ ⊙ tanh(Cₜ)), {size} values from {cells} cell units); rnn-unroll and rnn-layers draw its hₜ"
        )
    batch = int(options.get("batch") or 0)
    check_indices(batches, [batch], "batch item")
    length = steps_of(trace, module, layer, direction=direction, batch=batch)  # a packed sequence's own length
    order = list(range(length)) if direction == "fwd" else list(range(length - 1, -1, -1))
    units = [int(u) for u in options.get("units") or range(min(DEFAULT_UNIT_COUNT, size))]
    check_indices(size, units, "unit")
    if len(units) > MAX_UNITS:
        raise MissingValues(f"{len(units)} units do not fit on screen; choose at most {MAX_UNITS} (e.g. --units 0-{MAX_UNITS - 1})")
    if options.get("steps"):
        steps = [int(t) for t in options["steps"]]
        check_indices(length, steps, "time step")
    else:  # the LSTM starts where its forget gate visibly erases something
        first = erasing_step(trace, module, layer, direction, batch, units, length) if kind == "lstm" else order[0]
        start = order.index(first)
        steps = order[start : start + DEFAULT_STEP_COUNT]
    tokens = _tokens(trace, length)
    vocabulary = _vocabulary(trace, size) if layer == layers[-1] else None
    labels = unit_labels(trace, size, units)
    described = trace.meta.get("modules", {}).get(module, {})
    probed = "quantities" in described and described.get("kind") not in ("recurrent", "recurrent_cell")  # named by Probe
    view = CellView(module, layer, direction, batch, steps, units, labels, size, len(layers), tokens, vocabulary, probed)
    _check_equations(trace, kind, view, figure)
    return view


#: what each cell figure draws: (the quantity a step produces, the equation, and its terms from the
#: step's recorded values and the previous step's ``before``; None where the step needs none)
_EQUATIONS: dict[str, list[tuple[str, str, Any]]] = {
    "lstm": [
        ("c", "Cₜ = fₜ ⊙ Cₜ₋₁ + iₜ ⊙ C̃ₜ", lambda v, before: None if before is None else [v["f"] * before["c"], v["i"] * v["g"]]),
        ("h", "hₜ = oₜ ⊙ tanh(Cₜ)", lambda v, before: [v["o"] * torch.tanh(v["c"])]),
    ],
    "gru": [("h", "hₜ = (1 − zₜ) ⊙ nₜ + zₜ ⊙ hₜ₋₁", lambda v, before: None if before is None else [(1 - v["z"]) * v["n"], v["z"] * before["h"]])],
}


def _check_equations(trace: Trace, kind: str, view: CellView, figure: str) -> None:
    """Raise :class:`MissingValues` unless the recorded values follow the equations the figure
    draws (PyTorch's) at the steps it draws, and at the first step that has a previous one (so
    that a cell's convention is checked even when only t = 0 is drawn): true of nn.LSTM/GRU and
    their cells by construction, and what a hand-written cell named through explain.Probe must
    show. A GRU written hₜ = (1 − zₜ)·hₜ₋₁ + zₜ·nₜ, or an LSTM whose hₜ = oₜ ⊙ Cₜ, computes
    something else (and the state before its first step could not be solved from these
    equations either); so does a loop whose state was changed between two drawn steps. Each
    value is allowed the rounding of the precision it was stored in (a file saved with
    ``--half`` holds float16 values).

    >>> t = torch.tensor
    >>> gru = Trace({"l0.fwd.r": t([[[0.5]], [[0.5]]]), "l0.fwd.z": t([[[0.5]], [[0.25]]]), "l0.fwd.n": t([[[0.2]], [[0.4]]]), "l0.fwd.h": t([[[0.1]], [[0.325]]])})
    >>> view = CellView("", 0, "fwd", 0, [0], [0], ["0"], 1, 1, [None, None])
    >>> _check_equations(gru, "gru", view, "the GRU cell figure")     # 0.75 · 0.4 + 0.25 · 0.1
    >>> gru["l0.fwd.h"] = t([[[0.1]], [[0.175]]])                      # 0.25 · 0.4 + 0.75 · 0.1
    >>> _check_equations(gru, "gru", view, "the GRU cell figure")
    Traceback (most recent call last):
    ...
    explain.figures.recurrent.MissingValues: the GRU cell figure draws PyTorch's equation hₜ = (1 − zₜ) ⊙ nₜ + zₜ ⊙ hₜ₋₁, which the recorded values do not follow (t = 1, unit 0: hₜ is 0.175, the equation gives 0.325): a cell that computes otherwise, or a state changed between calls, cannot be drawn with it
    """
    names = {q: view.name(q) for q in CELL_QUANTITIES[kind]}
    values = {q: trace[name][:, view.batch].detach().double() for q, name in names.items()}
    halved = trace.meta.get("half") or {}  # names saved in float16 (explain record --half)
    eps = max(torch.finfo(torch.float16 if name in halved else trace[name].dtype).eps for name in names.values())
    allowed = max(1e-4, 8 * eps)
    order = list(range(len(view.tokens))) if view.direction == "fwd" else list(range(len(view.tokens) - 1, -1, -1))
    checked = sorted(set(view.steps) | set(order[1:2]))
    for t in checked:
        before = _previous(trace, view, t)
        step = {q: v[t] for q, v in values.items()}
        previous = None if before is None else {q: v[before] for q, v in values.items()}
        for quantity, equation, compute in _EQUATIONS[kind]:
            terms = compute(step, previous)
            if terms is None:
                continue
            expected = sum(terms)
            deviation = (step[quantity] - expected).abs() / (1 + sum(term.abs() for term in terms))
            if not bool((deviation <= allowed).all()):  # also NaN
                unit = int(deviation.nan_to_num(float("inf")).argmax())
                raise MissingValues(
                    f"{figure} draws PyTorch's equation {equation}, which the recorded values do not follow "
                    f"(t = {t}, unit {unit}: {equation.partition(' =')[0]} is {float(step[quantity][unit]):.4g}, the equation gives "
                    f"{float(expected[unit]):.4g}): a cell that computes otherwise, or a state changed between calls, cannot be drawn with it"
                )


def erasing_step(trace: Trace, module: str, layer: int, direction: str, batch: int, units: list[int], length: int | None = None) -> int:
    """The step whose forget gate erases the most cell state among ``units``: the largest
    (1 − fₜ) · |cₜ₋₁| of a unit, over the steps that follow a recorded step (the first step's
    state is the initial one, zero in the book), among the first ``length`` steps (a packed
    sequence's own; None: all).

    >>> import torch
    >>> f = torch.tensor([[[1.0]], [[0.9]], [[0.1]], [[0.5]]])
    >>> c = torch.tensor([[[0.2]], [[1.0]], [[0.8]], [[0.1]]])
    >>> trace = Trace({"l0.fwd.f": f, "l0.fwd.c": c})
    >>> erasing_step(trace, "", 0, "fwd", 0, [0])       # (1 − 0.1) · |1.0| at t = 2
    2
    """
    f = trace[recurrent_name(module, layer, "f", direction)][:length, batch, units].detach().double()  # (a packed item's own steps)
    c = trace[recurrent_name(module, layer, "c", direction)][:length, batch, units].detach().double()
    if f.shape[0] < 2:
        return 0
    if direction == "fwd":
        erased = (1 - f[1:]) * c[:-1].abs()
        return int(erased.amax(dim=1).argmax()) + 1
    erased = (1 - f[:-1]) * c[1:].abs()
    return int(erased.amax(dim=1).argmax())


def next_character(trace: Trace, view: CellView, t: int) -> tuple[str, float] | None:
    """The character the top layer's hₜ points at, and its value, when its units line up with a
    vocabulary (the hello LSTM is trained so that hₜ is the next character's one-hot); else None."""
    if view.vocabulary is None:
        return None
    h = _row(trace, view, "h", t)
    best = int(h.argmax())
    return str(view.vocabulary[best]), float(h[best])


def unit_labels(trace: Trace, size: int, units: list[int]) -> list[str]:
    """Labels for ``units``: the trace's ``meta["unit_labels"]`` when it has one per unit, else indices.

    (The hello LSTM's recordings carry its vocabulary there: its 35 outputs are compared with the
    next one-hot.)

    >>> unit_labels(Trace({}, meta={"unit_labels": list("abc")}), 3, [2, 0]), unit_labels(Trace({}), 3, [2])
    (['c', 'a'], ['2'])
    """
    vocabulary = _vocabulary(trace, size)
    if vocabulary is not None:
        return [str(vocabulary[u]) for u in units]
    return [str(u) for u in units]


def _vocabulary(trace: Trace, size: int) -> list | None:
    """The labels units of ``size`` line up with (``meta["unit_labels"]``, one per unit), or None."""
    labels = trace.meta.get("unit_labels")
    return labels if isinstance(labels, list) and len(labels) == size else None


def lstm_step_values(trace: Trace, view: CellView, t: int) -> dict[str, list[float]]:
    """Every strip of LSTM step ``t`` for the view's units: c_prev, f, i, g, c, o, h."""
    i, f, g, o, c, h = (_row(trace, view, q, t) for q in ("i", "f", "g", "o", "c", "h"))
    before = _previous(trace, view, t)
    c_prev = _row(trace, view, "c", before) if before is not None else (c - i * g) / f
    values = {"c_prev": c_prev, "f": f, "i": i, "g": g, "c": c, "o": o, "h": h}
    return {part: values[part][view.units].tolist() for part in LSTM_PARTS}


def gru_step_values(trace: Trace, view: CellView, t: int) -> dict[str, list[float]]:
    """Every strip of GRU step ``t`` for the view's units: h_prev, r, z, n, h."""
    r, z, n, h = (_row(trace, view, q, t) for q in ("r", "z", "n", "h"))
    before = _previous(trace, view, t)
    h_prev = _row(trace, view, "h", before) if before is not None else (h - (1 - z) * n) / z
    values = {"h_prev": h_prev, "r": r, "z": z, "n": n, "h": h}
    return {part: values[part][view.units].tolist() for part in GRU_PARTS}


def symmetric_range(rows: list[list[float]], *, at_least: float = 1.0) -> tuple[float, float]:
    """(−m, m) covering every value, m rounded up to a half and at least ``at_least``: the scale of c.

    >>> symmetric_range([[0.2, -1.7], [0.9]])
    (-2.0, 2.0)
    """
    largest = max((abs(v) for row in rows for v in row), default=0.0)
    half_steps = -(-largest // 0.5)
    m = max(at_least, half_steps * 0.5)
    return (-m, m)


def _previous(trace: Trace, view: CellView, t: int) -> int | None:
    """The step whose state step ``t`` read, None where it read the initial state (also a packed
    sequence's backward start, at its own last step: the step after it is padding)."""
    before = view.previous(t)
    valid = valid_steps(trace, view.module)
    if before is None or (valid is not None and not bool(valid[before, view.batch])):
        return None
    return before


def _row(trace: Trace, view: CellView, quantity: str, t: int) -> torch.Tensor:
    return trace[view.name(quantity)][t, view.batch].detach().double()


def _layers(trace: Trace, module: str, direction: str) -> list[int]:
    parts = (recurrent_parts(name) for name in trace.names())
    return sorted({p["layer"] for p in parts if p and p["module"] == module and p["direction"] == direction and p["quantity"] == "h"})


def _tokens(trace: Trace, length: int) -> list[str | None]:
    """What each step read (``meta["tokens"]``); None where the trace does not say."""
    tokens = list(trace.meta.get("tokens") or [])
    return [str(tokens[t]) if t < len(tokens) else None for t in range(length)]


def _span(values: list[int]) -> str:
    return f"{values[0]}–{values[-1]}" if len(values) > 1 else str(values[0])
