"""Index lists as people type them ("0-3,7"), parsed and checked the same way everywhere.

    >>> parse_index_list("0,2,5-7")
    [0, 2, 5, 6, 7]
    >>> parse_index_list("0-10000000000")
    Traceback (most recent call last):
    ValueError: '0-10000000000' names 10000000001 numbers; at most 100000
    >>> check_in_range("unit", [3, 9], 8, "lstm")
    Traceback (most recent call last):
    ValueError: unit 9 is out of range: lstm has 8 (units 0–7)

The command line (``--steps``, ``--units``, ``--channels``) and the figures (``steps="0-3"``) both
use :func:`parse_index_list`; ranges include both ends and are counted before any is expanded,
so an absurd range is refused at once. Callers turn the ValueError into their own error.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["LIST_LIMIT", "check_in_range", "parse_index_list"]

#: the most numbers one index list may name
LIST_LIMIT = 100_000


def parse_index_list(text: str, *, limit: int = LIST_LIMIT) -> list[int]:
    """ "0,2,5-7" → [0, 2, 5, 6, 7]: numbers and ranges (both ends included), at most ``limit`` numbers."""
    ranges: list[tuple[int, int]] = []
    try:
        for part in filter(None, (piece.strip() for piece in text.split(","))):
            first, dash, last = part.partition("-")
            low, high = int(first), int(last if dash else first)
            if high < low:
                raise ValueError
            ranges.append((low, high))
    except ValueError:
        raise ValueError(f"expected numbers and ranges like 0,2,5-7, got {text!r}") from None
    count = sum(high - low + 1 for low, high in ranges)
    if count == 0:
        raise ValueError(f"expected at least one number, got {text!r}")
    if count > limit:
        raise ValueError(f"{text.strip()!r} names {count} numbers; at most {limit}")
    return [number for low, high in ranges for number in range(low, high + 1)]


def check_in_range(what: str, indices: Sequence[int], size: int, owner: str = "") -> None:
    """Raise ValueError naming the first of ``indices`` outside 0 … size−1 (``owner``: whose ``what`` they are)."""
    bad = [index for index in indices if not 0 <= index < size]
    if bad:
        whose = owner or "the trace"
        raise ValueError(f"{what} {bad[0]} is out of range: {whose} has {size} ({what}s 0–{size - 1})")
