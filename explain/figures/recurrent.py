"""What recurrent figures read from a trace: hidden states, gradient norms, labels (no manim).

    >>> import torch
    >>> from explain import Trace
    >>> tr = Trace({"rnn.l0.fwd.h": torch.arange(12.).reshape(3, 1, 4)}, meta={"tokens": ["h", "i", "!"]})
    >>> find_recurrent(tr, "h"), layers_of(tr, "rnn")
    ('rnn', [0])
    >>> hidden_states(tr, "rnn", 0, steps=[0, 2], units=[1, 3])
    [[1.0, 3.0], [9.0, 11.0]]
    >>> step_labels(tr, 3)
    ['h', 'i', '!']

Every function returns plain lists of floats, so tests compare what a scene shows with the trace,
and a trace that lacks a needed name raises :class:`MissingValues` with one line saying what to record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch

from explain.figures.layers import kind
from explain.indices import check_in_range, parse_index_list
from explain.names import CELL_QUANTITIES, DIRECTIONS, recurrent_name, recurrent_parts
from explain.trace import Trace

__all__ = [
    "check_indices",
    "decoded_steps",
    "decoder_of",
    "encoder_of",
    "layered_view",
    "chosen_direction",
    "describe_indices",
    "directions_of",
    "find_recurrent",
    "grad_norms",
    "hidden_states",
    "KIND_MARKERS",
    "kind_of",
    "layers_of",
    "MissingValues",
    "parse_indices",
    "recurrent_quantities",
    "step_equation",
    "STEP_EQUATIONS",
    "step_labels",
    "step_noun",
    "steps_of",
    "subscript",
    "valid_steps",
]

#: quantities that identify each recurrent kind (an RNN has only x and h)
KIND_MARKERS = {"lstm": "c", "gru": "z"}
_SUBSCRIPTS = str.maketrans("0123456789-", "₀₁₂₃₄₅₆₇₈₉₋")


class MissingValues(ValueError):
    """The trace lacks names a figure needs; the message says which and how to record them."""


def subscript(number: int) -> str:
    """ "₁₂" for 12: time indices in labels such as hₜ, x₃.

    >>> subscript(12)
    '₁₂'
    """
    return str(number).translate(_SUBSCRIPTS)


def layered_view(trace: Trace) -> Trace:
    """``trace`` with every cell's steps also named as layer 0 of a one-layer module, for the figures.

    A cell (nn.LSTMCell/GRUCell/RNNCell, a hand-written cell, a cell named through explain.Probe)
    is recorded under the cell grammar ``q.{quantity}`` with ``meta["modules"][q]["quantities"]``;
    the view adds ``q.l0.fwd.{quantity}`` for each (the same tensors, nothing copied), so every
    recurrent figure draws a cell as the one-layer module it is. Other traces come back as they are.

    >>> cell = torch.nn.GRUCell(2, 3)
    >>> from explain import record
    >>> with record(cell) as tr:
    ...     h = cell(torch.randn(1, 2)); h = cell(torch.randn(1, 2), h)
    >>> view = layered_view(tr)
    >>> view["l0.fwd.z"].shape, view["l0.fwd.z"] is tr["z"]
    (torch.Size([2, 1, 3]), True)
    """
    added: dict[str, torch.Tensor] = {}
    for module, config in trace.meta.get("modules", {}).items():
        if "num_layers" in config:
            continue
        for quantity in config.get("quantities") or []:
            cell_name = f"{module}.{quantity}" if module else quantity
            layered = recurrent_name(module, 0, quantity)
            if cell_name in trace and layered not in trace and trace[cell_name].dim() == 3:
                added[layered] = trace[cell_name]
    if not added:
        return trace
    view = Trace({**{name: trace[name] for name in trace.names()}, **added}, meta=trace.meta, output=trace.output)
    return view


def recurrent_quantities(trace: Trace) -> dict[str, set[str]]:
    """Each recurrent module in the trace (in name order) → the quantities recorded for it.

    >>> sorted(recurrent_quantities(Trace({"a.l0.fwd.h": torch.zeros(1), "a.l0.fwd.c": torch.zeros(1)}))["a"])
    ['c', 'h']
    """
    found: dict[str, set[str]] = {}
    for name in trace.names():
        parts = recurrent_parts(name)
        if parts is not None:
            found.setdefault(parts["module"], set()).add(parts["quantity"])
    return found


def kind_of(trace: Trace, module: str) -> str:
    """"lstm", "gru" or "rnn", from the quantities recorded for ``module``."""
    quantities = recurrent_quantities(trace).get(module, set())
    return next((kind for kind, marker in KIND_MARKERS.items() if marker in quantities), "rnn")


def find_recurrent(trace: Trace, quantity: str = "h", kind: str | None = None, *, what: str = "this scene") -> str:
    """The first recurrent module that recorded ``quantity`` (and is of ``kind``, if given)."""
    for module, quantities in recurrent_quantities(trace).items():
        if quantity in quantities and (kind is None or kind_of(trace, module) == kind):
            return module
    wanted = f"an nn.{kind.upper()} " if kind else "a recurrent module "
    if kind in ("lstm", "gru") and not quantity.startswith("grad"):  # a hand-written cell can name its gates
        wanted += f"(or a hand-written cell that passes {', '.join(CELL_QUANTITIES[kind])} through explain.Probe: see the README) "
    how = " (record with grads=True)" if quantity.startswith("grad") else ""
    others = [(module, kind_of(trace, module)) for module, quantities in recurrent_quantities(trace).items() if "h" in quantities]
    if kind is not None and others and all(other != kind for _, other in others):  # another kind of module: which figure draws it
        found = ", ".join(f"{module or 'the model'} is {_KIND_ARTICLES[other]} (drawn by {_KIND_SCENES[other]})" for module, other in others)
        raise MissingValues(f"{what} needs {wanted}with names like '{kind}.l0.fwd.{quantity}'; in this trace {found}")
    raise MissingValues(
        f"{what} needs {wanted}with names like '{kind or 'rnn'}.l0.fwd.{quantity}'{how}; "
        f"this trace has {_some_names(trace)}"
    )


#: each kind of recurrent module as a sentence names it, and the scene that draws its step
_KIND_ARTICLES = {"lstm": "an LSTM", "gru": "a GRU", "rnn": "an RNN"}
_KIND_SCENES = {"lstm": "lstm-cell", "gru": "gru-cell", "rnn": "rnn-unroll"}


def layers_of(trace: Trace, module: str, quantity: str = "h") -> list[int]:
    """The layers of ``module`` that recorded ``quantity`` (forward direction), in order."""
    return sorted(
        parts["layer"]
        for name in trace.names()
        if (parts := recurrent_parts(name)) is not None
        and parts["module"] == module
        and parts["quantity"] == quantity
        and parts["direction"] == "fwd"
    )


def valid_steps(trace: Trace, module: str) -> torch.Tensor | None:
    """[T, B] bool: which steps of ``module`` are real, recorded for packed input (the steps after a
    shorter sequence's end are padding); None when every step is real.

    >>> valid_steps(Trace({"rnn.valid": torch.tensor([[True], [False]])}), "rnn").tolist(), valid_steps(Trace({}), "")
    ([[True], [False]], None)
    """
    return trace.get(f"{module}.valid" if module else "valid")


def steps_of(trace: Trace, module: str, layer: int = 0, quantity: str = "h", direction: str = "fwd", batch: int | None = None) -> int:
    """How many time steps ``module``'s layer recorded; with ``batch``, how many of them are that
    batch item's own (a packed sequence's length: the steps after it are padding).

    >>> trace = Trace({"rnn.l0.fwd.h": torch.zeros(4, 2, 3), "rnn.valid": torch.tensor([[1, 1], [1, 1], [1, 0], [1, 0]]).bool()})
    >>> steps_of(trace, "rnn"), steps_of(trace, "rnn", batch=1)
    (4, 2)
    """
    total = int(_tensor(trace, module, layer, quantity, direction).shape[0])
    valid = valid_steps(trace, module)
    if batch is None or valid is None:
        return total
    check_indices(int(valid.shape[1]), [batch], "batch item")
    return int(valid[:, batch].sum())


def directions_of(trace: Trace, module: str, layer: int) -> list[str]:
    """The directions ``module``'s layer recorded h for: ["fwd"], or ["fwd", "bwd"] when bidirectional.

    >>> directions_of(Trace({"l0.fwd.h": torch.zeros(1), "l0.bwd.h": torch.zeros(1)}), "", 0)
    ['fwd', 'bwd']
    """
    return [d for d in DIRECTIONS if recurrent_name(module, layer, "h", d) in trace]


def chosen_direction(trace: Trace, module: str, layer: int, option: Any) -> str:
    """The ``direction`` option checked against what the layer recorded ("fwd" by default)."""
    direction = "fwd" if option in (None, "") else str(option)
    recorded = directions_of(trace, module, layer)
    if direction not in recorded:
        raise MissingValues(f"direction {direction!r} is not in the trace; layer {layer} of {module or 'the module'} has {', '.join(recorded)}")
    return direction


#: a recurrent kind's equations, in PyTorch's form (Pango markup), one step of one layer
STEP_EQUATIONS = {
    "rnn": "h<sub>t</sub> = tanh(W<sub>ih</sub> x<sub>t</sub> + b<sub>ih</sub> + W<sub>hh</sub> h<sub>t−1</sub> + b<sub>hh</sub>)",
    "rnn-relu": "h<sub>t</sub> = relu(W<sub>ih</sub> x<sub>t</sub> + b<sub>ih</sub> + W<sub>hh</sub> h<sub>t−1</sub> + b<sub>hh</sub>)",
    "lstm": "c<sub>t</sub> = f<sub>t</sub> ⊙ c<sub>t−1</sub> + i<sub>t</sub> ⊙ g<sub>t</sub>     "
    "h<sub>t</sub> = o<sub>t</sub> ⊙ tanh(c<sub>t</sub>)     (gates i, f, g, o from x<sub>t</sub> and h<sub>t−1</sub>)",
    "gru": "h<sub>t</sub> = (1 − z<sub>t</sub>) ⊙ n<sub>t</sub> + z<sub>t</sub> ⊙ h<sub>t−1</sub>     (gates r, z, n from x<sub>t</sub> and h<sub>t−1</sub>)",
}


def step_equation(trace: Trace, module: str, direction: str = "fwd") -> str:
    """The equation of one step of ``module``, by its recorded kind (Pango markup); the backward
    direction of a bidirectional layer reads the sequence from its end, so its state comes from t+1.

    >>> step_equation(Trace({"l0.fwd.z": torch.zeros(1), "l0.fwd.h": torch.zeros(1)}), "").startswith("h<sub>t</sub> = (1 − z")
    True
    >>> "z<sub>t</sub> ⊙ h<sub>t+1</sub>" in step_equation(Trace({"l0.bwd.z": torch.zeros(1), "l0.bwd.h": torch.zeros(1)}), "", "bwd")
    True
    """
    kind = kind_of(trace, module)
    config = trace.meta.get("modules", {}).get(module, {})
    equation = STEP_EQUATIONS["rnn-relu" if kind == "rnn" and config.get("nonlinearity") == "relu" else kind]
    return equation.replace("t−1", "t+1") if direction == "bwd" else equation


def decoder_of(trace: Trace, module: str) -> str | None:
    """The first Linear layer (by kind, whatever its class) that runs after recurrent ``module``,
    the layer that turns its h into outputs; None if no Linear runs after it.

    >>> import torch, explain
    >>> class Net(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.project, self.rnn, self.head = torch.nn.Linear(3, 4), torch.nn.RNN(4, 5), torch.nn.Linear(5, 2)
    ...     def forward(self, x):
    ...         return self.head(self.rnn(self.project(x))[0])
    >>> decoder_of(explain.record(Net(), torch.zeros(6, 1, 3)), "rnn")
    'head'
    """
    names = trace.names()
    top = layers_of(trace, module)[-1]
    outputs = [names.index(recurrent_name(module, top, "h", direction)) for direction in directions_of(trace, module, top)]
    return next((name for name in names[max(outputs) + 1 :] if kind(trace, name) == "linear"), None)


def decoded_steps(trace: Trace, module: str, decoder: str, batch: int = 0, direction: str = "fwd") -> list[int] | None:
    """The steps whose top-layer hₜ (of ``direction``) ``decoder`` reads: None when it reads every
    step (one output row per step and batch item, or per real step of a packed batch), else the
    steps whose hₜ of item ``batch`` is a row of the decoder's recorded input, value for value (a
    classifier's ``out[:, -1]`` or ``h_n[-1]``: the last step; a bidirectional one's
    ``cat(h_n[-2], h_n[-1])``: the last forward step and the first backward one). Empty when no
    step is seen: the decoder reads something computed from them (e.g. a mean), or its input is
    not in the trace (a name filter).

    >>> import torch, explain
    >>> class Classifier(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.gru, self.fc = torch.nn.GRU(3, 4, num_layers=2, batch_first=True), torch.nn.Linear(4, 2)
    ...     def forward(self, x):
    ...         return self.fc(self.gru(x)[0][:, -1])
    >>> trace = explain.record(Classifier(), torch.randn(2, 5, 3))
    >>> decoded_steps(trace, "gru", "fc"), decoded_steps(trace, "gru", "fc", batch=1)
    ([4], [4])
    """
    h = trace[recurrent_name(module, layers_of(trace, module)[-1], "h", direction)]  # [T, B, H]
    steps, batches, size = h.shape[0], h.shape[1], h.shape[-1]
    valid = valid_steps(trace, module)
    every = steps * batches if valid is None else int(valid.sum())  # rows a per-step decoder gives
    calls = [decoder]  # its later calls in the same pass (a loop inside forward) are decoder#1, decoder#2, …
    while f"{decoder}#{len(calls)}" in trace:
        calls.append(f"{decoder}#{len(calls)}")
    if sum(trace[call].numel() // max(1, trace[call].shape[-1]) for call in calls) >= every:
        return None
    described = trace.meta.get("modules", {})
    read = [trace[name] for call in calls for name in (described.get(call, {}).get("inputs") or [])[:1] if isinstance(name, str) and name in trace]
    offset = 0 if direction == "fwd" else size  # the backward half follows the forward one
    rows = [value.reshape(-1, value.shape[-1])[:, offset : offset + size] for value in read if value.numel() and value.shape[-1] >= offset + size]
    return [t for t in range(steps) if any(bool((row == h[t, batch]).all(dim=1).any()) for row in rows)]


def encoder_of(trace: Trace, module: str) -> str | None:
    """The nn.Embedding whose recorded output is what recurrent ``module``'s first layer read as
    x_t (the tokens' vectors, time first or batch first, whole or one step per call), None if x
    did not come from an embedding (or was not recorded).

    >>> import torch, explain
    >>> class Net(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.embed, self.rnn = torch.nn.Embedding(10, 4), torch.nn.RNN(4, 5)
    ...     def forward(self, tokens):
    ...         return self.rnn(self.embed(tokens))[0]
    >>> encoder_of(explain.record(Net(), torch.tensor([[1], [2]])), "rnn")
    'embed'
    """
    x_name = recurrent_name(module, layers_of(trace, module)[0], "x", "fwd")
    if x_name not in trace:
        return None
    x = trace[x_name]  # [T, B, features]
    readings = (x.flatten(), x.transpose(0, 1).flatten())  # as a time-first or a batch-first embedding holds them
    for name, described in trace.meta.get("modules", {}).items():
        if described.get("type") == "Embedding" and name in trace and trace[name].numel() == x.numel():
            if any(torch.equal(trace[name].flatten(), reading) for reading in readings):
                return name
    return None


def step_noun(trace: Trace) -> tuple[str, str]:
    """What one time step reads, in English and Korean: characters, tokens (words …) or plain steps.

    >>> step_noun(Trace({}, meta={"tokens": ["<s>", "h", "i"]})), step_noun(Trace({}, meta={"tokens": ["the", "dog"]}))
    (('character', '글자'), ('token', '토큰'))
    >>> step_noun(Trace({}))
    ('time step', '시간 단계')
    """
    tokens = [str(token) for token in trace.meta.get("tokens") or []]
    if not tokens:
        return "time step", "시간 단계"
    ordinary = [token for token in tokens if not (token.startswith("<") and token.endswith(">") and len(token) > 2)]
    if all(len(token) == 1 for token in ordinary):
        return "character", "글자"
    return "token", "토큰"


def hidden_states(
    trace: Trace,
    module: str,
    layer: int,
    *,
    steps: Sequence[int],
    units: Sequence[int],
    quantity: str = "h",
    batch: int = 0,
    direction: str = "fwd",
) -> list[list[float]]:
    """``quantity`` of ``module``'s layer at each of ``steps``, for ``units`` of batch item ``batch``."""
    tensor = _tensor(trace, module, layer, quantity, direction)
    check_indices(tensor.shape[0], steps, "time step", module or "the module")
    check_indices(tensor.shape[1], [batch], "batch item", module or "the module")
    check_indices(tensor.shape[-1], units, "unit", module or "the module")
    rows = tensor.detach().float()[list(steps), batch][:, list(units)]
    return rows.tolist()


def grad_norms(trace: Trace, module: str, layer: int, *, batch: int = 0, direction: str = "fwd") -> list[float]:
    """||dL/dh_t|| of ``module``'s layer for every t (needs a trace recorded with grads=True)."""
    tensor = _tensor(trace, module, layer, "grad_h", direction)
    check_indices(tensor.shape[1], [batch], "batch item", module or "the module")
    return torch.linalg.vector_norm(tensor.detach().float()[:, batch], dim=-1).tolist()


def step_labels(trace: Trace, count: int, *, offset: int = 0) -> list[str]:
    """Labels of time steps ``offset … offset+count-1``: ``meta["tokens"]`` if recorded, else "t=…"."""
    tokens = trace.meta.get("tokens") or []
    return [str(tokens[t]) if t < len(tokens) else f"t={t}" for t in range(offset, offset + count)]


def parse_indices(value: str | int | Iterable[int] | None, default: list[int], *, what: str) -> list[int]:
    """Indices from an option: None → ``default``; 5 → [5]; "0-3,7" → [0, 1, 2, 3, 7]; a list as is.

    >>> parse_indices("0-3,7", [], what="units"), parse_indices(None, [1], what="units")
    ([0, 1, 2, 3, 7], [1])
    """
    if value is None:
        return list(default)
    if isinstance(value, int):
        return [value]
    if not isinstance(value, str):
        return [int(v) for v in value]
    try:
        return parse_index_list(value)
    except ValueError as error:
        raise MissingValues(f"{what}: {error}") from None


def describe_indices(indices: Sequence[int], total: int, lang: str = "en") -> str:
    """ "0–9 of 100" for a run, "0, 4, 9 of 100" otherwise, "all 35" when every index is shown.

    >>> describe_indices(range(10), 100), describe_indices([0, 4], 9), describe_indices(range(3), 3)
    ('0–9 of 100', '0, 4 of 9', 'all 3')
    >>> describe_indices(range(10), 100, "ko"), describe_indices(range(3), 3, "ko")
    ('100개 중 0–9번', '3개 전체')
    """
    indices = list(indices)
    if indices == list(range(total)):
        return f"{total}개 전체" if lang == "ko" else f"all {total}"
    if len(indices) > 2 and indices == list(range(indices[0], indices[-1] + 1)):
        shown = f"{indices[0]}–{indices[-1]}"
    else:
        shown = ", ".join(map(str, indices))
    return f"{total}개 중 {shown}번" if lang == "ko" else f"{shown} of {total}"


def _tensor(trace: Trace, module: str, layer: int, quantity: str, direction: str = "fwd") -> torch.Tensor:
    name = recurrent_name(module, layer, quantity, direction)
    if name not in trace:
        how = " (record with grads=True)" if quantity.startswith("grad") else ""
        raise MissingValues(f"the trace has no {name!r}{how}; it has {_some_names(trace)}")
    return trace[name]


def check_indices(size: int, indices: Sequence[int], what: str, owner: str = "") -> None:
    """Raise :class:`MissingValues` naming the first of ``indices`` outside 0 … size−1 (``owner``: whose)."""
    try:
        check_in_range(what, indices, size, owner)
    except ValueError as error:
        raise MissingValues(str(error)) from None


def _some_names(trace: Trace) -> str:
    names = trace.names()
    if not names:
        return "no names"
    return ", ".join(names[:4]) + (f", … ({len(names)} names)" if len(names) > 4 else "")
