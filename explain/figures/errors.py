"""The one error a figure reader raises: a trace or option that cannot give the figure's numbers.

    >>> raise FigureError("the trace has no convolution with its kernel (record a CNN)")
    Traceback (most recent call last):
    ...
    explain.figures.errors.FigureError: the trace has no convolution with its kernel (record a CNN)

Its message is one line that names what was found and what would work.
"""

from __future__ import annotations

from explain.errors import ExplainError

__all__ = ["FigureError", "names_or_none"]


class FigureError(ExplainError):
    """A trace or option a figure cannot use; the message says what was found and what is possible."""


def names_or_none(names, most: int = 8) -> str:
    """ "a, b, c" (at most ``most``, then "… (N in all)"), or "none" for an empty list.

    >>> names_or_none([]), names_or_none(["conv1", "layer1.0.conv1"]), names_or_none("abc", most=2)
    ('none', 'conv1, layer1.0.conv1', 'a, b … (3 in all)')
    """
    names = [str(name) for name in names]
    if not names:
        return "none"
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} … ({len(names)} in all)"
