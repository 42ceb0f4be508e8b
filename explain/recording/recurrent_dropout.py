"""Multi-layer nn.LSTM/GRU/RNN with dropout in train mode, run one layer at a time, masks drawn here.

    >>> import torch
    >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, dropout=0.5).train()
    >>> run = run_layers(lstm, torch.randn(5, 2, 3), None)
    >>> run.output[0].shape, run.masks[0].shape                 # one mask per lower layer, [T, B, D·H]
    (torch.Size([5, 2, 4]), torch.Size([5, 2, 4]))
    >>> sorted(set(run.masks[0].flatten().tolist()))            # dropped, or kept and scaled by 1/(1-p)
    [0.0, 2.0]

PyTorch's fused kernel draws its dropout masks inside C++, where no hook sees them. In train mode
the recorder therefore runs the module again, one layer at a time with PyTorch's own single-layer
kernel, and applies dropout between layers the way ``F.dropout`` does (a Bernoulli(1 - p) mask
scaled by 1 / (1 - p)), drawing from the same random stream the module's own call started from.
The module's output is replaced by this run's output, so what the model continues with is, by
construction, what the recorded masks and layers produce; the gradients of a training step flow
through it (PyTorch's kernel is differentiable). Both draw the same masks from the same stream (PyTorch 2.13 on the CPU does), so
the output is the module's own, bit for bit, and the random stream ends where the module's own
call left it: the recorder compares the two outputs and says which in
``meta["modules"][q]["dropout_reproduced"]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from explain.recording import recurrent_math

__all__ = ["Run", "drops", "random_state", "run_layers"]


def drops(module: nn.RNNBase) -> bool:
    """Does ``module`` apply dropout between its layers in this call (train mode, p > 0, 2+ layers)?

    >>> drops(torch.nn.GRU(2, 3, num_layers=2, dropout=0.2).eval())
    False
    """
    return module.training and module.dropout > 0 and module.num_layers > 1


def random_state(device: torch.device) -> Tensor:
    """The random generator's state for ``device`` (restored before the masks are drawn)."""
    if device.type == "cuda":
        return torch.cuda.get_rng_state(device)
    return torch.get_rng_state()


def _set_random_state(device: torch.device, state: Tensor) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    else:
        torch.set_rng_state(state)


@dataclass
class Run:
    """One call run layer by layer: the module's ``output`` in its own format, and, time first
    ``[T, B, D·H_out]`` in the caller's batch order (padded steps 0), every layer's output before
    dropout (``layers``) and the mask applied to each lower layer's output (``masks``)."""

    output: Any
    layers: list[Tensor]
    masks: list[Tensor]
    #: is ``output`` the module's own output, bit for bit? (set by the recorder that compared them)
    reproduced: bool | None = None


def run_layers(module: nn.RNNBase, value: Any, hx: Any, state: Tensor | None = None) -> Run:
    """Run ``module(value, hx)`` one layer at a time, drawing the dropout masks between layers;
    with ``state`` (see :func:`random_state`) the generator starts from it."""
    packed = isinstance(value, PackedSequence)
    data = value.data if packed else value
    unbatched = not packed and data.dim() == 2
    if packed:
        x, batch_sizes = data, value.batch_sizes
    else:
        x, batch_sizes = data.unsqueeze(1) if unbatched else data.transpose(0, 1) if module.batch_first else data, None
    h0, c0 = _initial_states(module, x, hx, unbatched, value if packed else None)
    if state is not None:
        _set_random_state(data.device, state)
    directions = 2 if module.bidirectional else 1
    p = module.dropout
    layer_input, outputs, masks, finals_h, finals_c = x, [], [], [], []
    for layer in range(module.num_layers):
        states = slice(layer * directions, (layer + 1) * directions)
        result = recurrent_math.run_layer(module, layer, layer_input, h0[states] if c0 is None else (h0[states], c0[states]), batch_sizes)
        outputs.append(result[0])
        finals_h.append(result[1])
        if c0 is not None:
            finals_c.append(result[2])
        layer_input = result[0]
        if layer < module.num_layers - 1:
            masks.append(torch.empty_like(layer_input).bernoulli_(1 - p).div_(1 - p))  # as F.dropout draws it
            layer_input = layer_input * masks[-1]
    h_n, c_n = torch.cat(finals_h), torch.cat(finals_c) if c0 is not None else None
    if packed:
        order = value.unsorted_indices
        if order is not None:
            h_n, c_n = h_n.index_select(1, order), None if c_n is None else c_n.index_select(1, order)
        out: Any = PackedSequence(layer_input, batch_sizes, value.sorted_indices, value.unsorted_indices)
        padded = lambda t: pad_packed_sequence(  # noqa: E731
            PackedSequence(t, batch_sizes, value.sorted_indices, value.unsorted_indices)
        )[0]
        layers, masks = [padded(t) for t in outputs], [padded(t) for t in masks]
    else:
        layers = outputs
        if unbatched:
            out, h_n, c_n = layer_input.squeeze(1), h_n.squeeze(1), None if c_n is None else c_n.squeeze(1)
        else:
            out = layer_input.transpose(0, 1) if module.batch_first else layer_input
    state_out = (h_n, c_n) if c_n is not None else h_n
    return Run((out, state_out), [t.detach() for t in layers], [t.detach() for t in masks])


def _initial_states(module: nn.RNNBase, x: Tensor, hx: Any, unbatched: bool, packed: PackedSequence | None):
    """(h0, c0) [L·D, B, ·] in the order the layers read them (a packed input's sorted order)."""
    directions = 2 if module.bidirectional else 1
    batch = int(packed.batch_sizes[0]) if packed is not None else x.shape[1]
    h_out = module.proj_size or module.hidden_size
    lstm = isinstance(module, nn.LSTM)
    if hx is None:
        zeros = lambda size: x.new_zeros(module.num_layers * directions, batch, size)  # noqa: E731
        return zeros(h_out), zeros(module.hidden_size) if lstm else None
    h0, c0 = hx if lstm else (hx, None)
    if unbatched:
        h0, c0 = h0.unsqueeze(1), None if c0 is None else c0.unsqueeze(1)
    if packed is not None and packed.sorted_indices is not None:
        h0 = h0.index_select(1, packed.sorted_indices)
        c0 = None if c0 is None else c0.index_select(1, packed.sorted_indices)
    return h0, c0
