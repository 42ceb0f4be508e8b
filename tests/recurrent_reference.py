"""Test helper: the book's char models recorded with dL/dhₜ computed independently of explain.

    trace = char_trace_with_grads("char-rnn", "Beautiful is", loss_at="last")
    trace["rnn.l1.fwd.grad_h"]          # [T, 1, 100]

The states come from ``explain.record`` (as the scenes get them); the gradients from a plain
autograd run of the same model one character per call, keeping each step's returned h.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from explain import models
from explain.models.data import printable_indices
from explain.trace import Trace


def reference_grads(model, text: str, loss_at: str = "all") -> torch.Tensor:
    """dL/dhₜ for every layer, [layers, T, 1, H], for next-character cross-entropy on ``text``.

    The recurrence is written out from the module's weights (PyTorch's equations, BOOK.md §1), so
    every hₜ is a tensor of its own whose gradient autograd can report.
    """
    inputs, targets = printable_indices(text[:-1]), printable_indices(text[1:])
    rnn = model.rnn
    layers, size = rnn.num_layers, rnn.hidden_size
    h = [torch.zeros(1, size) for _ in range(layers)]
    c = [torch.zeros(1, size) for _ in range(layers)]
    states: list[list[torch.Tensor]] = [[] for _ in range(layers)]
    logits = []
    for index in inputs:
        x = model.encoder(index.view(1))
        for layer in range(layers):
            weights = [getattr(rnn, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            pre = x @ weights[0].T + weights[2] + h[layer] @ weights[1].T + weights[3]
            if isinstance(rnn, torch.nn.LSTM):
                i, f, g, o = pre.chunk(4, dim=1)
                c[layer] = torch.sigmoid(f) * c[layer] + torch.sigmoid(i) * torch.tanh(g)
                h[layer] = torch.sigmoid(o) * torch.tanh(c[layer])
            else:
                h[layer] = torch.tanh(pre)
            h[layer].retain_grad()
            states[layer].append(h[layer])
            x = h[layer]
        logits.append(model.decoder(x))
    logits = torch.cat(logits)
    if loss_at == "last":
        loss = F.cross_entropy(logits[-1:], targets[-1:])
    else:
        loss = F.cross_entropy(logits, targets, reduction="sum")
    loss.backward()
    return torch.stack([torch.stack([h.grad for h in layer]) for layer in states])


def char_trace_with_grads(name: str, text: str, loss_at: str = "all", *, trained: bool = True) -> Trace:
    """``models.load(name)`` recorded on ``text[:-1]`` plus reference ``rnn.l{k}.fwd.grad_h``.

    ``trained=False`` uses the seeded untrained model: values that do not change when the committed
    weights are retrained (the reference stills use it).
    """
    example = models.load(name, trained=trained, text=text[:-1])
    trace = example.record()
    with torch.enable_grad():
        grads = reference_grads(example.model, text, loss_at)
    for layer, grad in enumerate(grads):
        trace[f"rnn.l{layer}.fwd.grad_h"] = grad
    trace.meta["targets"] = list(text[1:])
    return trace
