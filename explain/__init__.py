"""explain: record what happens inside PyTorch RNNs and CNNs; redraw the book's figures with it.

    >>> import torch, explain
    >>> lstm = torch.nn.LSTM(4, 3)
    >>> tr = explain.record(lstm, torch.randn(5, 1, 4))
    >>> tr["l0.fwd.f"].shape
    torch.Size([5, 1, 3])

``import explain`` imports nothing heavy until used; views (manim, matplotlib) are imported only
by the views.
"""

__version__ = "0.1.0"

_FROM_TRACE = ("Trace", "TraceFileError", "load")


def __getattr__(name: str):
    """``Trace``, ``TraceFileError``, ``load`` and ``Probe`` import torch on first use, so that merely
    loading the package (e.g. pytest loading the plugin entry point) stays cheap."""
    if name in _FROM_TRACE:
        from explain import trace

        return getattr(trace, name)
    if name == "Probe":
        from explain.probe import Probe

        return Probe
    raise AttributeError(f"module 'explain' has no attribute {name!r}")


def record(model, *inputs, **kwargs):
    """Record one forward pass of ``model`` (or, with no inputs, every call while a ``with`` block is open).

    See :func:`explain.recording.api.record`.
    """
    from explain.recording.api import record as _record

    return _record(model, *inputs, **kwargs)


__all__ = ["Probe", "Trace", "TraceFileError", "load", "record", "__version__"]
