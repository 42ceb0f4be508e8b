"""What every recorder shares with ``explain.record``: the error, and what an installer returns.

    >>> installed = Installed()
    >>> installed.handles, installed.modules
    ([], set())

A recorder (listed in :mod:`explain.recording.registry`) is a module with
``install(recording, claimed) -> Installed``. It hooks the modules of ``recording.model`` it can
record, except those in ``claimed`` (an earlier recorder's), registering every hook (or forward
tap, :mod:`explain.recording.forward_taps`) through ``recording.owned(hook)`` so that it only runs
for calls made by the thread that opened the recording; it returns the handles (anything with
``remove()``) and the modules it claims.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Installed", "RecordingError"]


class RecordingError(RuntimeError):
    """The recording cannot be trusted or cannot be made (a clear message says why)."""


@dataclass
class Installed:
    """What one recorder's ``install`` did: removable ``handles`` and the ``modules`` it claims."""

    handles: list = field(default_factory=list)
    modules: set = field(default_factory=set)
