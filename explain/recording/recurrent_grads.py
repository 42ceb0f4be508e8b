"""dL/dh_t through time for recorded recurrent modules (``explain.record(..., grads=True)``).

    >>> import torch, explain
    >>> rnn = torch.nn.RNN(3, 4)
    >>> tr = explain.record(rnn, torch.randn(6, 1, 3), grads=True)
    >>> tr["l0.fwd.grad_h"].shape          # the total dL/dh_t for L = sum of the output
    torch.Size([6, 1, 4])

With ``grads=True`` each recorded module's output is replaced by one with the same values whose
gradient flows through a step-by-step recomputation (PyTorch's equations, the module's own
parameters, the caller's input and initial state), so everything downstream, the loss included,
sees one tensor per h_t. When the recording ends, ``dL/dh_t`` is taken with respect to each of them:
the TOTAL derivative through time (via h_{t+1}, the layer above, the final state and the output),
recorded as ``q.l{k}.{dir}.grad_h`` [T, B, H_out] (cells: ``q.grad_h``; padded steps hold 0).

The loss is ``loss(tr.output)`` when the caller gives ``loss``, else the sum of the output's first
tensor (the output itself, ``output[0]`` of a tuple, a PackedSequence's data). In the ``with`` form
assign ``tr.output`` inside the block (an output, or the loss itself as a scalar). The caller's
graph is kept (``retain_graph``), so a later ``loss.backward()`` still works.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from explain.recording.base import RecordingError
from explain.recording.recurrent_math import LayerWeights

__all__ = ["GradientTape", "leaf_if_constant", "run_direction", "step", "straight_through"]


class GradientTape:
    """The per-step h tensors of one recording, and the finisher that differentiates the loss."""

    def __init__(self, recording):
        self.recording = recording
        self.steps: dict[str, list[Tensor]] = {}
        self.valid: dict[str, list[tuple[Tensor | None, int]]] = {}
        recording.on_finish(self.finish)

    def watch(self, name: str, steps: list[Tensor], valid: Tensor | None = None) -> None:
        """Differentiate with respect to ``steps`` (one [B, H] tensor per step) when recording ends."""
        if not torch.is_grad_enabled():
            raise RecordingError(f"{name}: grads=True needs autograd; do not record under torch.no_grad()")
        self.steps.setdefault(name, []).extend(steps)
        self.valid.setdefault(name, []).append((valid, len(steps)))

    def finish(self) -> None:
        if not self.steps:
            return
        loss = self._loss()
        flat = [step for steps in self.steps.values() for step in steps]
        grads = torch.autograd.grad(loss, flat, allow_unused=True, retain_graph=True)
        position = 0
        for name, steps in self.steps.items():
            chunk = grads[position : position + len(steps)]
            position += len(steps)
            stacked = torch.stack([torch.zeros_like(s) if g is None else g for s, g in zip(steps, chunk)])
            valid = self.valid[name]
            if any(mask is not None for mask, _ in valid):
                stacked = stacked * _all_valid(valid, steps).unsqueeze(-1)
            self.recording.add(name, stacked)

    def _loss(self) -> Tensor:
        output = self.recording.trace.output
        if self.recording.loss is not None:
            loss = self.recording.loss(output)
        else:
            first = _first_tensor(output)
            if first is None:
                raise RecordingError(
                    "grads=True: nothing to differentiate; in the with-form assign tr.output = <output or loss> "
                    "inside the block, or pass loss="
                )
            loss = first.sum()
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            raise RecordingError(f"grads=True: the loss must be a scalar tensor, got {_describe(loss)}")
        if not loss.requires_grad:
            raise RecordingError("grads=True: the loss does not depend on any recorded module's output")
        return loss.reshape(())


def _all_valid(valid: list[tuple[Tensor | None, int]], steps: list[Tensor]) -> Tensor:
    """One [T, B] mask over all calls of a module (``valid`` per call; None: all steps real)."""
    batch, device = steps[0].shape[0], steps[0].device
    masks = [torch.ones(count, batch, dtype=torch.bool, device=device) if mask is None else mask for mask, count in valid]
    return torch.cat(masks)


def _first_tensor(output: Any) -> Tensor | None:
    if isinstance(output, Tensor):
        return output
    if isinstance(output, PackedSequence):
        return output.data
    if isinstance(output, (tuple, list)) and output:
        return _first_tensor(output[0])
    return None


def _describe(value: Any) -> str:
    return f"shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__


def step(mode: str, from_input: Tensor, h: Tensor, c: Tensor | None, w: LayerWeights) -> tuple[Tensor, Tensor | None]:
    """One differentiable step from the input's share ``x_t W_ihᵀ + b_ih``; returns (h_t, c_t).

    >>> w = LayerWeights(torch.ones(4, 1), torch.zeros(4, 1), None, None)
    >>> step("LSTM", torch.zeros(1, 4), torch.zeros(1, 1), torch.ones(1, 1), w)[1]
    tensor([[0.5000]])
    """
    from_hidden = h @ w.w_hh.t()
    if w.b_hh is not None:
        from_hidden = from_hidden + w.b_hh
    if mode == "LSTM":
        i, f, g, o = (from_input + from_hidden).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return (h if w.w_hr is None else h @ w.w_hr.t()), c
    if mode == "GRU":
        in_r, in_z, in_n = from_input.chunk(3, dim=-1)
        hid_r, hid_z, hid_n = from_hidden.chunk(3, dim=-1)
        r, z = torch.sigmoid(in_r + hid_r), torch.sigmoid(in_z + hid_z)
        n = torch.tanh(in_n + r * hid_n)
        return (1 - z) * n + z * h, None
    pre = from_input + from_hidden
    return (torch.tanh(pre) if mode == "RNN_TANH" else torch.relu(pre)), None


def run_direction(
    mode: str, x: Tensor, h0: Tensor, c0: Tensor | None, w: LayerWeights, reverse: bool, valid: Tensor | None
) -> tuple[list[Tensor], Tensor, Tensor | None]:
    """Differentiable steps over ``x`` [T, B, in]: (h_t per step in time order, final h, final c).

    With ``valid`` [T, B] (packed input) the state passes unchanged through padded steps, so each
    sequence ends (forward) or starts (reverse) at its own last real step.
    """
    from_input = x @ w.w_ih.t()
    if w.b_ih is not None:
        from_input = from_input + w.b_ih
    h, c = h0, c0
    steps: list[Tensor] = [h0] * x.shape[0]
    order = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    for t in order:
        h_new, c_new = step(mode, from_input[t], h, c, w)
        if valid is not None:
            keep = valid[t].unsqueeze(-1)
            h_new = torch.where(keep, h_new, h)
            c_new = None if c is None else torch.where(keep, c_new, c)
        h, c = h_new, c_new
        steps[t] = h
    return steps, h, c


def straight_through(actual: Tensor, rebuilt: Tensor) -> Tensor:
    """The module's exact values, with the gradient of the rebuilt ones.

    >>> a = torch.tensor([1.0]); r = torch.tensor([1.0 + 1e-7], requires_grad=True)
    >>> out = straight_through(a, r); bool(out == a), out.requires_grad
    (True, True)
    """
    return actual.detach() + (rebuilt - rebuilt.detach())


def leaf_if_constant(state: Tensor) -> Tensor:
    """``state`` itself if it carries a graph (e.g. from an earlier recorded call), else a leaf that
    requires grad, so every h_t depends on something differentiable."""
    return state if state.requires_grad else state.detach().requires_grad_(True)
