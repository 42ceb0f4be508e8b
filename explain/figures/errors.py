"""The one error a figure reader raises: a trace or option that cannot give the figure's numbers.

    >>> raise FigureError("the trace has no convolution with its kernel (record a CNN)")
    Traceback (most recent call last):
    ...
    explain.figures.errors.FigureError: the trace has no convolution with its kernel (record a CNN)

Its message is one line that names what was found and what would work.
"""

from __future__ import annotations

import torch

from explain.errors import ExplainError

__all__ = ["FigureError", "names_or_none", "not_2d", "refuse_nan"]


class FigureError(ExplainError):
    """A trace or option a figure cannot use; the message says what was found and what is possible."""


def names_or_none(names, most: int = 8) -> str:
    """ "a, b, c" (at most ``most``, then "… (N in all)"), or "none" for an empty list.

    >>> names_or_none([]), names_or_none(["conv1", "layer1.0.conv1"]), names_or_none("abc", most=2)
    ('none', 'conv1, layer1.0.conv1', 'a, b … (3 in all)')
    """
    names = [str(name) for name in names]
    if not names:
        return "none"
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} … ({len(names)} in all)"


def refuse_nan(trace) -> None:
    """Raise a :class:`FigureError` if a tensor of ``trace`` holds NaN, naming the first one in
    recording order, where, and how many more do: NaN has no value to draw or colour, and a
    figure's checks (a window's maximum against the recorded one) cannot hold. A recording keeps
    NaN as the model computed it; the CNN scenes refuse it (the recurrent ones draw recorded gates
    and states, which a recording verifies finite).

    >>> from explain.trace import Trace
    >>> trace = Trace({"@input.0": torch.tensor([1.0, float("nan")]), "conv": torch.ones(2), "relu": torch.tensor([float("nan")])})
    >>> refuse_nan(trace)
    Traceback (most recent call last):
    ...
    explain.figures.errors.FigureError: the trace holds NaN, first in @input.0 at [1] (and in 1 more: relu); a figure cannot draw NaN: record the model on an input without NaN
    """
    holding = [name for name, tensor in trace.items() if tensor.is_floating_point() and bool(torch.isnan(tensor).any())]
    if not holding:
        return
    first = trace[holding[0]]
    index = [int(i) for i in torch.unravel_index(torch.isnan(first).flatten().nonzero()[0, 0], first.shape)]
    more = f" (and in {len(holding) - 1} more: {names_or_none(holding[1:], most=4)})" if len(holding) > 1 else ""
    raise FigureError(
        f"the trace holds NaN, first in {holding[0]} at {index}{more}; a figure cannot draw NaN: record the model on an input without NaN"
    )


def not_2d(trace) -> str:
    """What a figure of 2-D convolutions adds to its refusal when the trace's convolutions are of
    other dimensions (an ``nn.Conv1d`` over a signal, an ``nn.Conv3d`` over a video) or were called
    on one unbatched image, else "".

    >>> from explain.trace import Trace
    >>> trace = Trace({"c1": torch.zeros(1, 4, 30)}, meta={"modules": {"c1": {"kind": "conv", "type": "Conv1d"}}})
    >>> not_2d(trace)
    '; only 2-D convolutions (nn.Conv2d over [B, C, H, W]) are drawn, and this trace has c1 (Conv1d, output of 3 dimensions)'
    """
    modules = trace.meta.get("modules", {})
    convs = {name: described for name, described in modules.items() if described.get("kind") in ("conv", "conv2d") and name in trace}
    if any(trace[name].dim() == 4 for name in convs):
        return ""
    unbatched = [name for name, described in convs.items() if described["kind"] == "conv2d" and trace[name].dim() == 3]  # (kind: by isinstance)
    if unbatched:
        return f"; {unbatched[0]} was called without a batch dimension (C×H×W): record the model on image.unsqueeze(0)"
    others = [f"{name} ({described.get('type')}, output of {trace[name].dim()} dimensions)" for name, described in convs.items()]
    if not others:
        return ""
    return f"; only 2-D convolutions (nn.Conv2d over [B, C, H, W]) are drawn, and this trace has {names_or_none(others, most=3)}"
