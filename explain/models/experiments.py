"""The book's two claims about depth, measured: seeded training runs whose results are trace files.

    $ python -m explain.models.experiments depth          # figure 8: accuracy and parameters vs depth
    $ python -m explain.models.experiments degradation    # figure 10: plain vs residual training loss

Both train on the ten-shape set (:mod:`explain.models.shapes`, 32×32; :data:`TRAIN_IMAGES`
training and 1 000 held-out images) from Kaiming-normal initial weights with Adam, batch 64,
seed 0, one thread, and write ``results/<name>.safetensors`` next to this file (an
:class:`explain.Trace`: tensors plus metadata, see :data:`CONTENTS`). The sizes are small so
that both runs fit in ~20 minutes on two CPU cores shared with other work (528 s and 611 s).

- ``depth``: VGG-style stacks (no batch-norm, as VGG): three stages of k Conv3×3-ReLU layers
  (8, 16, 32 channels), each stage ending in 2×2 max-pooling, then one linear layer; k = 1…5
  gives 3…15 convolutions; 3 epochs.
- ``degradation``: the CIFAR networks of He et al. (2016) with 6n+2 layers (n = 1, 3, 7: 8, 20 and
  44 layers), narrowed to 8/16/32 channels to fit two shared CPU cores: a 3×3 conv, three stages of
  n blocks of two 3×3 convs with batch-norm, global average pooling and a linear layer. The
  residual version adds each block's input (a 1×1 projection where the shape changes) before the
  block's last ReLU; the plain version is the same network without the additions; 2 epochs.

    >>> net = plain_or_residual(20, residual=True)
    >>> sum(isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) for m in net.modules()) + 1   # + the linear layer
    20
    >>> vgg_stack(2)(torch.zeros(1, 3, 32, 32)).shape
    torch.Size([1, 10])
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn

from explain.trace import Trace

__all__ = ["BATCH", "CONTENTS", "DEPTH_STAGES", "PLAIN_DEPTHS", "RESULTS", "TRAIN_IMAGES", "plain_or_residual", "run", "vgg_stack"]

RESULTS = Path(__file__).with_name("results")
DEPTH_STAGES = (1, 2, 3, 4, 5)
"""Convolutions per stage in the depth experiment (3 stages: 3…15 convolutions)."""
PLAIN_DEPTHS = (8, 20, 44)
"""Layers (6n + 2) of the degradation experiment's networks."""
LOG_EVERY = 4
"""Training-loss curves average this many steps per point."""
TRAIN_IMAGES = 3000
"""Training images of both experiments (the held-out set has 1 000)."""
BATCH = 64
"""Mini-batch size of every run."""

CONTENTS = {
    "depth": {
        "conv_layers": "[5] convolutions in each network (3, 6, …, 15)",
        "parameters": "[5] learned parameters of each network",
        "test_accuracy": "[5] held-out accuracy after training",
        "train_loss": f"[5, P] training loss, mean of every {LOG_EVERY} steps",
    },
    "degradation": {
        "layers": "[3] weighted layers of each network (8, 20, 44)",
        "plain.train_loss": f"[3, P] training loss of the plain networks, mean of every {LOG_EVERY} steps",
        "residual.train_loss": "[3, P] the same for the residual networks",
        "plain.test_accuracy": "[3] held-out accuracy of the plain networks",
        "residual.test_accuracy": "[3] held-out accuracy of the residual networks",
        "plain.parameters": "[3] learned parameters of the plain networks",
        "residual.parameters": "[3] learned parameters of the residual networks",
        "step": f"[P] the training step at the end of each {LOG_EVERY}-step window",
    },
}


def vgg_stack(convs_per_stage: int, width: int = 8, size: int = 32, classes: int = 10) -> nn.Sequential:
    """Three stages of ``convs_per_stage`` × (Conv3×3 p1 → ReLU) → MaxPool2, channels w, 2w, 4w; then Linear."""
    layers: list[nn.Module] = []
    channels = 3
    for stage in range(3):
        for _ in range(convs_per_stage):
            layers += [nn.Conv2d(channels, width << stage, 3, padding=1), nn.ReLU()]
            channels = width << stage
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * (size // 8) ** 2, classes))


class Block(nn.Module):
    """Two 3×3 conv + batch-norm layers; ``residual`` adds the input (projected if needed) before the last ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, residual: bool):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.residual = residual
        self.shortcut = nn.Identity()
        if residual and (stride != 1 or in_channels != out_channels):
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels))
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.residual:
            out = out + self.shortcut(x)
        return self.relu(out)


def plain_or_residual(layers: int, residual: bool, width: int = 8, classes: int = 10) -> nn.Sequential:
    """He et al.'s CIFAR network with ``layers`` = 6n + 2 weighted layers, plain or residual."""
    if layers < 8 or (layers - 2) % 6:
        raise ValueError(f"layers must be 6n + 2 with n ≥ 1 (8, 14, 20, …), got {layers}")
    blocks_per_stage = (layers - 2) // 6
    modules: list[nn.Module] = [nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    channels = width
    for stage in range(3):
        for block in range(blocks_per_stage):
            stride = 2 if stage > 0 and block == 0 else 1
            modules.append(Block(channels, width << stage, stride, residual))
            channels = width << stage
    return nn.Sequential(*modules, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, classes))


def _windowed(losses: list[float]) -> torch.Tensor:
    """Mean of every LOG_EVERY steps (an incomplete last window is dropped)."""
    points = len(losses) // LOG_EVERY
    return torch.tensor(losses[: points * LOG_EVERY]).view(points, LOG_EVERY).mean(1)


def _train(build, label: str, data, epochs: int, lr: float) -> tuple[torch.Tensor, float, int]:
    """Seeded training of one network: (windowed loss curve, held-out accuracy, parameters)."""
    from explain.models.train import correct, fit, he_initialised

    (train_x, train_y), (test_x, test_y) = data
    torch.manual_seed(0)
    model = he_initialised(build())
    began = time.perf_counter()
    losses = fit(model, train_x, train_y, epochs, lr, BATCH, label=f"{label}: ")
    accuracy = correct(model, test_x, test_y).float().mean().item()
    parameters = sum(p.numel() for p in model.parameters())
    print(f"{label}: accuracy {accuracy:.3f}, {parameters} parameters, {time.perf_counter() - began:.0f} s", flush=True)
    return _windowed(losses), accuracy, parameters


def _optimizer(epochs: int, lr: float) -> str:
    return f"Kaiming init, Adam lr {lr}, batch {BATCH}, {epochs} epochs, seed 0, 1 thread"


def depth(data, epochs: int = 3, lr: float = 1e-3) -> Trace:
    """Figure 8: VGG-style stacks of 3, 6, …, 15 convolutions, trained the same way."""
    curves, accuracies, parameters = [], [], []
    for convs in DEPTH_STAGES:
        curve, accuracy, count = _train(lambda: vgg_stack(convs), f"{3 * convs} convs", data, epochs, lr)
        curves.append(curve)
        accuracies.append(accuracy)
        parameters.append(count)
    tensors = {
        "conv_layers": torch.tensor([3 * convs for convs in DEPTH_STAGES]),
        "parameters": torch.tensor(parameters),
        "test_accuracy": torch.tensor(accuracies),
        "train_loss": torch.stack(curves),
    }
    network = "VGG-style: 3 stages of k × (Conv3×3 → ReLU) → MaxPool2 (8, 16, 32 ch) → Linear"
    return Trace(tensors, meta={"network": network, "optimizer": _optimizer(epochs, lr), "epochs": epochs, "lr": lr})


def degradation(data, epochs: int = 2, lr: float = 1e-3) -> Trace:
    """Figure 10: plain and residual networks of 8, 20 and 44 layers, trained the same way."""
    tensors: dict[str, torch.Tensor] = {"layers": torch.tensor(PLAIN_DEPTHS)}
    for kind in ("plain", "residual"):
        results = [_train(lambda: plain_or_residual(layers, kind == "residual"), f"{kind}-{layers}", data, epochs, lr) for layers in PLAIN_DEPTHS]
        tensors[f"{kind}.train_loss"] = torch.stack([curve for curve, _, _ in results])
        tensors[f"{kind}.test_accuracy"] = torch.tensor([accuracy for _, accuracy, _ in results])
        tensors[f"{kind}.parameters"] = torch.tensor([count for _, _, count in results])
    tensors["step"] = (torch.arange(tensors["plain.train_loss"].shape[1]) + 1) * LOG_EVERY
    network = "He et al.'s CIFAR net, 6n+2 layers, 8/16/32 channels, batch-norm; residual: + input (1×1 projection where the shape changes) before the block's last ReLU"
    return Trace(tensors, meta={"network": network, "optimizer": _optimizer(epochs, lr), "epochs": epochs, "lr": lr})


EXPERIMENTS = {"depth": depth, "degradation": degradation}


def run(name: str, train_images: int = TRAIN_IMAGES, test_images: int = 1000) -> Path:
    """Run experiment ``name`` (seeded, one thread) and write its trace to ``RESULTS/<name>.safetensors``."""
    from explain.models import shapes

    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of: {', '.join(EXPERIMENTS)}")
    began = time.perf_counter()
    data = shapes.split(train_images, test_images, size=32)
    trace = EXPERIMENTS[name](data)
    seconds = round(time.perf_counter() - began, 1)
    trace.meta.update(
        experiment=name,
        train_images=train_images,
        test_images=test_images,
        command=f"python -m explain.models.experiments {name}",
        data=f"shapes: {len(shapes.CLASSES)} classes, {train_images} training / {test_images} held-out images, 32×32, seed 0",
        log_every=LOG_EVERY,
        seconds=seconds,
        contents=CONTENTS[name],
    )
    RESULTS.mkdir(exist_ok=True)
    path = trace.save(RESULTS / f"{name}.safetensors")
    print(f"{name}: {seconds:.0f} s -> {path}", flush=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m explain.models.experiments", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", choices=list(EXPERIMENTS), metavar="NAME", help=" or ".join(EXPERIMENTS))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for name in args.names:
        run(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
