"""Residual blocks from the trace: x, F(x), the shortcut and the sum, the body's real operations, the stages.

    >>> import torch, explain
    >>> class Block(torch.nn.Module):                     # torchvision style: the body written inline
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.conv1, self.bn1 = torch.nn.Conv2d(4, 4, 3, padding=1), torch.nn.BatchNorm2d(4)
    ...         self.relu = torch.nn.ReLU(inplace=True)
    ...     def forward(self, x):
    ...         out = self.bn1(self.conv1(x))
    ...         out += x
    ...         return self.relu(out)
    >>> tr = explain.record(torch.nn.Sequential(Block()).eval(), torch.randn(1, 4, 6, 6))
    >>> block = residual(tr, "0")
    >>> [op.module for op in block.body], block.projection, [op.text for op in block.after_add]
    (['0.conv1', '0.bn1'], False, ['ReLU'])

The body is found from the recorded data flow: the modules that lead from the block's input to the
operand of the addition that is not the shortcut (a child module such as the book's ``self.layer``,
or conv1 → bn1 → relu → conv2 → bn2 written inline), each with its real operation. The shortcut is
the identity or the modules that computed the other operand. What follows the addition inside the
block (torchvision's ReLU) is read the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from explain.figures.errors import FigureError, names_or_none
from explain.figures.notes import Note
from explain.figures.layers import (
    ConvSpec,
    Op,
    description,
    inside,
    is_function,
    kind,
    operation,
    ops_inside,
    owner,
    parent,
    reads,
    readers,
    shape_of,
)
from explain.trace import Trace

__all__ = [
    "PARTS",
    "Residual",
    "addition_at",
    "downsampling_place",
    "first_downsampling",
    "is_bottleneck",
    "observed_quirks",
    "residual",
    "residual_modules",
    "stages",
]

PARTS = ("x", "fx", "shortcut", "sum")


def residual_modules(trace: Trace) -> list[str]:
    """Modules whose residual addition was recorded, in execution order."""
    return [name for name, parts in trace.meta.get("structure", {}).items() if parts.get("kind") == "residual" and f"{name}@sum" in trace]


def _path(trace: Trace, end: str | None, start: str | None) -> list[str] | None:
    """The modules from the value ``start`` to ``end``, following what each read; None if the
    flow leaves the trace before reaching ``start``."""
    path = []
    while end is not None and end != start:
        if end in path or not description(trace, end):
            return None
        path.append(end)
        end = reads(trace, end)
    return path[::-1] if end == start else None


@dataclass(frozen=True)
class Residual:
    """A residual block: the parts' shapes, the body's and the shortcut's operations, what follows the sum."""

    name: str
    body: list[Op]
    shortcut: list[Op]  # empty for the identity
    shapes: dict[str, tuple[int, ...]]
    #: operations between the sum and the block's output (torchvision's ReLU); empty if none
    after_add: list[Op] = field(default_factory=list)
    #: one line when the block's output differs from the sum by operations the trace does not record
    unrecorded_after_add: Note | None = None

    @property
    def body_convs(self) -> list[ConvSpec]:
        return [op.spec for op in self.body if op.spec is not None]

    @property
    def shortcut_conv(self) -> ConvSpec | None:
        """The shortcut's (first) convolution: the projection, or None for the identity."""
        return next((op.spec for op in self.shortcut if op.spec is not None), None)

    @property
    def stride(self) -> int:
        """How much the block shrinks the map (2 where the projection shortcut is dotted)."""
        return max(1, round(self.shapes["x"][-1] / self.shapes["sum"][-1])) if len(self.shapes["x"]) == 3 else 1

    @property
    def projection(self) -> bool:
        """True when the shortcut computes something, False for the identity."""
        return bool(self.shortcut)


def residual(trace: Trace, name: str) -> Residual:
    """The residual block at ``name``; a FigureError names the blocks this trace does hold."""
    blocks = residual_modules(trace)
    missing = [part for part in PARTS if f"{name}@{part}" not in trace]
    if name not in blocks or missing:
        raise FigureError(f"{name!r} is not a residual block with recorded parts; residual blocks here: {names_or_none(blocks)}")
    parts = trace.meta["structure"][name]
    block_input = reads(trace, name)
    body_path = _path(trace, parts.get("body"), block_input)
    if body_path is None:
        raise FigureError(f"{name}: the body's operand {parts.get('body')!r} is not reached from the block's input through recorded modules")
    shortcut_path = [] if parts.get("shortcut") is None else _path(trace, parts["shortcut"], block_input)
    if shortcut_path is None:
        raise FigureError(f"{name}: the shortcut {parts['shortcut']!r} is not reached from the block's input through recorded modules")
    after, note = _after_add(trace, name)
    return Residual(
        name,
        ops_inside(trace, body_path),
        ops_inside(trace, shortcut_path),
        {part: shape_of(trace, f"{name}@{part}") for part in PARTS},
        after,
        note,
    )


def _after_add(trace: Trace, name: str) -> tuple[list[Op], Note | None]:
    """Recorded modules from ``name@sum`` to the block's output, or a line when the trace lacks them."""
    additions = [f for f, facts in trace.meta.get("functions", {}).items() if facts.get("module") == name and facts.get("op") == "add"]
    ops, current = [], additions[0] if additions else f"{name}@sum"
    while True:
        if name in trace and trace[current].shape == trace[name].shape and torch.equal(trace[current], trace[name]):
            return ops, None
        following = [m for m in readers(trace, current) if inside(owner(trace, m) if is_function(m) else m, name) and m in trace]
        if not following:
            if name not in trace:
                return ops, None
            what = description(trace, name).get("type", "the block")
            return ops, Note(
                f"{name}: {what}.forward changes the sum with operations this trace does not record",
                f"{name}: {what}.forward는 이 기록에 없는 연산으로 합을 바꿉니다",
            )
        current = following[0]
        ops.append(Op(current, kind(trace, current), operation(trace, current)))


def stages(trace: Trace) -> dict[str, list[Residual]]:
    """Residual blocks grouped by their parent module (the stages), in execution order."""
    grouped: dict[str, list[Residual]] = {}
    for name in residual_modules(trace):
        grouped.setdefault(parent(name), []).append(residual(trace, name))
    return grouped


def addition_at(trace: Trace, block: str, channel: int | None = None) -> dict:
    """One value of the block's addition: channel, pixel, F(x), shortcut and their recorded sum.

    The channel is the given one, else the one where the sum is strongest; the pixel, that
    channel's largest |sum|.
    """
    total = trace[f"{block}@sum"][0]
    if channel is None:
        channel = int(total.abs().mean(dim=(1, 2)).argmax())
    row, col = np.unravel_index(int(total[channel].abs().argmax()), total.shape[1:])
    at = (channel, int(row), int(col))
    return {
        "channel": channel,
        "pixel": (int(row), int(col)),
        "fx": float(trace[f"{block}@fx"][0][at]),
        "shortcut": float(trace[f"{block}@shortcut"][0][at]),
        "sum": float(total[at]),
    }


def first_downsampling(trace: Trace) -> str | None:
    """The first block whose stride changes the map's size, if any."""
    return next((name for name in residual_modules(trace) if residual(trace, name).stride > 1), None)


def is_bottleneck(convs: list[ConvSpec]) -> bool:
    """1×1 that narrows the channels → 3×3 → 1×1 that widens them again."""
    kernels = [c.kernel for c in convs]
    return kernels == [(1, 1), (3, 3), (1, 1)] and convs[0].out_channels < convs[-1].out_channels


def downsampling_place(grouped: dict[str, list[Residual]]) -> str:
    """ "end" if every stage's stride-2 blocks are its last, "start" if its first, else "mixed"."""
    places = set()
    for blocks in grouped.values():
        if len(blocks) == 1:  # a stage of one block says nothing about where
            continue
        for index, block in enumerate(blocks):
            if block.stride > 1:
                places.add("end" if index == len(blocks) - 1 else "start" if index == 0 else "middle")
    return places.pop() if len(places) == 1 and places != {"middle"} else "mixed"


def observed_quirks(trace: Trace, grouped: dict[str, list[Residual]]) -> list[tuple[str, str]]:
    """What this model does that the paper's/torchvision's ResNet does not, read from the trace."""
    blocks = [block for stage in grouped.values() for block in stage]
    quirks = []
    if all(b.body and b.body[-1].kind == "activation" and not b.after_add and b.unrecorded_after_add is None for b in blocks):
        quirks.append(("ReLU comes before the addition, none after it", "ReLU는 더하기 전에만 있고, 더한 뒤에는 없습니다"))
    same_shape = [b for b in blocks if b.stride == 1 and b.shapes["x"] == b.shapes["fx"]]
    if same_shape and all(b.projection for b in same_shape):
        english = f"a 1×1 projection even where x already has F(x)'s shape ({same_shape[0].name} …)"
        korean = f"x가 이미 F(x)와 같은 모양이어도 1×1 투영을 씁니다 ({same_shape[0].name} …)"
        reason = trace.meta.get("quirk_reasons", {}).get("projection")  # from a model whose code is known
        if reason:
            english, korean = f"{english}: {reason[0]}", f"{korean}: {reason[1]}"
        quirks.append((english, korean))
    if not any(kind(trace, name) == "batch_norm" for name in trace.meta.get("modules", {})):
        quirks.append(("no batch-norm", "배치 정규화가 없습니다"))
    return quirks
