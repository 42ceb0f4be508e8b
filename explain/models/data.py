"""The book's small data sets, all available offline.

    >>> from explain.models import data
    >>> len(data.HELLO_SENTENCE), len(data.HELLO_VOCAB)
    (68, 35)
    >>> data.hello_one_hot().shape            # start token, 68 characters, end token
    torch.Size([70, 35])
    >>> data.hello_tokens()[:3]
    ['<s>', 'h', 'e']

- the hello sentence and its 35-symbol vocabulary (``0`` is the start token, ``1`` the end token);
- ``string.printable`` and the Zen of Python (the char models' corpus, from the ``this`` module);
- 28×28 digits made from scikit-learn's bundled 8×8 digits (training only; the example digit
  shipped with the MNIST weights means running the model never needs scikit-learn).
"""

from __future__ import annotations

import codecs
import string

import torch

__all__ = [
    "digits_28",
    "hello_decode",
    "hello_one_hot",
    "HELLO_SENTENCE",
    "hello_tokens",
    "HELLO_VOCAB",
    "PRINTABLE",
    "printable_indices",
    "shapes_image",
    "zen_of_python",
]

HELLO_SENTENCE = "hello pytorch. how long can a rnn cell remember? show me your limit!"
HELLO_VOCAB = "abcdefghijklmnopqrstuvwxyz ?!.,:;01"
START, END = "0", "1"
PRINTABLE = string.printable


def hello_one_hot() -> torch.Tensor:
    """The sentence as one-hot rows with start and end tokens: [70, 35]."""
    indices = [HELLO_VOCAB.index(ch) for ch in START + HELLO_SENTENCE + END]
    return torch.eye(len(HELLO_VOCAB))[indices]


def hello_tokens() -> list[str]:
    """Labels of the 69 input steps: the start token shown as ``<s>``, then the sentence."""
    return ["<s>", *HELLO_SENTENCE]


def hello_decode(rows: torch.Tensor) -> str:
    """The characters picked by the largest value of each row ([T, 35] or [T, 1, 35])."""
    return "".join(HELLO_VOCAB[i] for i in rows.reshape(-1, len(HELLO_VOCAB)).argmax(-1).tolist())


def zen_of_python() -> str:
    """The Zen of Python, decoded from the standard library's ``this`` module (silently)."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        import this
    return codecs.decode(this.s, "rot13")


def printable_indices(text: str) -> torch.Tensor:
    """Indices of ``text`` in ``string.printable`` (100 symbols); other characters are an error."""
    unknown = sorted({ch for ch in text if ch not in PRINTABLE})
    if unknown:
        raise ValueError(f"characters not in string.printable: {''.join(unknown)!r}")
    return torch.tensor([PRINTABLE.index(ch) for ch in text], dtype=torch.long)


def digits_28(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """scikit-learn's 8×8 digits upscaled to 1×28×28 in [0, 1]: (train_x, train_y, test_x, test_y).

    A seeded 80/20 split (1 437 / 360 images), each 8×8 image padded by one pixel and upscaled
    bilinearly. Needs scikit-learn (the ``train`` extra).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("training the MNIST CNN needs scikit-learn: pip install 'explain[train]'") from None
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = torch.nn.functional.pad(images, (1, 1, 1, 1))  # 10×10, a margin like MNIST's
    images = torch.nn.functional.interpolate(images, size=(28, 28), mode="bilinear", align_corners=False)
    labels = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    split = int(0.8 * len(labels))
    train, test = order[:split], order[split:]
    return images[train], labels[train], images[test], labels[test]


def shapes_image(size: int = 224, channels: int = 3) -> torch.Tensor:
    """A fixed picture of a red disc, a green square and a blue bar on grey: [1, channels, size, size].

    >>> shapes_image(32).shape
    torch.Size([1, 3, 32, 32])
    """
    axis = torch.linspace(0, 1, size)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    disc = ((x - 0.3) ** 2 + (y - 0.35) ** 2 < 0.04).float()
    square = ((x - 0.7).abs() < 0.15).float() * ((y - 0.3).abs() < 0.15).float()
    bar = ((y - 0.78).abs() < 0.06).float() * ((x - 0.5).abs() < 0.35).float()
    rgb = torch.stack([0.4 + 0.6 * disc - 0.3 * square, 0.4 + 0.6 * square - 0.3 * bar, 0.4 + 0.6 * bar - 0.3 * disc])
    image = rgb.clamp(0, 1) if channels == 3 else rgb.mean(0, keepdim=True)
    return image.unsqueeze(0)
