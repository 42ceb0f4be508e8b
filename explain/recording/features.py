"""Feature-map recording: every non-recurrent module's output, the functions its ``forward`` calls, parts.

    >>> import torch, explain
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(inplace=True))
    >>> tr = explain.record(net, torch.randn(1, 1, 5, 5))
    >>> tr.names("[0-9]"), bool((tr["0"] < 0).any())    # the in-place ReLU did not touch "0"
    (['0', '1'], True)
    >>> tr.meta["modules"]["0"]["receptive_field"], tr.meta["modules"]["1"]["inputs"]
    ([3, 3], ['0'])

What is recorded, for a module at qualified name ``q`` (the root's own output is ``trace.output``):

- ``q``: the module's output. A shared module (one ReLU object used in many places) is named by
  where it is called from; called again within the same forward pass (torchvision's ``self.relu``)
  its later outputs are ``q#1``, ``q#2`` …; called again in a later pass (a model run one time
  step per call) its outputs append along the first axis, giving [T, …].
- ``q:{op}``: every torch function the module's own ``forward`` calls (``F.relu``, ``torch.tanh``,
  ``F.max_pool2d``, ``F.dropout``, ``F.batch_norm``, ``F.log_softmax``, ``torch.flatten``,
  ``x.view``, ``a + b``, ``torch.cat`` …, in-place ones included), in execution order; the root's
  are ``:{op}``; the k-th further call of the same function in one call of ``q`` is ``q:{op}#k``;
  parts of a function's result are ``q:{op}@…`` (see :mod:`explain.recording.functions`). A
  training-mode ``F.dropout`` also records its kept mask as ``q:dropout@mask`` (bool). Functions
  inside PyTorch's own modules (the ``F.conv2d`` of an ``nn.Conv2d``) are that module's output,
  not recorded again.
- ``q@weight``, ``q@bias``: a convolution's kernel and bias; for a BatchNorm also
  ``q@running_mean``, ``q@running_var`` (copies, taken at its first call).
- ``meta["modules"][q]``: its type, its ``kind`` (what it computes, found by isinstance: "conv2d",
  "batch_norm", "activation", "max_pool", "dropout", "linear", "recurrent", … or "module" for containers and a
  user's modules), output shape, ``inputs`` (for each tensor argument, the
  recorded name that produced it: a module, a function, ``@input.k``; None if unknown) and, for
  convs and pools, kernel, stride, padding, dilation, receptive field and jump (in input pixels;
  square kernels assumed for the field). ``meta["functions"][name]`` describes each function the
  same way (``op``, ``module``, ``inputs``, its plain arguments, a functional pool's geometry).
- Residual additions and concatenations: an addition inside a module's ``forward`` is a residual
  block when it is x + F(x): one operand was computed from the other (``x + self.body(x)``,
  ``out += identity``: an identity shortcut), or both from one value x, one through more modules
  than the other (the book's ``self.layer(x) + self.downsample(x)``: a projection shortcut). It
  records ``q@x`` (block input), ``q@fx`` (body), ``q@shortcut`` and ``q@sum``. A concatenation of
  two or more values computed from one value, none from another (inception's ``torch.cat``),
  records ``q@branch0`` … and ``q@concat``. ``meta["structure"][q]`` says which recorded value gave
  each part, e.g. ``{"kind": "residual", "x": "layer_2.1", "body": "layer_2.2.layer", "shortcut":
  "layer_2.2.downsample", "projection": true, "stride": 2}``. An addition of values computed from
  different inputs (a hand-written RNN's ``i2h(x) + h2h(h)``) is only ``q:add``.
- Hand-written cells. A value passed through an :class:`explain.Probe` is recorded in the cell
  grammar ``q.{quantity}``, one time step per call, ``[T, B, ·]`` (q: the module whose forward
  called the probe). A module without probes that is given back, as an argument, a tensor it
  returned at its previous call (the tutorial char-RNN's ``hidden``) is a recurrent cell: that
  state is recorded as ``q.h`` (several states: ``q.state0``, ``q.state1`` …) and its one other
  tensor argument as ``q.x``, each ``[T, B, ·]``, from the call whose output was first given back;
  ``meta["modules"][q]["quantities"]`` lists them, ``["state"]`` says which recorded name made h.
- ``meta["unseen"]`` says what could not be analysed (outputs are recorded all the same):
  TorchScript parts, modules returning tuples, a second residual addition in one ``forward``.

How: forward hooks on every module (pre-hooks keep the call stack that names shared modules and
functions), and, while the model runs, a ``TorchFunctionMode`` that sees every torch function
called inside ``forward``. Recorded tensors are kept without copying; just before an in-place op
(e.g. ``nn.ReLU(inplace=True)``, ``out += x``, ``x[m] = 0``) would change one, the recorded value
is copied. The name filter applies to every name, parts included (``meta`` is always written);
modules owned by another installer (``skip``: nn.LSTM …) run outside the mode, with their own hooks.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from explain.names import INPUT_PREFIX
from explain.probe import Probe
from explain.recording import functions, structure
from explain.recording.base import Installed, RecordingError
from explain.recording.snapshots import snapshot

__all__ = ["FeatureRecorder", "INPUT", "install", "PARAMETERS"]

INPUT = object()  # marks an operand that is one of the running module's own inputs
#: the tensors copied at a module's first call, by kind (see the module docstring)
PARAMETERS = {"conv2d": ("weight", "bias"), "batch_norm": ("running_mean", "running_var", "weight", "bias")}


def _storage(tensor: torch.Tensor) -> int:
    return tensor.untyped_storage().data_ptr()


def _tensors(values: Any) -> list[torch.Tensor]:
    """The tensors among ``values``, looking one level into tuples and lists (``(h, c)``, ``cat([…])``)."""
    if len(values) == 1 and isinstance(values[0], torch.Tensor):  # the usual call: one tensor
        return [values[0]]
    found = []
    for value in values:
        if isinstance(value, torch.Tensor):
            found.append(value)
        elif isinstance(value, (tuple, list)):
            found.extend(item for item in value if isinstance(item, torch.Tensor))
    return found


def _ancestors(name: str) -> list[str]:
    """The qualified names that contain ``name`` ("" is the root): "a.b.c" → "", "a", "a.b"."""
    if not name:
        return []
    parts = name.split(".")
    return ["", *(".".join(parts[:k]) for k in range(1, len(parts)))]


_USER_FORWARD: dict[type, bool] = {}


def _records_functions(module: nn.Module) -> bool:
    """Is ``module``'s forward written outside PyTorch (its functions are steps of the model)?"""
    kind = type(module)
    user = _USER_FORWARD.get(kind)
    if user is None:
        user = _USER_FORWARD[kind] = not (getattr(kind.forward, "__module__", None) or "").startswith("torch.")
    return user


#: what a module call knows about a value computed in it: (source: a child module's or a
#: function's name, or INPUT; weak reference; depth; lineage; index)
_Local = tuple[Any, weakref.ref, int, int, int]


@dataclass(slots=True)
class _Frame:
    """One running module: its name, its tensor inputs and the values computed in it so far."""

    name: str
    base: str  # name without the #k of a repeated call
    inputs: list[torch.Tensor]
    #: id → what is known of a value of this call: its source, the modules between the inputs and
    #: it (depth), and its lineage: bit k set if the k-th value of this call (``order``) is the value
    #: itself or one it was computed from. Held weakly: a filtered recording keeps no extra maps.
    values: dict[int, _Local] = field(default_factory=dict)
    order: list[weakref.ref] = field(default_factory=list)
    user: bool = False
    probe: Probe | None = None
    #: torch functions are disabled while this module runs (see FeatureRecorder.before)
    quiet: Any = None
    structures: int = 0
    first_call: bool = False
    #: a conv or pool module (its functional call is its own, not a hidden one)
    kernel: bool = False
    #: modules inside this one (itself included), how deep its input sits in the parent and
    #: the lineage of its arguments there
    size: int = 1
    input_depth: int = 0
    input_lineage: int = 0
    latest_depth: int = 0
    #: tensors among the arguments (tuples looked into): the first values of ``order``
    arguments: list[torch.Tensor] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.size == 1 and not self.user:  # a PyTorch leaf (Conv2d, ReLU …): no values to follow
            return
        for tensor in self.arguments:
            if self.local(tensor) is None:
                self.add_value(INPUT, tensor, 0, 0)

    def local(self, tensor: Any) -> _Local | None:
        entry = self.values.get(id(tensor)) if isinstance(tensor, torch.Tensor) else None
        return entry if entry is not None and entry[1]() is tensor else None

    def source(self, tensor: Any) -> Any:
        """The name of what produced ``tensor`` in this call, :data:`INPUT` for an input, else None."""
        entry = self.local(tensor)
        return None if entry is None else entry[0]

    def depth_of(self, tensor: Any) -> int:
        """Modules between this module's input and ``tensor`` (0 for the input; latest for others)."""
        entry = self.local(tensor)
        return self.latest_depth if entry is None else entry[2]

    def lineage_of(self, tensors: list[torch.Tensor]) -> int:
        """The values (bits of ``order``) these tensors are or were computed from."""
        lineage = 0
        for tensor in tensors:
            entry = self.local(tensor)
            if entry is not None:
                lineage |= entry[3]
        return lineage

    def add_value(self, name: Any, output: torch.Tensor, depth: int, lineage: int) -> None:
        index = len(self.order)
        self.order.append(weakref.ref(output))
        self.values[id(output)] = (name, self.order[-1], depth, lineage | 1 << index, index)
        self.latest_depth = max(self.latest_depth, depth)

    def common_ancestor(self, lineage: int) -> torch.Tensor | None:
        """The latest value (still alive) in ``lineage``, None if there is none."""
        return self.order[lineage.bit_length() - 1]() if lineage else None


class _Capture(TorchFunctionMode):
    """Sees every torch call inside the running model: functions, in-place ops, structure."""

    def __init__(self, recorder: FeatureRecorder):
        super().__init__()
        # A proxy, not a reference: a cycle recorder <-> mode would keep the whole Trace alive
        # until Python's cycle collector runs.
        self.recorder = weakref.proxy(recorder)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        op = functions.op_of(func)
        if op is None:
            return func(*args, **kwargs)
        return self.recorder.call(op, func, args, kwargs)


@dataclass
class _HandCell:
    """A module recognised as a hand-written recurrent cell: where its state goes in and out."""

    #: (argument position, output position, quantity) of each state given back
    states: list[tuple[int, int, str]]
    #: argument position of x, None when there is not exactly one other tensor argument
    x: int | None


class FeatureRecorder:
    """Hooks a model's modules and records their outputs, functions and structure into a Recording."""

    def __init__(self, recording, skip: set[nn.Module]):
        self.recording = recording
        self.trace = recording.trace
        self.skip_ids = {id(module) for module in skip}
        self.names: dict[int, list[str]] = {}
        #: modules inside each qualified name, itself included (each module once, as modules() counts)
        self.sizes: dict[str, int] = {}
        for name, module in recording.model.named_modules(remove_duplicate=False):
            self.names.setdefault(id(module), []).append(name)
        for names in self.names.values():
            for name in {names[0]} | {prefix for n in names for prefix in _ancestors(n)}:
                self.sizes[name] = self.sizes.get(name, 0) + 1
        for names in self.names.values():
            for name in names[1:]:
                self.sizes.setdefault(name, self.sizes[names[0]])
        self.probed: set[str] = set()  # modules whose forward calls probes
        self._called_as: dict[tuple[str | None, int], str] = {}
        self.stack: list[_Frame] = []
        self.seen: set[str] = set()
        self.calls: dict[str, int] = {}  # calls of each name during the current outermost call
        self.described: set[str] = set()
        self.aliases: dict[int, list[str]] = {}
        #: id → [weak reference, recorded name that produced it, (receptive field, jump) or None]
        self.known: dict[int, list] = {}
        self.last_field: structure.Field = (1, 1)
        self.cells: dict[str, _HandCell | None] = {}  # hand-written cells (None: not recordable)
        #: what each module returned at its last call, and the recorded names that produced it
        self.returned: dict[str, list[tuple[weakref.ref, str | None]]] = {}
        self.last_arguments: dict[str, list[torch.Tensor]] = {}
        self.quantities: dict[str, list[str]] = {}
        self.mode = _Capture(self)
        self.mode_active = False

    # -- hooks ---------------------------------------------------------------------------------

    def install(self) -> list:
        handles, owned = [], self.recording.owned  # hooks that ignore other threads' calls
        seen_modules: set[int] = set()
        for name, module in self.recording.model.named_modules():
            if id(module) in seen_modules:
                continue
            seen_modules.add(id(module))
            if isinstance(module, torch.jit.ScriptModule):  # TorchScript refuses hooks
                seen_modules.update(id(inner) for inner in module.modules())
                self.recording.note_unseen(f"{name} is TorchScript, which cannot be hooked: its insides are not recorded")
                continue
            if id(module) in self.skip_ids:  # another installer's module: run it (and its hooks) unobserved
                if module is not self.recording.model:  # (nothing is observed around the root)
                    handles.append(module.register_forward_pre_hook(owned(self.suspend), prepend=True))
                    handles.append(module.register_forward_hook(owned(self.resume), always_call=True))
                continue
            handles.append(module.register_forward_pre_hook(owned(self.before)))
            handles.append(module.register_forward_hook(owned(self.after), always_call=True))
        handles.append(self)
        return handles

    def remove(self) -> None:
        """Leave the capture mode if a forward was interrupted (called when the recording ends)."""
        self.stack.clear()
        self._leave()

    # Each hook first asks whether ``module`` is one of the recorded model's: a shallow copy of a
    # module (copy.copy) shares its hooks, and its calls are not the model's (a deep copy gets hooks
    # that do nothing, base.ModuleHook).

    def suspend(self, module: nn.Module, args: tuple) -> None:
        if self.mode_active and id(module) in self.names:
            self.mode.__exit__(None, None, None)

    def resume(self, module: nn.Module, args: tuple, output: Any) -> None:
        if self.mode_active and id(module) in self.names:
            self.mode.__enter__()

    def before(self, module: nn.Module, args: tuple) -> None:
        if id(module) not in self.names:
            return
        with torch._C.DisableTorchFunction():  # the recorder's own tensor work is not the model's
            self._before(module, args)
        frame = self.stack[-1]
        if frame.size == 1 and not frame.user and frame.probe is None and not getattr(module, "inplace", False):
            # a PyTorch leaf that writes into nothing (Conv2d, Linear, MaxPool2d …): its functions
            # are its output, so it runs without the capture mode's cost
            frame.quiet = torch._C.DisableTorchFunction()
            frame.quiet.__enter__()

    def after(self, module: nn.Module, args: tuple, output: Any) -> None:
        if id(module) not in self.names:
            return
        quiet = self.stack[-1].quiet if self.stack else None
        if quiet is not None:
            quiet.__exit__(None, None, None)
        with torch._C.DisableTorchFunction():
            self._after(module, args, output)

    def _before(self, module: nn.Module, args: tuple) -> None:
        parent = self.stack[-1] if self.stack else None
        if isinstance(module, Probe):
            self.stack.append(_Frame(parent.base if parent else "", parent.base if parent else "", [], probe=module))
            return
        base = self.name_of(module, parent.name if parent else None)
        calls = self.calls.get(base, 0)
        self.calls[base] = calls + 1
        name = f"{base}#{calls}" if calls else base
        if not self.stack:
            self.mode.__enter__()
            self.mode_active = True
            self._know_model_inputs(args)
        inputs = [a for a in args if isinstance(a, torch.Tensor)]
        frame = _Frame(
            name,
            base,
            inputs,
            user=_records_functions(module),
            first_call=bool(name) and name not in self.described,
            size=self.sizes.get(base, 1),
            kernel=isinstance(module, structure.KERNEL_MODULES),
            arguments=_tensors(args),
        )
        if parent is not None:
            frame.input_depth = max(map(parent.depth_of, inputs)) if len(inputs) > 1 else parent.depth_of(inputs[0]) if inputs else 0
            frame.input_lineage = parent.lineage_of(frame.arguments)
        self.stack.append(frame)
        if frame.first_call:
            self.described.add(name)
            description = structure.describe(module, self.input_field(frame))
            description["inputs"] = [self.producer(x) for x in inputs]
            self.recording.describe_module(name, description)
            # what figures multiply out: a conv's kernel, a BatchNorm's statistics and affine parameters
            for key in PARAMETERS.get(description["kind"], ()):
                value = getattr(module, key, None)
                if isinstance(value, torch.Tensor):
                    self.recording.add(f"{name}@{key}", snapshot(value))
        if len(frame.arguments) > 1 and base not in self.probed:
            self._cell_call(frame)

    def _after(self, module: nn.Module, args: tuple, output: Any) -> None:
        frame = self.stack.pop()
        if frame.probe is not None:
            self._probed(frame, output)
        elif len(frame.arguments) > 1 and frame.base not in self.probed:
            self._cell_returned(frame, output)  # first: who inside made what it returns (not yet "this module")
        if frame.probe is None and isinstance(output, torch.Tensor):
            if self.tracked_field(output) is None:  # containers return a child's (tracked) output
                self.remember(output, frame.name, structure.next_field(module, self.input_field(frame)))
            else:
                self.remember(output, frame.name)
            if frame.name:
                self.store(frame.name, output)
            if frame.first_call:
                self.recording.describe_module(frame.name, {"output_shape": list(output.shape)})
            if self.stack:
                self.stack[-1].add_value(frame.name, output, frame.input_depth + frame.size, frame.input_lineage)
        elif output is not None and frame.name:
            self.recording.note_unseen(f"{frame.name} returned a {type(output).__name__}, not a tensor: its output is not recorded")
        if not self.stack:
            self._leave()

    def _leave(self) -> None:
        if self.mode_active:
            self.mode_active = False
            self.mode.__exit__(None, None, None)
            self.aliases.clear()
            self.calls.clear()
            self.known.clear()
            self.last_field = (1, 1)

    def name_of(self, module: nn.Module, parent: str | None) -> str:
        """The qualified name of ``module`` when called from ``parent`` (shared modules have several)."""
        key = (parent, id(module))
        name = self._called_as.get(key)
        if name is None:
            names = self.names[id(module)]
            prefix = "" if not parent else parent + "."
            inside = [n for n in names if parent is not None and n.startswith(prefix) and n != parent]
            direct = [n for n in inside if "." not in n[len(prefix):]]
            name = (direct or inside or names)[0]
            self._called_as[key] = name
        return name

    def _know_model_inputs(self, args: tuple) -> None:
        """The model's tensor arguments are ``@input.k`` when the recording kept them."""
        for index, value in enumerate(args):
            name = f"{INPUT_PREFIX}.{index}"
            if isinstance(value, torch.Tensor) and name in self.trace:
                self.remember(value, name)

    # -- functions -----------------------------------------------------------------------------

    def call(self, op: functions.Op, func: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        """Run one torch function called inside a forward; record it if that forward is the user's."""
        frame = self.stack[-1]
        finish = None
        if op.name == "add" and kwargs.get("alpha", 1) == 1 and len(args) >= 2:
            finish = self.residual(frame, args[0], args[1])
        elif op.name == "cat":
            finish = self.concatenation(frame, args, kwargs)
        inplace = functions.is_inplace(op, args, kwargs)
        if inplace and self.aliases and args and isinstance(args[0], torch.Tensor):
            self.protect(args[0])  # after the parts above are stored: they are protected too
        if not frame.user:
            result = func(*args, **kwargs)
            if finish is not None:
                finish(result)
            return result
        operands = _tensors(args) + _tensors(tuple(kwargs.values())) if kwargs else _tensors(args)
        key = f"{frame.name}:{op.name}"
        count = self.calls.get(key, 0)
        self.calls[key] = count + 1
        name = f"{key}#{count}" if count else key
        described = name in self.described
        if not described:
            self.described.add(name)
            facts = {"op": op.name, "module": frame.name, "inputs": [self.producer(t) for t in operands]}
        entries = [entry for entry in map(frame.local, operands) if entry is not None]
        depth = max((entry[2] for entry in entries), default=0)
        lineage = 0
        for entry in entries:
            lineage |= entry[3]
        field_out = max(map(self.field_of, operands), default=self.last_field)
        arguments = functions.describe(op, func, args, kwargs) if not described or op.kernel else None
        advances = op.kernel and not isinstance(arguments["padding"], str) and not op.name.startswith("conv_transpose")
        if advances:  # "same"/"valid" padding or a transposed conv: the field is left as it was
            field_out = structure.advance(field_out, arguments)
        masked = functions.dropout_with_mask(op, func, args, kwargs) if op.name == "dropout" else None
        result = func(*args, **kwargs) if masked is None else masked[0]
        parts = self._parts(name, op, result)
        for part, value in parts:
            self.remember(value, part, field_out)
            frame.add_value(part, value, depth, lineage)
            self.store(part, value)
        if masked is not None:
            self.store(f"{name}@mask", masked[1])
        if not described:
            facts.update(arguments)
            if inplace:
                facts["inplace"] = True
            if advances:
                facts["receptive_field"], facts["jump"] = [field_out[0]] * 2, [field_out[1]] * 2
            if len(parts) == 1 and parts[0][0] == name:
                facts["output_shape"] = list(result.shape)
            elif parts:
                facts["parts"] = [part for part, _ in parts]
            if masked is not None:
                facts["mask"] = f"{name}@mask"
            self.trace.meta.setdefault("functions", {})[name] = facts
        if finish is not None:
            finish(result)
        return result

    @staticmethod
    def _parts(name: str, op: functions.Op, result: Any) -> list[tuple[str, torch.Tensor]]:
        """The recorded names of a function's result: the tensor itself, or its parts."""
        if isinstance(result, torch.Tensor):
            return [(name, result)]
        if not isinstance(result, (tuple, list)):
            return []
        if op.with_indices and len(result) == 2:
            return [(name, result[0]), (f"{name}@indices", result[1])]
        return [(f"{name}@{index}", value) for index, value in enumerate(result) if isinstance(value, torch.Tensor)]

    # -- storing -------------------------------------------------------------------------------

    def store(self, name: str, tensor: torch.Tensor) -> None:
        """Record ``tensor`` under ``name`` (a later call appends along the first axis)."""
        if not self.recording.wants(name):
            return
        if name in self.seen:
            self.recording.append_time(name, tensor)
        else:
            self.seen.add(name)
            self.recording.add(name, tensor)
        self.aliases.setdefault(_storage(tensor), []).append(name)  # both keep the tensor itself

    def store_step(self, name: str, tensor: torch.Tensor) -> None:
        """Append ``tensor`` as one time step ([1, …]) of ``name``."""
        if self.recording.wants(name):
            step = tensor.unsqueeze(0)
            self.recording.append_time(name, step)
            self.aliases.setdefault(_storage(step), []).append(name)

    def protect(self, tensor: torch.Tensor) -> None:
        """Copy recorded values that share memory with ``tensor`` before an in-place op changes it."""
        for name in self.aliases.pop(_storage(tensor), ()):
            kept = self.trace.get(name)
            if kept is not None and _storage(kept) == _storage(tensor):
                self.trace[name] = kept.clone()

    # -- data flow and receptive fields ----------------------------------------------------------

    def remember(self, tensor: torch.Tensor, name: str, field: structure.Field | None = None) -> None:
        """Note that ``tensor`` is the recorded value ``name`` (and, if given, its field)."""
        entry = self.known.get(id(tensor))
        if entry is not None and entry[0]() is tensor:
            entry[1] = name
            if field is not None:
                entry[2] = field
        else:
            self.known[id(tensor)] = [weakref.ref(tensor), name, field]
        if field is not None:
            self.last_field = field

    def producer(self, tensor: torch.Tensor) -> str | None:
        """The recorded name whose value ``tensor`` is, None if it was not recorded (a parameter …)."""
        entry = self.known.get(id(tensor))
        return entry[1] if entry is not None and entry[0]() is tensor else None

    def tracked_field(self, tensor: torch.Tensor) -> structure.Field | None:
        """The (receptive field, jump) of a tensor a module or a captured op produced, else None."""
        entry = self.known.get(id(tensor))
        return entry[2] if entry is not None and entry[0]() is tensor else None

    def field_of(self, tensor: torch.Tensor) -> structure.Field:
        """Like :meth:`tracked_field`; an untracked tensor (made by other ops) has the latest field."""
        tracked = self.tracked_field(tensor)
        return self.last_field if tracked is None else tracked

    def input_field(self, frame: _Frame) -> structure.Field:
        return self.field_of(frame.inputs[0]) if frame.inputs else self.last_field

    # -- hand-written cells ------------------------------------------------------------------------

    def _probed(self, frame: _Frame, output: Any) -> None:
        """A probe's value: one time step of ``q.{quantity}``, q the module that called the probe."""
        quantity = frame.probe.quantity
        name = f"{frame.base}.{quantity}" if frame.base else quantity
        if name in self.sizes and name not in self.names[id(frame.probe)]:
            raise RecordingError(
                f"Probe({quantity!r}) in {frame.base or 'the model'} would be recorded as {name!r}, which is "
                "another module's name; give the probe another quantity"
            )
        self.probed.add(frame.base)
        if not isinstance(output, torch.Tensor):
            self.recording.note_unseen(f"Probe({quantity!r}) in {frame.base or 'the model'} was given a {type(output).__name__}, not a tensor")
            return
        self.store_step(name, output)
        self._note_quantity(frame.base, quantity)

    def _note_quantity(self, cell: str, quantity: str, **facts: Any) -> None:
        known = self.quantities.setdefault(cell, [])
        if quantity not in known:
            known.append(quantity)
            self.recording.describe_module(cell, {"quantities": list(known), **facts})
            # a cell written by hand is the user's own module, whether or not it was described as it ran
            self.recording.trace.meta["modules"][cell].setdefault("kind", "module")

    def _cell_call(self, frame: _Frame) -> None:
        """Before a call with several tensor arguments: is the module given back what it returned?"""
        cell = self.cells.get(frame.base)
        if frame.base not in self.cells:
            returned = self.returned.get(frame.base, ())
            fed = [
                (position, index, producer)
                for position, tensor in enumerate(frame.arguments)
                for index, (ref, producer) in enumerate(returned)
                if ref() is tensor
            ]
            if not fed or not all(self._made_inside(frame.base, producer) for _, _, producer in fed):
                self.last_arguments[frame.base] = frame.arguments
                return
            cell = self._start_cell(frame, fed)
        if cell is not None and cell.x is not None:
            self.store_step(self._cell_name(frame.base, "x"), frame.arguments[cell.x])
        self.last_arguments.pop(frame.base, None)

    def _start_cell(self, frame: _Frame, fed: list[tuple[int, int, str | None]]) -> _HandCell | None:
        quantities = ["h"] if len(fed) == 1 else [f"state{k}" for k in range(len(fed))]
        others = [p for p in range(len(frame.arguments)) if p not in {position for position, _, _ in fed}]
        cell = _HandCell([(p, i, q) for (p, i, _), q in zip(fed, quantities)], others[0] if len(others) == 1 else None)
        names = [self._cell_name(frame.base, q) for q in quantities + (["x"] if cell.x is not None else [])]
        clash = [name for name in names if name in self.sizes]
        if clash:
            self.recording.note_unseen(
                f"{frame.base or 'the model'} is given back its own output (a recurrent cell), but its state "
                f"would be recorded as {clash[0]!r}, a module's name; name its values with explain.Probe"
            )
            self.cells[frame.base] = None
            return None
        self.cells[frame.base] = cell
        previous = self.last_arguments.pop(frame.base, None)
        if cell.x is not None and previous is not None and len(previous) == len(frame.arguments):
            self.store_step(self._cell_name(frame.base, "x"), previous[cell.x])
            self._note_quantity(frame.base, "x")
        for (position, _, quantity), (_, _, producer) in zip(cell.states, fed):  # step 0: what the previous call returned
            self.store_step(self._cell_name(frame.base, quantity), frame.arguments[position])
            self._note_quantity(frame.base, quantity, state={quantity: producer})
        return cell

    def _cell_returned(self, frame: _Frame, output: Any) -> None:
        """After a call with several tensor arguments: keep what it returned; a cell's new state."""
        returned = _tensors(output if isinstance(output, (tuple, list)) else (output,))
        cell = self.cells.get(frame.base)
        if cell is not None:
            for _, index, quantity in cell.states:
                if index < len(returned):
                    self.store_step(self._cell_name(frame.base, quantity), returned[index])
        if frame.base not in self.cells or cell is not None:
            self.returned[frame.base] = [(weakref.ref(tensor), self.producer(tensor)) for tensor in returned]

    def _made_inside(self, cell: str, producer: str | None) -> bool:
        """Was the state made by ``cell``'s own forward: one of its functions, or a child without
        children (``act_fn``)? Not by a recurrent module, nor by a cell inside it (that one is the cell)."""
        if producer is None:
            return False
        made_by = producer.partition(":")[0].partition("#")[0]
        if ":" in producer:
            return made_by == cell
        return self.sizes.get(made_by) == 1 and made_by.rpartition(".")[0] == cell and made_by != cell

    @staticmethod
    def _cell_name(cell: str, quantity: str) -> str:
        return f"{cell}.{quantity}" if cell else quantity

    # -- structure -----------------------------------------------------------------------------

    def _claim(self, frame: _Frame, what: str) -> bool:
        """True for the first addition/concatenation of a module call; later ones are noted unseen."""
        frame.structures += 1
        if frame.structures > 1:
            self.recording.note_unseen(
                f"{frame.name or 'the model'}: more than one {what} in forward; only the first one's parts are recorded"
            )
        return frame.structures == 1

    def residual(self, frame: _Frame, a: Any, b: Any):
        """If ``a + b`` is x + F(x), record the parts: one operand was computed from the other (an
        identity shortcut), or both from one value x and one through more modules (a projection)."""
        if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a is b or a.shape != b.shape:
            return None
        entry_a, entry_b = frame.local(a), frame.local(b)
        if entry_a is None or entry_b is None:
            return None
        if entry_b[3] >> entry_a[4] & 1 or entry_a[3] >> entry_b[4] & 1:  # b = F(a), or a = F(b)
            body_index = 1 if entry_b[3] >> entry_a[4] & 1 else 0
            x = (a, b)[1 - body_index]
        else:
            x = frame.common_ancestor(entry_a[3] & entry_b[3])
            if x is None or entry_a[2] == entry_b[2]:
                return None
            body_index = 1 if entry_b[2] > entry_a[2] else 0  # the body is the deeper operand
        if not self._claim(frame, "addition"):
            return None
        sources = [entry_a[0], entry_b[0]]
        body, shortcut = (a, b) if body_index == 0 else (b, a)
        body_name, shortcut_name = sources[body_index], sources[1 - body_index]
        identity = shortcut is x
        x_name = self.producer(x)
        q = frame.name
        self.store(f"{q}@x", x)
        self.store(f"{q}@fx", body)
        self.store(f"{q}@shortcut", shortcut)
        body_field, shortcut_field = self.field_of(body), self.field_of(shortcut)

        def finish(result: torch.Tensor) -> None:
            self.store(f"{q}@sum", result)
            self.remember(result, self.producer(result) or f"{q}@sum", max(body_field, shortcut_field))
            self.trace.meta.setdefault("structure", {})[q] = {
                "kind": "residual",
                "parts": [f"{q}@{part}" for part in ("x", "fx", "shortcut", "sum")],
                "x": x_name,
                "body": body_name,
                "shortcut": None if identity else shortcut_name,
                "projection": not identity,
                "stride": structure.spatial_stride(x, result),
            }

        return finish

    def concatenation(self, frame: _Frame, args: tuple, kwargs: dict[str, Any]):
        """If ``args`` concatenate values computed from the same one input (inception), record the branches."""
        tensors = args[0] if args else kwargs.get("tensors", ())
        dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
        entries = [frame.local(t) for t in tensors]
        if len(entries) < 2 or any(entry is None or entry[0] is INPUT for entry in entries):
            return None
        common = ~0
        for entry in entries:
            common &= entry[3]
        descends = any(other[3] >> entry[4] & 1 for entry in entries for other in entries if other is not entry)
        if not common or descends or not self._claim(frame, "concatenation"):  # branches of one value
            return None
        sources = [entry[0] for entry in entries]
        q = frame.name
        for index, tensor in enumerate(tensors):
            self.store(f"{q}@branch{index}", tensor)
        field_out = max(self.field_of(t) for t in tensors)

        def finish(result: torch.Tensor) -> None:
            self.store(f"{q}@concat", result)
            self.remember(result, self.producer(result) or f"{q}@concat", field_out)
            self.trace.meta.setdefault("structure", {})[q] = {
                "kind": "concat",
                "parts": [*(f"{q}@branch{i}" for i in range(len(tensors))), f"{q}@concat"],
                "branches": list(sources),
                "dim": int(dim),
                "sizes": [int(t.shape[dim]) for t in tensors],
            }

        return finish


def install(recording, claimed: set[nn.Module]) -> Installed:
    """Hook every module of ``recording.model`` except those ``claimed`` by another recorder."""
    return Installed(FeatureRecorder(recording, claimed).install())
