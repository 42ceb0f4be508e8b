"""What every recorder shares with ``explain.record``: the error, and what an installer returns.

    >>> installed = Installed()
    >>> installed.handles, installed.modules
    ([], set())
    >>> of_thread(lambda value: value * 2, threading.get_ident())(21), of_thread(lambda value: value, -1)(21)
    (42, None)
    >>> from torch.overrides import TorchFunctionMode
    >>> with TorchFunctionMode():
    ...     with unobserved():
    ...         torch._C._is_torch_function_mode_enabled()
    False

A recorder (listed in :mod:`explain.recording.registry`) is a module with
``install(recording, claimed) -> Installed``. It hooks the modules of ``recording.model`` it can
record, except those in ``claimed`` (an earlier recorder's), registering every hook through
``recording.owned(hook)`` (a forward tap, :mod:`explain.recording.forward_taps`, with
``recording.thread``) so that it only runs for calls made by the thread that opened the
recording; it returns the handles (anything with ``remove()``) and the modules it claims.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["Installed", "ModuleHook", "RecordingError", "of_thread", "unobserved"]


class RecordingError(RuntimeError):
    """The recording cannot be trusted or cannot be made (a clear message says why)."""


@dataclass
class Installed:
    """What one recorder's ``install`` did: removable ``handles`` and the ``modules`` it claims."""

    handles: list = field(default_factory=list)
    modules: set = field(default_factory=set)


class ModuleHook:
    """A recorder's hook on a model's module. A copy of the module made while the hook is on it
    (``copy.deepcopy(model)``, ``torch.save(model)``) gets, in its place, a hook that does nothing
    and refers to nothing: the copy neither keeps the recording alive nor needs explain to load
    (``None.__init__`` takes any arguments and returns None).

        >>> import copy, pickle
        >>> hook = of_thread(lambda *args: "seen", threading.get_ident())
        >>> hook(1, 2), copy.deepcopy(hook)(1, 2), pickle.loads(pickle.dumps(hook))(1, 2)
        ('seen', None, None)
    """

    __slots__ = ()

    def __reduce__(self) -> tuple:
        return getattr, (None, "__init__")


class _OfThread(ModuleHook):
    __slots__ = ("hook", "thread")

    def __init__(self, hook: Callable[..., Any], thread: int):
        self.hook, self.thread = hook, thread

    def __call__(self, *args: Any) -> Any:
        if threading.get_ident() == self.thread:
            return self.hook(*args)
        return None


def of_thread(hook: Callable[..., Any], thread: int) -> Callable[..., Any]:
    """``hook`` for calls made by ``thread`` only: other threads' calls pass untouched (None)."""
    return _OfThread(hook, thread)


_NOTHING = contextlib.nullcontext()


def unobserved() -> contextlib.AbstractContextManager:
    """A context in which no torch function mode sees the tensor work done (a recorder's own work,
    inside a forward another recording watches); nothing to do when no mode is on."""
    return torch._C.DisableTorchFunction() if torch._C._is_torch_function_mode_enabled() else _NOTHING
