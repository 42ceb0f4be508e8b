"""What figures need besides outputs: kernel geometry, receptive fields, residual and concat parts.

    >>> import torch
    >>> describe(torch.nn.Conv2d(3, 8, 5, stride=2, padding=1), (1, 1))["receptive_field"]
    [5, 5]
    >>> next_field(torch.nn.MaxPool2d(2, 2), (5, 1))          # (field, jump) after the pool
    (6, 2)

The receptive field of a feature map is the side of the input window that one of its pixels sees;
``jump`` is the input distance between neighbouring pixels. A k×k kernel with stride s and dilation
d turns (field r, jump j) into (r + (k-1)·d·j, j·s).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

KERNEL_MODULES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)

Field = tuple[int, int]  # (receptive field, jump) along one spatial axis (height; width for square kernels)


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return (int(value[0]), int(value[-1]))
    return (int(value), int(value))


def geometry(module: nn.Module) -> dict[str, list[int]]:
    """Kernel, stride, padding and dilation of a conv or pool as [height, width] lists."""
    stride = module.stride if module.stride is not None else module.kernel_size
    return {
        "kernel": list(_pair(module.kernel_size)),
        "stride": list(_pair(stride)),
        "padding": list(_pair(module.padding)),
        "dilation": list(_pair(getattr(module, "dilation", 1))),
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


def describe(module: nn.Module, field: Field) -> dict[str, Any]:
    """JSON-able facts about a module for ``meta["modules"]``: type, and for kernels their geometry.

    ``field`` is the (receptive field, jump) of the module's input.
    """
    facts: dict[str, Any] = {"type": type(module).__name__}
    if isinstance(module, KERNEL_MODULES):
        facts.update(geometry(module))
        reach, jump = next_field(module, field)
        facts["receptive_field"] = [reach, reach]
        facts["jump"] = [jump, jump]
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
