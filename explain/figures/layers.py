"""What each recorded module is and what it read: the layer facts and the data flow of a trace.

    >>> import torch, explain
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4).eval(), torch.nn.ReLU())
    >>> tr = explain.record(net, torch.randn(1, 1, 6, 6))
    >>> kind(tr, "0"), kind(tr, "1"), operation(tr, "1"), reads(tr, "2")
    ('conv2d', 'batch_norm', 'BatchNorm (eval: running statistics)', '1')
    >>> readers(tr, "0"), conv_spec(tr, "0").parameters
    (['1'], 40)

The recorder writes, for every module it saw, its ``kind`` (found by isinstance: "conv2d",
"batch_norm", "activation", "max_pool", "dropout", "linear", … and "module" for containers and a
user's own modules) and its ``inputs``: the recorded names of the values it read. A function a
``forward`` calls (``q:relu``, ``q:max_pool2d``) is a step too: its kind follows from its op. Figures
recognise structure from these facts only, never from class names or the book's layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from explain.figures.errors import FigureError, names_or_none
from explain.names import input_name
from explain.pairs import pair
from explain.trace import Trace

__all__ = [
    "INPUT",
    "POINTWISE",
    "POOLS",
    "ConvSpec",
    "Op",
    "ParameterCount",
    "conv_spec",
    "computed_in",
    "convolutions",
    "convs_under",
    "description",
    "geometry_text",
    "FUNCTION_KINDS",
    "batch_norm_parameters",
    "is_function",
    "owner",
    "in_execution_order",
    "inside",
    "kind",
    "leaf_outputs",
    "linear_parameters",
    "operation",
    "ops_inside",
    "parameter_count",
    "parent",
    "reads",
    "readers",
    "receptive_field",
    "recorded_structure",
    "shape_of",
]

#: the model's first input, as the recorder keeps it
INPUT = input_name(0)
#: kinds whose output has the input's shape, value by value (a step a figure shows number by number)
POINTWISE = ("batch_norm", "activation", "dropout", "identity")
#: kinds that pool
POOLS = ("max_pool", "avg_pool", "adaptive_max_pool", "adaptive_avg_pool", "pool")


#: a function's op → the kind of module that computes the same (see :func:`kind`)
FUNCTION_KINDS = {
    **dict.fromkeys(("relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "sigmoid", "tanh", "hardtanh",
                     "hardswish", "hardsigmoid", "softplus", "prelu"), "activation"),
    "max_pool2d": "max_pool", "avg_pool2d": "avg_pool", "adaptive_max_pool2d": "adaptive_max_pool", "adaptive_avg_pool2d": "adaptive_avg_pool",
    "batch_norm": "batch_norm", "dropout": "dropout", "dropout2d": "dropout", "feature_dropout": "dropout",
    **dict.fromkeys(("flatten", "view", "reshape"), "flatten"),
    **dict.fromkeys(("softmax", "log_softmax"), "softmax"),
}


def is_function(name: str) -> bool:
    """True for a function a ``forward`` called (``q:relu``), False for a module or a part."""
    return ":" in name.split("@")[0]


def description(trace: Trace, name: str) -> Mapping[str, Any]:
    """What the recorder wrote about module or function ``name`` (empty for parts and unknown names)."""
    table = "functions" if is_function(name) else "modules"
    return trace.meta.get(table, {}).get(name, {})


def kind(trace: Trace, name: str) -> str:
    """What ``name`` computes: a module's kind as the recorder found it by isinstance, a function's
    from its op (``F.relu`` is an "activation" like ``nn.ReLU``); "function" for other ops, "" for
    parts and unknown names. A trace recorded before kinds were written gives a FigureError."""
    facts = description(trace, name)
    if is_function(name):
        return FUNCTION_KINDS.get(str(facts.get("op")), "function") if facts else ""
    if facts and "kind" not in facts:
        raise FigureError(f"{name!r} has no recorded kind: this trace comes from an older explain; record it again")
    return str(facts.get("kind", ""))


def reads(trace: Trace, name: str) -> str | None:
    """The recorded name of the (first) value ``name`` read, or None if the trace does not say
    (a value computed by something not recorded, or an unknown name)."""
    inputs = description(trace, name).get("inputs") or [None]
    return inputs[0]


def owner(trace: Trace, name: str) -> str:
    """The module whose ``forward`` called function ``name``, or that contains module ``name``."""
    return str(description(trace, name).get("module", "")) if is_function(name) else parent(name)


def computed_in(trace: Trace, name: str) -> str:
    """The type of the module whose ``forward`` computed the unrecorded value ``name`` read: the
    caller of the outermost module that read the same value (the model's type at the top).

    >>> import torch, explain
    >>> from explain.models.cnn import MNISTCNN
    >>> computed_in(explain.record(MNISTCNN(), torch.zeros(1, 1, 28, 28)), "fc_layer.0")   # out.view(...)
    'MNISTCNN'
    """
    while parent(name) and reads(trace, parent(name)) == reads(trace, name):
        name = parent(name)
    caller = parent(name)
    return str(description(trace, caller).get("type") if caller else trace.meta.get("model", "the model"))


def readers(trace: Trace, name: str) -> list[str]:
    """Modules and functions that read the value recorded as ``name``, in execution order."""
    return [step for step in steps_in_order(trace) if reads(trace, step) == name]


def parent(name: str) -> str:
    """ "feature.1.2" → "feature.1"; a top-level name → ""."""
    return name.rpartition(".")[0]


def inside(name: str, prefix: str) -> bool:
    """True if ``name`` is module ``prefix`` or one of its submodules (every name is inside "")."""
    return not prefix or name == prefix or name.startswith(prefix + ".")


def recorded_structure(trace: Trace) -> str:
    """What this trace holds that a figure could draw, in a few words, for a figure that does not apply.

    >>> import torch, explain
    >>> recorded_structure(explain.record(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3)), torch.zeros(1, 1, 5, 5)))
    'convolutions 0, and no residual addition or concatenation'
    >>> recorded_structure(explain.record(torch.nn.Linear(2, 3), torch.zeros(1, 2)))
    'no convolution, residual addition or concatenation'
    >>> recorded_structure(explain.record(torch.nn.LSTM(2, 3), torch.zeros(4, 1, 2)))
    'recurrent steps in the model itself (see rnn-unroll, lstm-cell)'
    """
    structure = trace.meta.get("structure", {})
    joined = {what: [name for name, parts in structure.items() if parts.get("kind") == what] for what in ("residual", "concat")}
    recurrent = [name or "the model itself" for name, facts in trace.meta.get("modules", {}).items() if "quantities" in facts]
    found = []
    if joined["residual"]:
        found.append(f"residual blocks {names_or_none(joined['residual'], 3)} (see the resnet figure)")
    if joined["concat"]:
        found.append(f"concatenated branches {names_or_none(joined['concat'], 3)} (see the inception figure)")
    if recurrent:
        found.append(f"recurrent steps in {names_or_none(recurrent, 3)} (see rnn-unroll, lstm-cell)")
    if not found:
        convs = convolutions(trace)
        found.append(f"convolutions {names_or_none(convs, 3)}, and no residual addition or concatenation" if convs else "no convolution, residual addition or concatenation")
    return "; ".join(found)


def leaf_outputs(trace: Trace) -> list[str]:
    """Recorded outputs of modules that have no recorded submodule, in execution order.

    >>> import torch
    >>> leaf_outputs(Trace({"@input.0": torch.zeros(1), "f.0": torch.zeros(1), "f": torch.zeros(1), "f.0@weight": torch.zeros(1)}))
    ['f.0']
    """
    names = [name for name in trace.names() if "@" not in name]
    return [name for name in names if not any(other.startswith(name + ".") for other in names)]


def shape_of(trace: Trace, name: str) -> tuple[int, ...]:
    """The recorded tensor's shape for the first image: (C, H, W) for a feature map."""
    return tuple(trace[name].shape[1:])


def geometry_text(facts: Mapping[str, Any]) -> str:
    """ "3×3", "3×3, stride 2, padding 1": a conv's or pool's kernel as its module sets it.

    >>> geometry_text({"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1]}), geometry_text({"kernel": [2, 2], "stride": [2, 2]})
    ('3×3, stride 2, padding 1', '2×2, stride 2')
    """
    kh, kw = pair(facts["kernel"])
    parts = [f"{kh}×{kw}"]
    for key in ("stride", "padding", "dilation"):
        value = pair(facts.get(key, 0 if key == "padding" else 1))
        if value != ((0, 0) if key == "padding" else (1, 1)):
            parts.append(f"{key} {value[0]}" if value[0] == value[1] else f"{key} {value[0]}×{value[1]}")
    if facts.get("ceil_mode"):
        parts.append("ceil mode")
    return ", ".join(parts)


def operation(trace: Trace, name: str) -> str:
    """What module ``name`` computes, in a few words: "conv 5×5", "max-pool 3×3, stride 2, padding 1",
    "BatchNorm (eval: running statistics)", "ReLU", "dropout p=0.5 (eval: identity)", "linear 576→100",
    "flatten (x.view)" for ``out.view(B, -1)`` in a forward.

    A module of kind "module" (a container or a user's module) is named by its type.
    """
    facts = description(trace, name)
    what = kind(trace, name)
    if what in ("conv2d", "conv"):
        return f"conv {geometry_text(facts)}"
    if what in ("max_pool", "avg_pool"):
        return f"{what.replace('_pool', '')}-pool {geometry_text(facts)}"
    if what.startswith("adaptive_"):
        size = "×".join("·" if side is None else str(side) for side in facts.get("output_size", []))
        return f"adaptive {what[9:].replace('_pool', '')}-pool to {size}"
    if what == "batch_norm":
        return "BatchNorm (train: batch statistics)" if facts.get("training") else "BatchNorm (eval: running statistics)"
    if what == "dropout":
        mode = "train: random mask" if facts.get("training") else "eval: identity"
        return f"dropout p={facts.get('p', 0):g} ({mode})"
    if what == "activation":
        return str(facts.get("function") or facts.get("op") or facts.get("type"))
    if is_function(name):
        op = str(facts.get("op"))
        if what == "flatten" and op != "flatten" and len(facts.get("output_shape", [])) == 2:
            return f"flatten (x.{op})"  # out.view(B, -1): a flatten, written as the forward wrote it
        return op
    if what == "linear":
        return f"linear {facts['in_features']}→{facts['out_features']}"
    return what if what in ("flatten", "identity") else str(facts.get("type", name))


@dataclass(frozen=True)
class ConvSpec:
    """One convolution's configuration; parameter and multiply-add counts follow from it.

    >>> conv = ConvSpec("c", in_channels=3, out_channels=96, kernel=(11, 11), stride=(4, 4))
    >>> conv.parameters, conv.multiply_adds((55, 55)), conv.kernel_text
    (34944, 105415200, '11×11')
    """

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
    #: the recorded name of the value it read (see :func:`reads`), else None
    reads: str | None = None

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


@dataclass(frozen=True)
class Op:
    """One recorded module on a path, with the operation it computes."""

    module: str
    kind: str
    text: str  # "conv 3×3, padding 1", "BatchNorm (eval: running statistics)", "ReLU", …
    #: the convolution's configuration, for a conv2d
    spec: ConvSpec | None = None


def steps_in_order(trace: Trace) -> list[str]:
    """Every recorded module and function, in execution order (a module at its output)."""
    modules, functions = trace.meta.get("modules", {}), trace.meta.get("functions", {})
    return [n for n in trace.names() if n in modules or n in functions]


def ops_inside(trace: Trace, names: list[str]) -> list[Op]:
    """The steps that compute, in execution order: a function stands for itself; a container or a
    user's module for the modules inside it and the functions their ``forward`` calls."""
    order = steps_in_order(trace)
    ops = []
    for name in names:
        if is_function(name):
            members = [name]
        else:
            members = [n for n in order if inside(owner(trace, n) if is_function(n) else n, name) and kind(trace, n) != "module"]
            if not is_function(name) and name not in order and kind(trace, name) not in ("module", ""):
                members = [name]  # a computing module whose output a name filter left out
        ops.extend(Op(m, kind(trace, m), operation(trace, m), conv_spec(trace, m) if kind(trace, m) == "conv2d" else None) for m in members)
    return ops


def in_execution_order(trace: Trace, names) -> list[str]:
    """``names`` in the order the trace recorded them (a file saved before explain kept the
    metadata's order has it sorted by name, "features.10" before "features.3"); names it holds no
    value of go last."""
    position = {name: index for index, name in enumerate(trace.names())}
    return sorted(names, key=lambda name: position.get(name, len(position)))


def convolutions(trace: Trace) -> list[str]:
    """Every 2-d convolution the recorder described, in execution order."""
    return in_execution_order(trace, [name for name in trace.meta.get("modules", {}) if kind(trace, name) == "conv2d"])


def conv_spec(trace: Trace, name: str) -> ConvSpec:
    """The convolution at qualified ``name`` as the recorder described it in ``meta["modules"]``."""
    facts = description(trace, name)
    if kind(trace, name) != "conv2d":
        found = f"a {facts['type']}" if facts else "not a recorded module"
        raise FigureError(f"{name!r} is {found}, not a 2-d convolution; convolutions here: {names_or_none(convolutions(trace))}")
    shape = facts.get("output_shape", ())
    return ConvSpec(
        name,
        in_channels=int(facts["in_channels"]),
        out_channels=int(facts["out_channels"]),
        kernel=pair(facts["kernel"]),
        stride=pair(facts.get("stride", 1)),
        padding=pair(facts.get("padding", 0)),
        groups=int(facts.get("groups", 1)),
        bias=bool(facts.get("bias", True)),
        out_size=pair(shape[-2:]) if len(shape) >= 2 else None,
        reads=(facts.get("inputs") or [None])[0],
    )


def convs_under(trace: Trace, prefix: str = "") -> list[ConvSpec]:
    """The convolutions inside module ``prefix`` (itself included), in execution order; a name
    filter that kept no feature maps keeps these."""
    return [conv_spec(trace, name) for name in convolutions(trace) if inside(name, prefix)]


def linear_parameters(facts: Mapping[str, Any]) -> int:
    """Weights and biases of a Linear layer's description.

    >>> linear_parameters({"in_features": 576, "out_features": 100, "bias": True})
    57700
    """
    inputs, outputs = int(facts["in_features"]), int(facts["out_features"])
    return outputs * (inputs + int(bool(facts.get("bias", True))))


@dataclass(frozen=True)
class ParameterCount:
    """Parameters of a model's convolutions, fully connected layers and BatchNorms, from the trace."""

    conv: int
    linear: int
    batch_norm: int = 0

    @property
    def total(self) -> int:
        return self.conv + self.linear + self.batch_norm


def batch_norm_parameters(trace: Trace, name: str) -> int:
    """The learned γ and β of BatchNorm ``name``: two per channel, none without affine parameters.

    >>> import torch, explain
    >>> tr = explain.record(torch.nn.Sequential(torch.nn.BatchNorm2d(3)).eval(), torch.zeros(1, 3, 2, 2))
    >>> batch_norm_parameters(tr, "0")
    6
    """
    facts = description(trace, name)
    return 2 * int(facts["output_shape"][1]) if facts.get("affine", True) else 0


def parameter_count(trace: Trace) -> ParameterCount:
    """Parameters of every described Conv2d, Linear and BatchNorm (each module counted once)."""
    modules = trace.meta.get("modules", {})
    linear = sum(linear_parameters(facts) for name, facts in modules.items() if kind(trace, name) == "linear")
    norms = sum(batch_norm_parameters(trace, name) for name in modules if kind(trace, name) == "batch_norm")
    return ParameterCount(sum(conv.parameters for conv in convs_under(trace)), linear, norms)


def receptive_field(convs: list[ConvSpec]) -> int:
    """Side of the input square one output cell of the stack sees (two 3×3 stride-1 convs: 5).

    >>> receptive_field([ConvSpec("a", 8, 8, (3, 3)), ConvSpec("b", 8, 8, (3, 3))])
    5
    """
    side, jump = 1, 1
    for conv in convs:
        side += (conv.kernel[0] - 1) * jump
        jump *= conv.stride[0]
    return side

