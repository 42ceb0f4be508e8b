"""Train the book's demo models here, seeded, on 2 CPU cores, and write their weights.

    $ python -m explain.models.train hello-lstm        # one model
    $ python -m explain.models.train all               # every trainable model

Each trainer follows the book's recipe (BOOK.md §2–3) on data available offline and returns the
trained model, what it reached (loss / accuracy) and example tensors to ship with the weights.
Whole-sequence calls are used where the book calls a recurrent module one step at a time with the
state carried: the maths (and so the gradient) is the same, only faster.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from explain.models import data, weights
from explain.models.recurrent import CharRNN, HelloRNN, hello_lstm, hello_lstm_zero_state

__all__ = [
    "CHECK_IMAGES",
    "correct",
    "fit",
    "free_run_hello_lstm",
    "free_run_hello_rnn",
    "he_initialised",
    "main",
    "moved_from_start",
    "SEED",
    "seeded_start",
    "SHAPE_BUILDERS",
    "train_char",
    "train_cifar_cnn",
    "train_googlenet",
    "train_hello_lstm",
    "train_hello_rnn",
    "train_mnist_cnn",
    "train_resnet50",
    "train_shapes_classifier",
    "train_vgg16",
    "Trained",
    "TRAINERS",
]

Trained = tuple[nn.Module, dict[str, Any], dict[str, torch.Tensor]]
SEED = 0
"""torch's seed before every model is built and trained (the shapes are drawn from their own seeds); recorded with the weights."""


def _free_run(step: Callable, state: Any, shape: tuple[int, ...], steps: int) -> str:
    """Feed the start token, then each output's one-hot argmax, one call ``step(x, state)`` per step."""
    eye = torch.eye(len(data.HELLO_VOCAB))
    x = eye[data.HELLO_VOCAB.index(data.START)].view(shape)
    text = ""
    with torch.no_grad():
        for _ in range(steps):
            out, state = step(x, state)
            text += data.hello_decode(out)
            x = eye[out.reshape(-1).argmax()].view(shape)
    return text


def free_run_hello_lstm(model: nn.LSTM, steps: int = len(data.HELLO_SENTENCE) + 1) -> str:
    """The hello LSTM generating from the start token (seq_len 1, batch 1 per call)."""
    return _free_run(model, hello_lstm_zero_state(), (1, 1, -1), steps)


def free_run_hello_rnn(model: HelloRNN, steps: int = len(data.HELLO_SENTENCE) + 1) -> str:
    """The hand-written RNN generating from the start token (batch 1 per call)."""
    return _free_run(model, model.init_hidden(), (1, -1), steps)


def train_hello_lstm(epochs: int = 1000) -> Trained:
    """nn.LSTM(35,35,3), MSE of each step's output against the next one-hot, Adam lr 0.01."""
    torch.manual_seed(SEED)
    model = hello_lstm()
    rows = data.hello_one_hot()
    inputs, targets = rows[:-1].unsqueeze(1), rows[1:].unsqueeze(1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        optimizer.zero_grad()
        out, _ = model(inputs, hello_lstm_zero_state())
        loss = ((out - targets) ** 2).mean(-1).sum()  # the book sums one MSE per step
        loss.backward()
        optimizer.step()
    text = free_run_hello_lstm(model)
    return model, {"epochs": epochs, "loss": round(loss.item(), 5), "free_run": text}, {}


def train_hello_rnn(epochs: int = 1000) -> Trained:
    """The hand-written i2h/i2o RNN, same data and loss as the LSTM, Adam lr 0.01."""
    torch.manual_seed(SEED)
    model = HelloRNN()
    rows = data.hello_one_hot()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        optimizer.zero_grad()
        hidden, loss = model.init_hidden(), torch.zeros(())
        for t in range(len(rows) - 1):
            out, hidden = model(rows[t : t + 1], hidden)
            loss = loss + nn.functional.mse_loss(out, rows[t + 1 : t + 2])
        loss.backward()
        optimizer.step()
    return model, {"epochs": epochs, "loss": round(loss.item(), 5), "free_run": free_run_hello_rnn(model)}, {}


def train_char(cell: str, steps: int = 600, chunk: int = 200, batch: int = 16) -> Trained:
    """Char model on the Zen of Python: random 200-char chunks, cross-entropy, Adam lr 0.002."""
    torch.manual_seed(SEED)
    model = CharRNN(cell)
    text = data.printable_indices(data.zen_of_python())
    optimizer = torch.optim.Adam(model.parameters(), lr=0.002)
    losses = []
    for _ in range(steps):
        starts = torch.randint(0, len(text) - chunk - 1, (batch,))
        window = torch.stack([text[s : s + chunk + 1] for s in starts.tolist()], dim=1)  # [T+1, B]
        logits, _ = model.forward_sequence(window[:-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), window[1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    final = sum(losses[-20:]) / 20
    return model, {"steps": steps, "chunk": chunk, "batch": batch, "loss": round(final, 4)}, {}


def train_mnist_cnn(epochs: int = 10) -> Trained:
    """The MNIST CNN on 28×28 digits made from scikit-learn's 8×8 set, 10 epochs of Adam.

    The book trains on 60 000 images at lr 2e-4, batch 256; this set has 1 437 training images
    (shifted by up to 2 pixels at random), so its 10 epochs use lr 2e-3 and batch 32 to make
    enough updates. Accuracy is measured on the 360 held-out images.
    """
    from explain.models.cnn import MNISTCNN

    torch.manual_seed(SEED)
    train_x, train_y, test_x, test_y = data.digits_28()
    model = MNISTCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(epochs):
        order = torch.randperm(len(train_y))
        for start in range(0, len(order), 32):
            index = order[start : start + 32]
            shifted = torch.roll(train_x[index], shifts=tuple(torch.randint(-2, 3, (2,)).tolist()), dims=(2, 3))
            loss = nn.functional.cross_entropy(model(shifted), train_y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        correct = model(test_x).argmax(-1) == test_y
    accuracy = correct.float().mean().item()
    # one correctly classified held-out image of each digit 0…9, shipped as the example inputs
    chosen = [int(((test_y == digit) & correct).nonzero()[0]) for digit in range(10)]
    examples = {"image": test_x[chosen].clone(), "label": test_y[chosen].clone()}
    info = {"epochs": epochs, "loss": round(loss.item(), 4), "accuracy": round(accuracy, 4), "test_images": len(test_y)}
    return model, info, examples


CHECK_IMAGES = 200
"""How many held-out images the weights test evaluates (the first ones: they do not depend on the set's size)."""


def correct(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 250) -> torch.Tensor:
    """Whether each image is classified correctly (eval mode, no gradients), [N] bool."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(images[i : i + batch]).argmax(-1) == labels[i : i + batch] for i in range(0, len(labels), batch)])


def fit(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epochs: int, lr: float, batch: int = 64, label: str = ""
) -> list[float]:
    """Adam on cross-entropy over shuffled mini-batches; returns every step's loss, prints each epoch's mean."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    began, losses = time.perf_counter(), []
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(labels))
        for start in range(0, len(order), batch):
            index = order[start : start + batch]
            loss = nn.functional.cross_entropy(model(images[index]), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        steps = -(-len(order) // batch)
        mean = sum(losses[-steps:]) / steps
        print(f"  {label}epoch {epoch + 1}/{epochs}: training loss {mean:.4f} ({time.perf_counter() - began:.0f} s)", file=sys.stderr, flush=True)
    return losses


def he_initialised(model: nn.Module) -> nn.Module:
    """Kaiming-normal weights (He et al. 2015, for ReLU) and zero biases for every conv and linear layer.

    With PyTorch's default initialisation the book's CNNs, which have no batch-norm, stayed at
    chance on the shapes (cifar-cnn: training loss 2.303 = ln 10 after two epochs).
    """
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return model


def _seeded(build: Callable[[], nn.Module]) -> nn.Module:
    """``build()`` after seed 0, with Kaiming-normal weights: where every shapes CNN starts training."""
    torch.manual_seed(SEED)
    return he_initialised(build())


def train_shapes_classifier(
    build: Callable[[], nn.Module], size: int, epochs: int, lr: float = 1e-3, batch: int = 64, train_images: int = 6000, test_images: int = 1000
) -> Trained:
    """A chapter-5 CNN on the ten-shape set (:mod:`explain.models.shapes`): He init, Adam, cross-entropy.

    Weights are rounded to half precision (as committed) before the held-out accuracy is measured;
    one held-out image per class (correctly classified where the model gets any of that class) is
    shipped as the example inputs, with its label and the model's prediction.
    """
    from explain.models import shapes

    model = _seeded(build)
    (train_x, train_y), (test_x, test_y) = shapes.split(train_images, test_images, size)
    step_losses = fit(model, train_x, train_y, epochs, lr, batch)
    steps = len(step_losses) // epochs
    epoch_losses = [round(sum(step_losses[e * steps : (e + 1) * steps]) / steps, 4) for e in range(epochs)]
    with torch.no_grad():
        for value in model.state_dict().values():
            value.copy_(value.half())
    right = correct(model, test_x, test_y)
    # per class the first correctly classified held-out image, else (a class never right) its first image
    chosen = [int(torch.nonzero((test_y == label) & right if (right & (test_y == label)).any() else test_y == label)[0])
              for label in range(len(shapes.CLASSES))]
    with torch.no_grad():
        predicted = model.eval()(test_x[chosen]).argmax(-1)
    examples = {"image": test_x[chosen].clone(), "label": test_y[chosen].clone(), "predicted": predicted}
    info = {
        "data": f"shapes: {len(shapes.CLASSES)} classes, {train_images} training / {test_images} held-out images, {size}×{size}, seed 0",
        "image_size": size,
        "init": "kaiming_normal (relu), zero bias",
        "epochs": epochs,
        "lr": lr,
        "batch": batch,
        "epoch_losses": epoch_losses,
        "accuracy": round(right.float().mean().item(), 4),
        "check_accuracy": round(right[:CHECK_IMAGES].float().mean().item(), 4),
        "test_images": test_images,
        "precision": "float16",
    }
    return model, info, examples


def _cifar_cnn() -> nn.Module:
    from explain.models.cnn import CIFARCNN

    return CIFARCNN()


def _vgg16() -> nn.Module:
    from explain.models.vgg import VGG

    return VGG(16, 10, image_size=32)


def _googlenet() -> nn.Module:
    from explain.models.googlenet import GoogLeNet

    return GoogLeNet(16, 10, image_size=64)


def _resnet50() -> nn.Module:
    from explain.models.resnet import ResNet

    return ResNet(8, 10, image_size=64)


SHAPE_BUILDERS: dict[str, Callable[[], nn.Module]] = {"cifar-cnn": _cifar_cnn, "vgg16": _vgg16, "googlenet": _googlenet, "resnet50": _resnet50}
"""How each chapter-5 CNN trained on the shapes is built (the catalogue's defaults)."""


def seeded_start(name: str) -> nn.Module:
    """The weights a shapes CNN started training from: seed 0, then Kaiming-normal (:func:`he_initialised`)."""
    return _seeded(SHAPE_BUILDERS[name])


def moved_from_start(name: str, trained: nn.Module) -> list[tuple[str, float]]:
    """Per convolution of ``trained``, how far its kernel moved from :func:`seeded_start`: ‖W − W₀‖ / ‖W₀‖.

    >>> from explain import models
    >>> moved = moved_from_start("resnet50", models.load("resnet50").model)
    >>> moved[0][0], round(moved[0][1], 3)                          # the stem's 7×7 kernels
    ('layer_1.0', 0.081)
    """
    start = dict(seeded_start(name).named_modules())
    return [
        (qualified, ((module.weight.float() - start[qualified].weight).norm() / start[qualified].weight.norm()).item())
        for qualified, module in trained.named_modules()
        if isinstance(module, nn.Conv2d)
    ]


def train_cifar_cnn() -> Trained:
    """The CIFAR CNN at the book's 32×32."""
    return train_shapes_classifier(_cifar_cnn, size=32, epochs=6)


def train_vgg16() -> Trained:
    """The book's VGG-16 (base_dim 16) with its own 32×32 head: 224×224 does not train on 2 shared cores."""
    return train_shapes_classifier(_vgg16, size=32, epochs=15, lr=5e-4)


def train_googlenet() -> Trained:
    """The book's GoogLeNet (base_dim 16) at 64×64: its whole final 2×2 map is averaged instead of 7×7."""
    return train_shapes_classifier(_googlenet, size=64, epochs=15)


def train_resnet50() -> Trained:
    """The book's ResNet-50 (base_dim 8, so its weights stay small) at 64×64, AvgPool(2) for the book's 7."""
    return train_shapes_classifier(_resnet50, size=64, epochs=15)


TRAINERS: dict[str, Callable[[], Trained]] = {
    "hello-lstm": train_hello_lstm,
    "hello-rnn": train_hello_rnn,
    "char-rnn": lambda: train_char("rnn"),
    "char-gru": lambda: train_char("gru"),
    "char-lstm": lambda: train_char("lstm"),
    "mnist-cnn": train_mnist_cnn,
    "cifar-cnn": train_cifar_cnn,
    "vgg16": train_vgg16,
    "googlenet": train_googlenet,
    "resnet50": train_resnet50,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m explain.models.train", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", metavar="NAME", help=f"one of {', '.join(TRAINERS)}, or 'all'")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: robust on busy machines)")
    args = parser.parse_args(argv)
    names = list(TRAINERS) if args.names == ["all"] else args.names
    unknown = [name for name in names if name not in TRAINERS]
    if unknown:
        parser.error(f"cannot train {', '.join(unknown)}; trainable: {', '.join(TRAINERS)}")
    torch.set_num_threads(args.threads)
    for name in names:
        began = time.perf_counter()
        model, info, examples = TRAINERS[name]()
        info.update(seed=SEED, seconds=round(time.perf_counter() - began, 1), threads=args.threads)
        half = info.get("precision") == "float16"
        print(f"{name}: {info} -> {weights.save(name, model, info, examples, half=half)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
