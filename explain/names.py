"""The name grammar of a trace, in one place: build and parse names, filter them.

    >>> recurrent_name("lstm", 1, "f", "bwd"), recurrent_parts("lstm.l1.bwd.f")
    ('lstm.l1.bwd.f', {'module': 'lstm', 'layer': 1, 'direction': 'bwd', 'quantity': 'f'})
    >>> input_name(0), part_name("layer_2.2", "fx"), split_part("layer_2.2@fx")
    ('@input.0', 'layer_2.2@fx', ('layer_2.2', 'fx'))
    >>> name_matcher(["lstm.*.f", "fc"])("lstm.l0.fwd.f")
    True

A module at qualified name ``q`` (the root is "") owns names that start with ``q.``:

- recurrent modules (nn.LSTM/GRU/RNN): ``q.l{layer}.{fwd|bwd}.{quantity}``, shapes [T, B, ·]
  (also ``grad_h`` with grads=True, and ``dropout``, the mask between layers, below the last
  layer of a module built with dropout; ``q.valid`` [T, B] for packed input);
- cells (nn.LSTMCell/GRUCell/RNNCell): ``q.{quantity}``, one step per call;
- every other module: ``q`` (its output); ``q#k`` its k-th extra call in one forward pass;
- parts of a module: ``q@part`` (``@weight``, ``@bias``, residual ``@x @fx @shortcut @sum``,
  inception ``@branch{k} @concat``); the model's inputs ``@input.{k}`` and output ``@output…``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "CELL_QUANTITIES",
    "DIRECTIONS",
    "INPUT_PREFIX",
    "OUTPUT_PREFIX",
    "PART",
    "QUANTITIES",
    "SIGMOID_QUANTITIES",
    "TANH_QUANTITIES",
    "NameFilter",
    "input_name",
    "name_matcher",
    "part_name",
    "recurrent_name",
    "recurrent_parts",
    "split_part",
]

#: separates a module's name from one of its parts (``conv1@weight``, ``layer1.0@sum``)
PART = "@"
#: the tensors a model was called with: ``@input.0``, ``@input.1``, …
INPUT_PREFIX = "@input"
#: what the model itself returned (see ``Trace.output``)
OUTPUT_PREFIX = "@output"
#: the two directions of a recurrent layer, in PyTorch's order
DIRECTIONS = ("fwd", "bwd")
#: the quantities recorded per layer and direction of each recurrent kind, in recording order
QUANTITIES = {"lstm": ("x", "i", "f", "g", "o", "c", "h"), "gru": ("x", "r", "z", "n", "h"), "rnn": ("x", "h")}
#: the quantities a cell figure draws per kind (the input x is not drawn as a strip)
CELL_QUANTITIES = {kind: quantities[1:] for kind, quantities in QUANTITIES.items()}
#: quantities that are sigmoid outputs (0 → 1) and tanh outputs (−1 → 1)
SIGMOID_QUANTITIES = frozenset({"i", "f", "o", "r", "z"})
TANH_QUANTITIES = frozenset({"g", "n"})

NameFilter = str | Iterable[str] | Callable[[str], bool] | None
"""None (every name), a glob, a list of globs, or a predicate."""

_RECURRENT_NAME = re.compile(r"^(?P<module>.*?)\.?l(?P<layer>\d+)\.(?P<direction>fwd|bwd)\.(?P<quantity>[^.]+)$")


def recurrent_name(module: str, layer: int, quantity: str, direction: str = "fwd") -> str:
    """The trace name of one recurrent quantity.

    >>> recurrent_name("rnn", 1, "grad_h"), recurrent_name("", 0, "h")
    ('rnn.l1.fwd.grad_h', 'l0.fwd.h')
    """
    stem = f"l{layer}.{direction}.{quantity}"
    return f"{module}.{stem}" if module else stem


def recurrent_parts(name: str) -> dict[str, Any] | None:
    """Split a recurrent name into its parts, or None for other names.

    >>> recurrent_parts("model.lstm.l1.bwd.f")
    {'module': 'model.lstm', 'layer': 1, 'direction': 'bwd', 'quantity': 'f'}
    """
    match = _RECURRENT_NAME.match(name)
    if match is None:
        return None
    parts = match.groupdict()
    parts["layer"] = int(parts["layer"])
    return parts


def input_name(index: int) -> str:
    """The name of the model's ``index``-th input tensor.

    >>> input_name(1)
    '@input.1'
    """
    return f"{INPUT_PREFIX}.{index}"


def part_name(module: str, part: str) -> str:
    """The name of ``part`` of ``module`` (e.g. a kernel, a residual body).

    >>> part_name("features.0", "weight")
    'features.0@weight'
    """
    return f"{module}{PART}{part}"


def split_part(name: str) -> tuple[str, str | None]:
    """(module, part) of a part name, (name, None) of any other name.

    >>> split_part("conv1@bias"), split_part("conv1")
    (('conv1', 'bias'), ('conv1', None))
    """
    module, separator, part = name.partition(PART)
    return (module, part) if separator and module else (name, None)


def name_matcher(names: NameFilter) -> Callable[[str], bool]:
    """A predicate from a name filter: None (all), a glob, a list of globs or a callable.

    >>> name_matcher("lstm.*.f")("lstm.l0.fwd.f"), name_matcher(["a", "b*"])("c")
    (True, False)
    """
    if names is None:
        return lambda name: True
    if callable(names):
        return names
    patterns = [names] if isinstance(names, str) else list(names)
    return lambda name: any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
