"""VGG-style stacks from the trace: blocks of convolutions closed by a pooling, with their real operations.

    >>> import torch, explain
    >>> layers = [torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3, padding=1),
    ...           torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
    >>> tr = explain.record(torch.nn.Sequential(*layers).eval(), torch.randn(1, 3, 8, 8))
    >>> [(b.name, len(b.convs), b.pools, b.shape_out) for b in conv_blocks(tr)]
    [('0–5', 2, ['max-pool 2×2, stride 2'], (4, 4, 4)), ('6–8', 1, ['max-pool 2×2, stride 2'], (8, 2, 2))]
    >>> conv_blocks(tr)[0].others
    ['BatchNorm (eval: running statistics)', 'ReLU']

The stack is the chain of computing modules in execution order, each reading the one before (the
recorded data flow); a block ends with each pooling module. A block whose modules are exactly one
container's (the book's ``conv_2_block``) is named by it; otherwise by its first and last module.
"""

from __future__ import annotations

from dataclasses import dataclass

from explain.figures.errors import FigureError, names_or_none, not_2d
from explain.figures.layers import POOLS, ConvSpec, Op, batch_norm_parameters, description, ops_inside, parent, reads, receptive_field, shape_of
from explain.trace import Trace

__all__ = ["Block", "StackVersusSingle", "conv_blocks", "equal_width_pair", "plain_stack_problem", "stack_versus_single"]


@dataclass(frozen=True)
class Block:
    """A run of modules from one pooling to the next, with its convolutions, input and output shapes."""

    name: str
    output: str  # the recorded name of the block's output
    ops: list[Op]
    shape_in: tuple[int, ...]
    shape_out: tuple[int, ...]

    @property
    def convs(self) -> list[ConvSpec]:
        return [op.spec for op in self.ops if op.spec is not None]

    @property
    def pools(self) -> list[str]:
        """The block's poolings as their modules set them: ["max-pool 2×2, stride 2"]."""
        return [op.text for op in self.ops if op.kind in POOLS]

    @property
    def others(self) -> list[str]:
        """Its other operations (BatchNorm, ReLU, dropout), once each, in order."""
        return list(dict.fromkeys(op.text for op in self.ops if op.spec is None and op.kind not in POOLS))

    #: the learned γ and β of its BatchNorms
    norm_parameters: int = 0

    @property
    def parameters(self) -> int:
        """Parameters of its convolutions and BatchNorms."""
        return sum(conv.parameters for conv in self.convs) + self.norm_parameters


def _feature_chain(trace: Trace) -> list[Op]:
    """Computing modules with feature-map outputs, in execution order."""
    ops = ops_inside(trace, [""])
    return [op for op in ops if op.module in trace and len(trace[op.module].shape) == 4]


def _name(trace: Trace, ops: list[Op]) -> tuple[str, str]:
    """(label, recorded output) of a block: its container when it is exactly one, else first–last."""
    first, last = ops[0].module, ops[-1].module
    container = parent(first)
    while container and [op.module for op in ops_inside(trace, [container])] != [op.module for op in ops]:
        container = parent(container) if all(op.module.startswith(container + ".") for op in ops) else ""
    if container and container in trace:
        return container, container
    tail = last[len(parent(first)) + 1 :] if parent(first) and last.startswith(parent(first) + ".") else last
    return f"{first}–{tail}", last


def conv_blocks(trace: Trace) -> list[Block]:
    """The stack's blocks, each closed by a pooling (a last block without one is kept if it has convs)."""
    chain = _feature_chain(trace)
    runs, run = [], []
    for op in chain:
        run.append(op)
        if op.kind in POOLS:
            runs.append(run)
            run = []
    if any(op.spec is not None for op in run):
        runs.append(run)
    blocks = []
    for ops in (r for r in runs if any(op.spec is not None for op in r)):
        name, output = _name(trace, ops)
        source = reads(trace, ops[0].module)
        shape_out = shape_of(trace, output)
        shape_in = shape_of(trace, source) if source in trace else (ops[0].spec.in_channels if ops[0].spec else shape_out[0], *shape_out[1:])
        norms = sum(batch_norm_parameters(trace, op.module) for op in ops if op.kind == "batch_norm")
        blocks.append(Block(name, output, ops, shape_in, shape_out, norms))
    if not blocks:
        raise FigureError(f"this trace records no convolution with a feature-map output{not_2d(trace) or ' (record a CNN on an image)'}")
    return blocks


def plain_stack_problem(trace: Trace) -> str | None:
    """Why the trace is not a plain stack of conv blocks the VGG figure can follow, or None if it is."""
    structure = trace.meta.get("structure", {})
    joined = [name for name, parts in structure.items() if parts.get("kind") in ("residual", "concat")]
    if joined:
        what = "residual blocks" if structure[joined[0]]["kind"] == "residual" else "inception modules"
        return f"the vgg figure draws plain stacks of convolutions; this model has {what} ({names_or_none(joined, 3)}): see the {'resnet' if 'residual' in what else 'inception'} figure"
    chain = _feature_chain(trace)
    for before, op in zip(chain, chain[1:]):
        if reads(trace, op.module) is None:
            owner = description(trace, parent(op.module)).get("type") or trace.meta.get("model", "the model")
            return f"{op.module} read a value computed inside {owner}.forward that this trace does not record, so the stack after {before.module} cannot be followed"
    blocks = conv_blocks(trace)
    if not any(op.kind in POOLS for op in chain):
        return f"the vgg figure needs blocks closed by pooling modules; this trace records convolutions {names_or_none([c.name for b in blocks for c in b.convs], 4)} and no pooling module"
    if not any(len(b.convs) >= 2 for b in blocks):
        return f"the vgg figure needs a block of two stacked convolutions; blocks here: {', '.join(f'{b.name} ({len(b.convs)} conv)' for b in blocks)}"
    return None


@dataclass(frozen=True)
class StackVersusSingle:
    """Two stacked convs against one conv of the same receptive field and channels: what each costs."""

    stack: list[ConvSpec]
    single: ConvSpec
    field: int

    @property
    def saving(self) -> float:
        return 1 - sum(conv.parameters for conv in self.stack) / self.single.parameters


def stack_versus_single(convs: list[ConvSpec]) -> StackVersusSingle:
    """Two stacked convs, and the one conv of the same receptive field and channels they replace.

    >>> pair = [ConvSpec("a", 64, 64, (3, 3)), ConvSpec("b", 64, 64, (3, 3))]
    >>> versus = stack_versus_single(pair)
    >>> versus.field, versus.single.parameters, round(versus.saving, 2)
    (5, 102464, 0.28)
    """
    stack = list(convs[:2])
    side = receptive_field(stack)
    single = ConvSpec(f"{stack[0].name}+{stack[-1].name}", stack[0].in_channels, stack[-1].out_channels, (side, side), bias=stack[-1].bias)
    return StackVersusSingle(stack, single, side)


def equal_width_pair(blocks: list[Block]) -> list[ConvSpec]:
    """The first two consecutive convs of one block with the same channels in and out (C→C→C),
    else the first block's first two."""
    for block in blocks:
        for first, second in zip(block.convs, block.convs[1:]):
            if first.in_channels == first.out_channels == second.out_channels:
                return [first, second]
    return next(b.convs[:2] for b in blocks if len(b.convs) >= 2)

