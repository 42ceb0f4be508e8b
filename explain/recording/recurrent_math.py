"""The recurrent equations over whole sequences: gates of every step from a few large products.

    >>> import torch
    >>> lstm = torch.nn.LSTM(3, 4)
    >>> x = torch.randn(5, 2, 3)
    >>> out, (h_n, c_n) = lstm(x)
    >>> w = layer_weights(lstm, layer=0, direction=0)
    >>> h0 = torch.zeros(2, 4)
    >>> q = recompute("LSTM", x, out.detach(), h0, h0, w, reverse=False)
    >>> sorted(q), bool((q["h"] - out).abs().max() < 1e-5)
    (['c', 'f', 'g', 'h', 'i', 'o'], True)

Given a layer's input ``x`` [T, B, in] and the hidden state sequence ``h`` [T, B, H] that the
module itself produced (its output, or a fused single-layer run of PyTorch's own kernel for
lower layers), every step's pre-activation is ``x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh``: two
large matrix products over all steps at once (see :func:`affine`). Only
LSTM's cell state needs a loop over time (one in-place multiply-add per step). The recomputed ``h`` (``"h"`` in the result) is compared with
the module's own ``h`` by the caller; it is not stored.

Equations are PyTorch's (shared/BOOK.md §1): LSTM gates i, f, g, o; GRU r, z, n with
``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`` and ``h = (1 - z) ⊙ n + z ⊙ h_{t-1}``;
RNN ``h = tanh|relu(W_ih x + b_ih + W_hh h_{t-1} + b_hh)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from explain import names

__all__ = [
    "affine",
    "cell_states",
    "compute_dtype",
    "gate_product",
    "layer_weights",
    "LayerWeights",
    "previous_states",
    "QUANTITIES",
    "recompute",
    "run_layer",
    "tanh",
    "tanh_from_sigmoid_",
    "TOLERANCE",
    "tolerance",
]

#: The quantities recorded per layer and direction (cells: per call), in recording order.
QUANTITIES = {"LSTM": names.QUANTITIES["lstm"], "GRU": names.QUANTITIES["gru"], "RNN_TANH": names.QUANTITIES["rnn"], "RNN_RELU": names.QUANTITIES["rnn"]}

#: Largest accepted deviation between the recomputation and the module, relative to
#: max(1, largest magnitude of the compared values). Half precision is recomputed in float32 and
#: compared with the module's rounded values, hence the looser bounds.
TOLERANCE = {
    torch.float64: 1e-10,
    torch.float32: 2e-5,
    torch.float16: 1e-2,
    torch.bfloat16: 5e-2,
}


def tolerance(dtype: torch.dtype) -> float:
    """The relative tolerance for a module's dtype (see :data:`TOLERANCE`).

    >>> tolerance(torch.float32)
    2e-05
    """
    try:
        return TOLERANCE[dtype]
    except KeyError:
        raise TypeError(f"recurrent modules are recorded in {sorted(map(str, TOLERANCE))}, not {dtype}") from None


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the recomputation runs in: float16/bfloat16 are recomputed in float32."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


@dataclass(frozen=True)
class LayerWeights:
    """One layer and direction's parameters, detached; biases are None when ``bias=False``.

    ``w_hr`` is the LSTM projection (``proj_size > 0``), else None.
    """

    w_ih: Tensor
    w_hh: Tensor
    b_ih: Tensor | None
    b_hh: Tensor | None
    w_hr: Tensor | None = None

    def to(self, dtype: torch.dtype) -> LayerWeights:
        convert = lambda t: None if t is None else t.to(dtype)  # noqa: E731
        return LayerWeights(*(convert(t) for t in (self.w_ih, self.w_hh, self.b_ih, self.b_hh, self.w_hr)))


def layer_weights(
    module: torch.nn.Module,
    layer: int | None = None,
    direction: int = 0,
    detach: bool = True,
    parameters: Mapping[str, Tensor] | None = None,
) -> LayerWeights:
    """The parameters of ``layer``/``direction`` of an nn.LSTM/GRU/RNN, or of a cell (layer None);
    read from ``parameters`` (tensors by parameter name, e.g. a copy) when given.

    >>> layer_weights(torch.nn.GRU(3, 4), 0).w_ih.shape
    torch.Size([12, 3])
    """
    suffix = "" if layer is None else f"_l{layer}{'_reverse' if direction else ''}"
    if parameters is None:
        parameters = module._parameters  # a plain dict: much faster than attribute lookup on a Module

    def get(name: str) -> Tensor | None:
        name += suffix
        tensor = parameters[name] if name in parameters else getattr(module, name, None)  # parametrized
        return tensor.detach() if tensor is not None and detach else tensor

    return LayerWeights(get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), get("weight_hr"))


def previous_states(h: Tensor, h0: Tensor, reverse: bool, lengths: Tensor | None, out: Tensor) -> Tensor:
    """h_{t-1} for every step t, written into ``out`` [T, B, H]: ``h`` shifted by one step in the
    direction of travel.

    The reverse direction reads from the end, so its "previous" state is h_{t+1}; with per-sequence
    ``lengths`` (packed input) each sequence's reverse pass starts from ``h0`` at its own last step.

    >>> previous_states(torch.tensor([[[1.]], [[2.]]]), torch.tensor([[0.]]), False, None, torch.empty(2, 1, 1)).flatten()
    tensor([0., 1.])
    """
    steps = h.shape[0]
    (first, rest), shifted = ((out[-1], out[:-1]), h[1:]) if reverse else ((out[0], out[1:]), h[:-1])
    first.copy_(h0)
    rest.copy_(shifted)
    if reverse and lengths is not None:
        short = torch.nonzero(lengths < steps).flatten()
        if short.numel():
            out[lengths[short] - 1, short] = h0[short]
    return out


def recompute(
    mode: str,
    x: Tensor,
    h: Tensor,
    h0: Tensor,
    c0: Tensor | None,
    weights: LayerWeights,
    reverse: bool,
    pad: Tensor | None = None,
    lengths: Tensor | None = None,
) -> dict[str, Tensor]:
    """Every quantity of one layer and direction, plus the recomputed ``"h"`` for verification.

    ``x`` [T, B, in], ``h`` [T, B, H_out] (the module's hidden states), ``h0``/``c0`` [B, ·];
    ``mode`` is "LSTM", "GRU", "RNN_TANH" or "RNN_RELU". With packed input, ``pad`` [T, B] marks
    padded steps and ``lengths`` [B] gives each sequence's length; padded steps of the result are
    not meaningful (the caller zeroes them). Gates are views into one [T, B, gates·H] buffer (the
    product's own layout), so they need not be contiguous.
    """
    if mode == "GRU":  # r multiplies the hidden part of n alone: two products
        rows, features = _rows(x, h, h0, reverse, lengths)
        h_prev = rows[..., features:]
        from_input = affine(rows[..., :features], weights.w_ih, weights.b_ih)
        return _gru(from_input, affine(h_prev, weights.w_hh, weights.b_hh), h_prev)
    pre = gate_product(x, h, h0, weights, reverse, lengths)
    if mode == "LSTM":
        return _lstm(pre, c0, weights, reverse, pad)
    pre = tanh(pre) if mode == "RNN_TANH" else pre.relu_()
    return {"h": pre}


def gate_product(
    x: Tensor, h: Tensor, h0: Tensor, weights: LayerWeights, reverse: bool, lengths: Tensor | None = None
) -> Tensor:
    """``[x_t | h_{t-1}] · [W_ih | W_hh]ᵀ + b_ih + b_hh`` for every step at once: [T, B, gates·H].

    This one product is the least any exact recomputation of LSTM or RNN gates costs beyond the
    forward itself (the benchmarks call it the floor): every gate of every step depends on it.

    >>> w = LayerWeights(torch.ones(4, 2), torch.ones(4, 1), None, None)
    >>> gate_product(torch.ones(3, 1, 2), torch.ones(3, 1, 1), torch.zeros(1, 1), w, False)[:, 0, 0]
    tensor([2., 3., 3.])
    """
    bias = _sum(weights.b_ih, weights.b_hh)
    rows, _ = _rows(x, h, h0, reverse, lengths, ones=bias is not None)
    columns = (weights.w_ih, weights.w_hh) if bias is None else (weights.w_ih, weights.w_hh, bias.unsqueeze(1))
    return affine(rows, torch.cat(columns, dim=1), None)  # the bias as a column: no separate pass to add it


def _rows(x: Tensor, h: Tensor, h0: Tensor, reverse: bool, lengths: Tensor | None, ones: bool = False) -> tuple[Tensor, int]:
    """``[x_t | h_{t-1}]`` (``[x_t | h_{t-1} | 1]`` with ``ones``) for every step in one buffer
    [T, B, in + H (+ 1)], and the column where h starts."""
    steps, batch, features = x.shape
    hidden = h.shape[-1]
    rows = x.new_empty(steps, batch, features + hidden + ones)
    rows[..., :features] = x
    previous_states(h, h0, reverse, lengths, out=rows[..., features : features + hidden])
    if ones:
        rows[..., -1] = 1
    return rows, features


def affine(rows: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``rows Wᵀ + b`` for every step at once: [T, B, gates·H], one matrix product with the gates
    side by side (one product per gate, or a batched one, costs more calls or a copy).

    ``rows`` [T, B, K] may be a column slice of a wider buffer (no copy is made).

    >>> affine(torch.ones(1, 2, 3), torch.ones(4, 3), None)
    tensor([[[3., 3., 3., 3.],
             [3., 3., 3., 3.]]])
    """
    flat, w = rows.flatten(0, 1), weight.t()
    out = torch.mm(flat, w) if bias is None else torch.addmm(bias, flat, w)
    return out.view(*rows.shape[:2], weight.shape[0])


def tanh_from_sigmoid_(sigmoid_of_double: Tensor) -> Tensor:
    """tanh(x) = 2σ(2x) - 1, in place, from σ(2x) (one sigmoid can then serve tanh and sigmoid
    gates alike); the two agree within 1e-6 in float32.

    >>> x = torch.linspace(-9, 9, 1001)
    >>> bool((tanh_from_sigmoid_(torch.sigmoid(2 * x)) - torch.tanh(x)).abs().max() < 1e-6)
    True
    """
    return sigmoid_of_double.mul_(2).sub_(1)


#: torch's AVX2 CPU kernels run tanh about three times slower per element than sigmoid (AMD EPYC:
#: 3.1 against 0.9 ns); its AVX-512 kernels run tanh about twice as fast as 2σ(2x) - 1 (Intel Xeon).
#: Other CPUs were not measured and keep torch.tanh.
_TANH_VIA_SIGMOID = torch.backends.cpu.get_cpu_capability() == "AVX2"


def tanh(tensor: Tensor) -> Tensor:
    """tanh of a new tensor: 2σ(2x) - 1 where torch's kernels are known to run that faster (AVX2),
    else torch.tanh (for values only checked, not kept: the two differ by up to 1e-6).

    >>> bool((tanh(torch.linspace(-9, 9, 101)) - torch.linspace(-9, 9, 101).tanh()).abs().max() < 1e-6)
    True
    """
    if _TANH_VIA_SIGMOID and tensor.is_cpu:
        return tanh_from_sigmoid_(torch.mul(tensor, 2).sigmoid_())
    return torch.tanh(tensor)


def _lstm(pre, c0, weights, reverse, pad) -> dict[str, Tensor]:
    i, f, g, o = pre.unflatten(-1, (4, -1)).unbind(2)
    g.mul_(2)  # one sigmoid over all four gates
    pre.sigmoid_()
    tanh_from_sigmoid_(g)
    c = cell_states(i, f, g, c0, reverse, pad)
    h = tanh(c).mul_(o)  # for the check (the trace keeps the module's h)
    if weights.w_hr is not None:
        h = torch.matmul(h, weights.w_hr.t())
    return {"i": i, "f": f, "g": g, "o": o, "c": c, "h": h}


def cell_states(i: Tensor, f: Tensor, g: Tensor, c0: Tensor, reverse: bool, pad: Tensor | None = None) -> Tensor:
    """c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t for every step (one in-place multiply-add per step).

    With ``pad`` (packed input) the reverse pass starts from ``c0`` at each sequence's last real
    step: padded steps are made to carry ``c0`` (``u = c0``, ``f = 0`` there; ``f`` is modified).

    >>> one = torch.ones(2, 1, 1)
    >>> cell_states(one, one / 2, one, torch.zeros(1, 1), reverse=False).flatten()
    tensor([1.0000, 1.5000])
    """
    c = torch.mul(i, g)
    if pad is not None and reverse:
        c[pad] = c0.expand_as(c)[pad]
        f[pad] = 0
    if c.shape[0] == 1:
        return c.addcmul_(f, c0)
    if c.device.type == "cpu" and c.dtype in (torch.float32, torch.float64) and not c.requires_grad:
        _numpy_steps(c.numpy(), f.detach().numpy(), c0.detach().numpy(), reverse)  # a third of torch's per-call cost
        return c
    steps = list(zip(c.unbind(0), f.unbind(0)))
    if reverse:
        steps.reverse()
    previous = c0
    for c_t, f_t in steps:
        c_t.addcmul_(f_t, previous)
        previous = c_t
    return c


def _numpy_steps(c: np.ndarray, f: np.ndarray, c0: np.ndarray, reverse: bool) -> None:
    """c_t += f_t ⊙ c_{t-1} in place, step by step (numpy views of the same memory)."""
    product = np.empty_like(c0)
    previous = c0
    for t in range(c.shape[0] - 1, -1, -1) if reverse else range(c.shape[0]):
        np.multiply(f[t], previous, out=product)
        np.add(c[t], product, out=c[t])
        previous = c[t]


def _gru(from_input: Tensor, from_hidden: Tensor, h_prev: Tensor) -> dict[str, Tensor]:
    """GRU gates from ``x W_ihᵀ + b_ih`` and ``h_{t-1} W_hhᵀ + b_hh`` [T, B, 3H]; overwrites all three."""
    from_input, from_hidden = from_input.unflatten(-1, (3, -1)), from_hidden.unflatten(-1, (3, -1))
    r, z = from_input[..., :2, :].add_(from_hidden[..., :2, :]).sigmoid_().unbind(2)
    n = from_input[..., 2, :].addcmul_(r, from_hidden[..., 2, :])
    n.tanh_()
    h = h_prev.sub_(n).mul_(z).add_(n)  # (1 - z) n + z h_{t-1}
    return {"r": r, "z": z, "n": n, "h": h}


def _sum(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    return None if a is None else a + b


_FUSED = {
    "LSTM": torch._VF.lstm,
    "GRU": torch._VF.gru,
    "RNN_TANH": torch._VF.rnn_tanh,
    "RNN_RELU": torch._VF.rnn_relu,
}


def run_layer(module: torch.nn.RNNBase, layer: int, x: Tensor, hx, batch_sizes: Tensor | None = None) -> tuple:
    """One layer (both directions) through PyTorch's own fused kernel, without dropout: (output,
    h_n) or, for LSTM, (output, h_n, c_n), differentiable with respect to the module's weights.

    ``x`` is time first [T, B, in] (or a PackedSequence's data with ``batch_sizes``); ``hx`` is
    this layer's initial state [D, B, H] (a pair (h, c) for LSTM, in the packed data's order).

    >>> gru = torch.nn.GRU(3, 4, num_layers=2)
    >>> [t.shape for t in run_layer(gru, 0, torch.randn(5, 2, 3), torch.zeros(1, 2, 4))]
    [torch.Size([5, 2, 4]), torch.Size([1, 2, 4])]
    """
    suffixes = (f"_l{layer}", f"_l{layer}_reverse")
    params = [getattr(module, name) for name in module._flat_weights_names if name.endswith(suffixes)]
    fused = _FUSED[module.mode]
    if batch_sizes is None:
        return fused(x, hx, params, module.bias, 1, 0.0, False, module.bidirectional, False)
    return fused(x, batch_sizes, hx, params, module.bias, 1, 0.0, False, module.bidirectional)
