"""The book's GoogLeNet (Inception v1): ``inception_module`` and ``GoogLeNet(base_dim)``.

    >>> import torch
    >>> from explain.models.googlenet import GoogLeNet, inception_module
    >>> inception_module(192, 64, 96, 128, 16, 32, 32)(torch.zeros(1, 192, 28, 28)).shape
    torch.Size([1, 256, 28, 28])
    >>> GoogLeNet(base_dim=64)(torch.zeros(1, 3, 224, 224)).shape
    torch.Size([1, 10])

Each module concatenates four branches over channels: [1×1 ReLU] | [1×1 ReLU → 3×3 ReLU] |
[1×1 ReLU → 5×5 ReLU] | [MaxPool(3,1,1) → 1×1 ReLU]. Stem: Conv(3,b,7,2,3) → MP(3,2,1) →
Conv(b,3b,3,1,1) → MP(3,2,1), no ReLU. The module table is the paper's (192→256→480 | 512, 512,
512, 528, 832 | 832, 1024) for the book's base_dim 64; another base_dim scales every column by
base_dim/64 so a small GoogLeNet keeps the shape of the big one. Then AvgPool(7) → Dropout2d(0.4)
→ L(1024·base_dim/64, classes). No batch-norm, no auxiliary classifiers. ``image_size`` other than
224 (a multiple of 32) averages the whole final map instead of 7×7: AvgPool(2) at 64.

    >>> GoogLeNet(base_dim=16, image_size=64)(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 10])
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["conv_1", "conv_1_3", "conv_1_5", "final_map_side", "GoogLeNet", "inception_module", "max_3_1", "TABLE"]

# The paper's table: (out_1, mid_3, out_3, mid_5, out_5, pool) per inception module.
TABLE = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def conv_1(in_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_dim, out_dim, 1, 1), nn.ReLU())


def conv_1_3(in_dim: int, mid_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_dim, mid_dim, 1, 1), nn.ReLU(), nn.Conv2d(mid_dim, out_dim, 3, 1, 1), nn.ReLU())


def conv_1_5(in_dim: int, mid_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_dim, mid_dim, 1, 1), nn.ReLU(), nn.Conv2d(mid_dim, out_dim, 5, 1, 2), nn.ReLU())


def max_3_1(in_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(in_dim, out_dim, 1, 1), nn.ReLU())


def final_map_side(image_size: int) -> int:
    """Side of the last feature map (the input halves 5 times): 7 at the book's 224, 2 at 64.

    The book's ``AvgPool(7)`` averages the whole 7×7 map at 224; smaller inputs average their whole
    final map the same way, so the layout stays the book's.
    """
    if image_size < 32 or image_size % 32:
        raise ValueError(f"the input side must be a multiple of 32 (the book: 224), got image_size={image_size}")
    return image_size // 32


class inception_module(nn.Module):  # noqa: N801 - the book's name
    """Four parallel branches concatenated over channels (out_1 + out_3 + out_5 + pool channels)."""

    def __init__(self, in_dim: int, out_dim_1: int, mid_dim_3: int, out_dim_3: int, mid_dim_5: int, out_dim_5: int, pool_dim: int):
        super().__init__()
        self.conv_1 = conv_1(in_dim, out_dim_1)
        self.conv_1_3 = conv_1_3(in_dim, mid_dim_3, out_dim_3)
        self.conv_1_5 = conv_1_5(in_dim, mid_dim_5, out_dim_5)
        self.max_3_1 = max_3_1(in_dim, pool_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out_1 = self.conv_1(x)
        out_2 = self.conv_1_3(x)
        out_3 = self.conv_1_5(x)
        out_4 = self.max_3_1(x)
        output = torch.cat([out_1, out_2, out_3, out_4], 1)
        return output


class GoogLeNet(nn.Module):
    """GoogLeNet as the book writes it: ``layer_1`` (stem) … ``layer_4``, ``layer_5`` (dropout), ``fc_layer``."""

    def __init__(self, base_dim: int = 64, num_classes: int = 10, image_size: int = 224):
        super().__init__()
        if base_dim < 4 or base_dim % 4:
            raise ValueError(f"GoogLeNet's base_dim must be a positive multiple of 4, got {base_dim}")
        final_side = final_map_side(image_size)
        scale = base_dim / 64

        def module(in_dim: int, key: str) -> inception_module:
            return inception_module(round(in_dim * scale), *(max(1, round(c * scale)) for c in TABLE[key]))

        self.layer_1 = nn.Sequential(
            nn.Conv2d(3, base_dim, 7, 2, 3),
            nn.MaxPool2d(3, 2, 1),
            nn.Conv2d(base_dim, base_dim * 3, 3, 1, 1),
            nn.MaxPool2d(3, 2, 1),
        )
        self.layer_2 = nn.Sequential(module(192, "3a"), module(256, "3b"), nn.MaxPool2d(3, 2, 1))
        self.layer_3 = nn.Sequential(
            module(480, "4a"), module(512, "4b"), module(512, "4c"), module(512, "4d"), module(528, "4e"), nn.MaxPool2d(3, 2, 1)
        )
        self.layer_4 = nn.Sequential(module(832, "5a"), module(832, "5b"), nn.AvgPool2d(final_side, 1))
        self.layer_5 = nn.Dropout2d(0.4)
        self.fc_layer = nn.Linear(round(1024 * scale), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layer_1(x)
        out = self.layer_2(out)
        out = self.layer_3(out)
        out = self.layer_4(out)
        out = self.layer_5(out)
        out = out.view(out.size(0), -1)
        return self.fc_layer(out)
