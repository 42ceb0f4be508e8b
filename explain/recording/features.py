"""Feature-map recording: every non-recurrent module's output under its qualified name, plus parts.

    >>> import torch, explain
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(inplace=True))
    >>> tr = explain.record(net, torch.randn(1, 1, 5, 5))
    >>> tr.names("[0-9]"), bool((tr["0"] < 0).any())    # the in-place ReLU did not touch "0"
    (['0', '1'], True)
    >>> tr.meta["modules"]["0"]["receptive_field"]
    [3, 3]

What is recorded, for a module at qualified name ``q`` (the root's own output is ``trace.output``):

- ``q``: the module's output. A shared module (one ReLU object used in many places) is named by
  where it is called from; called again within the same forward pass (torchvision's ``self.relu``)
  its later outputs are ``q#1``, ``q#2`` …; called again in a later pass (a model run one time
  step per call) its outputs append along the first axis, giving [T, …].
- ``q@weight``, ``q@bias``: a convolution's kernel and bias; for a BatchNorm also
  ``q@running_mean``, ``q@running_var`` (copies, taken at its first call).
- ``meta["modules"][q]``: its type, its ``kind`` (what it computes, found by isinstance: "conv2d",
  "batch_norm", "activation", "max_pool", "dropout", "linear", … or "module" for containers and
  user modules), output shape, ``reads`` (the recorded name of the value its first call read: a
  sibling's output, a residual ``@sum``, a concatenation ``@concat``, the model's ``@input.0``; None
  when the value was computed inside ``forward`` by something not recorded) and, for convs and
  pools, kernel, stride, padding, dilation, receptive field and jump (in input pixels; square
  kernels assumed for the field).
- Additions and concatenations written inside a module's ``forward`` (the book's
  ``out = self.layer(x) + self.downsample(x)``, inception's ``torch.cat``): for a residual addition
  ``q@x`` (block input), ``q@fx`` (body), ``q@shortcut`` and ``q@sum``; for a concatenation
  ``q@branch0`` … and ``q@concat``; ``meta["structure"][q]`` says which submodule gave each part,
  e.g. ``{"kind": "residual", "body": "layer_2.2.layer", "shortcut": "layer_2.2.downsample",
  "projection": true, "stride": 2}``. The body is the deeper operand (more modules between the
  block's input and it; "body" names the submodule that produced it); an operand that is the
  block's own input is an identity shortcut.
- ``meta["unseen"]`` says what could not be analysed (outputs are recorded all the same): an
  addition of a value computed outside submodules, a functional conv/pool in ``forward`` (receptive
  fields miss its kernel), TorchScript parts, modules returning tuples.

How: forward hooks on every module (pre-hooks keep the call stack that names shared modules), and,
while the model runs, a ``TorchFunctionMode`` that sees additions, concatenations and in-place ops
inside ``forward``. Recorded tensors are kept without copying; just before an in-place op (e.g.
``nn.ReLU(inplace=True)``, ``out += x``) would change one, the recorded value is copied. The name
filter applies to every name, parts included (``meta`` is always written); modules owned by another
installer (``skip``: nn.LSTM …) run outside the mode, with their own hooks.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from explain.recording import structure
from explain.recording.api import INPUT_PREFIX

ADD_FUNCTIONS = {torch.add, torch.Tensor.add, torch.Tensor.add_, torch.Tensor.__add__, torch.Tensor.__radd__, torch.Tensor.__iadd__}
CAT_FUNCTIONS = {torch.cat, torch.concat, torch.concatenate}
INPLACE_DUNDERS = {f"__i{op}__" for op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and", "or", "xor", "lshift", "rshift", "matmul")}
FUNCTIONAL_KERNEL = re.compile(r"^(conv[123]d|conv_transpose[123]d|(max|avg|lp)_pool[123]d)$")
#: the tensors copied at a module's first call, by kind (see the module docstring)
PARAMETERS = {"conv2d": ("weight", "bias"), "batch_norm": ("running_mean", "running_var", "weight", "bias")}
INPUT = object()  # marks an operand that is the running module's own input


def _is_inplace(func: Any, kwargs: dict[str, Any]) -> bool:
    if kwargs.get("inplace") is True:
        return True
    name = getattr(func, "__name__", "")
    return (name.endswith("_") and not name.endswith("__")) or name in INPLACE_DUNDERS


def _storage(tensor: torch.Tensor) -> int:
    return tensor.untyped_storage().data_ptr()


@dataclass
class _Frame:
    """One running module: its name, its tensor inputs and the outputs of its children so far."""

    name: str
    inputs: list[torch.Tensor]
    #: id → (child name, weak reference, depth): held weakly so a filtered recording keeps no extra
    #: maps; depth counts the modules between this module's input and the child's output
    children: dict[int, tuple[str, weakref.ref, int]] = field(default_factory=dict)
    structures: int = 0
    first_call: bool = False
    #: the recorded name of the value this call read (see the module docstring), or None
    reads: str | None = None
    #: a conv or pool module (its functional call is its own, not a hidden one)
    kernel: bool = False
    #: modules inside this one (itself included), and how deep its input sits in the parent
    size: int = 1
    input_depth: int = 0
    latest_depth: int = 0

    def _child(self, tensor: Any) -> tuple[str, weakref.ref, int] | None:
        child = self.children.get(id(tensor)) if isinstance(tensor, torch.Tensor) else None
        return child if child is not None and child[1]() is tensor else None

    def source(self, tensor: Any) -> Any:
        """The child name that produced ``tensor``, :data:`INPUT` for the module's input, else None."""
        child = self._child(tensor)
        if child is not None:
            return child[0]
        return INPUT if isinstance(tensor, torch.Tensor) and any(tensor is x for x in self.inputs) else None

    def depth_of(self, tensor: Any) -> int:
        """Modules between this module's input and ``tensor`` (0 for the input; latest for others)."""
        child = self._child(tensor)
        if child is not None:
            return child[2]
        return 0 if self.source(tensor) is INPUT else self.latest_depth

    def add_child(self, name: str, output: torch.Tensor, depth: int) -> None:
        self.children[id(output)] = (name, weakref.ref(output), depth)
        self.latest_depth = max(self.latest_depth, depth)


class _Capture(TorchFunctionMode):
    """Sees every torch call inside the running model: in-place ops, additions, concatenations."""

    def __init__(self, recorder: FeatureRecorder):
        super().__init__()
        # A proxy, not a reference: a cycle recorder <-> mode would keep the whole Trace alive
        # until Python's cycle collector runs.
        self.recorder = weakref.proxy(recorder)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        recorder = self.recorder
        finish = None
        if recorder.stack and not recorder.stack[-1].kernel and FUNCTIONAL_KERNEL.match(getattr(func, "__name__", "")):
            recorder.recording.note_unseen(
                f"{recorder.stack[-1].name or 'the model'}: {func.__name__} called in forward, not as a module; "
                "receptive fields after it do not include its kernel"
            )
        if func in ADD_FUNCTIONS and kwargs.get("alpha", 1) == 1:
            finish = recorder.residual(args)
        elif func in CAT_FUNCTIONS:
            finish = recorder.concatenation(args, kwargs)
        if recorder.aliases and args and isinstance(args[0], torch.Tensor) and _is_inplace(func, kwargs):
            recorder.protect(args[0])
        result = func(*args, **kwargs)
        if finish is not None:
            finish(result)
        return result


class FeatureRecorder:
    """Hooks a model's modules and records their outputs and structure into a Recording."""

    def __init__(self, recording, skip: set[nn.Module]):
        self.recording = recording
        self.trace = recording.trace
        self.skip_ids = {id(module) for module in skip}
        self.names: dict[int, list[str]] = {}
        self.sizes: dict[str, int] = {}
        for name, module in recording.model.named_modules(remove_duplicate=False):
            self.names.setdefault(id(module), []).append(name)
            self.sizes[name] = sum(1 for _ in module.modules())
        self._called_as: dict[tuple[str | None, int], str] = {}
        self.stack: list[_Frame] = []
        self.seen: set[str] = set()
        self.calls: dict[str, int] = {}  # calls of each name during the current outermost call
        self.described: set[str] = set()
        self.aliases: dict[int, list[str]] = {}
        self.fields: dict[int, tuple[weakref.ref, structure.Field]] = {}
        self.last_field: structure.Field = (1, 1)
        self.mode = _Capture(self)
        self.mode_active = False

    # -- hooks ---------------------------------------------------------------------------------

    def install(self) -> list:
        handles = []
        seen_modules: set[int] = set()
        for name, module in self.recording.model.named_modules():
            if id(module) in seen_modules:
                continue
            seen_modules.add(id(module))
            if isinstance(module, torch.jit.ScriptModule):  # TorchScript refuses hooks
                seen_modules.update(id(inner) for inner in module.modules())
                self.recording.note_unseen(f"{name or 'the model'} is TorchScript, which cannot be hooked: its insides are not recorded")
                continue
            if id(module) in self.skip_ids:  # another installer's module: run it (and its hooks) unobserved
                handles.append(module.register_forward_pre_hook(self.suspend, prepend=True))
                handles.append(module.register_forward_hook(self.resume, always_call=True))
                continue
            handles.append(module.register_forward_pre_hook(self.before))
            handles.append(module.register_forward_hook(self.after, always_call=True))
        handles.append(self)
        return handles

    def remove(self) -> None:
        """Leave the capture mode if a forward was interrupted (called when the recording ends)."""
        self.stack.clear()
        self._leave()

    def suspend(self, module: nn.Module, args: tuple) -> None:
        if self.mode_active:
            self.mode.__exit__(None, None, None)

    def resume(self, module: nn.Module, args: tuple, output: Any) -> None:
        if self.mode_active:
            self.mode.__enter__()

    def before(self, module: nn.Module, args: tuple) -> None:
        parent = self.stack[-1] if self.stack else None
        base = self.name_of(module, parent.name if parent else None)
        calls = self.calls.get(base, 0)
        self.calls[base] = calls + 1
        name = f"{base}#{calls}" if calls else base
        if not self.stack:
            self.mode.__enter__()
            self.mode_active = True
        inputs = [a for a in args if isinstance(a, torch.Tensor)]
        frame = _Frame(
            name,
            inputs,
            first_call=bool(name) and name not in self.described,
            size=self.sizes.get(base, 1),
            kernel=isinstance(module, structure.KERNEL_MODULES),
        )
        if parent is not None and inputs:
            frame.input_depth = parent.depth_of(inputs[0])
        frame.reads = self.read_name(parent, args)
        self.stack.append(frame)
        if frame.first_call:
            self.described.add(name)
            self.recording.describe_module(name, {**structure.describe(module, self.input_field(frame)), "reads": frame.reads})
            # what figures multiply out: a conv's kernel, a BatchNorm's statistics and affine parameters
            for key in PARAMETERS.get(structure.kind_of(module), ()):
                value = getattr(module, key, None)
                if isinstance(value, torch.Tensor):
                    self.recording.add(f"{name}@{key}", value.detach().clone())

    def after(self, module: nn.Module, args: tuple, output: Any) -> None:
        frame = self.stack.pop()
        if isinstance(output, torch.Tensor):
            if self.tracked_field(output) is None:  # containers return a child's (tracked) output
                self.set_field(output, structure.next_field(module, self.input_field(frame)))
            if frame.name:
                self.store(frame.name, output)
            if frame.first_call:
                self.recording.describe_module(frame.name, {"output_shape": list(output.shape)})
            if self.stack:
                self.stack[-1].add_child(frame.name, output, frame.input_depth + frame.size)
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
            self.fields.clear()
            self.last_field = (1, 1)

    @staticmethod
    def read_name(parent: _Frame | None, args: tuple) -> str | None:
        """The recorded name of the value a call reads: its first tensor argument, traced back
        through the calling module (a sibling's output or part, or what the caller itself read)."""
        index = next((i for i, a in enumerate(args) if isinstance(a, torch.Tensor)), None)
        if index is None:
            return None
        if parent is None:
            return f"{INPUT_PREFIX}.{index}"
        source = parent.source(args[index])
        return parent.reads if source is INPUT else source

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

    def protect(self, tensor: torch.Tensor) -> None:
        """Copy recorded values that share memory with ``tensor`` before an in-place op changes it."""
        for name in self.aliases.pop(_storage(tensor), ()):
            kept = self.trace.get(name)
            if kept is not None and _storage(kept) == _storage(tensor):
                self.trace[name] = kept.clone()

    # -- receptive fields ----------------------------------------------------------------------

    def tracked_field(self, tensor: torch.Tensor) -> structure.Field | None:
        """The (receptive field, jump) of a tensor a module or a captured op produced, else None."""
        entry = self.fields.get(id(tensor))
        return entry[1] if entry is not None and entry[0]() is tensor else None

    def field_of(self, tensor: torch.Tensor) -> structure.Field:
        """Like :meth:`tracked_field`; an untracked tensor (made by other ops) has the latest field."""
        tracked = self.tracked_field(tensor)
        return self.last_field if tracked is None else tracked

    def input_field(self, frame: _Frame) -> structure.Field:
        return self.field_of(frame.inputs[0]) if frame.inputs else self.last_field

    def set_field(self, tensor: torch.Tensor, value: structure.Field) -> None:
        self.fields[id(tensor)] = (weakref.ref(tensor), value)
        self.last_field = value

    # -- structure -----------------------------------------------------------------------------

    def _claim(self, frame: _Frame, what: str) -> bool:
        """True for the first addition/concatenation of a module call; later ones are noted unseen."""
        frame.structures += 1
        if frame.structures > 1:
            self.recording.note_unseen(
                f"{frame.name or 'the model'}: more than one {what} in forward; only the first one's parts are recorded"
            )
        return frame.structures == 1

    def residual(self, args: tuple):
        """If ``args`` add two submodule outputs (or one and the block input), record the parts."""
        if not self.stack or len(args) < 2:
            return None
        frame = self.stack[-1]
        a, b = args[0], args[1]
        sources = [frame.source(a), frame.source(b)]
        if not isinstance(b, torch.Tensor) or not isinstance(a, torch.Tensor) or a.shape != b.shape:
            return None
        if None in sources:
            known = [s for s in sources if s is not None]
            other = b if sources[0] is not None else a
            if known and not isinstance(other, nn.Parameter):
                self.recording.note_unseen(
                    f"{frame.name or 'the model'}: an addition whose operand was computed inside forward, "
                    "not by a submodule; its residual parts are not recorded"
                )
            return None
        if sources[0] is INPUT and sources[1] is INPUT or not frame.inputs or not self._claim(frame, "addition"):
            return None
        body_index = 1 if frame.depth_of(b) > frame.depth_of(a) else 0  # the body is the deeper operand
        body, shortcut = (a, b) if body_index == 0 else (b, a)
        body_name, shortcut_name = sources[body_index], sources[1 - body_index]
        q = frame.name
        x = frame.inputs[0]
        self.store(f"{q}@x", x)
        self.store(f"{q}@fx", body)
        self.store(f"{q}@shortcut", shortcut)

        def finish(result: torch.Tensor) -> None:
            self.store(f"{q}@sum", result)
            frame.add_child(f"{q}@sum", result, max(frame.depth_of(body), frame.depth_of(shortcut)))
            self.set_field(result, max(self.field_of(body), self.field_of(shortcut)))
            self.trace.meta.setdefault("structure", {})[q] = {
                "kind": "residual",
                "parts": [f"{q}@{part}" for part in ("x", "fx", "shortcut", "sum")],
                "body": body_name,
                "shortcut": None if shortcut_name is INPUT else shortcut_name,
                "projection": shortcut_name is not INPUT,
                "stride": structure.spatial_stride(x, result),
            }

        return finish

    def concatenation(self, args: tuple, kwargs: dict[str, Any]):
        """If ``args`` concatenate outputs of several submodules (inception), record the branches."""
        if not self.stack:
            return None
        frame = self.stack[-1]
        tensors = args[0] if args else kwargs.get("tensors", ())
        dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
        sources = [frame.source(t) for t in tensors]
        if len(sources) < 2 or any(s is None or s is INPUT for s in sources):
            return None
        if not self._claim(frame, "concatenation"):
            return None
        q = frame.name
        for index, tensor in enumerate(tensors):
            self.store(f"{q}@branch{index}", tensor)

        def finish(result: torch.Tensor) -> None:
            self.store(f"{q}@concat", result)
            frame.add_child(f"{q}@concat", result, max(frame.depth_of(t) for t in tensors))
            self.set_field(result, max(self.field_of(t) for t in tensors))
            self.trace.meta.setdefault("structure", {})[q] = {
                "kind": "concat",
                "parts": [*(f"{q}@branch{i}" for i in range(len(tensors))), f"{q}@concat"],
                "branches": list(sources),
                "dim": int(dim),
                "sizes": [int(t.shape[dim]) for t in tensors],
            }

        return finish


def install(recording, skip: set[nn.Module]) -> list:
    """Hook every module of ``recording.model`` except those in ``skip``; return objects with ``remove()``."""
    return FeatureRecorder(recording, skip).install()
