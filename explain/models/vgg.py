"""The book's VGG with a ``base_dim`` parameter (the book uses 16, the course 64).

    >>> import torch
    >>> from explain.models.vgg import VGG
    >>> VGG(base_dim=16)(torch.zeros(1, 3, 224, 224)).shape
    torch.Size([1, 10])
    >>> sum(isinstance(m, torch.nn.Conv2d) for m in VGG(16).modules())   # the VGG-16 body
    13

Body: conv_2_block(3,b) → conv_2_block(b,2b) → conv_3_block(2b,4b) → conv_3_block(4b,8b) →
conv_3_block(8b,8b); each block halves the resolution. Head for 224 inputs: L(8b·7·7,100) ReLU →
L(100,20) ReLU → L(20,classes), with the book's in-place ``nn.ReLU(True)``; for 32 inputs:
L(8b,4096) ReLU → L(4096,1000) ReLU → L(1000,classes).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["conv_2_block", "conv_3_block", "VGG"]


def conv_2_block(in_dim: int, out_dim: int) -> nn.Sequential:
    """2 × (Conv3×3 p1 → ReLU) → MaxPool(2, 2)."""
    return nn.Sequential(
        nn.Conv2d(in_dim, out_dim, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(out_dim, out_dim, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2, 2),
    )


def conv_3_block(in_dim: int, out_dim: int) -> nn.Sequential:
    """3 × (Conv3×3 p1 → ReLU) → MaxPool(2, 2)."""
    return nn.Sequential(
        nn.Conv2d(in_dim, out_dim, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(out_dim, out_dim, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(out_dim, out_dim, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2, 2),
    )


class VGG(nn.Module):
    """VGG-16 as the book writes it: ``feature`` (5 blocks) then ``fc_layer``."""

    def __init__(self, base_dim: int = 16, num_classes: int = 10, image_size: int = 224):
        super().__init__()
        if image_size not in (224, 32):
            raise ValueError(f"the book's VGG takes 224×224 or 32×32 images, got image_size={image_size}")
        self.feature = nn.Sequential(
            conv_2_block(3, base_dim),
            conv_2_block(base_dim, 2 * base_dim),
            conv_3_block(2 * base_dim, 4 * base_dim),
            conv_3_block(4 * base_dim, 8 * base_dim),
            conv_3_block(8 * base_dim, 8 * base_dim),
        )
        if image_size == 224:
            self.fc_layer = nn.Sequential(
                nn.Linear(8 * base_dim * 7 * 7, 100),
                nn.ReLU(True),
                nn.Linear(100, 20),
                nn.ReLU(True),
                nn.Linear(20, num_classes),
            )
        else:
            self.fc_layer = nn.Sequential(
                nn.Linear(8 * base_dim, 4096),
                nn.ReLU(True),
                nn.Linear(4096, 1000),
                nn.ReLU(True),
                nn.Linear(1000, num_classes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.feature(x)
        x = x.view(x.size(0), -1)
        return self.fc_layer(x)
