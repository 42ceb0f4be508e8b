"""The numbers the VGG, Inception and ResNet scenes show, as pure functions of a Trace.

    >>> conv = ConvSpec("c", in_channels=3, out_channels=96, kernel=(11, 11), stride=(4, 4))
    >>> conv.parameters, conv.multiply_adds((55, 55))
    (34944, 105415200)
    >>> receptive_field([ConvSpec("a", 8, 8, (3, 3)), ConvSpec("b", 8, 8, (3, 3))])
    5

Everything is read from the trace: layer configurations from ``trace.meta["modules"]`` (what the
recorder wrote with ``describe_module``), shapes from the recorded feature maps, and the parts of
residual additions and inception concatenations (``{q}@x``, ``{q}@fx``, ``{q}@shortcut``,
``{q}@sum``, ``{q}@branch0..3``, ``{q}@concat``). Nothing here imports manim, so tests check the
numbers without rendering.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from explain.names import input_name
from explain.trace import Trace

INPUT = input_name(0)


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    first, second = value
    return (int(first), int(second))


@dataclass(frozen=True)
class ConvSpec:
    """One convolution's configuration; parameter and multiply-add counts follow from it."""

    name: str
    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    groups: int = 1
    bias: bool = True
    #: output (H, W) when the recorder saw it run, else None
    out_size: tuple[int, int] | None = None

    @property
    def weights_per_filter(self) -> int:
        """Weights of one filter: in/groups · kh · kw (a 3×3 filter over 64 channels has 576)."""
        return self.in_channels // self.groups * self.kernel[0] * self.kernel[1]

    @property
    def parameters(self) -> int:
        """All weights and biases: out · (in/groups · kh · kw + 1 if bias)."""
        return self.out_channels * (self.weights_per_filter + int(self.bias))

    def multiply_adds(self, out_size: tuple[int, int]) -> int:
        """Multiply-adds for one image whose output is ``out_size`` (H, W) per channel."""
        return self.out_channels * out_size[0] * out_size[1] * self.weights_per_filter

    @property
    def kernel_text(self) -> str:
        """ "3×3", "1×1", "5×5"."""
        return f"{self.kernel[0]}×{self.kernel[1]}"


def conv_spec(trace: Trace, name: str) -> ConvSpec:
    """The convolution at qualified ``name`` as the recorder described it in ``meta["modules"]``."""
    description = trace.meta.get("modules", {}).get(name)
    if description is None or not is_conv(description):
        raise ValueError(f"{name!r} is not a convolution described in this trace's meta['modules']")
    return ConvSpec(
        name,
        in_channels=int(description["in_channels"]),
        out_channels=int(description["out_channels"]),
        kernel=_pair(description["kernel"] if "kernel" in description else description["kernel_size"]),
        stride=_pair(description.get("stride", 1)),
        padding=_pair(description.get("padding", 0)),
        groups=int(description.get("groups", 1)),
        bias=bool(description.get("bias", True)),
        out_size=_pair(description["output_shape"][-2:]) if len(description.get("output_shape", ())) >= 2 else None,
    )


def is_conv(description: Mapping[str, Any]) -> bool:
    """True for a module description of a 2-d convolution."""
    return str(description.get("type", "")).endswith("Conv2d")


def is_linear(description: Mapping[str, Any]) -> bool:
    """True for a module description of a fully connected layer."""
    return str(description.get("type", "")).endswith("Linear")


def linear_parameters(description: Mapping[str, Any]) -> int:
    """Weights and biases of a Linear layer's description."""
    inputs, outputs = int(description["in_features"]), int(description["out_features"])
    return outputs * (inputs + int(bool(description.get("bias", True))))


def convs_under(trace: Trace, prefix: str = "") -> list[ConvSpec]:
    """The convolutions described under ``prefix`` (a module's qualified name), in the order the
    recorder met them (execution order); a name filter that kept no feature maps keeps these."""
    modules = trace.meta.get("modules", {})
    inside = (lambda name: name == prefix or name.startswith(prefix + ".")) if prefix else (lambda name: True)
    return [conv_spec(trace, name) for name, description in modules.items() if inside(name) and is_conv(description)]


def shape_of(trace: Trace, name: str) -> tuple[int, ...]:
    """The recorded tensor's shape for the first image: (C, H, W) for a feature map."""
    return tuple(trace[name].shape[1:])


def receptive_field(convs: Sequence[ConvSpec]) -> int:
    """Side of the input square one output cell of the stack sees (two 3×3 stride-1 convs: 5)."""
    side, jump = 1, 1
    for conv in convs:
        side += (conv.kernel[0] - 1) * jump
        jump *= conv.stride[0]
    return side


def parent(name: str) -> str:
    """ "feature.1.2" → "feature.1"; a top-level name → ""."""
    return name.rpartition(".")[0]


# -- VGG ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A run of convolutions sharing a parent module (VGG's conv_2_block / conv_3_block)."""

    name: str
    convs: list[ConvSpec]
    shape_in: tuple[int, ...]
    shape_out: tuple[int, ...]
    #: the block's pooling layers as "max-pool 2×2" style labels, in order
    pools: list[str] = field(default_factory=list)

    @property
    def parameters(self) -> int:
        return sum(conv.parameters for conv in self.convs)


def conv_blocks(trace: Trace) -> list[Block]:
    """Convolutions grouped by their parent module, with each block's real input and output shapes.

    The block's output is its parent module's recorded output (after its pooling); its input is
    the previous block's output, or the model's input for the first block.
    """
    groups: dict[str, list[ConvSpec]] = {}
    for conv in convs_under(trace):
        groups.setdefault(parent(conv.name), []).append(conv)
    blocks, shape_in = [], shape_of(trace, INPUT) if INPUT in trace else None
    for name, convs in groups.items():
        shape_out = shape_of(trace, name) if name in trace else shape_of(trace, convs[-1].name)
        if shape_in is None:
            shape_in = (convs[0].in_channels, *shape_out[1:])
        blocks.append(Block(name, convs, shape_in, shape_out, pools_under(trace, name)))
        shape_in = shape_out
    if not blocks:
        raise ValueError("this trace describes no convolutions (record a CNN with its module configs)")
    return blocks


def pools_under(trace: Trace, prefix: str) -> list[str]:
    """Labels of the pooling layers described directly under ``prefix``: ["max-pool 2×2", …]."""
    labels = []
    for name, description in trace.meta.get("modules", {}).items():
        kind = str(description.get("type", ""))
        if parent(name) == prefix and "Pool" in kind and "kernel" in description:
            size = "×".join(str(k) for k in _pair(description["kernel"]))
            labels.append(f"{'max' if 'Max' in kind else 'avg'}-pool {size}")
    return labels


@dataclass(frozen=True)
class ParameterCount:
    """Parameters of a model's convolutions and fully connected layers, from the trace."""

    conv: int
    linear: int

    @property
    def total(self) -> int:
        return self.conv + self.linear


def parameter_count(trace: Trace) -> ParameterCount:
    """Parameters of every described Conv2d and Linear (each module counted once)."""
    modules = trace.meta.get("modules", {})
    conv = sum(conv_spec(trace, name).parameters for name, d in modules.items() if is_conv(d))
    linear = sum(linear_parameters(d) for d in modules.values() if is_linear(d))
    return ParameterCount(conv, linear)


@dataclass(frozen=True)
class StackVersusSingle:
    """Two stacked 3×3 convs against one 5×5 conv with the same channels: what each costs."""

    stack: list[ConvSpec]
    single: ConvSpec
    field: int

    @property
    def saving(self) -> float:
        return 1 - sum(conv.parameters for conv in self.stack) / self.single.parameters


def stack_versus_single(convs: Sequence[ConvSpec]) -> StackVersusSingle:
    """Two stacked convs, and the one conv of the same receptive field and channels they replace."""
    stack = list(convs[:2])
    side = receptive_field(stack)
    single = ConvSpec(
        f"{stack[0].name}+{stack[-1].name}",
        stack[0].in_channels,
        stack[-1].out_channels,
        (side, side),
        bias=stack[-1].bias,
    )
    return StackVersusSingle(stack, single, side)


# -- Inception ---------------------------------------------------------------------------------


def _child_with_output(trace: Trace, module: str, tensor: torch.Tensor) -> str | None:
    """The shallowest module under ``module`` whose recorded output equals ``tensor``."""
    candidates = [
        name
        for name in trace.names()
        if name.startswith(module + ".") and "@" not in name and ":" not in name and trace[name].shape == tensor.shape
    ]
    ordered = sorted(candidates, key=lambda n: n.count("."))
    for name in ordered:  # the recorder usually stores the very same tensor: no need to compare values
        if trace[name].data_ptr() == tensor.data_ptr() and trace[name].stride() == tensor.stride():
            return name
    for name in ordered:
        if torch.equal(trace[name], tensor):
            return name
    return None


def concat_modules(trace: Trace) -> list[str]:
    """Modules whose concatenation was recorded (inception modules), in execution order."""
    return [name.removesuffix("@concat") for name in trace.names("*@concat")]


@dataclass(frozen=True)
class Branch:
    """One inception branch: the module that computed it, its convs, pooling, and output shape."""

    index: int
    module: str | None
    convs: list[ConvSpec]
    pooled: bool
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Cost:
    """Multiply-adds per image and parameters."""

    multiply_adds: int
    parameters: int


@dataclass(frozen=True)
class Inception:
    """An inception module from the trace: input shape, branches, and naive vs compressed cost."""

    name: str
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
        """The naive module: each branch's last conv (1×1, 3×3, 5×5) straight on the input, no 1×1 first."""
        naive = []
        for branch in self.branches:
            if branch.pooled or not branch.convs:
                continue
            last = branch.convs[-1]
            naive.append(ConvSpec(last.name, self.shape_in[0], last.out_channels, last.kernel, bias=last.bias))
        return naive

    def naive_channels(self) -> int:
        """Output channels of the naive module: the pool branch keeps all input channels."""
        return sum(self.shape_in[0] if b.pooled else b.shape[0] for b in self.branches)

    def _naive_cost(self) -> Cost:
        convs = self.naive_convs()
        return Cost(sum(c.multiply_adds(self.size) for c in convs), sum(c.parameters for c in convs))

    @property
    def size(self) -> tuple[int, int]:
        return (self.shape_out[1], self.shape_out[2])


def inception(trace: Trace, name: str) -> Inception:
    """The inception module at ``name``: its four branches found by matching recorded outputs."""
    if f"{name}@concat" not in trace:
        choices = ", ".join(concat_modules(trace)) or "none"
        raise ValueError(f"{name!r} has no recorded concatenation (inception modules here: {choices})")
    modules = trace.meta.get("modules", {})
    known = trace.meta.get("structure", {}).get(name, {}).get("branches", [])
    branches, index = [], 0
    while f"{name}@branch{index}" in trace:
        part = trace[f"{name}@branch{index}"]
        module = known[index] if index < len(known) and known[index] else _child_with_output(trace, name, part)
        inside = [] if module is None else [n for n in trace.names() if n.startswith(module + ".") or n == module]
        pooled = any("Pool" in str(modules.get(n, {}).get("type", "")) for n in inside)
        convs = [] if module is None else convs_under(trace, module)
        branches.append(Branch(index, module, convs, pooled, tuple(part.shape[1:])))
        index += 1
    shape_out = shape_of(trace, f"{name}@concat")
    in_channels = convs_under(trace, name)[0].in_channels  # an inception module keeps H and W
    return Inception(name, (in_channels, *shape_out[1:]), shape_out, branches)


# -- ResNet ------------------------------------------------------------------------------------


def residual_modules(trace: Trace) -> list[str]:
    """Modules whose residual addition was recorded (ResNet blocks), in execution order."""
    return [name.removesuffix("@sum") for name in trace.names("*@sum")]


@dataclass(frozen=True)
class Residual:
    """A residual block from the trace: the parts, the body's convs and the shortcut's conv."""

    name: str
    body: str | None
    shortcut: str | None
    body_convs: list[ConvSpec]
    shortcut_conv: ConvSpec | None
    shapes: dict[str, tuple[int, ...]]

    #: each body conv's name → True if a ReLU follows it inside the body
    relu_after: dict[str, bool] = field(default_factory=dict)
    #: True if the block's output differs from the sum (an activation after the add), None if unknown
    acts_after_add: bool | None = None

    @property
    def stride(self) -> int:
        """How much the block shrinks the map (2 where the projection shortcut is dotted)."""
        return self.shapes["x"][1] // self.shapes["sum"][1]

    @property
    def projection(self) -> bool:
        """True when the shortcut is a conv, not the identity."""
        return self.shortcut_conv is not None


PARTS = ("x", "fx", "shortcut", "sum")


def residual(trace: Trace, name: str) -> Residual:
    """The residual block at ``name``: body and shortcut found by matching the recorded parts."""
    missing = [part for part in PARTS if f"{name}@{part}" not in trace]
    if missing:
        choices = ", ".join(residual_modules(trace)[:8]) or "none"
        raise ValueError(f"{name!r} lacks recorded residual parts {missing} (blocks here: {choices})")
    structure = trace.meta.get("structure", {}).get(name, {})
    body = structure.get("body") or _child_with_output(trace, name, trace[f"{name}@fx"])
    shortcut = structure.get("shortcut") or _child_with_output(trace, name, trace[f"{name}@shortcut"])
    modules = trace.meta.get("modules", {})
    shortcut_conv = conv_spec(trace, shortcut) if shortcut and is_conv(modules.get(shortcut, {})) else None
    body_convs = convs_under(trace, body) if body else []
    return Residual(
        name,
        body,
        shortcut,
        body_convs,
        shortcut_conv,
        {part: shape_of(trace, f"{name}@{part}") for part in PARTS},
        {conv.name: followed_by_relu(trace, conv.name) for conv in body_convs},
        None if name not in trace else not torch.equal(trace[name], trace[f"{name}@sum"]),
    )


def followed_by_relu(trace: Trace, name: str) -> bool:
    """True if the module described right after ``name`` under the same parent is a ReLU."""
    modules = trace.meta.get("modules", {})
    names, family = list(modules), parent(name)
    for later in names[names.index(name) + 1 :]:
        if parent(later) == family:
            return str(modules[later].get("type", "")) == "ReLU"
        if not later.startswith(family + "."):
            return False
    return False


def stages(trace: Trace) -> dict[str, list[Residual]]:
    """Residual blocks grouped by their parent module (the stages), in execution order."""
    grouped: dict[str, list[Residual]] = {}
    for name in residual_modules(trace):
        grouped.setdefault(parent(name), []).append(residual(trace, name))
    return grouped


def module_input(trace: Trace, name: str) -> str | None:
    """The recorded tensor that fed module ``name``: its ``@x`` part, else the last map recorded
    before the module's first output (hooks fire when a module ends) with the input's shape."""
    if f"{name}@x" in trace:
        return f"{name}@x"
    names = trace.names()
    inside = [i for i, n in enumerate(names) if n.startswith(name + ".") or n.startswith(name + "@")]
    if not inside:
        return None
    first = convs_under(trace, name)[0]
    for candidate in reversed(names[: inside[0]]):
        shape = shape_of(trace, candidate)
        if len(shape) == 3 and shape[0] == first.in_channels:
            return candidate
    return INPUT if INPUT in trace else None
