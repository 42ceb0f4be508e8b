"""The book's chapter 5 CNNs for MNIST (1×28×28) and CIFAR-10 (3×32×32), as the book writes them.

    >>> import torch
    >>> from explain.models.cnn import CIFARCNN, MNISTCNN
    >>> MNISTCNN()(torch.zeros(2, 1, 28, 28)).shape, CIFARCNN()(torch.zeros(2, 3, 32, 32)).shape
    (torch.Size([2, 10]), torch.Size([2, 10]))

MNIST: Conv(1,16,5) ReLU → Conv(16,32,5) ReLU → MP(2,2) → Conv(32,64,5) ReLU → MP(2,2) →
flatten → L(576,100) ReLU → L(100,10); sizes 28 → 24 → 20 → 10 → 6 → 3.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CIFARCNN", "MNISTCNN"]


class MNISTCNN(nn.Module):
    """The book's MNIST CNN (p.72): ``layer`` (convolutions) then ``fc_layer``."""

    def __init__(self):
        super().__init__()
        self.layer = nn.Sequential(
            nn.Conv2d(1, 16, 5),
            nn.ReLU(),
            nn.Conv2d(16, 32, 5),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(32, 64, 5),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
        )
        self.fc_layer = nn.Sequential(
            nn.Linear(64 * 3 * 3, 100),
            nn.ReLU(),
            nn.Linear(100, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layer(x)
        out = out.view(x.shape[0], -1)
        return self.fc_layer(out)


class CIFARCNN(nn.Module):
    """The book's CIFAR-10 CNN: three [Conv3×3 ReLU ×2 → MP2] stages (16,32 / 64,128 / 256,256)."""

    def __init__(self):
        super().__init__()
        self.layer = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 128, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(128, 256, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
        )
        self.fc_layer = nn.Sequential(
            nn.Linear(256 * 4 * 4, 200),
            nn.ReLU(),
            nn.Linear(200, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layer(x)
        out = out.view(x.shape[0], -1)
        return self.fc_layer(out)
