"""Inception modules from the trace: the branches with their real operations, costs naive and compressed.

    >>> import torch, explain
    >>> from explain.models.googlenet import inception_module
    >>> tr = explain.record(inception_module(8, 4, 4, 6, 2, 3, 2), torch.randn(1, 8, 6, 6))
    >>> module = inception(tr, "")
    >>> [b.module for b in module.branches], module.branches[3].pooled, module.shape_out
    (['conv_1', 'conv_1_3', 'conv_1_5', 'max_3_1'], True, (15, 6, 6))
    >>> [op.text for op in module.branches[3].ops]
    ['max-pool 3×3, padding 1', 'conv 1×1', 'ReLU']

The branches are the operands of the recorded concatenation (``{q}@branch0`` …, and the child
module that computed each, from ``meta["structure"]``); each branch's operations are the computing
modules inside that child in execution order, whatever they are (conv, BatchNorm, ReLU, pooling).
Costs count every convolution of the branches (multiply-adds at its real output size, parameters
with biases); the naive module puts each branch's last convolution straight on the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explain.figures.errors import FigureError, names_or_none
import torch

from explain.figures.layers import POOLS, ConvSpec, Op, convs_under, description, kind, ops_inside, reads, shape_of
from explain.trace import Trace

__all__ = ["Branch", "Cost", "Inception", "concat_modules", "inception", "unrecorded_in"]


def concat_modules(trace: Trace) -> list[str]:
    """Modules whose concatenation was recorded (inception modules), in execution order."""
    return [name for name, parts in trace.meta.get("structure", {}).items() if parts.get("kind") == "concat" and f"{name}@concat" in trace]


@dataclass(frozen=True)
class Branch:
    """One branch: the module that computed it, its operations, its convs, and its output shape."""

    index: int
    module: str | None
    ops: list[Op]
    convs: list[ConvSpec]
    shape: tuple[int, ...]

    @property
    def pooled(self) -> bool:
        return any(op.kind in POOLS for op in self.ops)

    @property
    def pool(self) -> Op | None:
        return next((op for op in self.ops if op.kind in POOLS), None)


@dataclass(frozen=True)
class Cost:
    """Multiply-adds per image and parameters."""

    multiply_adds: int
    parameters: int


@dataclass(frozen=True)
class Inception:
    """An inception module from the trace: input, branches, and naive vs compressed cost."""

    name: str
    source: str | None  # the recorded value the module read
    shape_in: tuple[int, ...]
    shape_out: tuple[int, ...]
    branches: list[Branch]
    naive: Cost = field(init=False)
    compressed: Cost = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "naive", self._naive_cost())
        object.__setattr__(self, "compressed", self._compressed_cost())

    def _compressed_cost(self) -> Cost:
        convs = [(conv, conv.out_size or self.size) for branch in self.branches for conv in branch.convs]
        return Cost(sum(c.multiply_adds(s) for c, s in convs), sum(c.parameters for c, _ in convs))

    def naive_convs(self) -> list[ConvSpec]:
        """The naive module: each branch's last conv straight on the input, no 1×1 first."""
        naive = []
        for branch in self.branches:
            if branch.pooled or not branch.convs:
                continue
            last = branch.convs[-1]
            naive.append(ConvSpec(last.name, self.shape_in[0], last.out_channels, last.kernel, bias=last.bias))
        return naive

    def naive_channels(self) -> int:
        """Output channels of the naive module: a pooling branch keeps all input channels."""
        return sum(self.shape_in[0] if b.pooled else b.shape[0] for b in self.branches)

    def _naive_cost(self) -> Cost:
        convs = self.naive_convs()
        return Cost(sum(c.multiply_adds(self.size) for c in convs), sum(c.parameters for c in convs))

    @property
    def size(self) -> tuple[int, int]:
        return (self.shape_out[1], self.shape_out[2])

    def not_drawn(self) -> list[str]:
        """Operations of the branches other than convolutions and poolings ("BatchNorm …", "ReLU"), once each."""
        return list(dict.fromkeys(op.text for b in self.branches for op in b.ops if op.kind not in POOLS and op.spec is None))

    def first_one_by_one(self) -> ConvSpec | None:
        """The first 1×1 convolution that reads the module's own input (a per-pixel linear layer)."""
        return next((c for b in self.branches for c in b.convs if c.kernel == (1, 1) and c.reads == self.source), None)


def unrecorded_in(trace: Trace, prefix: str) -> list[str]:
    """Types of the modules inside ``prefix`` whose ``forward`` changes their last recorded value with
    operations the trace does not hold (torchvision's BasicConv2d applies ``F.relu``), once each."""
    found = []
    for name in trace.meta.get("modules", {}):
        if prefix and not name.startswith(prefix + "."):
            continue
        inner = [op.module for op in ops_inside(trace, [name])]
        if kind(trace, name) == "module" and inner and name in trace and inner[-1] in trace:
            last = trace[inner[-1]]
            if last.shape != trace[name].shape or not torch.equal(last, trace[name]):
                found.append(str(description(trace, name).get("type")))
    return list(dict.fromkeys(found))


def inception(trace: Trace, name: str) -> Inception:
    """The inception module at ``name``; a FigureError names the modules that would work."""
    modules = concat_modules(trace)
    if name not in modules:
        raise FigureError(f"{name!r} has no recorded concatenation of branches; inception modules here: {names_or_none(modules)}")
    parts = trace.meta["structure"][name]
    branches = []
    for index, module in enumerate(parts.get("branches", [])):
        ops = ops_inside(trace, [module])
        branches.append(Branch(index, module, ops, convs_under(trace, module), shape_of(trace, f"{name}@branch{index}")))
    source = reads(trace, name)
    shape_out = shape_of(trace, f"{name}@concat")
    if source in trace:
        shape_in = shape_of(trace, source)
    else:
        convs = convs_under(trace, name)
        if not convs:
            raise FigureError(f"{name}: neither its input nor a convolution inside it is recorded")
        shape_in = (convs[0].in_channels, *shape_out[1:])
    return Inception(name, source, shape_in, shape_out, branches)
