"""The numbers of the vanishing-gradient figure: ‖∂L/∂hₜ‖ of an RNN beside an LSTM, and the factors
a gradient is multiplied by on its way back through the RNN's recorded steps.

    >>> import torch
    >>> from explain import Trace
    >>> tr = Trace({"rnn.l0.fwd.h": torch.full((3, 1, 2), 0.5), "rnn@weight_hh_l0": 2 * torch.eye(2)})
    >>> jacobian_norms(tr, "rnn", 0)                  # ‖∂h₂/∂hₜ‖ for t = 0, 1, 2: (2 · 0.75)² , 2 · 0.75, 1
    [2.25, 1.5, 1.0]
    >>> slope_products([0.75, 0.75, 0.75])            # the same walk with mean(1 − h²) alone
    [0.5625, 0.75, 1.0]

One step back from hₜ to hₜ₋₁ multiplies the gradient by W_hhᵀ · diag(1 − hₜ²) (tanh′ at the real
state, PyTorch's ``h_t = tanh(x_t W_ihᵀ + h_{t−1} W_hhᵀ + b)``). :func:`jacobian_norms` multiplies the
real matrices, read from the trace: W_hh is stored as ``{module}@weight_hh_l{layer}`` (the recipe
the ``gradients`` recipe, ``explain.models.recipes``, puts it there). For the top layer of a model whose loss is
at the last step only, the recorded ∂L/∂hₜ is exactly the last step's gradient carried back by these
matrices, so ‖∂L/∂hₜ‖ ÷ ‖∂L/∂h_last‖ is at most the Jacobian norm.
"""

from __future__ import annotations

from typing import Any

import torch

from explain.figures.recurrent import (
    MissingValues,
    find_recurrent,
    grad_norms,
    layers_of,
    recurrent_name,
    step_labels,
)
from explain.trace import Trace

__all__ = [
    "MAX_BARS",
    "STRETCH_STEPS",
    "gradient_values",
    "jacobian_norms",
    "relative",
    "slope_products",
    "slopes",
    "weight_hh_name",
]

#: the chart shows at most this many steps (the last ones, where the loss is)
MAX_BARS = 60
#: the unrolled chain stretched to this many steps (t = 0 … 15 in the book's walkthrough)
STRETCH_STEPS = 16


def weight_hh_name(module: str, layer: int) -> str:
    """The trace name of a recurrent layer's W_hh (``module.weight_hh_l{layer}``, recorded as a part).

    >>> weight_hh_name("rnn.rnn", 1), weight_hh_name("", 0)
    ('rnn.rnn@weight_hh_l1', '@weight_hh_l0')
    """
    return f"{module}@weight_hh_l{layer}"


def slopes(trace: Trace, module: str, layer: int, *, batch: int = 0) -> torch.Tensor:
    """The derivative of the RNN's nonlinearity at each recorded state, [T, H]: 1 − hₜ² (tanh) or hₜ > 0 (relu).

    >>> slopes(Trace({"r.l0.fwd.h": torch.tensor([[[0.5, -1.0]]])}), "r", 0).tolist()
    [[0.75, 0.0]]
    """
    h = trace[recurrent_name(module, layer, "h")].detach().double()[:, batch]
    nonlinearity = trace.meta.get("modules", {}).get(module, {}).get("nonlinearity", "tanh")
    if nonlinearity == "relu":
        return (h > 0).double()
    if nonlinearity != "tanh":
        raise MissingValues(f"{module or 'the RNN'} uses nonlinearity {nonlinearity!r}; this figure knows 'tanh' and 'relu'")
    return 1.0 - h * h


def jacobian_norms(trace: Trace, module: str, layer: int, *, batch: int = 0) -> list[float]:
    """‖∂h_last/∂hₜ‖₂ for every step t: the spectral norm of ∏ diag(1 − h_k²) W_hh over k = t+1 … last.

    The gradient arriving at hₜ from the last step is this matrix's transpose times ∂L/∂h_last, so
    its norm bounds how much of the gradient can reach t. Needs ``weight_hh_name(module, layer)``.
    """
    name = weight_hh_name(module, layer)
    if name not in trace:
        raise MissingValues(f"the trace has no {name!r} (W_hh); record it with: explain record --recipe gradients MODEL -o FILE")
    weight = trace[name].detach().double()
    slope = slopes(trace, module, layer, batch=batch)
    if weight.shape != (slope.shape[1], slope.shape[1]):
        raise MissingValues(f"{name} has shape {tuple(weight.shape)}; the layer has {slope.shape[1]} units")
    product = torch.eye(slope.shape[1], dtype=torch.float64)
    norms = [1.0]
    for k in range(slope.shape[0] - 1, 0, -1):  # one step back: from h_k to h_{k−1}
        product = product @ (slope[k, :, None] * weight)
        norms.append(float(torch.linalg.matrix_norm(product, ord=2)))
    return norms[::-1]


def slope_products(mean_slopes: list[float]) -> list[float]:
    """For every step t, the product of the mean slopes of the steps after it (1 at the last step).

    The simplification of "multiply the slopes": it leaves out W_hh and treats every unit alike.
    """
    products = [1.0]
    for value in reversed(mean_slopes[1:]):
        products.append(products[-1] * value)
    return products[::-1]


def relative(norms: list[float]) -> list[float]:
    """Each norm divided by the last step's (by the largest if the last is 0): how much is left t steps back.

    >>> relative([0.01, 0.1, 1.0, 2.0])
    [0.005, 0.05, 0.5, 1.0]
    """
    reference = norms[-1] or max(norms) or 1.0
    return [value / reference for value in norms]


def gradient_values(trace: Trace, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every number of the figure, for one nn.RNN and one nn.LSTM recorded with gradients on the same text.

    ``norms[kind][t]`` is ‖∂L/∂hₜ‖ and ``relative[kind][t]`` the same ÷ the last step's (the two losses
    differ in size; the figure compares how fast each decays). For the RNN: ``slopes[t]`` is mean over
    units of 1 − hₜ², ``slope_products[t]`` multiplies the slopes of the steps after t, and
    ``jacobians[t]`` is :func:`jacobian_norms` (None when the trace has no W_hh). ``window`` lists the
    steps the chart shows (the last :data:`MAX_BARS`), ``stretch`` those of the unrolled chain (the
    last :data:`STRETCH_STEPS`). Options: ``layer`` (default the top layer of each), ``batch`` (0).
    """
    options = options or {}
    try:
        rnn = find_recurrent(trace, "grad_h", kind="rnn")
        lstm = find_recurrent(trace, "grad_h", kind="lstm")
    except MissingValues as error:
        raise MissingValues(
            f"{error}. The figure compares an RNN with an LSTM on the same text (explain record --recipe rnn-vs-lstm "
            "char-rnn, or your own: one module holding an nn.RNN and an nn.LSTM that read the same sequence and whose "
            "output adds both heads, recorded with explain.record(both, x, grads=True)); one model's gradients through time are drawn by "
            "rnn-layers (--recipe gradients)"
        ) from None
    layers = {module: _layer(trace, module, options) for module in (rnn, lstm)}
    batch = int(options.get("batch") or 0)
    norms = {kind: grad_norms(trace, module, layers[module], batch=batch) for kind, module in (("rnn", rnn), ("lstm", lstm))}
    if len(norms["rnn"]) != len(norms["lstm"]):
        raise MissingValues(
            f"the RNN and the LSTM read sequences of different lengths ({len(norms['rnn'])} vs {len(norms['lstm'])})"
        )
    steps = len(norms["rnn"])
    mean_slopes = slopes(trace, rnn, layers[rnn], batch=batch).mean(dim=1).tolist()
    has_weight = weight_hh_name(rnn, layers[rnn]) in trace
    return {
        "modules": {"rnn": rnn, "lstm": lstm},
        "layers": {"rnn": layers[rnn], "lstm": layers[lstm]},
        "norms": norms,
        "relative": {kind: relative(values) for kind, values in norms.items()},
        "slopes": mean_slopes,
        "slope_products": slope_products(mean_slopes),
        "jacobians": jacobian_norms(trace, rnn, layers[rnn], batch=batch) if has_weight else None,
        "tokens": step_labels(trace, steps),
        "window": list(range(max(0, steps - MAX_BARS), steps)),
        "stretch": list(range(max(0, steps - STRETCH_STEPS), steps)),
    }


def _layer(trace: Trace, module: str, options: dict[str, Any]) -> int:
    layers = layers_of(trace, module, "grad_h")
    layer = int(options.get("layer", layers[-1]))
    if layer not in layers:
        raise MissingValues(f"layer {layer} has no gradients; {module or 'the module'} has grad_h for layers {layers}")
    return layer
