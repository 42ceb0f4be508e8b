"""The special recordings some recurrent scenes draw from (gradients, teacher forcing, generation).

    >>> from scenes._recordings import gradient_trace, char_flow_trace      # doctest: +SKIP
    >>> gradient_trace("char-rnn")["rnn.l1.fwd.grad_h"].shape               # doctest: +SKIP
    torch.Size([29, 1, 100])

The models run here, as the book runs them (one character per call); the scenes only read the
traces. Each trace is an ordinary Trace and can be saved and given back with ``--trace``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from explain.trace import Trace

#: the line of the Zen of Python the char models read (as in explain.models)
TEXT = "Beautiful is better than ugly."


def gradient_trace(model: str, *, text: str = TEXT, loss_at: str = "all") -> Trace:
    """Record ``model`` (a char model) reading ``text[:-1]`` with dL/dhₜ for next-character targets.

    ``loss_at="all"``: L = Σₜ cross-entropy(yₜ, text[t+1]) (what training minimises);
    ``loss_at="last"``: only the last step's loss, so ||dL/dhₜ|| shows how far back it reaches.
    ``meta["targets"]`` holds the target characters. Each recurrent module's W_hh is stored as
    ``{q}@weight_hh_l{k}``, so a figure can multiply the real Jacobians without the model.
    """
    from explain import models
    from explain.models.data import printable_indices

    if loss_at not in ("all", "last"):
        raise ValueError(f"loss_at must be 'all' or 'last', got {loss_at!r}")
    example = models.load(model, text=text[:-1])
    targets = printable_indices(text[1:])

    def loss(output) -> torch.Tensor:
        logits = output[0].reshape(len(targets), -1)
        if loss_at == "last":
            return F.cross_entropy(logits[-1:], targets[-1:])
        return F.cross_entropy(logits, targets, reduction="sum")

    trace = example.record(grads=True, loss=loss)
    for name, module in example.model.named_modules():
        if isinstance(module, torch.nn.RNNBase):
            for layer in range(module.num_layers):
                trace[f"{name}@weight_hh_l{layer}"] = getattr(module, f"weight_hh_l{layer}").detach().clone()
    trace.meta["targets"] = list(text[1:])
    trace.meta["loss"] = loss_at
    return trace


def prefixed(trace: Trace, prefix: str) -> dict[str, torch.Tensor]:
    """The trace's tensors with ``prefix.`` in front of every name (to merge two recordings).

    >>> sorted(prefixed(Trace({"rnn.l0.fwd.h": torch.zeros(1)}), "lstm"))
    ['lstm.rnn.l0.fwd.h']
    """
    return {f"{prefix}.{name}": trace[name] for name in trace.names()}


def rnn_versus_lstm_trace(*, text: str = TEXT) -> Trace:
    """char-rnn and char-lstm on the same text, loss at the last step, in one trace.

    Names are prefixed ``rnn.`` and ``lstm.`` (``rnn.rnn.l1.fwd.grad_h``, ``lstm.rnn.l1.fwd.grad_h``),
    and so are the module descriptions in ``meta["modules"]``.
    """
    rnn = gradient_trace("char-rnn", text=text, loss_at="last")
    lstm = gradient_trace("char-lstm", text=text, loss_at="last")
    meta = {key: rnn.meta[key] for key in ("tokens", "targets", "loss") if key in rnn.meta}
    meta["modules"] = {f"{prefix}.{name}": description for prefix, trace in (("rnn", rnn), ("lstm", lstm))
                       for name, description in trace.meta.get("modules", {}).items()}
    return Trace({**prefixed(rnn, "rnn"), **prefixed(lstm, "lstm")}, meta=meta)


def char_flow_trace(
    model: str = "char-lstm", *, text: str = TEXT, prime: str = "Beautiful is", length: int = 12, trained: bool = True
) -> Trace:
    """Teacher forcing and free-running generation of a char model, as the scene char-flow reads them.

    The teacher-forced pass reads ``text[:-1]`` one character per call (recorded: the RNN's states
    under ``rnn.l{k}.fwd.*``); then the model reads ``prime`` and generates ``length`` characters,
    each time feeding its most likely next character back in (``trained=False``: the seeded,
    untrained model, e.g. to compare before and after training). Added tensors (indices into
    ``meta["vocab"]``): ``teacher.input``, ``teacher.target`` [T], ``teacher.logits`` [T, V];
    ``free.input``, ``free.output`` [G], ``free.logits`` [G, V], and the generated steps' states
    ``free.rnn.l{k}.fwd.h``. ``meta["prime"]`` is the prime.
    """
    from explain import models
    from explain.models.data import PRINTABLE, printable_indices

    example = models.load(model, trained=trained, text=text[:-1])
    trace = example.record()
    trace["teacher.input"] = printable_indices(text[:-1])
    trace["teacher.target"] = printable_indices(text[1:])
    trace["teacher.logits"] = trace.output[0].reshape(len(text) - 1, -1).detach()
    generation = _generate(example.model, printable_indices(prime), length)
    for name, tensor in prefixed(generation, "free").items():
        trace[name] = tensor
    trace.meta.update(vocab=PRINTABLE, prime=prime, targets=list(text[1:]))
    return trace


@torch.no_grad()
def _generate(model, prime: torch.Tensor, length: int) -> Trace:
    """Read ``prime``, then feed back the most likely character ``length`` times, recording those steps.

    The trace holds the generated steps' states (``rnn.l{k}.fwd.h`` …) and ``input``, ``output``,
    ``logits`` per generated step.
    """
    from explain import record

    hidden = model.init_hidden()
    for index in prime[:-1]:
        _, hidden = model(index.view(1), hidden)
    current, inputs, outputs, logits = prime[-1], [], [], []
    with record(model) as trace:
        for _ in range(length):
            step_logits, hidden = model(current.view(1), hidden)
            inputs.append(current)
            current = step_logits[0].argmax()
            outputs.append(current)
            logits.append(step_logits[0])
    trace["input"], trace["output"], trace["logits"] = torch.stack(inputs), torch.stack(outputs), torch.stack(logits)
    return trace
