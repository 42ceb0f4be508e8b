"""The recorders ``explain.record`` installs, in order; each one skips the modules earlier ones claimed.

    >>> [recorder.__name__.rsplit(".", 1)[-1] for recorder in RECORDERS]
    ['recurrent', 'features']

:mod:`explain.recording.recurrent` claims nn.LSTM/GRU/RNN and their cells (gates recomputed and
verified); :mod:`explain.recording.features` records every other module. A new recorder is one new
module with ``install(recording, claimed) -> Installed`` (see :mod:`explain.recording.base`),
listed here before the recorders whose modules it takes over.
"""

from __future__ import annotations

from explain.recording import features, recurrent

__all__ = ["RECORDERS"]

RECORDERS = (recurrent, features)
