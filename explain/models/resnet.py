"""The book's ResNet-50: ``BottleNeck`` blocks with the book's quirks kept.

    >>> import torch
    >>> from explain.models.resnet import ResNet
    >>> ResNet(base_dim=16)(torch.zeros(1, 3, 224, 224)).shape
    torch.Size([1, 10])

BottleNeck(in, mid, out, act_fn, down): Conv1×1(in,mid[, stride 2 if down]) act → Conv3×3(mid,mid)
act → Conv1×1(mid,out) act; ``out = self.layer(x) + shortcut``, where the shortcut is
``self.downsample`` (1×1, stride 2) when down, else ``self.dim_equalizer`` (1×1). Quirks as written:
ReLU comes before the addition and none after; no batch-norm; the shape check
``x.size() is not out.size()`` compares identities, so the 1×1 projection is always used; stages
downsample at their END (torchvision: at the start); one ``act_fn`` ReLU object is shared by every
block. ``image_size`` other than 224 (a multiple of 32) averages the whole final map instead of
7×7: AvgPool(2) at 64.

    >>> ResNet(base_dim=16, image_size=64)(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 10])
"""

from __future__ import annotations

import torch
from torch import nn

from explain.models.googlenet import final_map_side

__all__ = ["BottleNeck", "conv_block_1", "conv_block_3", "ResNet"]


def conv_block_1(in_dim: int, out_dim: int, act_fn: nn.Module, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_dim, out_dim, kernel_size=1, stride=stride), act_fn)


def conv_block_3(in_dim: int, out_dim: int, act_fn: nn.Module) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_dim, out_dim, kernel_size=3, stride=1, padding=1), act_fn)


class BottleNeck(nn.Module):
    """1×1 compress → 3×3 → 1×1 expand, plus a 1×1 projection shortcut; the add is in ``forward``."""

    def __init__(self, in_dim: int, mid_dim: int, out_dim: int, act_fn: nn.Module, down: bool = False):
        super().__init__()
        self.act_fn = act_fn
        self.down = down
        if self.down:
            self.layer = nn.Sequential(
                conv_block_1(in_dim, mid_dim, act_fn, 2),
                conv_block_3(mid_dim, mid_dim, act_fn),
                conv_block_1(mid_dim, out_dim, act_fn),
            )
            self.downsample = nn.Conv2d(in_dim, out_dim, 1, 2)
        else:
            self.layer = nn.Sequential(
                conv_block_1(in_dim, mid_dim, act_fn),
                conv_block_3(mid_dim, mid_dim, act_fn),
                conv_block_1(mid_dim, out_dim, act_fn),
            )
        self.dim_equalizer = nn.Conv2d(in_dim, out_dim, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down:
            downsample = self.downsample(x)
            out = self.layer(x)
            out = out + downsample
        else:
            out = self.layer(x)
            if x.size() is not out.size():  # the book's identity check: always true
                x = self.dim_equalizer(x)
            out = out + x
        return out


class ResNet(nn.Module):
    """ResNet-50 as the book writes it: stages of 3/4/6/3 bottlenecks, 4b → 32b channels."""

    def __init__(self, base_dim: int = 64, num_classes: int = 10, image_size: int = 224):
        super().__init__()
        final_side = final_map_side(image_size)
        self.act_fn = nn.ReLU()
        b = base_dim
        self.layer_1 = nn.Sequential(nn.Conv2d(3, b, 7, 2, 3), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        self.layer_2 = nn.Sequential(
            BottleNeck(b, b, b * 4, self.act_fn),
            BottleNeck(b * 4, b, b * 4, self.act_fn),
            BottleNeck(b * 4, b, b * 4, self.act_fn, down=True),
        )
        self.layer_3 = nn.Sequential(
            BottleNeck(b * 4, b * 2, b * 8, self.act_fn),
            BottleNeck(b * 8, b * 2, b * 8, self.act_fn),
            BottleNeck(b * 8, b * 2, b * 8, self.act_fn),
            BottleNeck(b * 8, b * 2, b * 8, self.act_fn, down=True),
        )
        self.layer_4 = nn.Sequential(
            BottleNeck(b * 8, b * 4, b * 16, self.act_fn),
            *(BottleNeck(b * 16, b * 4, b * 16, self.act_fn) for _ in range(4)),
            BottleNeck(b * 16, b * 4, b * 16, self.act_fn, down=True),
        )
        self.layer_5 = nn.Sequential(
            BottleNeck(b * 16, b * 8, b * 32, self.act_fn),
            BottleNeck(b * 32, b * 8, b * 32, self.act_fn),
            BottleNeck(b * 32, b * 8, b * 32, self.act_fn),
        )
        self.avgpool = nn.AvgPool2d(final_side, 1)
        self.fc_layer = nn.Linear(b * 32, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layer_1(x)
        out = self.layer_2(out)
        out = self.layer_3(out)
        out = self.layer_4(out)
        out = self.layer_5(out)
        out = self.avgpool(out)
        out = out.view(out.size(0), -1)
        return self.fc_layer(out)
