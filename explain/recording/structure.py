"""What figures need besides outputs: kernel geometry, receptive fields, residual and concat parts.

    >>> import torch
    >>> describe(torch.nn.Conv2d(3, 8, 5, stride=2, padding=1), (1, 1))["receptive_field"]
    [5, 5]
    >>> next_field(torch.nn.MaxPool2d(2, 2), (5, 1))          # (field, jump) after the pool
    (6, 2)
    >>> kind_of(torch.nn.BatchNorm2d(4)), kind_of(torch.nn.Sequential())
    ('batch_norm', 'module')

The receptive field of a feature map is the side of the input window that one of its pixels sees;
``jump`` is the input distance between neighbouring pixels. A k×k kernel with stride s and dilation
d turns (field r, jump j) into (r + (k-1)·d·j, j·s).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from explain.pairs import pair

__all__ = [
    "advance",
    "describe",
    "Field",
    "geometry",
    "KERNEL_MODULES",
    "kind_of",
    "KINDS",
    "next_field",
    "spatial_stride",
]

KERNEL_MODULES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)

Field = tuple[int, int]  # (receptive field, jump) along one spatial axis (height; width for square kernels)


def geometry(module: nn.Module) -> dict[str, list[int]]:
    """Kernel, stride, padding and dilation of a conv or pool as [height, width] lists."""
    stride = module.stride if module.stride is not None else module.kernel_size
    return {
        "kernel": list(pair(module.kernel_size)),
        "stride": list(pair(stride)),
        "padding": list(pair(module.padding)),
        "dilation": list(pair(getattr(module, "dilation", 1))),
    }


def advance(field: Field, shape: dict[str, list[int]]) -> Field:
    """The (receptive field, jump) after a kernel of ``shape`` (see :func:`geometry`).

    >>> advance((1, 1), {"kernel": [3, 3], "stride": [2, 2], "dilation": [1, 1]})
    (3, 2)
    """
    reach, jump = field
    return reach + (shape["kernel"][0] - 1) * shape["dilation"][0] * jump, jump * shape["stride"][0]


def next_field(module: nn.Module, field: Field) -> Field:
    """The (receptive field, jump) after ``module`` (unchanged for modules without a kernel)."""
    if not isinstance(module, KERNEL_MODULES):
        return field
    return advance(field, geometry(module))


#: attributes a module's description depends on (read again at each recording to see changes)
_CONFIGURATION = ("kernel_size", "stride", "padding", "dilation", "in_channels", "out_channels", "groups",
                  "in_features", "out_features", "inplace", "training", "eps", "affine", "p", "output_size", "ceil_mode",
                  "count_include_pad")
#: id(module) → (its configuration, its description without the receptive field), for later recordings
_DESCRIBED: dict[int, tuple[tuple, dict[str, Any]]] = {}


#: what a module does, found by isinstance (never by class name): the first match wins
KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (nn.Conv2d, "conv2d"),
    (nn.modules.conv._ConvNd, "conv"),
    (nn.MaxPool2d, "max_pool"),
    (nn.AvgPool2d, "avg_pool"),
    (nn.AdaptiveMaxPool2d, "adaptive_max_pool"),
    (nn.AdaptiveAvgPool2d, "adaptive_avg_pool"),
    ((nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd), "pool"),
    (nn.modules.batchnorm._BatchNorm, "batch_norm"),
    (nn.modules.dropout._DropoutNd, "dropout"),
    (nn.Linear, "linear"),
    (nn.Flatten, "flatten"),
    (nn.Identity, "identity"),
    (nn.RNNBase, "recurrent"),
    (nn.RNNCellBase, "recurrent_cell"),
)


def kind_of(module: nn.Module) -> str:
    """What ``module`` computes, by isinstance: "conv2d", "batch_norm", "activation", … or "module"
    for anything else (a container or a user's module whose work is done by its children)."""
    for classes, kind in KINDS:
        if isinstance(module, classes):
            return kind
    return "activation" if _torch_activation(module) is not None else "module"


def _torch_activation(module: nn.Module) -> str | None:
    """The torch activation class ``module`` is or derives from ("ReLU", "GELU", …), else None."""
    for cls in type(module).__mro__:
        if cls.__module__ == nn.modules.activation.__name__ and cls is not nn.Module:
            return cls.__name__
    return None


def describe(module: nn.Module, field: Field) -> dict[str, Any]:
    """JSON-able facts about a module for ``meta["modules"]``: type, kind, and what its figure needs
    (kernel geometry, channels, BatchNorm's eps and mode, dropout's p and mode).

    ``field`` is the (receptive field, jump) of the module's input. A new dict each call; the facts
    that depend only on the module are kept for its next recordings while its configuration stays.
    """
    attributes = module.__dict__
    configuration = (type(module), module._parameters.get("bias") is not None, *map(attributes.get, _CONFIGURATION))
    known = _DESCRIBED.get(id(module))
    if known is None or known[0] != configuration:
        if len(_DESCRIBED) > 4096:
            _DESCRIBED.clear()
        known = _DESCRIBED[id(module)] = (configuration, _static_facts(module))
    facts = dict(known[1])
    if "kernel" in facts:
        reach, jump = advance(field, facts)
        facts["receptive_field"] = [reach, reach]
        facts["jump"] = [jump, jump]
    return facts


def _static_facts(module: nn.Module) -> dict[str, Any]:
    """What a figure needs of ``module`` beyond its receptive field: kind, geometry, channels, BatchNorm's
    eps and mode, dropout's p and mode, pooling's rounding."""
    kind = kind_of(module)
    facts: dict[str, Any] = {"type": type(module).__name__, "kind": kind}
    if kind == "activation":
        facts["function"] = _torch_activation(module)
    elif kind in ("batch_norm", "dropout"):
        facts["training"] = bool(module.training)
        facts.update({"eps": float(module.eps), "affine": bool(module.affine)} if kind == "batch_norm" else {"p": float(module.p)})
    elif kind in ("adaptive_avg_pool", "adaptive_max_pool"):
        size = module.output_size if isinstance(module.output_size, (tuple, list)) else (module.output_size,) * 2
        facts["output_size"] = [None if side is None else int(side) for side in size]
    if isinstance(module, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)):
        facts["ceil_mode"] = bool(module.ceil_mode)
        if isinstance(module, nn.modules.pooling._AvgPoolNd):
            facts["count_include_pad"] = bool(getattr(module, "count_include_pad", True))
    if isinstance(module, KERNEL_MODULES):
        facts.update(geometry(module))
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        facts.update(in_channels=module.in_channels, out_channels=module.out_channels, groups=module.groups,
                     bias=module.bias is not None)
    elif isinstance(module, nn.Linear):
        facts.update(in_features=module.in_features, out_features=module.out_features, bias=module.bias is not None)
    if hasattr(module, "inplace"):
        facts["inplace"] = bool(module.inplace)
    return facts


def spatial_stride(before: torch.Tensor, after: torch.Tensor) -> int:
    """How much a residual block shrank its input's width (1 when unchanged or not a feature map)."""
    if before.dim() < 3 or after.dim() < 3 or after.shape[-1] == 0:
        return 1
    return max(1, round(before.shape[-1] / after.shape[-1]))
