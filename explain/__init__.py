"""explain: record what happens inside PyTorch RNNs and CNNs; redraw the book's figures with it.

    >>> import torch, explain
    >>> lstm = torch.nn.LSTM(4, 3)
    >>> tr = explain.record(lstm, torch.randn(5, 1, 4))
    >>> tr["l0.fwd.f"].shape
    torch.Size([5, 1, 3])

``import explain`` imports torch, numpy and safetensors only; views (manim, matplotlib) are
imported when used.
"""

from explain.trace import Trace, TraceFileError, load

__version__ = "0.1.0"


def record(model, *inputs, **kwargs):
    """Record one forward pass of ``model`` (or, with no inputs, every call while a ``with`` block is open).

    See :func:`explain.recording.api.record`.
    """
    from explain.recording.api import record as _record

    return _record(model, *inputs, **kwargs)


__all__ = ["Trace", "TraceFileError", "load", "record", "__version__"]
