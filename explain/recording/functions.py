"""The torch functions a ``forward`` calls, as the recorder names and describes them.

    >>> import torch, torch.nn.functional as F
    >>> op_of(F.max_pool2d).name, op_of(torch.Tensor.relu_).name, op_of(torch.Tensor.relu_).inplace
    ('max_pool2d', 'relu', True)
    >>> op_of(torch.Tensor.__rsub__).name, op_of(torch.Tensor.size) is None   # size() returns no tensor
    ('sub', True)
    >>> describe(op_of(F.max_pool2d), F.max_pool2d, (torch.zeros(1, 1, 4, 4), 2), {})
    {'kernel': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1], 'ceil_mode': False}

Names. A function that the ``forward`` of the module at qualified name ``q`` calls is recorded as
``q:{op}`` (the root's as ``:{op}``); its k-th further call within the same call of ``q`` is
``q:{op}#k``. ``op`` is PyTorch's name for the function without the in-place underscore or the
operator's dunder: ``F.relu``, ``torch.relu_``, ``x.relu()`` are all ``relu``; ``a + b``,
``a += b``, ``b.__radd__(a)`` are ``add``; ``x[i]`` is ``getitem``; ``F.max_pool2d`` with
``return_indices=True`` is ``max_pool2d`` (its indices are the part ``@indices``). A function
returning several tensors (``x.chunk(4, 1)``) records them as parts ``q:{op}@0``, ``q:{op}@1`` ….
``:`` appears in no module name (``named_modules`` joins attribute names with dots), so these
names cannot meet a module's; ``@part`` and ``#k`` keep their meaning.

What is described (``meta["functions"][name]``, written at the function's first call): ``op``,
``module`` (the ``q`` whose forward called it), ``inputs`` (for each tensor operand, the recorded
name that produced it, or None when it was not recorded, e.g. a parameter), every argument that is
a plain value (``p`` of dropout, ``dim`` of softmax, ``negative_slope``, a view's ``shape``, a
scalar ``other`` …) under PyTorch's parameter name, ``inplace`` when the function wrote into its
input, and for convolutions and pools the geometry in the form modules use: ``kernel``,
``stride``, ``padding``, ``dilation`` as [height, width] lists.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any

import torch

from explain.pairs import pair

__all__ = ["Op", "op_of", "is_inplace", "describe", "kernel_geometry", "dropout_with_mask", "json_value"]

#: operators whose dunder names differ from the function's (``a @ b`` is ``matmul``)
_DUNDERS = {
    "add": "add", "sub": "sub", "mul": "mul", "truediv": "div", "floordiv": "floor_divide", "mod": "remainder",
    "pow": "pow", "matmul": "matmul", "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
    "lshift": "bitwise_left_shift", "rshift": "bitwise_right_shift", "neg": "neg", "abs": "abs",
    "getitem": "getitem", "setitem": "setitem", "invert": "bitwise_not",
}
#: functions that never make a step of the computation (they describe or convert, or return no tensor)
_NOT_STEPS = {
    "size", "dim", "numel", "item", "tolist", "stride", "storage_offset", "is_contiguous", "data_ptr",
    "element_size", "nelement", "ndimension", "is_floating_point", "is_complex", "get_device", "untyped_storage",
    "equal", "allclose", "detach", "detach_", "requires_grad_", "retain_grad", "register_hook", "backward",
}
_KERNEL_OPS = {
    f"{kind}{n}d" for n in (1, 2, 3) for kind in ("conv", "conv_transpose", "max_pool", "avg_pool", "lp_pool")
}
_WITH_INDICES = "_with_indices"


@dataclass(frozen=True)
class Op:
    """How a torch function is recorded: its op name, and whether it writes into its input."""

    name: str
    #: the function itself writes into its first argument (``relu_``, ``add_``, ``+=``)
    inplace: bool = False
    #: position of an ``inplace=`` parameter (F.relu, F.dropout …), None if it has none
    inplace_index: int | None = None
    #: a convolution or pool: it has a kernel (and changes receptive fields)
    kernel: bool = False
    #: returns (output, indices) by design (``max_pool2d_with_indices``)
    with_indices: bool = False


_OPS: dict[Any, Op | None] = {}


def op_of(func: Any) -> Op | None:
    """The :class:`Op` of a function the capture mode saw, or None if it is not a step to record.

    >>> op_of(torch.add).name, op_of(torch.Tensor.__iadd__).inplace
    ('add', True)
    """
    try:
        return _OPS[func]
    except KeyError:
        pass
    except TypeError:  # unhashable callables are not torch functions
        return None
    op = _make_op(func)
    _OPS[func] = op
    return op


def _make_op(func: Any) -> Op | None:
    name = getattr(func, "__name__", "")
    inplace = False
    if name.startswith("__") and name.endswith("__"):
        stem = name[2:-2]
        if stem not in _DUNDERS and stem[:1] in ("r", "i") and stem[1:] in _DUNDERS:
            inplace, stem = stem[0] == "i", stem[1:]
        if stem not in _DUNDERS:
            return None  # __get__ (properties), __len__, __repr__ …
        name = _DUNDERS[stem]
        inplace = inplace or name == "setitem"
    elif name.endswith("_") and not name.endswith("__"):
        name, inplace = name[:-1], True
    if not name.isidentifier() or name in _NOT_STEPS:
        return None
    with_indices = name.endswith(_WITH_INDICES)
    name = name.removesuffix(_WITH_INDICES)
    parameters = _parameters(func)
    inplace_index = parameters.index("inplace") if parameters and "inplace" in parameters else None
    return Op(name, inplace, inplace_index, name in _KERNEL_OPS, with_indices)


_SIGNATURES: dict[Any, inspect.Signature | None] = {}


def _signature(func: Any) -> inspect.Signature | None:
    """The function's signature; for C functions the one torch documents for overriding."""
    if func not in _SIGNATURES:
        overrides = _testing_overrides()
        try:
            _SIGNATURES[func] = inspect.signature(overrides.get(func, func))
        except (TypeError, ValueError):
            _SIGNATURES[func] = None
    return _SIGNATURES[func]


_OVERRIDES: dict[Any, Any] = {}


def _testing_overrides() -> dict[Any, Any]:
    if not _OVERRIDES:
        _OVERRIDES.update(torch.overrides.get_testing_overrides())
    return _OVERRIDES


def _parameters(func: Any) -> list[str] | None:
    signature = _signature(func)
    return None if signature is None else list(signature.parameters)


def is_inplace(op: Op, args: tuple, kwargs: dict[str, Any]) -> bool:
    """True if this call writes into its first argument.

    >>> import torch.nn.functional as F
    >>> is_inplace(op_of(F.relu), (torch.zeros(1), True), {}), is_inplace(op_of(F.relu), (torch.zeros(1),), {})
    (True, False)
    """
    if op.inplace:
        return True
    if op.inplace_index is None:
        return False
    if "inplace" in kwargs:
        return bool(kwargs["inplace"])
    return len(args) > op.inplace_index and bool(args[op.inplace_index])


def arguments(func: Any, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by PyTorch's parameter names (``arg0``, ``arg1`` … when unknown).

    >>> arguments(torch.Tensor.view, (torch.zeros(4), 2, -1), {})["shape"]
    [2, -1]
    """
    signature = _signature(func)
    if signature is not None:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            names = list(signature.parameters)
            if len(names) == 2 and not kwargs:  # x.view(2, -1) for view(self, shape)
                return {names[0]: args[0], names[1]: list(args[1:])}
        else:
            bound.apply_defaults()
            return dict(bound.arguments)
    return {**{f"arg{i}": value for i, value in enumerate(args)}, **kwargs}


def json_value(value: Any) -> Any:
    """``value`` as JSON (numbers, strings, lists of them), or :data:`NotImplemented` if it is not plain."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (torch.dtype, torch.device, torch.memory_format)):
        return str(value).removeprefix("torch.")
    if isinstance(value, (tuple, list, torch.Size)):
        items = [json_value(item) for item in value]
        return NotImplemented if any(item is NotImplemented for item in items) else items
    return NotImplemented


def kernel_geometry(op: Op, named: dict[str, Any]) -> dict[str, list[int]]:
    """Kernel, stride, padding and dilation of a functional conv or pool as [height, width] lists.

    >>> kernel_geometry(op_of(torch.conv2d), {"weight": torch.zeros(4, 1, 5, 3), "stride": 2, "padding": 1})
    {'kernel': [5, 3], 'stride': [2, 2], 'padding': [1, 1], 'dilation': [1, 1]}
    """
    if op.name.startswith("conv"):
        kernel = list(pair(tuple(named["weight"].shape[2:]) or 1))
        stride = list(pair(named.get("stride", 1)))
    else:
        kernel = list(pair(named["kernel_size"]))
        stride = list(pair(named.get("stride") or named["kernel_size"]))
    padding = named.get("padding", 0)
    return {
        "kernel": kernel,
        "stride": stride,
        "padding": list(pair(padding)) if not isinstance(padding, str) else padding,
        "dilation": list(pair(named.get("dilation", 1))),
    }


_GEOMETRY_ARGUMENTS = {"kernel_size", "stride", "padding", "dilation"}


_DESCRIBED: dict[Any, dict[str, Any]] = {}
_MOST_DESCRIBED = 4096


def _key(value: Any) -> Any:
    """What of an argument a description depends on: a tensor's shape, a plain value."""
    if isinstance(value, torch.Tensor):
        return value.shape
    if isinstance(value, (tuple, list)):
        return tuple(map(_key, value))
    return value if getattr(type(value), "__hash__", None) is not None else id(value)


def describe(op: Op, func: Any, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The plain-valued arguments of one call (tensors are described by the caller, as ``inputs``).

    >>> describe(op_of(torch.softmax), torch.softmax, (torch.zeros(2, 3), 1), {})
    {'dim': 1}

    Descriptions are kept between calls and recordings (the same arguments describe the same);
    callers copy the dict before changing it.
    """
    key = (func, *map(_key, args), *(kwargs and map(_key, kwargs.items())))
    facts = _DESCRIBED.get(key)
    if facts is None:
        if len(_DESCRIBED) >= _MOST_DESCRIBED:
            _DESCRIBED.clear()
        facts = _DESCRIBED[key] = _describe(op, func, args, kwargs)
    return facts


def _describe(op: Op, func: Any, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    named = arguments(func, args, kwargs)
    facts: dict[str, Any] = {}
    if op.kernel:
        facts.update(kernel_geometry(op, named))
    for key, value in named.items():
        if key.startswith("_") or key in ("out", "inplace", "return_indices") or (op.kernel and key in _GEOMETRY_ARGUMENTS):
            continue
        plain = json_value(value)
        if plain is not NotImplemented and plain is not None and plain != []:
            facts[key] = plain
    return facts


_DROPOUTS = {"dropout"}


def dropout_with_mask(op: Op, func: Any, args: tuple, kwargs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(output, kept mask) of a training-mode ``F.dropout`` on the CPU, computed as PyTorch's CPU
    kernel computes it (the same random draws, so the output equals the plain call's), else None.

    >>> _ = torch.manual_seed(0); out, mask = dropout_with_mask(op_of(torch.nn.functional.dropout),
    ...     torch.nn.functional.dropout, (torch.ones(2, 3),), {"p": 0.5, "training": True})
    >>> _ = torch.manual_seed(0); torch.equal(out, torch.nn.functional.dropout(torch.ones(2, 3), 0.5))
    True
    """
    if op.name not in _DROPOUTS:
        return None
    named = arguments(func, args, kwargs)
    x, p = named.get("input"), named.get("p", 0.5)
    if not named.get("training", True) or not isinstance(x, torch.Tensor) or x.device.type != "cpu":
        return None
    if not isinstance(p, (int, float)) or not 0 < p < 1 or x.numel() == 0 or not x.is_floating_point():
        return None
    noise = torch.empty_like(x).bernoulli_(1 - p)  # at::native::dropout on the CPU: _dropout_impl
    noise.div_(1 - p)
    output = x.mul_(noise) if named.get("inplace") else x * noise
    return output, noise != 0
