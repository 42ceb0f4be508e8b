"""What the convolution figure shows: a convolution, every recorded step after it, and a pooling.

    >>> import torch, explain
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4).eval(), torch.nn.ReLU(), torch.nn.MaxPool2d(3, 2, 1))
    >>> plan = convolution_plan(explain.record(net, torch.randn(1, 1, 12, 12)))
    >>> plan.conv, [s.module for s in plan.chain.steps], plan.pool, len(plan.pool_steps)
    ('0', ['1', '2'], '3', 4)

Every choice comes from the trace: the first convolution whose kernel and input are recorded (or
``options["module"]``), the channel with the most mixed signs (or ``options["channels"]``), the
worked positions where the input holds the most signal, the recorded steps after the convolution
(:func:`explain.figures.steps.steps_after`), and the first pooling after it whose input is recorded,
with up to 2×2 of its output cells and their real windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from explain.figures.errors import FigureError, names_or_none, not_2d
from explain.figures.layers import POOLS, description, kind, reads, steps_in_order
from explain.figures.notes import Note
from explain.figures.steps import Chain, steps_after
from explain.figures.windows import (
    PoolStep,
    busiest_block,
    conv_step,
    convolutions_with_input,
    informative_positions,
    mixed_channel,
    pool_step,
)
from explain.pairs import pair
from explain.trace import Trace

__all__ = ["BLOCK", "ConvolutionPlan", "convolution_plan", "pool_after"]

#: side of the block of values a pointwise step shows in numbers
BLOCK = 4
#: a pooling whose windows span more input cells than this per side is drawn without numbers
LARGEST_WINDOW = 8


@dataclass(frozen=True)
class ConvolutionPlan:
    """Which modules, channels, positions and cells the convolution figure shows."""

    conv: str
    channel: int
    positions: list[tuple[int, int]]
    chain: Chain
    #: top-left (row, col) of the BLOCK×BLOCK block every step after the convolution shows
    block: tuple[int, int]
    pool: str | None
    pool_channel: int
    pool_steps: list[PoolStep]
    #: one line when the pooling cannot be drawn in numbers, else None
    pool_note: Note | None


def pool_after(trace: Trace, conv: str) -> str | None:
    """The first pooling (module or function) recorded after ``conv`` whose input the trace holds."""
    order = steps_in_order(trace)
    later = order[order.index(conv) + 1 :] if conv in order else order
    return next((m for m in later if kind(trace, m) in POOLS and kind(trace, m) != "pool" and reads(trace, m) in trace), None)


def _channels_option(options: dict[str, Any]) -> int | None:
    channels = options.get("channels")
    if channels is None:
        return None
    return int(channels[0] if isinstance(channels, Sequence) else channels)


def _winners(trace: Trace, pool: str, channel: int) -> np.ndarray | None:
    """For a max-pooling, the input cell (flat index) each output cell took its maximum from; None for others."""
    if kind(trace, pool) != "max_pool":
        return None
    facts = description(trace, pool)
    source = trace[reads(trace, pool)][0, channel][None, None].double()
    kernel = pair(facts["kernel"])
    _, indices = torch.nn.functional.max_pool2d(
        source, kernel, pair(facts.get("stride") or kernel), pair(facts.get("padding", 0)), pair(facts.get("dilation", 1)),
        ceil_mode=bool(facts.get("ceil_mode")), return_indices=True,
    )
    return indices[0, 0].numpy()


def _pool_cells(trace: Trace, pool: str, channel: int) -> list[tuple[int, int]]:
    """Up to 2×2 neighbouring output cells of the pooling where its output is largest, among the
    blocks whose max windows have the most different winners (overlapping windows often share one)."""
    pooled = trace[pool][0, channel].double().numpy()
    winners = _winners(trace, pool, channel)
    if winners is None or min(pooled.shape) < 2:
        row, col = busiest_block(pooled, 2, mixed=False)
    else:
        blocks = [(r, c) for r in range(0, pooled.shape[0] - 1, 2) for c in range(0, pooled.shape[1] - 1, 2)]
        row, col = max(blocks, key=lambda rc: (len(set(winners[rc[0] : rc[0] + 2, rc[1] : rc[1] + 2].ravel())), pooled[rc[0] : rc[0] + 2, rc[1] : rc[1] + 2].sum()))
    return [(r, c) for r in range(row, min(row + 2, pooled.shape[0])) for c in range(col, min(col + 2, pooled.shape[1]))]


def convolution_plan(trace: Trace, options: dict[str, Any] | None = None) -> ConvolutionPlan:
    """The figure's choices for ``trace``; a FigureError names the convolutions that would work."""
    options = options or {}
    possible = convolutions_with_input(trace)
    conv = options.get("module") or (possible[0] if possible else None)
    if conv is None:
        other = not_2d(trace)
        raise FigureError(
            f"the trace has no convolution with its kernel and its input{other}"
            if other
            else "the trace has no convolution with its kernel and its input (record a CNN without a name filter: explain record mnist-cnn)"
        )
    if conv not in possible:
        raise FigureError(f"{conv!r} is not a convolution whose kernel and input this trace holds; choose one of {names_or_none(possible)}")
    out = trace[conv][0].double().numpy()
    wanted = _channels_option(options)
    channel = mixed_channel(out) if wanted is None else wanted
    if not 0 <= channel < out.shape[0]:
        raise FigureError(f"channel {channel} is not in {conv} (channels 0–{out.shape[0] - 1})")
    count = int(options.get("positions", 3))
    if not 1 <= count <= out.shape[2]:
        raise FigureError(f"positions must be between 1 and {out.shape[2]}, got {count}")
    positions = informative_positions(trace, conv, count)
    conv_step(trace, conv, channel, *positions[0])  # the recorded input really is what the conv read
    chain = steps_after(trace, conv)
    for step in chain.steps:
        step.check(trace, channel)
    block = busiest_block(out[channel], BLOCK, mixed=True)
    pool, pool_channel, pool_steps, pool_note = pool_after(trace, conv), 0, [], None
    if pool is not None:
        source = reads(trace, pool)
        pooled_input = trace[source][0].double().numpy()
        follows = source == chain.end or source in [conv, *[s.module for s in chain.steps]]
        pool_channel = channel if follows else int(np.abs(pooled_input).mean((1, 2)).argmax())
        pool_steps = [pool_step(trace, pool, pool_channel, r, c) for r, c in _pool_cells(trace, pool, pool_channel)]
        span = max(max(s.rows[1] for s in pool_steps) - min(s.rows[0] for s in pool_steps), max(s.cols[1] for s in pool_steps) - min(s.cols[0] for s in pool_steps))
        if span > LARGEST_WINDOW:
            pool_note = Note(
                f"{pool}: its windows span {span} input cells, too many to write out; its output map is shown",
                f"{pool}: 창이 입력 {span}칸에 걸쳐 있어 숫자로 다 쓰지 않고 출력 맵만 보여 줍니다",
            )
    return ConvolutionPlan(conv, channel, positions, chain, block, pool, pool_channel, pool_steps, pool_note)
