"""The book's chapter 6 models, as the book writes them.

    >>> import torch
    >>> from explain.models.recurrent import CharRNN, HelloRNN, hello_lstm
    >>> hello_lstm().hidden_size, HelloRNN().i2h
    (35, Linear(in_features=70, out_features=35, bias=True))
    >>> out, hidden = CharRNN("gru")(torch.tensor([7]), CharRNN("gru").init_hidden())
    >>> out.shape
    torch.Size([1, 100])

- ``hello_lstm()``: a bare ``nn.LSTM(35, 35, 3)`` with no decoder; its 35-d output is compared to
  the next one-hot character; the caller calls it one step at a time and carries (h, c).
- ``HelloRNN``: the hand-written RNN: ``i2h`` and ``i2o`` read ``cat(x, h)``; h' = tanh(i2h(·)).
- ``CharRNN``: Embedding(100, 70) → nn.RNN | nn.GRU | nn.LSTM(70, 100, 2) → Linear(100, 100),
  one character per call, over ``string.printable``; :func:`generate` samples from it as the book
  does (temperature 0.8).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CELLS", "CharRNN", "generate", "hello_lstm", "hello_lstm_zero_state", "HELLO_SIZE", "HelloRNN"]

HELLO_SIZE = 35


def hello_lstm() -> nn.LSTM:
    """nn.LSTM(35, 35, num_layers=3): the hello-pytorch LSTM (no decoder)."""
    return nn.LSTM(HELLO_SIZE, HELLO_SIZE, num_layers=3)


def hello_lstm_zero_state() -> tuple[torch.Tensor, torch.Tensor]:
    """The (h, c) the book starts from: zeros of shape [3, 1, 35]."""
    return torch.zeros(3, 1, HELLO_SIZE), torch.zeros(3, 1, HELLO_SIZE)


class HelloRNN(nn.Module):
    """The hand-written RNN: h' = tanh(i2h(cat(x, h))), y = i2o(cat(x, h)).

    >>> out, h = HelloRNN()(torch.zeros(1, 35), HelloRNN().init_hidden())
    >>> out.shape, h.shape
    (torch.Size([1, 35]), torch.Size([1, 35]))
    """

    def __init__(self, input_size: int = HELLO_SIZE, hidden_size: int = HELLO_SIZE, output_size: int = HELLO_SIZE):
        super().__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)
        self.act_fn = nn.Tanh()

    def forward(self, input: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        combined = torch.cat((input, hidden), 1)
        hidden = self.act_fn(self.i2h(combined))
        output = self.i2o(combined)
        return output, hidden

    def init_hidden(self) -> torch.Tensor:
        return torch.zeros(1, self.hidden_size)


CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class CharRNN(nn.Module):
    """Embedding(100, 70) → RNN | GRU | LSTM(70, 100, 2) → Linear(100, 100); one character per call.

    >>> model = CharRNN("lstm")
    >>> [type(m).__name__ for m in (model.encoder, model.rnn, model.decoder)]
    ['Embedding', 'LSTM', 'Linear']
    """

    def __init__(self, cell: str = "lstm", vocab: int = 100, embedding: int = 70, hidden: int = 100, layers: int = 2):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
        self.cell, self.hidden_size, self.num_layers = cell, hidden, layers
        self.encoder = nn.Embedding(vocab, embedding)
        self.rnn = CELLS[cell](embedding, hidden, layers)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, input: torch.Tensor, hidden):
        """``input``: [B] character indices (one step); returns logits [B, 100] and the new state."""
        out = self.encoder(input.view(1, -1))
        out, hidden = self.rnn(out, hidden)
        out = self.decoder(out.view(input.shape[0], -1))
        return out, hidden

    def init_hidden(self, batch: int = 1):
        zeros = torch.zeros(self.num_layers, batch, self.hidden_size)
        return (zeros, zeros.clone()) if self.cell == "lstm" else zeros

    def forward_sequence(self, indices: torch.Tensor, hidden=None):
        """All steps at once ([T, B] indices → [T, B, 100] logits): the same maths, used to train."""
        out, hidden = self.rnn(self.encoder(indices), hidden if hidden is not None else self.init_hidden(indices.shape[1]))
        return self.decoder(out), hidden


def generate(model: CharRNN, prime: str, length: int, temperature: float | None = 0.8, seed: int = 0) -> str:
    """Continue ``prime`` by ``length`` characters, one step per call, feeding each pick back in.

    Like the book: logits divided by ``temperature`` and sampled (seeded); ``temperature=None``
    picks the most likely character instead.

    >>> len(generate(CharRNN("gru"), "Be", 5))
    5
    """
    from explain.models.data import PRINTABLE, printable_indices

    generator = torch.Generator().manual_seed(seed)
    hidden = model.init_hidden()
    indices = printable_indices(prime)
    text = ""
    with torch.no_grad():
        for index in indices[:-1]:
            _, hidden = model(index.view(1), hidden)
        current = indices[-1].view(1)
        for _ in range(length):
            logits, hidden = model(current, hidden)
            if temperature is None:
                current = logits.argmax(-1)
            else:
                current = torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=generator).view(1)
            text += PRINTABLE[current.item()]
    return text
