"""Recurrent models in the styles people bring (not the book's), for the recurrent figures' tests.

    >>> sorted(RECURRENT_GALLERY)
    ['bidirectional-lstm', 'handwritten-rnn', 'probed-lstm-cell', 'word-lstm']
    >>> trace = record_gallery("word-lstm")
    >>> trace["lstm.l1.fwd.h"].shape, trace.meta["tokens"][:3]
    (torch.Size([7, 1, 16]), ['the', 'cat', 'sat'])

Each builder returns (model, inputs, record options); models are seeded and untrained (the figures
only need real recorded values, not good ones).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

import explain

WORDS = "the cat sat on the warm mat".split()


class WordLSTM(nn.Module):
    """pytorch/examples' word-language model in small: embedding → 2-layer LSTM → linear decoder."""

    def __init__(self, vocab: int = 32, embedding: int = 12, hidden: int = 16):
        super().__init__()
        self.encoder = nn.Embedding(vocab, embedding)
        self.lstm = nn.LSTM(embedding, hidden, num_layers=2, dropout=0.5)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        output, _ = self.lstm(self.encoder(tokens))
        return self.decoder(output)


class SeriesLSTM(nn.Module):
    """A time-series regressor: a bidirectional, batch_first LSTM and a linear head per step."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 8, num_layers=2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(16, 1)

    def forward(self, series: torch.Tensor) -> torch.Tensor:
        output, _ = self.lstm(series)
        return self.head(output)


class HandwrittenRNN(nn.Module):
    """The PyTorch tutorial's char-RNN: hidden = tanh(i2h(x) + h2h(hidden)), an output head, one call per letter."""

    def __init__(self, inputs: int = 6, hidden: int = 8, outputs: int = 4):
        super().__init__()
        self.i2h = nn.Linear(inputs, hidden)
        self.h2h = nn.Linear(hidden, hidden)
        self.h2o = nn.Linear(hidden, outputs)

    def forward(self, x: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = torch.tanh(self.i2h(x) + self.h2h(hidden))
        return torch.log_softmax(self.h2o(hidden), dim=1), hidden


class ProbedLSTMCell(nn.Module):
    """An LSTM cell written by hand that names its quantities with explain.Probe (one call per step)."""

    def __init__(self, inputs: int = 5, hidden: int = 6):
        super().__init__()
        self.ih = nn.Linear(inputs, 4 * hidden)
        self.hh = nn.Linear(hidden, 4 * hidden)
        self.probe = nn.ModuleDict({q: explain.Probe(q) for q in ("x", "i", "f", "g", "o", "c", "h")})

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        x = self.probe["x"](x)
        i, f, g, o = (self.ih(x) + self.hh(h)).chunk(4, 1)
        i, f = self.probe["i"](torch.sigmoid(i)), self.probe["f"](torch.sigmoid(f))
        g, o = self.probe["g"](torch.tanh(g)), self.probe["o"](torch.sigmoid(o))
        c = self.probe["c"](f * c + i * g)
        return self.probe["h"](o * torch.tanh(c)), c


def _word_lstm():
    vocabulary = sorted(set(WORDS))
    indices = torch.tensor([vocabulary.index(word) for word in WORDS]).view(-1, 1)
    return WordLSTM(), (indices,), {"tokens": WORDS}


def _bidirectional_lstm():
    return SeriesLSTM(), (torch.randn(1, 9, 3),), {}


def _handwritten_rnn():
    return HandwrittenRNN(), (torch.randn(5, 1, 6),), {}


RECURRENT_GALLERY: dict[str, Callable[[], tuple[nn.Module, tuple, dict]]] = {
    "word-lstm": _word_lstm,
    "bidirectional-lstm": _bidirectional_lstm,
    "handwritten-rnn": _handwritten_rnn,
    "probed-lstm-cell": lambda: (ProbedLSTMCell(), (torch.randn(6, 1, 5),), {}),
}


def record_gallery(name: str) -> explain.Trace:
    """Record gallery model ``name`` (eval mode, seeded); the hand-written cell is called once per step."""
    torch.manual_seed(0)
    model, inputs, options = RECURRENT_GALLERY[name]()
    model.eval()
    if name == "handwritten-rnn":
        (steps,) = inputs
        with torch.no_grad(), explain.record(model) as trace:
            hidden = torch.zeros(1, 8)
            for x_t in steps:
                _, hidden = model(x_t, hidden)
        return trace
    if name == "probed-lstm-cell":
        (steps,) = inputs
        with explain.record(model) as trace:
            state = (torch.zeros(1, 6), torch.zeros(1, 6))
            for x_t in steps:
                state = model(x_t, state)
        return trace
    return explain.record(model, *inputs, **options)
