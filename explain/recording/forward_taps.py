"""Taps on a module's ``forward``: a check before each call and a look at its output after, at less
cost than a pair of forward hooks.

    >>> import torch
    >>> cell = torch.nn.RNNCell(2, 3)
    >>> seen = []
    >>> this_thread = threading.get_ident()
    >>> tap = ForwardTap.add(cell, lambda m, args, kwargs: None, lambda m, args, kwargs, out: seen.append(out.shape), this_thread)
    >>> _ = cell(torch.ones(1, 2))
    >>> tap.remove()
    >>> _ = cell(torch.ones(1, 2))
    >>> seen, "forward" in vars(cell)
    ([torch.Size([1, 3])], False)

A module with any hook leaves ``nn.Module.__call__``'s fast path and pays for it at every call
(~8 µs per call of an ``nn.LSTMCell`` here, 13 % of the call). A tap instead puts one callable in
the instance's ``forward`` while taps are on it; the user's own hooks still run around it, so a
check sees the input the module gets and a look sees the output its ``forward`` returned. Taps of
several recordings (nested, or from other threads) share that callable; a tap runs for calls from
its own thread only, unseen by any torch function mode (an enclosing recording's capture mode must
not take the recorder's own tensor work for the model's), and each look may replace the output
(returning non-None), as a forward hook may.

A module that already has forward hooks (its own or global ones) gets a pair of hooks instead, run
after them: a hook may change the output the caller gets, and the look must see that output.
A deep copy of a tapped module (``copy.deepcopy``, pickling) has no taps. If someone replaces the
tapped ``forward`` during a recording, the taps stop seeing the calls that do not go through it;
``on_replaced`` says so when the tap is removed.

    >>> _ = cell.register_forward_hook(lambda m, args, out: out * 2)
    >>> tap = ForwardTap.add(cell, lambda m, args, kwargs: None, lambda m, args, kwargs, out: seen.append(out.shape), this_thread)
    >>> "forward" in vars(cell), len(cell._forward_hooks)
    (False, 2)
    >>> tap.remove()
    >>> len(cell._forward_hooks)
    1
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from torch import nn
from torch.nn.modules import module as module_hooks

from explain.recording.base import ModuleHook, of_thread, unobserved

__all__ = ["ForwardTap"]

Check = Callable[[nn.Module, tuple, dict], None]
Look = Callable[[nn.Module, tuple, dict, Any], Any]

_LOCK = threading.Lock()


class _TappedForward:
    """What a tapped module's instance ``forward`` is: the module's own forward between the taps."""

    def __init__(self, module: nn.Module):
        self.module = module
        self.previous = vars(module).get("forward")  # an instance forward someone set before us
        self.forward = self.previous or type(module).forward.__get__(module)
        self.__wrapped__ = self.forward  # inspect.signature(module.forward) still sees the module's own
        self.taps: tuple[ForwardTap, ...] = ()  # replaced, never changed in place: safe to iterate

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        taps, module, thread, quiet = self.taps, self.module, threading.get_ident(), unobserved()
        with quiet:
            for tap in taps:
                if tap.thread == thread:
                    tap.check(module, args, kwargs)
        output = self.forward(*args, **kwargs)
        with quiet:  # (a context that can be entered again)
            for tap in taps:
                if tap.thread == thread:
                    replaced = tap.look(module, args, kwargs, output)
                    if replaced is not None:
                        output = replaced
        return output

    def __reduce__(self) -> tuple:
        """A deep copy of the module (``copy.deepcopy(model)``, ``torch.save(model)`` during a
        recording) gets an untapped forward: the instance forward found before the taps, or its
        class's, read from the copy while its attributes are being restored (no reference to
        explain is saved)."""
        if self.previous is not None:
            return copy.copy, (self.previous,)
        return getattr, (self.module, "forward")


class ForwardTap:
    """One ``check`` (before a call) and ``look`` (after it) on a module, for calls from ``thread``;
    :meth:`remove` takes them off."""

    def __init__(self, module: nn.Module, check: Check, look: Look, thread: int, on_replaced: Callable[[], None] | None):
        self.module, self.check, self.look, self.thread, self.on_replaced = module, check, look, thread, on_replaced
        self.tapped: _TappedForward | None = None  # the forward this tap is on

    @classmethod
    def add(
        cls, module: nn.Module, check: Check, look: Look, thread: int, on_replaced: Callable[[], None] | None = None
    ) -> ForwardTap | _Hooks:
        if module._forward_hooks or module_hooks._global_forward_hooks:
            return _Hooks(module, of_thread(check, thread), of_thread(look, thread))
        tap = cls(module, check, look, thread, on_replaced)
        with _LOCK:
            tapped = vars(module).get("forward")
            if not isinstance(tapped, _TappedForward):
                tapped = _TappedForward(module)
                module.forward = tapped
            tapped.taps = (*tapped.taps, tap)
            tap.tapped = tapped
        return tap

    def remove(self) -> None:
        """Take this tap off (also from a tapped forward someone has wrapped since); the last one
        leaves ``forward`` as it found it, unless it was replaced meanwhile."""
        with _LOCK:
            tapped, self.tapped = self.tapped, None
            if tapped is None:
                return  # removed already
            tapped.taps = tuple(tap for tap in tapped.taps if tap is not self)
            replaced = vars(self.module).get("forward") is not tapped
            if not tapped.taps and not replaced:
                if tapped.previous is None:
                    del self.module.forward
                else:
                    self.module.forward = tapped.previous
        if replaced and self.on_replaced is not None:
            self.on_replaced()


class _Hooks:
    """A check and a look as a forward pre-hook and a forward hook (see :meth:`ForwardTap.add`)."""

    def __init__(self, module: nn.Module, check: Check, look: Look):
        self.handles = [
            module.register_forward_pre_hook(_Unobserved(module, check), with_kwargs=True),
            module.register_forward_hook(_Unobserved(module, look), with_kwargs=True),
        ]

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


class _Unobserved(ModuleHook):
    """``hook`` unseen by torch function modes, for calls of ``target`` itself (a shallow copy,
    ``copy.copy(module)``, shares the module's hooks, and the copy's calls are not the recorded
    module's)."""

    __slots__ = ("target", "hook")

    def __init__(self, target: nn.Module, hook: Callable[..., Any]):
        self.target, self.hook = target, hook

    def __call__(self, module: nn.Module, *args: Any) -> Any:
        if module is not self.target:
            return None
        with unobserved():
            return self.hook(module, *args)
