"""The catalogue of book models and :func:`load`, which returns a ready :class:`Example`.

    >>> from explain.models import catalogue, load
    >>> catalogue()["mnist-cnn"][:37]
    'The MNIST CNN (p.72): 28→24→20→10→6→3'
    >>> ex = load("vgg16", base_dim=64, image_size=224, trained=False)   # the course's large variant
    >>> ex.inputs[0].shape
    torch.Size([1, 3, 224, 224])
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from explain.models import data, shapes, weights
from explain.models.cnn import CIFARCNN, MNISTCNN
from explain.models.googlenet import GoogLeNet
from explain.models.recurrent import CharRNN, HelloRNN, hello_lstm, hello_lstm_zero_state
from explain.models.resnet import ResNet
from explain.models.vgg import VGG
from explain.trace import Trace

__all__ = ["catalogue", "CHAR_TEXT", "Example", "ExampleMaker", "load", "MODELS", "ModelSpec"]

CHAR_TEXT = "Beautiful is better than ugly."


@dataclass
class Example:
    """A book model ready to run: the model (eval mode), its inputs and how the book calls it.

    >>> ex = load("mnist-cnn")
    >>> ex.run(ex.model, *ex.inputs).shape
    torch.Size([1, 10])
    """

    name: str
    model: nn.Module
    inputs: tuple
    tokens: list[str] | None
    description: str
    trained: bool
    #: how the weights were trained and what they reached (loss, accuracy, free run)
    info: dict[str, Any] = field(default_factory=dict)
    #: the book's way of running the model on ``inputs`` (e.g. one step per call); returns the output
    run: Callable[..., Any] = lambda model, *inputs: model(*inputs)
    #: the book's training loss of that output (next-character targets), used by ``record(grads=True)``
    loss: Callable[[Any], torch.Tensor] | None = None
    #: metadata every recording of this example carries (e.g. ``unit_labels``)
    meta: dict[str, Any] = field(default_factory=dict)

    def record(self, **record_kwargs: Any) -> Trace:
        """Record :attr:`run` with ``explain.record`` (its keyword arguments pass through).

        With ``grads=True`` the gradients are those of the book's loss (:attr:`loss`) unless
        ``loss=`` is given.
        """
        from explain.recording.api import record

        if self.tokens is not None:
            record_kwargs.setdefault("tokens", self.tokens)
        if record_kwargs.get("grads") and self.loss is not None:
            record_kwargs.setdefault("loss", self.loss)
        with torch.set_grad_enabled(bool(record_kwargs.get("grads"))):
            recording = record(self.model, **record_kwargs)
            with recording as trace:
                recording.keep_inputs(self.inputs)
                trace.output = self.run(self.model, *self.inputs)
        trace.meta.update(example=self.name, trained=self.trained, **self.meta)
        if self.trained and "accuracy" in self.info and isinstance(trace.output, torch.Tensor):
            # what the weights reached, for figures that show how well the model learned
            trace.meta["held_out"] = {"accuracy": self.info["accuracy"], "images": self.info["test_images"], "classes": trace.output.shape[-1]}
        return trace


# -- how the book runs each family -------------------------------------------------------------

ExampleMaker = Callable[[nn.Module, str | None, torch.Tensor | None, dict], tuple[tuple, list[str] | None, Callable, Callable | None]]
"""(model, text, image, options) → (inputs, tokens, run, loss): how one family makes its example."""



def _run_hello_lstm(model: nn.LSTM, steps: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
    """69 calls ``model(x_t, (h, c))`` with seq_len 1, batch 1; returns (outputs [T, 1, 35], (h, c))."""
    outputs = []
    for x_t in steps:
        out, state = model(x_t.unsqueeze(0), state)
        outputs.append(out)
    return torch.cat(outputs), state


def _run_stepwise(model: nn.Module, steps: torch.Tensor, state: Any):
    """One call per step ``model(x_t, state)`` (hand-written RNN, char models); returns (outputs, state)."""
    outputs = []
    for x_t in steps:
        out, state = model(x_t, state)
        outputs.append(out)
    return torch.stack(outputs), state


def _hello_steps(text: str | None) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """One-hot inputs (start token + text) and targets (text + end token), [T, 1, 35] each."""
    text = data.HELLO_SENTENCE if text is None else text
    unknown = sorted({ch for ch in text if ch not in data.HELLO_VOCAB[:-2]})
    if unknown or not text:
        raise ValueError(f"the hello models read lowercase text over {data.HELLO_VOCAB[:-2]!r}; not {''.join(unknown)!r}")
    indices = [data.HELLO_VOCAB.index(ch) for ch in data.START + text + data.END]
    rows = torch.eye(len(data.HELLO_VOCAB))[indices].unsqueeze(1)
    return rows[:-1], rows[1:], ["<s>", *text]


def _summed_step_mse(targets: torch.Tensor) -> Callable[[Any], torch.Tensor]:
    """The hello models' loss: one MSE per step against the next one-hot, summed over steps."""
    return lambda output: ((output[0].view_as(targets) - targets) ** 2).mean(-1).sum()


def _hello_lstm_example(model, text, image, options):
    steps, targets, tokens = _hello_steps(text)
    return (steps, hello_lstm_zero_state()), tokens, _run_hello_lstm, _summed_step_mse(targets)


def _hello_rnn_example(model, text, image, options):
    steps, targets, tokens = _hello_steps(text)
    return (steps, model.init_hidden()), tokens, _run_stepwise, _summed_step_mse(targets)


def _char_example(model, text, image, options):
    text = CHAR_TEXT if text is None else text
    if not text:
        raise ValueError("the char models need a non-empty --text")
    indices = data.printable_indices(text).view(-1, 1)

    def next_character_loss(output) -> torch.Tensor:
        """Cross-entropy of each step's logits against the next character (the last has none)."""
        logits = output[0].view(len(indices), -1)
        return torch.nn.functional.cross_entropy(logits[:-1], indices[1:, 0]) if len(indices) > 1 else logits.sum() * 0

    return (indices, model.init_hidden()), list(text), _run_stepwise, next_character_loss


def _image_example(channels: int, default_size: int) -> ExampleMaker:
    def example(model, text, image, options):
        size = options.get("image_size", default_size)
        if image is None:
            image = data.shapes_image(size, channels)
        image = image.unsqueeze(0) if image.dim() == 3 else image
        if tuple(image.shape[1:]) != (channels, size, size):
            raise ValueError(f"this model takes {channels}×{size}×{size} images, got {'×'.join(map(str, image.shape[1:]))}")
        return (image.float(),), None, lambda model, image: model(image), None

    return example


@dataclass(frozen=True)
class ModelSpec:
    """A catalogue entry: its description, how to build it, and how to make its example."""

    description: str
    build: Callable[..., nn.Module]
    example: ExampleMaker
    #: options the builder accepts (e.g. base_dim); the committed weights use the defaults
    options: tuple[str, ...] = ()
    #: whether weights are committed (trained by ``python -m explain.models.train``)
    trained: bool = False
    #: what every recording of the model carries in its meta, for figures that cannot see it in the
    #: tensors: ``unit_labels`` (hidden units that line up with a vocabulary), ``quirk_reasons``
    #: (why the book's code does something a figure observes, by quirk), ``labels`` (the names of
    #: the classes the scores stand for, per language)
    recording_meta: dict[str, Any] = field(default_factory=dict)


#: the classes of the models trained on :mod:`explain.models.shapes`
_SHAPE_LABELS = {"en": list(shapes.CLASSES), "ko": list(shapes.CLASSES_KO)}

MODELS: dict[str, ModelSpec] = {
    "hello-rnn": ModelSpec(
        "The hand-written RNN (i2h, i2o on cat(x, h), hidden 35) reading 'hello pytorch…' one step per call; trained",
        lambda: HelloRNN(),
        _hello_rnn_example,
        trained=True,
    ),
    "hello-lstm": ModelSpec(
        "nn.LSTM(35, 35, 3) reading 'hello pytorch…' one step per call, 69 steps, no decoder; trained, reproduces the sentence",
        hello_lstm,
        _hello_lstm_example,
        trained=True,
        recording_meta={"unit_labels": list(data.HELLO_VOCAB)},  # its 35 outputs are compared with the next one-hot
    ),
    "char-rnn": ModelSpec(
        "Embedding(100,70) → nn.RNN(70,100,2) → Linear(100,100) over string.printable; trained on the Zen of Python",
        lambda: CharRNN("rnn"),
        _char_example,
        trained=True,
    ),
    "char-gru": ModelSpec(
        "Embedding(100,70) → nn.GRU(70,100,2) → Linear(100,100) over string.printable; trained on the Zen of Python",
        lambda: CharRNN("gru"),
        _char_example,
        trained=True,
    ),
    "char-lstm": ModelSpec(
        "Embedding(100,70) → nn.LSTM(70,100,2) → Linear(100,100) over string.printable; trained on the Zen of Python",
        lambda: CharRNN("lstm"),
        _char_example,
        trained=True,
    ),
    "mnist-cnn": ModelSpec(
        "The MNIST CNN (p.72): 28→24→20→10→6→3, 3 convs, 2 max-pools, 2 linear; trained on upscaled 8×8 digits",
        MNISTCNN,
        _image_example(1, 28),
        trained=True,
    ),
    "cifar-cnn": ModelSpec(
        "The CIFAR-10 CNN: 3 × [Conv3×3 ×2 → MP2], 16…256 channels, 3×32×32; trained on ten shapes (80.9 % held out)",
        CIFARCNN,
        _image_example(3, 32),
        trained=True,
        recording_meta={"labels": _SHAPE_LABELS},
    ),
    "vgg16": ModelSpec(
        "The book's VGG-16, base_dim 16, its 32×32 head (options base_dim, image_size 32|224, num_classes); trained on ten shapes (68.4 % held out)",
        lambda base_dim=16, image_size=32, num_classes=10: VGG(base_dim, num_classes, image_size),
        _image_example(3, 32),
        ("base_dim", "image_size", "num_classes"),
        trained=True,
        recording_meta={"labels": _SHAPE_LABELS},
    ),
    "googlenet": ModelSpec(
        "The book's GoogLeNet (9 inception modules), base_dim 16 at 64×64, AvgPool(2) for the book's 7 (options base_dim, image_size, num_classes); trained on ten shapes (65.7 % held out)",
        lambda base_dim=16, image_size=64, num_classes=10: GoogLeNet(base_dim, num_classes, image_size),
        _image_example(3, 64),
        ("base_dim", "image_size", "num_classes"),
        trained=True,
        recording_meta={"labels": _SHAPE_LABELS},
    ),
    "resnet50": ModelSpec(
        "The book's ResNet-50 (BottleNeck, projection shortcuts, downsampling at stage ends), base_dim 8 at 64×64, AvgPool(2) for the book's 7 (options base_dim, image_size, num_classes); trained on ten shapes (20.5 % held out: it memorises its training images, 81 % of them right)",
        lambda base_dim=8, image_size=64, num_classes=10: ResNet(base_dim, num_classes, image_size),
        _image_example(3, 64),
        ("base_dim", "image_size", "num_classes"),
        trained=True,
        recording_meta={
            "labels": _SHAPE_LABELS,
            "quirk_reasons": {
                "projection": [
                    "the book's check <tt>x.size() is not out.size()</tt> is always true",
                    "책의 검사 <tt>x.size() is not out.size()</tt>가 늘 참이기 때문입니다",
                ]
            }
        },
    ),
}


def catalogue() -> dict[str, str]:
    """Every book model's name → one-line description, in the book's order (chapter 6, then 5)."""
    return {name: spec.description for name, spec in MODELS.items()}


def load(
    name: str,
    trained: bool = True,
    *,
    text: str | None = None,
    image: torch.Tensor | None = None,
    seed: int = 0,
    **options: Any,
) -> Example:
    """The book model ``name`` in eval mode, with its example input (``text`` / ``image`` replace it).

    ``trained=True`` loads the committed weights (``trained=False``: the seeded initialisation);
    ``options`` (e.g. ``base_dim=64``) build a variant, which is never trained. Unknown names or
    options raise ValueError.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    spec = MODELS[name]
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        accepted = ", ".join(spec.options) or "none"
        raise ValueError(f"{name} has no option {', '.join(unknown)} (options: {accepted})")
    with torch.random.fork_rng(devices=[]):  # seeded, without touching the caller's generator
        torch.manual_seed(seed)
        model = spec.build(**options)
    examples: dict[str, torch.Tensor] = {}
    info: dict[str, Any] = {}
    is_trained = trained and spec.trained and not options
    if is_trained:
        examples, info = weights.load(name, model)
    model.eval()
    if image is None and "image" in examples:
        image = examples["image"][:1]
    inputs, tokens, run, loss = spec.example(model, text, image, options)
    meta = json.loads(json.dumps(spec.recording_meta))  # a copy each example may change
    return Example(name, model, inputs, tokens, spec.description, is_trained, info, run, loss, meta)
