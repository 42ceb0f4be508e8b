"""Compare traces: a report a person can act on, and an assertion for tests.

    >>> import torch
    >>> from explain import Trace
    >>> from explain.testing import assert_traces_close, compare_traces
    >>> expected = Trace({"rnn.l0.fwd.h": torch.zeros(4, 1, 3)})
    >>> obtained = Trace({"rnn.l0.fwd.h": torch.zeros(4, 1, 3)})
    >>> obtained["rnn.l0.fwd.h"][2, 0, 1] = 0.5
    >>> print(compare_traces(obtained, expected).report())  # doctest: +NORMALIZE_WHITESPACE
    traces differ: 1 name beyond tolerance
      rnn.l0.fwd.h: 1 of 12 elements beyond tolerance (rtol=1e-05, atol=1e-06); largest |Δ| 0.5 at
        rnn layer 0 fwd, t=2, batch 0, unit 1: expected 0, obtained 0.5; first at t=2
    >>> assert_traces_close(expected, expected)   # silent when equal

Tolerances. An element passes when ``|obtained - expected| <= atol + rtol * |expected|``; NaN
equals NaN at the same place, infinities must match exactly. Defaults are strict, per dtype
(:data:`DEFAULT_TOLERANCES`): float64 (1e-10, 1e-12), float32 (1e-5, 1e-6), float16 (1e-3, 1e-5),
bfloat16 (1.6e-2, 1e-5); integers and booleans must be equal. ``rtol``/``atol`` override the
defaults for every name; ``tolerances={glob: (rtol, atol)}`` overrides them per name (the first
matching glob wins).

Metadata is compared key by key (nested keys dotted, e.g. ``modules.lstm.hidden_size``), except
the keys in ``ignore_meta`` (by default ``versions``: a torch upgrade alone is not a difference).
What the model returned (``Trace.output``) is compared like a tensor named ``@output`` (or
``@output.0``, ``@output.1.0`` inside tuples).
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from explain.names import NameFilter, name_matcher, recurrent_parts
from explain.trace import Trace, _flatten_output, load
from explain.trace_meta import output_name

__all__ = [
    "assert_traces_close",
    "compare_traces",
    "DEFAULT_IGNORED_META",
    "DEFAULT_TOLERANCES",
    "describe_location",
    "REPORT_LIMIT",
    "TraceDifference",
    "TraceLike",
    "traces_identical",
    "ValueDifference",
]

DEFAULT_TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float64: (1e-10, 1e-12),
    torch.float32: (1e-5, 1e-6),
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
}
"""(rtol, atol) per floating dtype; every other dtype is compared exactly."""

DEFAULT_IGNORED_META = ("versions",)
# How many differing names a report lists before it says "... and N more".
REPORT_LIMIT = 20

TraceLike = Trace | str | os.PathLike


@dataclass(frozen=True)
class ValueDifference:
    """One name whose values differ beyond tolerance, with where the largest deviation is."""

    name: str
    count: int
    numel: int
    rtol: float
    atol: float
    largest: float
    where: str
    expected: float
    obtained: float
    # where the difference starts, in the order the layer ran (a bwd layer runs from the last step)
    first_step: int | None = None

    def describe(self) -> str:
        first = f"; first at t={self.first_step}" if self.first_step is not None else ""
        return (
            f"{self.name}: {self.count} of {self.numel} elements beyond tolerance "
            f"(rtol={self.rtol:g}, atol={self.atol:g}); largest |Δ| {self.largest:.6g} at {self.where}: "
            f"expected {self.expected:.6g}, obtained {self.obtained:.6g}{first}"
        )


@dataclass
class TraceDifference:
    """Everything that differs between two traces; empty (falsy) when they agree.

    ``report()`` is the text that :func:`assert_traces_close`, the pytest plugin and
    ``explain diff`` print.
    """

    values: list[ValueDifference] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    shapes: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    dtypes: list[tuple[str, str, str]] = field(default_factory=list)
    meta: list[tuple[str, Any, Any]] = field(default_factory=list)
    expected_label: str = "expected"
    obtained_label: str = "obtained"
    compared: int = 0

    def __bool__(self) -> bool:
        return any((self.values, self.missing, self.added, self.shapes, self.dtypes, self.meta))

    def headline(self) -> str:
        counts = [
            (len(self.values), "name beyond tolerance", "names beyond tolerance"),
            (len(self.missing), "missing", "missing"),
            (len(self.added), "added", "added"),
            (len(self.shapes), "shape change", "shape changes"),
            (len(self.dtypes), "dtype change", "dtype changes"),
            (len(self.meta), "metadata change", "metadata changes"),
        ]
        parts = [f"{n} {one if n == 1 else many}" for n, one, many in counts if n]
        return f"traces differ: {', '.join(parts)}" if parts else f"traces agree ({self.compared} names compared)"

    def report(self) -> str:
        """The headline, then one line per difference (long lists are cut at REPORT_LIMIT)."""
        lines = [self.headline()]
        for role, label in (("expected", self.expected_label), ("obtained", self.obtained_label)):
            if label != role:  # a file, not a Trace in memory
                lines.append(f"  {role}: {label}")
        lines += _limited([value.describe() for value in self.values], "names beyond tolerance")
        lines += _limited([f"missing (expected, not obtained): {name}" for name in self.missing], "missing")
        lines += _limited([f"added (obtained, not expected): {name}" for name in self.added], "added")
        lines += _limited(
            [f"shape of {name}: expected {_shape(a)}, obtained {_shape(b)}" for name, a, b in self.shapes], "shapes"
        )
        lines += _limited([f"dtype of {name}: expected {a}, obtained {b}" for name, a, b in self.dtypes], "dtypes")
        lines += _limited(
            [f"meta {key}: expected {_short(a)}, obtained {_short(b)}" for key, a, b in self.meta], "meta"
        )
        return "\n".join(lines)


def compare_traces(
    obtained: TraceLike,
    expected: TraceLike,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    names: NameFilter = None,
    tolerances: Mapping[str, tuple[float, float]] | None = None,
    ignore_meta: Iterable[str] = DEFAULT_IGNORED_META,
) -> TraceDifference:
    """Everything that differs between ``obtained`` and ``expected`` (Traces or trace files).

    ``names`` (glob, globs or predicate) limits the comparison to the chosen names; metadata is
    still compared. See the module docstring for tolerances.

    >>> a = Trace({"conv1": torch.ones(1, 2, 3, 3)}, meta={"model": "A"})
    >>> diff = compare_traces(Trace({"fc": torch.ones(2)}, meta={"model": "B"}), a)
    >>> diff.missing, diff.added, diff.meta
    (['conv1'], ['fc'], [('model', 'A', 'B')])
    """
    obtained_trace, obtained_label = _as_trace(obtained, "obtained")
    expected_trace, expected_label = _as_trace(expected, "expected")
    difference = TraceDifference(expected_label=expected_label, obtained_label=obtained_label)
    keep = name_matcher(names)
    tolerance_for = _tolerance_rule(rtol, atol, tolerances)
    obtained_tensors = _comparable_tensors(obtained_trace, keep)
    expected_tensors = _comparable_tensors(expected_trace, keep)
    difference.missing = [name for name in expected_tensors if name not in obtained_tensors]
    difference.added = [name for name in obtained_tensors if name not in expected_tensors]
    difference.compared = sum(name in obtained_tensors for name in expected_tensors)
    for name, want in expected_tensors.items():
        got = obtained_tensors.get(name)
        if got is None:
            continue
        if got.shape != want.shape:
            difference.shapes.append((name, tuple(want.shape), tuple(got.shape)))
        elif got.dtype != want.dtype:
            difference.dtypes.append((name, _dtype(want.dtype), _dtype(got.dtype)))
        else:
            name_rtol, name_atol = tolerance_for(name, want.dtype)
            value = _compare_values(name, got, want, name_rtol, name_atol, expected_trace.meta)
            if value is not None:
                difference.values.append(value)
    ignored = set(ignore_meta)
    difference.meta = _meta_changes(_flat_meta(expected_trace.meta, ignored), _flat_meta(obtained_trace.meta, ignored))
    return difference


def assert_traces_close(
    obtained: TraceLike,
    expected: TraceLike,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    names: NameFilter = None,
    tolerances: Mapping[str, tuple[float, float]] | None = None,
    ignore_meta: Iterable[str] = DEFAULT_IGNORED_META,
) -> None:
    """Raise AssertionError with :meth:`TraceDifference.report` if the traces differ.

    >>> a = Trace({"h": torch.tensor([1.0, 2.0])})
    >>> assert_traces_close(Trace({"h": torch.tensor([1.0, 2.0 + 1e-7])}), a)
    >>> assert_traces_close(Trace({"h": torch.tensor([1.0, 2.1])}), a, names="nothing*")
    """
    difference = compare_traces(
        obtained, expected, rtol=rtol, atol=atol, names=names, tolerances=tolerances, ignore_meta=ignore_meta
    )
    if difference:
        raise AssertionError(difference.report())


def traces_identical(obtained: Trace, expected: Trace, ignore_meta: Iterable[str] = DEFAULT_IGNORED_META) -> bool:
    """True if names, shapes, dtypes, metadata and every value agree exactly (NaN equals NaN).

    >>> traces_identical(Trace({"h": torch.ones(2)}), Trace({"h": torch.ones(2) + 1e-7}))
    False
    """
    return not compare_traces(obtained, expected, rtol=0.0, atol=0.0, ignore_meta=ignore_meta)


# -- the parts -----------------------------------------------------------------------------------


def _as_trace(value: TraceLike, role: str) -> tuple[Trace, str]:
    if isinstance(value, Trace):
        return value, role
    if isinstance(value, (str, os.PathLike)):
        return load(value), str(value)
    raise TypeError(f"the {role} trace must be an explain.Trace or a trace file path, got {type(value).__name__}")


def _comparable_tensors(trace: Trace, keep: Callable[[str], bool]) -> dict[str, torch.Tensor]:
    """The trace's tensors plus its output (as @output names), filtered."""
    tensors = {name: trace[name] for name in trace.names(keep)}
    for key, tensor in _flatten_output(trace.output)[0].items():
        name = output_name(key)
        if keep(name):
            tensors[name] = tensor
    return tensors


def _tolerance_rule(
    rtol: float | None, atol: float | None, tolerances: Mapping[str, tuple[float, float]] | None
) -> Callable[[str, torch.dtype], tuple[float, float]]:
    rules = list((tolerances or {}).items())
    for pattern, pair in rules:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(v, (int, float)) for v in pair)):
            raise ValueError(f"tolerances[{pattern!r}] must be a pair (rtol, atol), got {pair!r}")

    def tolerance_for(name: str, dtype: torch.dtype) -> tuple[float, float]:
        for pattern, (rule_rtol, rule_atol) in rules:
            if fnmatch.fnmatchcase(name, pattern):
                return float(rule_rtol), float(rule_atol)
        default_rtol, default_atol = DEFAULT_TOLERANCES.get(dtype, (0.0, 0.0))
        return (default_rtol if rtol is None else rtol), (default_atol if atol is None else atol)

    return tolerance_for


def _compare_values(
    name: str, obtained: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float, meta: Mapping[str, Any]
) -> ValueDifference | None:
    got = obtained.detach().to(torch.float64)
    want = expected.detach().to(torch.float64)
    deviation = (got - want).abs()
    both_nan = got.isnan() & want.isnan()
    same_infinity = got.isinf() & (got == want)
    deviation = torch.where(both_nan | same_infinity, torch.zeros_like(deviation), deviation)
    special = got.isnan() | want.isnan() | got.isinf() | want.isinf()
    mismatched_special = special & ~(both_nan | same_infinity)
    deviation = torch.where(mismatched_special, torch.full_like(deviation, math.inf), deviation)
    beyond = mismatched_special | (deviation > atol + rtol * want.abs())
    count = int(beyond.sum())
    if count == 0:
        return None
    flat_index = int(torch.where(beyond, deviation, torch.full_like(deviation, -1.0)).argmax())
    index = _unravel(flat_index, tuple(got.shape))
    time_axis = _has_time_axis(name, got.dim(), meta)
    first_step = _first_step(name, beyond) if time_axis else None
    return ValueDifference(
        name=name,
        count=count,
        numel=got.numel(),
        rtol=rtol,
        atol=atol,
        largest=float(deviation.reshape(-1)[flat_index]),
        where=describe_location(name, index, meta),
        expected=float(want.reshape(-1)[flat_index]),
        obtained=float(got.reshape(-1)[flat_index]),
        first_step=first_step,
    )


def _first_step(name: str, beyond: torch.Tensor) -> int:
    """The first time step beyond tolerance in the order the layer ran (a bwd layer runs from T-1 down)."""
    steps = beyond.reshape(beyond.shape[0], -1).any(dim=1).nonzero().flatten()
    parts = recurrent_parts(name)
    return int(steps[-1] if parts is not None and parts["direction"] == "bwd" else steps[0])


def describe_location(name: str, index: tuple[int, ...], meta: Mapping[str, Any] | None = None) -> str:
    """Where ``index`` is inside the tensor ``name``, in the trace's own terms.

    Recurrent quantities ([T, B, H]) give layer, direction, time step (with its token), batch and
    unit; feature maps ([B, C, H, W]) give batch, channel, y and x; recorded kernels (``q@weight``)
    their out and in channel, y and x; anything else its index.

    >>> describe_location("lstm.l1.bwd.f", (3, 0, 7), {"tokens": list("hello")})
    "lstm layer 1 bwd, t=3 (token 'l'), batch 0, unit 7"
    >>> describe_location("conv1", (0, 5, 2, 9))
    'batch 0, channel 5, y 2, x 9'
    """
    meta = meta or {}
    if len(index) == 3 and _has_time_axis(name, 3, meta):
        step, batch, unit = index
        parts = recurrent_parts(name)
        tokens = meta.get("tokens") or []
        token = f" (token {tokens[step]!r})" if step < len(tokens) else ""
        if parts is not None:
            module = f"{parts['module']} " if parts["module"] else ""
            owner = f"{module}layer {parts['layer']} {parts['direction']}, "
        else:
            owner = f"{name.rpartition('.')[0] or 'cell'}, "
        return f"{owner}t={step}{token}, batch {batch}, unit {unit}"
    if len(index) == 4 and name.endswith("@weight"):  # a recorded convolution kernel
        return "out channel {}, in channel {}, y {}, x {}".format(*index)
    if len(index) == 4:
        return "batch {}, channel {}, y {}, x {}".format(*index)
    return f"index {tuple(index)}" if index else "the scalar"


def _has_time_axis(name: str, dim: int, meta: Mapping[str, Any]) -> bool:
    """Recurrent quantities and cell quantities are [T, B, H]."""
    if dim != 3:
        return False
    if recurrent_parts(name) is not None:
        return True
    module = name.rpartition(".")[0]
    module_type = str((meta.get("modules") or {}).get(module, {}).get("type", ""))
    return module_type.endswith("Cell")


def _unravel(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    index = []
    for size in reversed(shape):
        index.append(flat_index % size)
        flat_index //= size
    return tuple(reversed(index))


def _flat_meta(meta: Mapping[str, Any], ignored: set[str], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in meta.items():
        dotted = f"{prefix}{key}"
        if dotted in ignored:
            continue
        if isinstance(value, Mapping) and value:
            flat.update(_flat_meta(value, ignored, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


_ABSENT = "(absent)"


def _meta_changes(expected: dict[str, Any], obtained: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    keys = list(expected) + [key for key in obtained if key not in expected]
    return [
        (key, expected.get(key, _ABSENT), obtained.get(key, _ABSENT))
        for key in keys
        if expected.get(key, _ABSENT) != obtained.get(key, _ABSENT)
    ]


def _limited(lines: list[str], what: str) -> list[str]:
    shown = [f"  {line}" for line in lines[:REPORT_LIMIT]]
    if len(lines) > REPORT_LIMIT:
        shown.append(f"  ... and {len(lines) - REPORT_LIMIT} more {what}")
    return shown


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(size) for size in shape) or "scalar"


def _dtype(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value) if value is not _ABSENT else value
    return text if len(text) <= limit else text[: limit - 1] + "…"
