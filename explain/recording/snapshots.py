"""Copies of parameters that recordings share while the values stay the same, compared byte by byte.

    >>> import torch
    >>> weight = torch.nn.Parameter(torch.ones(3))
    >>> snapshot(weight) is snapshot(weight)          # unchanged: one copy for every recording
    True
    >>> kept = snapshot(weight)
    >>> weight.data[0] = 2.0                          # a write through .data leaves no version behind
    >>> snapshot(weight) is kept, same_bytes(kept, weight.detach())
    (False, False)

A recording must know the weights a forward really used; a fresh copy of every kernel at every
recording costs page faults comparable to a small convolution, and torch.equal ~10× a memcmp.
"""

from __future__ import annotations

import ctypes
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import torch

__all__ = ["same_bytes", "same_bytes_as", "snapshot"]


#: id(parameter) → (weak reference to it, the copy that recordings share while it is unchanged)
_SNAPSHOTS: dict[int, tuple[weakref.ref, torch.Tensor]] = {}


def _memcmp() -> Any:
    try:
        memcmp = ctypes.CDLL(None).memcmp
    except (OSError, AttributeError, TypeError):  # no C library to ask (Windows): torch.equal instead
        return None
    memcmp.restype, memcmp.argtypes = ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    return memcmp


_MEMCMP = _memcmp()


def same_bytes(kept: torch.Tensor, current: torch.Tensor) -> bool:
    """Do two tensors hold the same bytes? (C's memcmp is ~10× faster than torch.equal.)"""
    return same_bytes_as([kept])([current])


def same_bytes_as(kept: Sequence[torch.Tensor]) -> Callable[[Sequence[torch.Tensor]], bool]:
    """A test, asked once per call, of whether tensors still hold the bytes of ``kept`` (e.g. a
    module's weights between one-step calls), with what can be known of ``kept`` read once:
    shape, dtype and device must match; then memcmp where both sides are contiguous CPU memory,
    else torch.equal. A tensor that passed last time and is still the same object at the same
    address, version, dtype and layout (``p.data = p.data.t()`` changes the layout, not the
    address) has only its bytes compared again.

    >>> weights = [torch.ones(2, 3), torch.zeros(3)]
    >>> unchanged = same_bytes_as([w.clone() for w in weights])
    >>> unchanged(weights), unchanged([weights[0], torch.ones(3)]), unchanged([weights[0].t(), weights[1]])
    (True, False, False)
    >>> square = torch.nn.Parameter(torch.arange(4.0).view(2, 2))
    >>> same_layout = same_bytes_as([square.detach().clone()])
    >>> same_layout([square]), same_layout([square])
    (True, True)
    >>> square.data = square.data.t()                  # the same bytes at the same address, read transposed
    >>> same_layout([square])
    False
    """
    facts = [
        (k, k.shape, k.dtype, k.device, k.data_ptr() if _MEMCMP and k.is_cpu and k.is_contiguous() else None, k.numel() * k.element_size())
        for k in kept
    ]
    # when every place passed by memcmp last time: per place (tensor, version, address, dtype, copy's address, size)
    passed: list[tuple[Any, int, int, torch.dtype, int, int]] = []

    def unchanged(current: Sequence[torch.Tensor]) -> bool:
        if len(passed) == len(current):
            for now, (last, version, address, dtype, pointer, size) in zip(current, passed):
                if now is not last or now._version != version or now.data_ptr() != address or now.dtype is not dtype or not now.is_contiguous():
                    break
                if _MEMCMP(pointer, address, size):
                    return False
            else:
                return True
        passed.clear()
        for now, (copy, shape, dtype, device, pointer, size) in zip(current, facts, strict=True):
            if now.shape != shape or now.dtype != dtype or now.device != device:
                return False
            if pointer is not None and now.is_contiguous():
                if _MEMCMP(pointer, now.data_ptr(), size):
                    return False
                passed.append((now, now._version, now.data_ptr(), dtype, pointer, size))
            elif not torch.equal(copy, now):
                return False
        if len(passed) != len(facts):  # some place compared with torch.equal: no fast path
            passed.clear()
        return True

    return unchanged


def snapshot(parameter: torch.Tensor) -> torch.Tensor:
    """A copy of ``parameter``. Recordings share one copy while the values stay the same (compared
    byte by byte: a write through ``.data`` leaves no trace in version counters); fresh copies of
    every kernel at every recording cost page faults comparable to a small convolution."""
    current = parameter.detach()
    ref, kept = _SNAPSHOTS.get(id(parameter), (None, None))
    if ref is not None and ref() is parameter and same_bytes(kept, current):
        return kept
    kept = current.clone()
    key = id(parameter)
    _SNAPSHOTS[key] = (weakref.ref(parameter, lambda dead: _forget_snapshot(key, dead)), kept)
    return kept


def _forget_snapshot(key: int, ref: weakref.ref) -> None:
    if _SNAPSHOTS.get(key, (None,))[0] is ref:
        del _SNAPSHOTS[key]
