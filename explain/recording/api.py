"""``explain.record``: one recorded forward pass, or every call inside a ``with`` block.

    >>> import torch, explain
    >>> model = torch.nn.LSTM(3, 2, num_layers=2)
    >>> tr = explain.record(model, torch.randn(4, 1, 3))
    >>> tr.names("l0.*")[:3]
    ['l0.fwd.x', 'l0.fwd.i', 'l0.fwd.f']
    >>> with explain.record(model) as tr:           # the book calls its LSTM one step at a time
    ...     state = None
    ...     for x_t in torch.randn(5, 1, 1, 3):
    ...         out, state = model(x_t, state)
    >>> tr["l1.fwd.h"].shape
    torch.Size([5, 1, 2])

The recorders of :mod:`explain.recording.registry` do the work, in order: the recurrent recorder
claims nn.LSTM/GRU/RNN and their cells (gates recomputed from the real forward, verified against
it); the feature recorder records every other module (outputs, plus the parts of residual
additions and concatenations).

A recording belongs to the thread that opened it: module hooks are global in PyTorch, so every
hook checks the calling thread, and calls made by other threads (even of the same module, even
while they record it themselves) are not part of this trace. Recordings can be nested; each one
records every call made inside it.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import torch

import explain
from explain.names import INPUT_PREFIX, NameFilter, name_matcher
from explain.recording import registry
from explain.recording.base import RecordingError, of_thread
from explain.trace import Trace

__all__ = ["INPUT_PREFIX", "Recording", "RecordingError", "record"]


class Recording:
    """Shared state of one recording: the Trace being filled, the name filter and options.

    Installers call :meth:`add` / :meth:`append_time`, which respect the filter, and describe
    the modules they saw in ``trace.meta["modules"]`` via :meth:`describe_module`.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        names: NameFilter = None,
        grads: bool = False,
        loss: Callable[[Any], torch.Tensor] | None = None,
        tokens: list[str] | None = None,
    ):
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"explain.record needs a torch.nn.Module, got {type(model).__name__}")
        if any(tensor.is_meta for tensor in itertools.chain(model.parameters(), model.buffers())):
            raise RecordingError(
                "the model is on the meta device: its tensors have shapes but no values, and a recording is of values; "
                "load or initialise its weights on a real device (e.g. model.to_empty(device='cpu'), then load_state_dict)"
            )
        if isinstance(model, torch.jit.ScriptModule):  # (a TorchScript part of a model is said unseen)
            raise RecordingError(
                "the model is TorchScript (torch.jit.script or torch.jit.trace): its forward runs compiled code "
                "that no hook sees, so nothing inside it can be recorded; record the nn.Module it was made from"
            )
        self.model = model
        self.wants = name_matcher(names)
        self.grads = grads
        self.loss = loss
        meta: dict[str, Any] = {
            "model": type(model).__name__,
            "modules": {},
            "versions": {"torch": torch.__version__.split("+")[0], "explain": explain.__version__},
        }
        if tokens is not None:
            meta["tokens"] = [str(token) for token in tokens]
        self.trace = Trace(meta=meta)
        self.thread: int | None = None  # the thread that opened the recording
        self._handles: list[Any] = []
        self._finishers: list[Callable[[], None]] = []
        self._settlers: list[Callable[[], None]] = []

    def add(self, name: str, tensor: torch.Tensor) -> None:
        """Store ``tensor`` (detached, on the CPU) under ``name`` if the filter wants it."""
        if self.wants(name):
            self.trace[name] = tensor.detach().to("cpu")

    def append_time(self, name: str, tensor: torch.Tensor) -> None:
        """Append ``tensor`` ([T, ...]) along time under ``name`` if the filter wants it."""
        if self.wants(name):
            self.trace.append_time(name, tensor.detach().to("cpu"))

    def describe_module(self, qualified_name: str, description: dict[str, Any]) -> None:
        """Record a module's configuration (JSON-able) in ``meta["modules"]``."""
        self.trace.meta["modules"].setdefault(qualified_name, {}).update(description)

    def note_unseen(self, message: str) -> None:
        """Say in ``meta["unseen"]`` what could not be analysed (the outputs are still recorded)."""
        unseen = self.trace.meta.setdefault("unseen", [])
        if message not in unseen:
            unseen.append(message)

    def keep_inputs(self, inputs: tuple) -> None:
        """Keep the tensors a model is called with as ``@input.0``, ``@input.1``, … (filter permitting)."""
        for index, value in enumerate(inputs):
            if isinstance(value, torch.Tensor):
                self.add(f"{INPUT_PREFIX}.{index}", value)

    def defer_to(self, settle: Callable[[], None]) -> None:
        """Let ``settle`` finish work an installer deferred: it runs before any value of the trace
        is read, and when the recording ends. The deferred names must already be in the trace."""
        self._settlers.append(settle)

    def settle(self) -> None:
        """Finish all deferred work now (see :meth:`defer_to`)."""
        for settle in self._settlers:
            settle()

    def owned(self, hook: Callable[..., Any]) -> Callable[..., Any]:
        """``hook`` for this recording's thread only: calls from other threads pass untouched."""
        return of_thread(hook, self.thread)

    def on_finish(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the recording ends (e.g. to compute gradients)."""
        self._finishers.append(callback)

    def __enter__(self) -> Trace:
        if self.thread is not None:
            raise RecordingError("this recording is already open; call explain.record(model) again for another one")
        self.thread = threading.get_ident()
        claimed: set[torch.nn.Module] = set()
        for recorder in registry.RECORDERS:
            installed = recorder.install(self, claimed)
            self._handles.extend(installed.handles)
            claimed |= installed.modules
        self.trace._settle = self.settle
        return self.trace

    def __exit__(self, *exc_info) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self.thread = None
        try:
            self.settle()
        finally:
            self.trace._settle = None  # they refer back to this Recording, as do the finishers
            self._settlers.clear()
        finishers, self._finishers = self._finishers, []
        if exc_info[0] is None:
            for finish in finishers:
                finish()


def record(
    model: torch.nn.Module,
    *inputs: Any,
    names: NameFilter = None,
    grads: bool = False,
    loss: Callable[[Any], torch.Tensor] | None = None,
    tokens: list[str] | None = None,
    **kwargs: Any,
) -> Trace | Recording:
    """Record ``model(*inputs, **kwargs)``; with no inputs, return a context manager instead.

    - ``names``: a glob, list of globs or predicate; only matching names are kept.
    - ``grads``: also record dL/dh_t per time step of recurrent modules (``q.l0.fwd.grad_h``),
      for ``loss(output)`` or, without ``loss``, the sum of the output (its first tensor, e.g. the
      logits of ``(logits, state)``); see :mod:`explain.recording.recurrent_grads`.
    - ``tokens``: labels of the time steps (e.g. the characters read), kept in ``meta["tokens"]``.

    The returned Trace's ``output`` is what the model returned; tensor inputs are kept as
    ``@input.0``, ``@input.1``, … (e.g. the image a CNN figure starts from).
    """
    recording = Recording(model, names=names, grads=grads, loss=loss, tokens=tokens)
    if not inputs and not kwargs:
        return recording
    with recording as trace:
        recording.keep_inputs(inputs)
        trace.output = model(*inputs, **kwargs)
    return trace
