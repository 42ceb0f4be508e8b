"""Convolution windows and sums, pooling windows and winners: recomputed from the trace, checked against it.

    >>> import torch, explain
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.MaxPool2d(3, 2, padding=1))
    >>> tr = explain.record(net, torch.randn(1, 1, 6, 6))
    >>> step = conv_step(tr, "0", channel=1, row=0, col=2)
    >>> step.rows, step.cols, step.padded[0].tolist()       # the window hangs over the top edge
    ((-1, 2), (1, 4), [True, True, True])
    >>> abs(step.total - step.recorded) < 1e-5
    True
    >>> pool = pool_step(tr, "1", channel=1, row=0, col=0)
    >>> pool.rows, pool.padded[0].tolist(), pool.value == pool.recorded
    ((-1, 2), [True, True, True], True)

Coordinates are those of the unpadded input: a window of a padded convolution or pooling starts at
``row · stride − padding`` and may begin above or left of the map; its cells outside the map are
``padded`` (zeros for a convolution, −∞ for a max-pool, left out of an average as PyTorch does).
A recomputed value that differs from the recorded one raises :class:`FigureError`: a wrong input
can never pass as the one the module read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from explain.figures.errors import FigureError, names_or_none
from explain.figures.layers import POOLS, conv_spec, convolutions, description, kind, reads
from explain.pairs import pair
from explain.trace import Trace

__all__ = [
    "TOLERANCE",
    "ConvStep",
    "PoolStep",
    "busiest_block",
    "conv_input",
    "conv_step",
    "convolutions_with_input",
    "distinguishing_digits",
    "informative_positions",
    "mixed_channel",
    "pool_formula",
    "pool_step",
    "recorded_input",
    "window_text",
]

#: the relative tolerance within which a recomputed cell must equal the trace's
TOLERANCE = 1e-4


def recorded_input(trace: Trace, name: str) -> str:
    """The recorded name of the value module ``name`` read, or a FigureError naming the modules
    of the same kind whose input the trace does hold."""
    source = reads(trace, name)
    if source is not None and source in trace:
        return source
    what = kind(trace, name)
    same = [m for m in trace.meta.get("modules", {}) if kind(trace, m) == what and reads(trace, m) in trace]
    found = (
        f"read {source!r}, which this trace does not hold (record without a name filter)"
        if source is not None
        else "read a value computed inside a forward by operations this trace does not record"
    )
    raise FigureError(f"{name!r} {found}; {what or 'module'}s whose input is recorded: {names_or_none(same)}")


def conv_input(trace: Trace, conv: str) -> str:
    """The recorded input of convolution ``conv`` (see :func:`recorded_input`)."""
    conv_spec(trace, conv)
    return recorded_input(trace, conv)


def _span(start: int, size: int, dilation: int) -> np.ndarray:
    return start + dilation * np.arange(size)


def window_text(rows: tuple[int, int], cols: tuple[int, int], channel: int | None = None) -> str:
    """ "x[0, 53:56, 1:4]": a window in the input's own coordinates (negative where it hangs over the edge).

    >>> window_text((-1, 2), (3, 6), channel=0), window_text((4, 6), (0, 2))
    ('x[0, −1:2, 3:6]', 'x[4:6, 0:2]')
    """
    text = ", ".join(f"{a}:{b}".replace("-", "−") for a, b in (rows, cols))
    return f"x[{channel}, {text}]" if channel is not None else f"x[{text}]"


@dataclass(frozen=True)
class ConvStep:
    """One output cell of a convolution: the input window, the kernel, their products and the sum."""

    channel: int
    row: int
    col: int
    #: the window's rows and columns [start, stop) in the input (stop − start = dilation·(k−1)+1)
    rows: tuple[int, int]
    cols: tuple[int, int]
    patch: np.ndarray  # [C_in/groups, kh, kw], the input under the kernel (zeros where padded)
    padded: np.ndarray  # [kh, kw] bool, True where the kernel lies on padding
    kernel: np.ndarray  # [C_in/groups, kh, kw]
    bias: float
    recorded: float  # the trace's output at (channel, row, col)
    #: the first input channel of the group this output channel reads
    first_channel: int = 0

    @property
    def products(self) -> np.ndarray:
        return self.patch * self.kernel

    @property
    def weighted_sum(self) -> float:
        """Σ patch · kernel, before the bias."""
        return float(self.products.sum())

    @property
    def total(self) -> float:
        return self.weighted_sum + self.bias


def conv_step(trace: Trace, conv: str, channel: int, row: int, col: int) -> ConvStep:
    """Output cell (channel, row, col) of convolution ``conv``, recomputed from its recorded input and kernel."""
    spec = conv_spec(trace, conv)
    if f"{conv}@weight" not in trace:
        raise FigureError(f"the trace has no kernel {conv}@weight (record it again without a name filter)")
    source = trace[conv_input(trace, conv)][0].double().numpy()
    weight = trace[f"{conv}@weight"].double().numpy()
    bias = float(trace[f"{conv}@bias"][channel]) if f"{conv}@bias" in trace else 0.0
    dilation = pair(description(trace, conv).get("dilation", 1))
    top, left = row * spec.stride[0] - spec.padding[0], col * spec.stride[1] - spec.padding[1]
    ys, xs = _span(top, spec.kernel[0], dilation[0]), _span(left, spec.kernel[1], dilation[1])
    inside_y, inside_x = (ys >= 0) & (ys < source.shape[1]), (xs >= 0) & (xs < source.shape[2])
    per_group = weight.shape[1]
    first = channel // (spec.out_channels // spec.groups) * per_group
    patch = np.zeros((per_group, spec.kernel[0], spec.kernel[1]))
    window = source[first : first + per_group][:, ys[inside_y]][:, :, xs[inside_x]]
    patch[np.ix_(range(per_group), np.flatnonzero(inside_y), np.flatnonzero(inside_x))] = window
    padded = ~(inside_y[:, None] & inside_x[None, :])
    recorded = float(trace[conv][0, channel, row, col])
    step = ConvStep(channel, row, col, (int(ys[0]), int(ys[-1]) + 1), (int(xs[0]), int(xs[-1]) + 1), patch, padded, weight[channel], bias, recorded, first)
    if abs(step.total - recorded) > TOLERANCE * max(1.0, abs(recorded)):
        raise FigureError(
            f"{conv}: recomputing cell ({channel}, {row}, {col}) gives {step.total:.6f}, the trace has {recorded:.6f}; "
            "the recorded input is not what this convolution read"
        )
    return step


@dataclass(frozen=True)
class PoolStep:
    """One output cell of a pooling: its window (padding marked), the winner or the mean, the trace's value."""

    kind: str  # "max_pool", "avg_pool", "adaptive_max_pool" or "adaptive_avg_pool"
    channel: int
    row: int
    col: int
    rows: tuple[int, int]
    cols: tuple[int, int]
    window: np.ndarray  # [kh, kw]; −∞ (max) or 0 (average) where padded
    padded: np.ndarray  # [kh, kw] bool
    divisor: int  # what an average divides by (PyTorch's rule for padding); 1 for a max
    recorded: float

    @property
    def is_max(self) -> bool:
        return "max" in self.kind

    @property
    def winner(self) -> tuple[int, int]:
        """(row, col) inside the window of the largest value (max-pooling's answer)."""
        return tuple(int(i) for i in np.unravel_index(int(self.window.argmax()), self.window.shape))

    @property
    def value(self) -> float:
        return float(self.window[self.winner]) if self.is_max else float(self.window.sum() / self.divisor)


def _pool_window(facts, kind_: str, size: tuple[int, int], out: tuple[int, int], row: int, col: int):
    """(rows, cols, kernel (kh, kw), divisor-ish facts) of one output cell, as PyTorch computes them."""
    if kind_.startswith("adaptive_"):
        spans = [
            (math.floor(index * length / count), math.ceil((index + 1) * length / count))
            for index, length, count in ((row, size[0], out[0]), (col, size[1], out[1]))
        ]
        return spans[0], spans[1], (0, 0)
    kernel = pair(facts["kernel"])
    stride = pair(facts.get("stride") or kernel)
    padding = pair(facts.get("padding", 0))
    top, left = row * stride[0] - padding[0], col * stride[1] - padding[1]
    return (top, top + kernel[0]), (left, left + kernel[1]), padding


def pool_step(trace: Trace, pool: str, channel: int, row: int, col: int) -> PoolStep:
    """Output cell (channel, row, col) of pooling ``pool`` with its real kernel, stride and padding,
    checked against the trace."""
    what = kind(trace, pool)
    if what not in POOLS or what == "pool":
        pools = [m for m in trace.meta.get("modules", {}) if kind(trace, m) in POOLS]
        raise FigureError(f"{pool!r} is {what or 'not a recorded module'}, not a 2-d max or average pooling; poolings here: {names_or_none(pools)}")
    facts = description(trace, pool)
    source = trace[recorded_input(trace, pool)][0, channel].double().numpy()
    out = tuple(trace[pool].shape[-2:])
    rows, cols, padding = _pool_window(facts, what, source.shape, out, row, col)
    ys, xs = np.arange(*rows), np.arange(*cols)
    inside_y, inside_x = (ys >= 0) & (ys < source.shape[0]), (xs >= 0) & (xs < source.shape[1])
    fill = -np.inf if "max" in what else 0.0
    window = np.full((len(ys), len(xs)), fill)
    window[np.ix_(np.flatnonzero(inside_y), np.flatnonzero(inside_x))] = source[ys[inside_y]][:, xs[inside_x]]
    padded = ~(inside_y[:, None] & inside_x[None, :])
    divisor = 1
    if what == "avg_pool":  # PyTorch: the window is cut at the padded border, then padding counts or not
        reach_y = min(rows[1], source.shape[0] + padding[0]) - rows[0]
        reach_x = min(cols[1], source.shape[1] + padding[1]) - cols[0]
        divisor = reach_y * reach_x if facts.get("count_include_pad", True) else int(inside_y.sum() * inside_x.sum())
    elif what == "adaptive_avg_pool":
        divisor = window.size
    step = PoolStep(what, channel, row, col, rows, cols, window, padded, divisor, float(trace[pool][0, channel, row, col]))
    if not abs(step.value - step.recorded) <= TOLERANCE * max(1.0, abs(step.recorded)):
        raise FigureError(f"{pool}: the window's {'maximum' if step.is_max else 'mean'} {step.value:.6f} is not the trace's {step.recorded:.6f}")
    return step


def _bounds(stride: int, padding: int, kernel: int, var: str) -> str:
    """ "2i−1:2i+2": the rows (or columns) output index ``var`` reads, in the input's coordinates."""

    def term(offset: int) -> str:
        base = var if stride == 1 else f"{stride}{var}"
        return base if offset == 0 else f"{base}{'+' if offset > 0 else '−'}{abs(offset)}"

    return f"{term(-padding)}:{term(kernel - padding)}"


def pool_formula(trace: Trace, pool: str) -> str:
    """The pooling's equation with its real kernel, stride and padding.

    >>> import torch, explain
    >>> tr = explain.record(torch.nn.Sequential(torch.nn.MaxPool2d(3, 2, 1)), torch.randn(1, 1, 6, 6))
    >>> pool_formula(tr, "0")
    'out[i, j] = max(x[2i−1:2i+2, 2j−1:2j+2]);  outside the map: −∞'
    """
    facts, what = description(trace, pool), kind(trace, pool)
    if what.startswith("adaptive_"):
        (height, width), (rows, cols) = trace[recorded_input(trace, pool)].shape[-2:], trace[pool].shape[-2:]
        name = "max" if "max" in what else "mean"
        return f"out[i, j] = {name}(x[⌊i·{height}/{rows}⌋:⌈(i+1)·{height}/{rows}⌉, ⌊j·{width}/{cols}⌋:⌈(j+1)·{width}/{cols}⌉])"
    kernel, padding = pair(facts["kernel"]), pair(facts.get("padding", 0))
    stride = pair(facts.get("stride") or kernel)
    window = f"x[{_bounds(stride[0], padding[0], kernel[0], 'i')}, {_bounds(stride[1], padding[1], kernel[1], 'j')}]"
    if "max" in what:
        return f"out[i, j] = max({window})" + (";  outside the map: −∞" if any(padding) else "")
    counted = facts.get("count_include_pad", True)
    note = (";  padding counts as 0" if counted else ";  padding left out of the mean") if any(padding) else ""
    return f"out[i, j] = mean({window}){note}"


def distinguishing_digits(steps: Sequence[PoolStep], most: int = 4) -> int:
    """The fewest decimals (2 to ``most``) at which every max window's winner visibly beats the rest.

    >>> window = np.array([[0.331, 0.334], [0.2, 0.1]])
    >>> distinguishing_digits([PoolStep("max_pool", 0, 0, 0, (0, 2), (0, 2), window, window < -1, 1, 0.334)])
    3
    """
    for digits in range(2, most + 1):
        if all(
            round(value, digits) < round(step.value, digits) or value == step.value
            for step in steps
            if step.is_max
            for value in np.delete(step.window.ravel(), np.ravel_multi_index(step.winner, step.window.shape))
            if np.isfinite(value)
        ):
            return digits
    return most


def mixed_channel(maps: np.ndarray) -> int:
    """The channel whose map has the most mixed signs (so ReLU has something to do), then the most spread.

    >>> mixed_channel(np.array([[[1.0, 2.0]], [[1.0, -1.0]], [[3.0, 5.0]]]))
    1
    """
    flat = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1)
    balance = np.minimum((flat > 0).sum(1), (flat < 0).sum(1))
    return int(np.lexsort((flat.std(1), balance))[-1])


def busiest_block(values: np.ndarray, size: int, *, mixed: bool, step: int | None = None) -> tuple[int, int]:
    """Top-left (row, col) of the block of ``size`` (every ``step`` cells, default ``size``) with the
    most mixed signs (``mixed``) or the largest sum.

    >>> busiest_block(np.array([[0, 0, 1, -1], [0, 0, 2, -3]], dtype=float), 2, mixed=True)
    (0, 2)
    """
    values = np.asarray(values, dtype=np.float64)
    step = step or size
    best, best_score = (0, 0), None
    for row in range(0, max(1, values.shape[0] - size + 1), step):
        for col in range(0, max(1, values.shape[1] - size + 1), step):
            block = values[row : row + size, col : col + size]
            score = (min((block > 0).sum(), (block < 0).sum()), np.abs(block).sum()) if mixed else (block.sum(), 0.0)
            if best_score is None or score > best_score:
                best, best_score = (row, col), score
    return best


def informative_positions(trace: Trace, conv: str, count: int) -> list[tuple[int, int]]:
    """``count`` neighbouring output positions whose input windows hold the most signal.

    The row whose windows see the largest total |input|, starting at the first window of that row
    with at least a quarter of the row's strongest signal (so the worked sums are not all zeros).
    """
    spec = conv_spec(trace, conv)
    source = trace[conv_input(trace, conv)][:1].double().abs().sum(1, keepdim=True)
    signal = torch.nn.functional.avg_pool2d(source, spec.kernel, spec.stride, spec.padding, count_include_pad=True)[0, 0]
    height, width = trace[conv].shape[2:]
    signal = signal[:height, :width].numpy()
    row = int(signal.sum(1).argmax())
    strong = np.flatnonzero(signal[row] >= 0.25 * signal[row].max())
    first = min(int(strong[0]) if strong.size else 0, width - count)
    return [(row, col) for col in range(first, first + count)]


def convolutions_with_input(trace: Trace) -> list[str]:
    """2-D convolutions of a batch whose kernel and input the trace holds (those a convolution figure can work out)."""
    return [
        name for name in convolutions(trace) if f"{name}@weight" in trace and name in trace and trace[name].dim() == 4 and reads(trace, name) in trace
    ]
