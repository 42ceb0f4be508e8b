"""``explain.Probe``: an identity module that names a value of a hand-written cell for the recorder.

    >>> import torch, explain
    >>> class Cell(torch.nn.Module):                 # h' = tanh(W [x, h]), one step per call
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.step = torch.nn.Linear(3 + 2, 2)
    ...         self.probe_h = explain.Probe("h")
    ...     def forward(self, x, h):
    ...         return self.probe_h(torch.tanh(self.step(torch.cat([x, h], 1))))
    >>> cell, h = Cell(), torch.zeros(1, 2)
    >>> with explain.record(cell) as tr:
    ...     for x in torch.randn(4, 1, 3):
    ...         h = cell(x, h)
    >>> tr["h"].shape                                # [T, B, H], like nn.RNNCell's "h"
    torch.Size([4, 1, 2])

A probe returns its input unchanged (the same tensor), so a model runs the same with or without
a recording. While a recording is open, every call of a probe inside the ``forward`` of the
module at qualified name ``q`` appends its value as one time step to ``q.{quantity}`` (the root's:
``{quantity}``), the names nn.LSTMCell / GRUCell / RNNCell get: a hand-written LSTM cell that passes
x, i, f, g, o, c and h through probes is recorded as ``q.x``, ``q.i``, … ``q.h``, each ``[T, B, ·]``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Probe"]

_RESERVED = ".@#:*?[]"


class Probe(nn.Module):
    """Identity; names the value passed through it as the quantity ``quantity`` of its cell.

    >>> Probe("f")(torch.ones(2)).tolist(), Probe("f")
    ([1.0, 1.0], Probe('f'))
    """

    def __init__(self, quantity: str):
        super().__init__()
        if not isinstance(quantity, str) or not quantity or any(char in quantity for char in _RESERVED):
            raise ValueError(
                f"a Probe's quantity is a short non-empty name without any of {_RESERVED!r} (like 'i' or 'h'), "
                f"got {quantity!r}"
            )
        self.quantity = quantity

    def forward(self, value: torch.Tensor) -> torch.Tensor:
        return value

    def extra_repr(self) -> str:
        return repr(self.quantity)
