"""Exact recording of nn.LSTM / nn.GRU / nn.RNN and nn.LSTMCell / GRUCell / RNNCell.

    >>> import torch, explain
    >>> model = torch.nn.LSTM(4, 3, num_layers=2, bidirectional=True)
    >>> tr = explain.record(model, torch.randn(6, 2, 4))
    >>> tr["l1.bwd.f"].shape, tr["l1.fwd.x"].shape       # [T, B, H]; layer 1 reads both directions
    (torch.Size([6, 2, 3]), torch.Size([6, 2, 6]))

What is recorded, for a module at qualified name ``q`` (``q.`` is omitted for the root):

- nn.LSTM: ``q.l{k}.{fwd|bwd}.{x,i,f,g,o,c,h}``; nn.GRU: ``x,r,z,n,h``; nn.RNN: ``x,h``.
  Shapes are time first, ``[T, B, ·]``, whatever ``batch_first`` says; an unbatched input ``(T, in)``
  is recorded with B = 1. ``x`` is the layer's input (layer k ≥ 1 reads layer k-1's output, both
  directions concatenated, forward first); with ``proj_size`` ``h`` has proj_size units, ``c`` and
  the gates hidden_size. Step t of ``bwd`` is the reverse direction at input position t.
- cells: ``q.{x,i,f,g,o,c,h}`` / ``q.{x,r,z,n,h}`` / ``q.{x,h}``, one step per call, ``[T, B, ·]``.
- Repeated calls of a module append along T (69 one-step calls give T = 69).
- PackedSequence input: sequences are laid out in the caller's batch order, padded to the longest;
  padded steps hold 0 in every quantity, and a bool ``q.valid`` [T, B] is True at real steps
  (``q.valid`` exists once any call of the module was packed; unpacked calls are all True).
- Dropout between layers (``dropout > 0``, 2+ layers): ``q.l{k}.{dir}.dropout`` for every layer k
  below the last, the mask multiplied into that layer's h on its way to layer k + 1 (0 where a unit
  was dropped, 1 / (1 - p) where it was kept; all 1 in eval mode), so
  ``q.l{k+1}.fwd.x == cat(h · dropout over directions)``. In train mode the layers are run one at a
  time and the masks drawn here (:mod:`explain.recording.recurrent_dropout`): the module returns
  that run's output, which the recorded masks and layers produce by construction (and which is the
  module's own output, bit for bit, when its masks were drawn the same way:
  ``meta["modules"][q]["dropout_reproduced"]``).
- ``grads=True`` adds ``q.l{k}.{dir}.grad_h`` (cells: ``q.grad_h``), the total dL/dh_t through time
  (see :mod:`explain.recording.recurrent_grads`). Nested recordings of the same call share one
  recomputation, so each gets the same gradients a single recording would.
- Batch 0 records empty ``[T, 0, ·]`` tensors; what PyTorch refuses (e.g. T = 0) raises PyTorch's error.

How: the module runs its own fused forward. A tap on its forward
(:mod:`explain.recording.forward_taps`: cheaper than hooks) reads the input, the initial state and
the output; the last layer's h is the output, lower layers' h come from PyTorch's fused kernel run
one layer at a time (for a single step they are the module's h_n). Every gate of every step then
follows from one large matrix product per layer and direction (:mod:`recurrent_math`).

One-step calls (the book feeds its nn.LSTM one character per call; a cell is always one step)
are copied and recomputed together, as one step of a batch of calls, when a value of the trace
is next read or the recording ends: the trace looks the same, each call costs a few copies
instead of ~40 small tensor operations per layer, and a problem with such a call is reported then.

Trust: the recomputed h of every step, and the final h_n (and c_n), are compared with what the
module returned; a deviation beyond :data:`recurrent_math.TOLERANCE` (relative to max(1, |values|);
float32 2e-5, float64 1e-10, float16 1e-2, bfloat16 5e-2, half precision recomputed in float32)
raises :class:`RecordingError` naming module, layer, direction and the largest deviation.

Refused with a one-line :class:`RecordingError` before the module runs: an input with the wrong
number of features, dimensions or dtype, NaN or Inf in the input or initial state (a recording of
non-finite values could not be verified), and subclasses that replace ``forward`` (their
computation is unknown). A module the name filter leaves out entirely is not hooked at all: it
runs as if nothing recorded it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from explain.recording import recurrent_dropout, recurrent_grads, recurrent_math
from explain.recording.base import Installed, RecordingError
from explain.recording.forward_taps import ForwardTap
from explain.recording.snapshots import same_bytes_as, snapshot
from explain.recording.structure import kind_of

__all__ = ["BATCH_CALLS", "install"]

#: One-step calls recomputed together at most (see :meth:`_Recorder.flush`).
BATCH_CALLS = 256

_LAYERED_FORWARDS = {nn.LSTM.forward, nn.GRU.forward, nn.RNN.forward}
_CELL_MODES = {nn.LSTMCell.forward: "LSTM", nn.GRUCell.forward: "GRU", nn.RNNCell.forward: "RNN"}


def install(recording, claimed: set[nn.Module]) -> Installed:
    """Hook every recurrent module of ``recording.model`` that the name filter wants anything of;
    claim them all (the feature recorder leaves them alone)."""
    installed = Installed()
    tape = recurrent_grads.GradientTape(recording) if recording.grads else None
    for qualified_name, module in recording.model.named_modules():
        if isinstance(module, nn.RNNBase):
            recorder: _Recorder = _LayersRecorder(recording, qualified_name, module, tape)
        elif isinstance(module, nn.RNNCellBase):
            recorder = _CellRecorder(recording, qualified_name, module, tape)
        else:
            continue
        if module in claimed:
            continue
        installed.modules.add(module)
        if recorder.mode is not None and not recorder.wanted():  # (an unknown forward is refused when called)
            continue
        recording.defer_to(recorder.flush)
        installed.handles.append(
            ForwardTap.add(module, recorder.check, recorder.record, recording.thread, functools.partial(_note_replaced, recording, qualified_name))
        )
    return installed


#: The attribute that marks a recorded call's first output tensor with what its recordings share.
SHARED = "_explain_recorded"


@dataclass
class _Shared:
    """What nested recordings of one call share: the dropout run (its masks) and the per-step h
    tensors the output's gradient flows through (by name without the module prefix, with the
    valid mask of packed input)."""

    run: recurrent_dropout.Run | None = None
    steps: dict[str, tuple[list[Tensor], Tensor | None]] | None = None


def _first(output: Any) -> Tensor:
    """The first tensor of a recurrent module's output (h, out, or a PackedSequence's data)."""
    first = output[0] if isinstance(output, tuple) else output
    return first.data if isinstance(first, PackedSequence) else first


def _shared(output: Any) -> _Shared | None:
    """What an enclosing recording of this same call left on its output, if any."""
    return getattr(_first(output), SHARED, None)


def _share(output: Any, shared: _Shared) -> None:
    setattr(_first(output), SHARED, shared)


def _arguments(args: tuple, kwargs: dict) -> tuple[Any, Any]:
    """(input, hx) from a recurrent module's call, positional or by keyword."""
    if not kwargs:
        return args[0], args[1] if len(args) > 1 else None
    values = list(args) + [kwargs.get(key) for key in ("input", "hx")[len(args) :]]
    return values[0], values[1]


class _Recorder:
    """Shared checks, naming and batching of one-step calls for one recurrent module at qualified
    name ``name``."""

    input_dims: tuple[int, int]

    def __init__(self, recording, name: str, module: nn.Module, tape: recurrent_grads.GradientTape | None):
        self.recording = recording
        self.tape = tape
        self.name = name
        self.module = module
        self.prefix = f"{name}." if name else ""
        self.mode = self._mode()
        self.calls = 0
        self.steps = 0
        self.dtype = torch.float32  # the module's, set when called
        self._wanted: list[bool] | None = None
        self._batch: list[tuple] = []  # one-step calls not yet recomputed (see flush), as each recorder keeps them
        self._batch_weights: list[Tensor] = []  # copies of the weights when the batch began
        self._unchanged: Callable[[list[Tensor]], bool] | None = None  # do the weights still hold those bytes?
        self._handed: list[tuple] = []  # the last kept call's returned state: [(tensor, version, …), …]
        self._rows = 0  # batch rows of each call in the current batch
        self._checked: tuple | None = None  # the input signature last checked (see check)

    def _mode(self) -> str | None:
        """"LSTM", "GRU", "RNN_TANH" or "RNN_RELU"; None when the class replaces forward."""
        raise NotImplementedError

    def fail(self, message: str) -> RecordingError:
        label = f"{self.name or '(root)'} ({type(self.module).__name__})"
        return RecordingError(f"{label}: {message}")

    def check(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        """Refuse, before the module runs, what cannot be recorded exactly. The input's type, dtype,
        dimensions and features are checked again only when they (or the weights' dtype) change:
        a loop of one-step calls pays for them once."""
        value = args[0] if args else kwargs.get("input")
        signature = (value.dtype, value.dim(), value.shape[-1], self._weight().dtype) if type(value) is Tensor else None
        if signature is None or signature != self._checked:
            self._check_input(value)
            self._checked = signature
        if not self._one_step(value):  # one-step calls are checked together when they are recomputed
            data = value.data if isinstance(value, PackedSequence) else value
            self.check_finite(data, _tensors(_arguments(args, kwargs)[1]))

    def _weight(self) -> Tensor:
        """The input weight of the first layer, whose dtype the input must have."""
        name = "weight_ih_l0" if isinstance(self.module, nn.RNNBase) else "weight_ih"
        weight = self.module._parameters.get(name)
        return getattr(self.module, name) if weight is None else weight  # computed (parametrized) weights

    def _check_input(self, value: Any) -> None:
        if self.mode is None:
            raise self.fail(
                "this subclass replaces forward(), so its computation is unknown and cannot be recorded; "
                "record a plain nn.LSTM/GRU/RNN (or cell) instead"
            )
        data = value.data if isinstance(value, PackedSequence) else value
        if not isinstance(data, Tensor):
            raise self.fail(f"input must be a tensor or PackedSequence, got {type(value).__name__}")
        weight = self._weight()
        self.dtype = weight.dtype
        if self.dtype not in recurrent_math.TOLERANCE:
            raise self.fail(f"weights are {self.dtype}; recorded are {', '.join(map(str, recurrent_math.TOLERANCE))}")
        if not data.is_floating_point():
            raise self.fail(
                f"input has dtype {data.dtype} but needs {weight.dtype} features "
                "(token ids? put an nn.Embedding or one-hot encoding in front)"
            )
        if data.dtype != weight.dtype:
            raise self.fail(
                f"input is {data.dtype} but the weights are {weight.dtype}; convert one of them "
                f"(x.to({weight.dtype}) or module.to({data.dtype}))"
            )
        allowed = (2,) if isinstance(value, PackedSequence) else self.input_dims
        if data.dim() not in allowed:
            raise self.fail(
                f"input has {data.dim()} dimensions {tuple(data.shape)}; expected {' or '.join(map(str, allowed))}"
            )
        if data.shape[-1] != self.module.input_size:
            raise self.fail(
                f"input has {data.shape[-1]} features per step but the module expects input_size={self.module.input_size}"
            )

    def _one_step(self, value: Any) -> bool:
        """Will this call be kept and recomputed with others (see :meth:`flush`)?"""
        raise NotImplementedError

    def check_finite(self, data: Tensor, states: list[Tensor], where: str = "") -> None:
        """Refuse NaN or Inf in the input or the initial state (``where``: which calls)."""
        for label, tensor in [("input", data), *[("initial state", t) for t in states]]:
            if not _finite(tensor):
                raise self.fail(
                    f"the {label}{where} contains NaN or Inf; a recording of non-finite values cannot be verified"
                )

    def verify(self, what: str, recomputed: Tensor, actual: Tensor, valid: Tensor | None = None) -> None:
        """Raise if ``recomputed`` and ``actual`` differ beyond the dtype's tolerance (overwrites ``recomputed``)."""
        if not actual.numel():
            return
        deviation = recomputed.sub_(actual.to(recomputed.dtype))  # recomputed values are not kept
        if valid is not None:
            deviation.masked_fill_(~valid.unsqueeze(-1), 0)
        low, high = torch.aminmax(deviation)  # one pass; NaN if any value is NaN
        worst, allowed = max(-low.item(), high.item()), recurrent_math.tolerance(self.dtype)
        if worst <= allowed:  # the scale is at least 1
            return
        allowed *= max(1.0, actual.abs().amax().item())
        if not worst <= allowed:  # also catches NaN
            index = torch.unravel_index(deviation.abs().nan_to_num(math.inf).argmax(), deviation.shape)
            where = " at [" + ", ".join(str(int(i)) for i in index) + "]"
            raise self.fail(
                f"{what}: the recomputation differs from the module's own output by {worst:.3g}{where} "
                f"(tolerance {allowed:.3g} for {str(self.dtype).removeprefix('torch.')}); the recording "
                "cannot be trusted (a modified forward, hooks, weights changed in place, or a state changed through .data between one-step calls?)"
            )

    def quantities(self) -> tuple[str, ...]:
        return recurrent_math.QUANTITIES[self.mode]

    def wanted(self) -> bool:
        """Does the name filter want any name of this module?"""
        raise NotImplementedError

    def store(self, name: str, tensor: Tensor) -> None:
        self.recording.append_time(self.prefix + name, tensor)

    def wants_any(self, names) -> bool:
        return any(self.recording.wants(self.prefix + name) for name in names)

    def record(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
        raise NotImplementedError

    # -- one-step calls, recomputed together ---------------------------------------------------
    #
    # One-step calls (the book's way: a loop that feeds one character at a time, or a cell) are
    # copied and recomputed together, as one step of a batch of calls, when the trace is next read
    # or the recording ends: per call that costs a few copies instead of ~40 small tensor
    # operations per layer. Their names are reserved at the first call, so the trace keeps the
    # execution order; the weights are copied when a batch starts and compared by value at each
    # call, so a training step between calls starts a new batch.

    def _weights(self) -> tuple[list[str], list[Tensor]]:
        """The module's weights, names and tensors, as its forward used them."""
        raise NotImplementedError

    def _sizes(self) -> dict[str, int]:
        """Every wanted name (without the module prefix) a one-step call fills, with its size."""
        raise NotImplementedError

    def _record_together(self, call: _Call, parameters: dict[str, Tensor]) -> None:
        """Recompute, verify and store one step of ``call.split`` calls × batch, with ``parameters``."""
        raise NotImplementedError

    def _batch_for(self, rows: int) -> list:
        """The batch a one-step call of ``rows`` batch rows joins: a new one when the batch size or
        the weights changed (a training step?); a new batch copies the weights and reserves the
        names, in execution order."""
        batch = self._batch
        if batch and (rows != self._rows or not self._same_weights()):
            self.flush()
            batch = self._batch
        if not batch:
            self._rows = rows
            self._handed = []
            self._batch_weights = [snapshot(weight) for weight in self._weights()[1]]
            self._unchanged = same_bytes_as(self._batch_weights)
            for name, size in self._sizes().items():
                if self.prefix + name not in self.recording.trace:
                    self.recording.append_time(self.prefix + name, torch.empty(0, rows, size, dtype=self.dtype))
        return batch

    def _together(self, batch: list) -> _Call:
        """The kept calls of ``batch`` as one step of calls × batch rows (``split`` set)."""
        raise NotImplementedError

    def _same_weights(self) -> bool:
        """Are the weights still those the current batch started with? (Values are compared:
        writes through ``.data`` leave no trace in version counters.)"""
        return self._unchanged(self._weight_tensors())

    def _weight_tensors(self) -> list[Tensor]:
        """The tensors of :meth:`_weights` (asked at every one-step call)."""
        return self._weights()[1]

    def flush(self) -> None:
        """Recompute, verify and store the kept one-step calls, as one step of a batch of calls."""
        batch, self._batch, self._handed = self._batch, [], []
        if not batch:
            return
        together = self._together(batch)
        self.check_finite(together.x, [t for t in (together.h0, together.c0) if t is not None], self._split_label(together.split))
        with torch.no_grad():
            self._record_together(together, dict(zip(self._weights()[0], self._batch_weights)))

    def _split_label(self, split: tuple[int, int] | None) -> str:
        """Where a deviation's row index points when several one-step calls were taken together."""
        if split is None or split[0] == 1:
            return ""
        return f" (one-step calls 1–{split[0]} taken together: row = call × {split[1]} + batch)"


def _note_replaced(recording, name: str) -> None:
    """Say in the trace that ``name``'s forward was replaced while it was recorded (see ForwardTap.remove)."""
    recording.note_unseen(
        f"{name or 'the model'}'s forward was replaced during the recording: calls that did not go through the recorded forward are not in the trace"
    )


#: a one-step call's given state that is the state the previous kept call returned (see _CellRecorder._keep)
_CARRIED = object()


def _version(tensor: Tensor) -> int | None:
    """``tensor``'s version counter; None for an inference tensor, which has none (made under
    torch.inference_mode: a change in place cannot be seen, so such a state is copied, not carried)."""
    return None if tensor.is_inference() else tensor._version


def _joined(column: tuple) -> Tensor | None:
    """One field of the kept calls, joined along the batch axis (None where the calls have none, e.g. c of a GRU)."""
    return None if column[0] is None else torch.cat(column, dim=-2)


def _kept(handed: list[tuple], place: int, tensor: Tensor | None, given: Tensor | None) -> Tensor | None:
    """The copy of the state the last call returned at ``place`` (0: h, 1: c), if ``given`` is that
    tensor unchanged; else a copy of ``tensor``."""
    if place < len(handed):
        returned, version, copy = handed[place]
        if returned is given and version is not None and _version(given) == version:
            return copy
    return None if tensor is None else tensor.clone()


def _finite(tensor: Tensor) -> bool:
    """True if every value is finite (a sum is one cheap pass; only a non-finite sum looks closer)."""
    if math.isfinite(tensor.sum().item()):
        return True
    return bool(torch.isfinite(tensor).all())


def _tensors(hx: Any) -> list[Tensor]:
    if hx is None:
        return []
    return list(hx) if isinstance(hx, (tuple, list)) else [hx]


@dataclass
class _Call:
    """One call of a layered module, normalised: time first, caller's batch order, explicit states."""

    x: Tensor  # [T, B, in]
    output: Tensor  # [T, B, D·H_out]
    h0: Tensor  # [L·D, B, H_out]
    c0: Tensor | None  # [L·D, B, H] (LSTM)
    h_n: Tensor
    c_n: Tensor | None
    packed: PackedSequence | None = None  # the input, when packed
    lengths: Tensor | None = None  # [B]
    valid: Tensor | None = None  # [T, B] bool
    unbatched: bool = False  # the input was (T, in); recorded with B = 1
    # a call run one layer at a time (dropout): each layer's output and the masks between layers
    layers: list[Tensor] | None = None
    masks: list[Tensor] | None = None
    # one-step calls recomputed together (see _Recorder.flush): their rows are (call, batch)
    split: tuple[int, int] | None = None


class _LayersRecorder(_Recorder):
    """nn.LSTM / nn.GRU / nn.RNN: every layer and direction.

    One-step calls are kept and recomputed together (see :meth:`_Recorder.flush`).
    """

    input_dims = (2, 3)

    def _mode(self) -> str | None:
        return self.module.mode if type(self.module).forward in _LAYERED_FORWARDS else None

    def check(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        super().check(module, args, kwargs)
        self._random = None  # where the random stream stood when a call with dropout began
        if recurrent_dropout.drops(module):
            self._random = recurrent_dropout.random_state(_first((_arguments(args, kwargs)[0],)).device)

    def _one_step(self, value: Any) -> bool:
        if isinstance(value, PackedSequence) or recurrent_dropout.drops(self.module):
            return False
        return value.shape[1 if value.dim() == 3 and self.module.batch_first else 0] == 1

    def wanted(self) -> bool:
        grads = [f"l{k}.{d}.grad_h" for k in range(self.module.num_layers) for d in ("fwd", "bwd")]
        return any(self._wanted_layers()) or self.wants_any(["valid"] + grads * (self.tape is not None))

    def record(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
        value, hx = _arguments(args, kwargs)
        shared, replaced = _shared(output), False
        if recurrent_dropout.drops(module) and (shared is None or shared.run is None):  # the outermost recording
            run = recurrent_dropout.run_layers(module, value, hx, self._random)
            run.reproduced = torch.equal(_first(run.output), _first(output))
            output, replaced, shared = run.output, True, _Shared(run=run)
            _share(output, shared)
        run = None if shared is None else shared.run
        with torch.no_grad():
            call = self._normalise(value, hx, output)
            if run is not None:
                call.layers, call.masks = run.layers, run.masks
                self._record_now(call)
            elif call.x.shape[0] == 1 and call.packed is None:
                self._defer(call.x, call.output, call.h0, call.c0, call.h_n, call.c_n, _tensors(hx), _tensors(output[1]))
            else:
                self._record_now(call)
        self._describe(call)
        if run is not None:
            self.recording.describe_module(self.name, {"dropout_reproduced": run.reproduced})
        self.calls += 1
        self.steps += call.x.shape[0]
        if self.tape is not None:
            output, replaced = self._with_gradients(value, hx, output, shared), True
        return output if replaced else None

    def _defer(
        self, x: Tensor, output: Tensor, h0: Tensor, c0: Tensor | None, h_n: Tensor, c_n: Tensor | None,
        handed_in: list[Tensor], handed_out: list[Tensor],
    ) -> None:
        """Keep a copy of a one-step call (its tensors as :class:`_Call` names them) for :meth:`flush`.
        ``handed_in``: the state tensors the caller passed (h, c), ``handed_out``: those the module
        returned; a state the caller hands on to the next call unchanged (same tensor, same
        version) is not copied again."""
        batch = self._batch_for(x.shape[-2])
        handed = self._handed
        h0 = _kept(handed, 0, h0, handed_in[0] if handed_in else None)
        c0 = _kept(handed, 1, c0, handed_in[1] if len(handed_in) > 1 else None)
        kept_h, kept_c = h_n.clone(), None if c_n is None else c_n.clone()  # the caller may change its tensors
        batch.append((x.clone(), kept_h if output is h_n else output.clone(), h0, c0, kept_h, kept_c))
        self._handed = [(t, _version(t), copy) for t, copy in zip(handed_out, (kept_h, kept_c))]
        if len(batch) >= BATCH_CALLS:  # bounds the copies kept, and the memory of one flush
            self.flush()

    def _together(self, batch: list) -> _Call:
        xs, outputs, h0s, c0s, h_ns, c_ns = zip(*batch)
        x, h0, c0, h_n, c_n = map(_joined, (xs, h0s, c0s, h_ns, c_ns))
        output = h_n if all(out is h for out, h in zip(outputs, h_ns)) else _joined(outputs)
        together = _Call(x, output, h0, c0, h_n, c_n)
        together.split = (len(batch), self._rows)
        return together

    def _record_now(self, call: _Call) -> None:
        self.flush()  # earlier one-step calls come first
        self._record_layers(call)

    def _with_gradients(self, value: Any, hx: Any, output: Any, shared: _Shared | None) -> Any:
        """The module's output, values unchanged, with gradients through per-step h tensors (those
        of an enclosing recording of the same call, if there is one)."""
        if shared is not None and shared.steps is not None:
            for name, (steps, valid) in shared.steps.items():
                self.tape.watch(self.prefix + name, steps, valid)
            return output
        module = self.module
        call = self._normalise(value, hx, output)  # again, with the caller's graph
        directions = 2 if module.bidirectional else 1
        masks = None if shared is None or shared.run is None else shared.run.masks
        layer_input, finals_h, finals_c, watched = call.x, [], [], {}
        for layer in range(module.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                weights = recurrent_math.layer_weights(module, layer, direction, detach=False)
                c0 = None if call.c0 is None else call.c0[index]
                steps, h_final, c_final = recurrent_grads.run_direction(
                    self.mode, layer_input, recurrent_grads.leaf_if_constant(call.h0[index]), c0, weights,
                    direction == 1, call.valid,
                )
                name = f"l{layer}.{('fwd', 'bwd')[direction]}.grad_h"
                watched[name] = (steps, call.valid)
                self.tape.watch(self.prefix + name, steps, call.valid)
                outputs.append(torch.stack(steps))
                finals_h.append(h_final)
                finals_c.append(c_final)
            layer_input = torch.cat(outputs, dim=-1)
            if masks is not None and layer < len(masks):
                layer_input = layer_input * masks[layer]
        rebuilt = self._like_module_output(value, output, layer_input, finals_h, finals_c)
        _share(rebuilt, _Shared(run=None if shared is None else shared.run, steps=watched))
        return rebuilt

    def _like_module_output(self, value, output, sequence: Tensor, finals_h: list, finals_c: list) -> Any:
        """Put the rebuilt sequence and final states in the module's own output format."""
        out, state = output
        h_n, c_n = (state if self.mode == "LSTM" else (state, None))
        rebuilt_h, rebuilt_c = torch.stack(finals_h), None if c_n is None else torch.stack(finals_c)
        if isinstance(value, PackedSequence):
            order = out.sorted_indices
            rows = [
                sequence[t] if order is None else sequence[t].index_select(0, order)
                for t in range(sequence.shape[0])
            ]
            data = torch.cat([row[:size] for row, size in zip(rows, out.batch_sizes.tolist())])
            new_out: Any = PackedSequence(
                recurrent_grads.straight_through(out.data, data), out.batch_sizes, out.sorted_indices,
                out.unsorted_indices,
            )
        else:
            if value.dim() == 2:
                sequence, rebuilt_h = sequence.squeeze(1), rebuilt_h.squeeze(1)
                rebuilt_c = None if rebuilt_c is None else rebuilt_c.squeeze(1)
            elif self.module.batch_first:
                sequence = sequence.transpose(0, 1)
            new_out = recurrent_grads.straight_through(out, sequence)
        new_h = recurrent_grads.straight_through(h_n, rebuilt_h)
        if c_n is None:
            return new_out, new_h
        return new_out, (new_h, recurrent_grads.straight_through(c_n, rebuilt_c))

    def _weights(self) -> tuple[list[str], list[Tensor]]:
        return self.module._flat_weights_names, self.module._flat_weights

    def _sizes(self) -> dict[str, int]:
        module = self.module
        directions = 2 if module.bidirectional else 1
        hidden_out = module.proj_size or module.hidden_size
        sizes = {}
        for layer, wanted in enumerate(self._wanted_layers()):
            for direction in ("fwd", "bwd")[:directions] if wanted else ():
                for quantity in self._layer_quantities(layer):
                    size = {"x": module.input_size if layer == 0 else directions * hidden_out, "h": hidden_out}
                    sizes[f"l{layer}.{direction}.{quantity}"] = size.get(quantity, module.hidden_size)
        return sizes

    def _record_together(self, call: _Call, parameters: dict[str, Tensor]) -> None:
        self._record_layers(call, parameters)

    def _normalise(self, value: Any, hx: Any, output: Any) -> _Call:
        module = self.module
        out, state = output
        h_n, c_n = (state if self.mode == "LSTM" else (state, None))
        h0, c0 = (hx if self.mode == "LSTM" and hx is not None else (hx, None))
        lengths = valid = packed = None
        if isinstance(value, PackedSequence):
            packed = value
            x, lengths = pad_packed_sequence(value)
            out, lengths = pad_packed_sequence(out)[0], lengths.to(x.device)
            valid = torch.arange(x.shape[0], device=x.device).unsqueeze(1) < lengths.unsqueeze(0)
        elif value.dim() == 2:  # unbatched (T, in): B = 1
            x, out = value.unsqueeze(1), out.unsqueeze(1)
            h_n, h0 = h_n.unsqueeze(1), None if h0 is None else h0.unsqueeze(1)
            if c_n is not None:
                c_n, c0 = c_n.unsqueeze(1), None if c0 is None else c0.unsqueeze(1)
        elif module.batch_first:
            x, out = value.transpose(0, 1), out.transpose(0, 1)
        else:
            x = value
        if h0 is None:
            h0 = torch.zeros_like(h_n)
        if c0 is None and c_n is not None:
            c0 = torch.zeros_like(c_n)
        unbatched = packed is None and value.dim() == 2
        return _Call(x, out, h0, c0, h_n, c_n, packed, lengths, valid, unbatched)

    def _record_layers(self, call: _Call, parameters: dict[str, Tensor] | None = None) -> None:
        """Recompute, verify and store every wanted layer; with the weights in ``parameters`` (by
        name) instead of the module's current ones if given."""
        module = self.module
        directions = 2 if module.bidirectional else 1
        hidden_out = module.proj_size or module.hidden_size
        compute = recurrent_math.compute_dtype(self.dtype)
        packed_data = None if call.packed is None else call.packed.data
        layer_input = call.x
        wanted = self._wanted_layers()
        deepest = max((k for k, w in enumerate(wanted) if w), default=-1)
        for layer in range(deepest + 1):
            states = slice(layer * directions, (layer + 1) * directions)
            if layer == module.num_layers - 1:
                layer_output = call.output
            elif call.layers is not None:  # run one layer at a time already (dropout)
                layer_output = call.layers[layer]
            elif call.x.shape[0] == 1 and call.packed is None:  # one step: the final states are the outputs
                layer_output = call.h_n[states].transpose(0, 1).reshape(1, call.x.shape[1], directions * hidden_out)
            else:
                layer_output, packed_data = self._run_layer(layer, packed_data, layer_input, call, states)
            mask = call.masks[layer] if call.masks is not None and layer < len(call.masks) else None
            if wanted[layer]:
                x = layer_input.clone(memory_format=torch.contiguous_format)  # stays as it was
                fused_run = layer < module.num_layers - 1 and (
                    call.x.shape[0] > 1 or call.packed is not None or call.layers is not None
                )
                for direction in range(directions):
                    columns = slice(direction * hidden_out, (direction + 1) * hidden_out)
                    h = layer_output[..., columns].clone()
                    dropout = None
                    if "dropout" in self._layer_quantities(layer):  # all kept (1) when not dropping
                        dropout = torch.ones_like(h) if mask is None else mask[..., columns]
                    self._record_direction(call, layer, direction, x, h, compute, fused_run, parameters, dropout)
            layer_input = layer_output if mask is None else layer_output * mask

    def _wanted_layers(self) -> list[bool]:
        """Per layer: does the name filter want anything of it? (The filter is fixed per recording.)"""
        if self._wanted is None:
            self._wanted = [
                self.wants_any(f"l{k}.{d}.{q}" for d in ("fwd", "bwd") for q in self._layer_quantities(k))
                for k in range(self.module.num_layers)
            ]
        return self._wanted

    def _layer_quantities(self, layer: int) -> tuple[str, ...]:
        """The quantities of ``layer``: the mode's, and ``dropout`` below the last layer of a module
        built with dropout."""
        module = self.module
        if module.dropout > 0 and layer < module.num_layers - 1:
            return (*self.quantities(), "dropout")
        return self.quantities()

    def _run_layer(self, layer, packed_data, layer_input, call, states) -> tuple[Tensor, Tensor | None]:
        hx = call.h0[states] if call.c0 is None else (call.h0[states], call.c0[states])
        if call.packed is None:
            return recurrent_math.run_layer(self.module, layer, layer_input, hx)[0], None
        packed = call.packed
        order = packed.sorted_indices
        if order is not None:
            hx = tuple(t.index_select(1, order) for t in hx) if isinstance(hx, tuple) else hx.index_select(1, order)
        data = recurrent_math.run_layer(self.module, layer, packed_data, hx, packed.batch_sizes)[0]
        padded = pad_packed_sequence(PackedSequence(data, packed.batch_sizes, order, packed.unsorted_indices))[0]
        return padded, data

    def _record_direction(
        self,
        call: _Call,
        layer: int,
        direction: int,
        x: Tensor,
        h: Tensor,
        compute: torch.dtype,
        fused_run: bool,
        parameters: dict[str, Tensor] | None = None,
        dropout: Tensor | None = None,
    ) -> None:
        """Recompute, verify and store one layer and direction; ``fused_run``: h is not the module's
        own output (a lower layer run by the fused kernel), so its final step is checked against h_n;
        ``dropout``: the mask applied to h on its way to the next layer, stored with the rest."""
        index = layer * (2 if self.module.bidirectional else 1) + direction
        reverse = direction == 1
        label = f"layer {layer} {'bwd' if reverse else 'fwd'}"
        label += self._split_label(call.split)
        weights = recurrent_math.layer_weights(self.module, layer, direction, parameters=parameters)
        h0, c0 = call.h0[index], None if call.c0 is None else call.c0[index]
        if compute != self.dtype:
            weights, x_in, h_in = weights.to(compute), x.to(compute), h.to(compute)
            h0, c0 = h0.to(compute), None if c0 is None else c0.to(compute)
        else:
            x_in, h_in = x, h
        pad = None if call.valid is None else ~call.valid
        result = recurrent_math.recompute(self.mode, x_in, h_in, h0, c0, weights, reverse, pad, call.lengths)
        if fused_run:
            self.verify(f"{label} h_n", _final_step(result["h"], call, reverse), call.h_n[index])
        if call.c_n is not None:
            self.verify(f"{label} c_n", _final_step(result["c"], call, reverse), call.c_n[index])
        self.verify(f"{label} h", result["h"], h, call.valid)
        result["x"], result["h"], result["dropout"] = x, h, dropout
        names = f"l{layer}.{'bwd' if reverse else 'fwd'}."
        for quantity in self._layer_quantities(layer):
            tensor = result[quantity] if compute == self.dtype else result[quantity].to(self.dtype)
            if pad is not None and quantity not in ("x", "h"):  # padded x and h are already 0
                tensor = tensor.masked_fill(pad.unsqueeze(-1), 0)
            if call.split is not None:  # one step of calls × batch → one step per call
                tensor = tensor[0].unflatten(0, call.split)
            self.store(names + quantity, tensor)

    def _describe(self, call: _Call) -> None:
        module = self.module
        description = {
            "type": type(module).__name__,
            "kind": kind_of(module),
            "mode": self.mode,
            "input_size": module.input_size,
            "hidden_size": module.hidden_size,
            "num_layers": module.num_layers,
            "bidirectional": module.bidirectional,
            "proj_size": module.proj_size,
            "batch_first": module.batch_first,
            "bias": module.bias,
            "dropout": module.dropout,
            "dtype": str(self.dtype).removeprefix("torch."),
            "calls": self.calls + 1,
            "steps": self.steps + call.x.shape[0],
            "batch": call.x.shape[1],
            "quantities": list(self.quantities()),
        }
        if self.mode.startswith("RNN_"):
            description["nonlinearity"] = module.nonlinearity
        previous = self.recording.trace.meta["modules"].get(self.name, {})
        description["packed"] = bool(previous.get("packed")) or call.packed is not None
        description["unbatched"] = call.unbatched  # recorded with B = 1
        if description["packed"]:
            self._record_valid(call)
        self.recording.describe_module(self.name, description)

    def _record_valid(self, call: _Call) -> None:
        valid = call.valid if call.valid is not None else torch.ones(call.x.shape[:2], dtype=torch.bool)
        name = self.prefix + "valid"
        if self.steps and name not in self.recording.trace:  # earlier calls were unpacked: all real
            self.recording.append_time(name, torch.ones(self.steps, valid.shape[1], dtype=torch.bool))
        self.recording.append_time(name, valid)


def _final_step(sequence: Tensor, call: _Call, reverse: bool) -> Tensor:
    """A copy of each sequence's final state: t = 0 in reverse, else its last real step."""
    if reverse or call.lengths is None:
        return sequence[0 if reverse else -1].clone()
    return sequence[call.lengths - 1, torch.arange(sequence.shape[1], device=sequence.device)]


class _CellRecorder(_Recorder):
    """nn.LSTMCell / GRUCell / RNNCell: one step per call."""

    input_dims = (1, 2)
    _description: dict | None = None  # this cell's entry in meta["modules"], once described

    def _mode(self) -> str | None:
        mode = _CELL_MODES.get(type(self.module).forward)
        if mode == "RNN":
            return "RNN_TANH" if self.module.nonlinearity == "tanh" else "RNN_RELU"
        return mode

    def wanted(self) -> bool:
        return self._records() or (self.tape is not None and self.wants_any(["grad_h"]))

    def _records(self) -> bool:
        """Does the name filter want any quantity (the filter is fixed per recording)?"""
        if self._wanted is None:
            self._wanted = [self.wants_any(self.quantities())]
        return self._wanted[0]

    def _one_step(self, value: Any) -> bool:
        return self._records()

    def record(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
        value, hx = _arguments(args, kwargs)
        batch = 1 if value.dim() == 1 else value.shape[0]
        if self._records():
            self._keep(value, hx, output, batch)
        self.calls += 1
        self.steps += 1
        self._describe(batch)
        return None if self.tape is None else self._with_gradients(value.reshape(batch, value.shape[-1]), hx, output)

    def _keep(self, value: Tensor, hx: Any, output: Any, rows: int) -> None:
        """Keep this call for :meth:`flush` as one row block ``[x | h | c]`` (one copy: the caller
        may change its tensors) and the state it was given: :data:`_CARRIED` when that is the
        state the last kept call returned, unchanged (its row has it), else a copy (None: zeros)."""
        returned = output if self.mode == "LSTM" else (output,)
        given = () if hx is None else hx if self.mode == "LSTM" else (hx,)
        batch = self._batch_for(rows)
        handed = self._handed
        states = [
            _CARRIED if place < len(handed) and state is handed[place][0] and state._version == handed[place][1]
            else state.detach().clone()
            for place, state in enumerate(given)
        ]
        row = torch.cat([value.detach(), *[state.detach() for state in returned]], -1)
        batch.append((row if value.dim() > 1 else row.view(1, -1), states))  # [rows, in | h (| c)], unbatched too
        self._handed = [(state, state._version) for state in returned if not state.is_inference()]  # no version: never carried
        if len(batch) >= BATCH_CALLS:  # bounds the copies kept, and the memory of one flush
            self.flush()

    def _together(self, batch: list) -> _Call:
        rows, size, hidden = self._rows, self.module.input_size, self.module.hidden_size
        states = 2 if self.mode == "LSTM" else 1
        joined = torch.cat([row for row, _ in batch]).view(len(batch) * rows, size + states * hidden)  # [calls × rows, in | h (| c)]
        x, finals = joined[:, :size], [joined[:, size + k * hidden : size + (k + 1) * hidden] for k in range(states)]
        starts = [self._starts(batch, place, final) for place, final in enumerate(finals)]
        c0, c_n = (starts[1], finals[1]) if self.mode == "LSTM" else (None, None)
        together = _Call(x, finals[0], starts[0], c0, finals[0], c_n)
        together.split = (len(batch), rows)
        return together

    def _starts(self, batch: list, place: int, finals: Tensor) -> Tensor:
        """The state (h: place 0, c: 1) each kept call started from, [calls × rows, H]: the previous
        call's final state where it was carried over (runs of those are one slice), else its copy or zeros."""
        rows, parts, run = self._rows, [], None  # run: first call of the current run of carried states
        for index, (_, states) in enumerate(batch):
            state = states[place] if place < len(states) else None
            if state is _CARRIED:
                run = index if run is None else run
                continue
            if run is not None:
                parts.append(finals[(run - 1) * rows : (index - 1) * rows])
                run = None
            parts.append(finals.new_zeros(rows, finals.shape[-1]) if state is None else state.reshape(rows, finals.shape[-1]))
        if run is not None:
            parts.append(finals[(run - 1) * rows : (len(batch) - 1) * rows])
        return torch.cat(parts)

    def _with_gradients(self, x: Tensor, hx: Any, output: Any) -> Any:
        """The cell's output, values unchanged, with gradients through this step's h (that of an
        enclosing recording of the same call, if there is one); ``x`` is the input as [B, in]."""
        shared = _shared(output)
        if shared is not None and shared.steps is not None:
            self.tape.watch(self.prefix + "grad_h", shared.steps["grad_h"][0])
            return output
        h_out = output[0] if self.mode == "LSTM" else output
        shape = (x.shape[0], self.module.hidden_size)
        h0, c0 = (hx if self.mode == "LSTM" and hx is not None else (hx, None))
        h0 = recurrent_grads.leaf_if_constant(x.new_zeros(shape) if h0 is None else h0.reshape(shape))
        if self.mode == "LSTM":
            c0 = x.new_zeros(shape) if c0 is None else c0.reshape(shape)
        weights = recurrent_math.layer_weights(self.module, detach=False)
        steps, h1, c1 = recurrent_grads.run_direction(self.mode, x.unsqueeze(0), h0, c0, weights, False, None)
        self.tape.watch(self.prefix + "grad_h", steps)
        new_h = recurrent_grads.straight_through(h_out, h1.reshape(h_out.shape))
        rebuilt = new_h if self.mode != "LSTM" else (new_h, recurrent_grads.straight_through(output[1], c1.reshape(output[1].shape)))
        _share(rebuilt, _Shared(steps={"grad_h": (steps, None)}))
        return rebuilt

    def _weight_tensors(self) -> list[Tensor]:
        if "parametrizations" in self.module._modules:
            return self._weights()[1]
        return [weight for weight in self.module._parameters.values() if weight is not None]

    def _weights(self) -> tuple[list[str], list[Tensor]]:
        parameters = self.module._parameters
        names = [name for name, weight in parameters.items() if weight is not None]
        if "parametrizations" in self.module._modules:  # computed weights: ask the module
            return names, [getattr(self.module, name) for name in names]
        return names, [parameters[name] for name in names]

    def _sizes(self) -> dict[str, int]:
        return {q: self.module.input_size if q == "x" else self.module.hidden_size for q in self.quantities()}

    def _record_together(self, call: _Call, parameters: dict[str, Tensor]) -> None:
        """One step for calls × batch rows: ``call.x`` [N·B, in], states [N·B, H]."""
        compute = recurrent_math.compute_dtype(self.dtype)
        weights = recurrent_math.layer_weights(self.module, parameters=parameters).to(compute)
        c0 = None if call.c0 is None else call.c0.to(compute)
        x, h1 = call.x.unsqueeze(0), call.h_n.unsqueeze(0)  # one time step
        result = recurrent_math.recompute(self.mode, x.to(compute), h1.to(compute), call.h0.to(compute), c0, weights, False)
        label = self._split_label(call.split)
        self.verify("h" + label, result["h"][0], call.h_n)
        if call.c_n is not None:
            self.verify("c" + label, result["c"][0].clone(), call.c_n)
        result["x"], result["h"] = x, h1
        for quantity in self.quantities():
            self.store(quantity, result[quantity].to(self.dtype)[0].unflatten(0, call.split))

    def _describe(self, batch: int) -> None:
        """The cell's configuration in ``meta["modules"]``, described at its first call; later
        calls update the counts (in the same dict: a loop of one-step calls pays three stores)."""
        described = self._description
        if described is not None:
            described["calls"], described["steps"], described["batch"] = self.calls, self.steps, batch
            return
        module = self.module
        description = {
            "type": type(module).__name__,
            "kind": kind_of(module),
            "mode": self.mode,
            "input_size": module.input_size,
            "hidden_size": module.hidden_size,
            "bias": module.bias,
            "dtype": str(self.dtype).removeprefix("torch."),
            "calls": self.calls,
            "steps": self.steps,
            "batch": batch,
            "quantities": list(self.quantities()),
        }
        if self.mode.startswith("RNN_"):
            description["nonlinearity"] = module.nonlinearity
        self.recording.describe_module(self.name, description)
        self._description = self.recording.trace.meta["modules"][self.name]
