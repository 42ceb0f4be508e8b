"""(height, width) from a size as PyTorch accepts it: an int for both, or a pair.

    >>> pair(3), pair([2, 1]), pair((5,))
    ((3, 3), (2, 1), (5, 5))

Kernel sizes, strides, paddings and dilations reach the recorder (module attributes, functional
arguments) and the figures (``meta["modules"]``) in either form; both read them through here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["pair"]


def pair(value: Any) -> tuple[int, int]:
    """(height, width) from an int or a sequence (its first and last items)."""
    if isinstance(value, (list, tuple)):
        return (int(value[0]), int(value[-1]))
    return (int(value), int(value))
