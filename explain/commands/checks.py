"""Argument types that check a command-line value when it is parsed, before any work starts.

    >>> int_list("0-3,7")
    [0, 1, 2, 3, 7]
    >>> int_range(1, 64, "--jobs")("0")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: --jobs must be a whole number from 1 to 64, got '0'

Each one raises ``argparse.ArgumentTypeError`` with one line that names the value and what is
possible; the command line prints it and exits with status 2.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from explain.indices import LIST_LIMIT, parse_index_list

__all__ = ["LIST_LIMIT", "int_list", "int_range", "output_directory", "output_file", "positive_number"]



def int_list(text: str) -> list[int]:
    """ "0,2,5-7" → [0, 2, 5, 6, 7]; ranges include both ends; at most :data:`LIST_LIMIT` numbers.

    The ranges are counted before any is expanded, so ``0-10000000000`` is refused at once.

    >>> int_list("0-10000000000")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: '0-10000000000' names 10000000001 numbers; at most 100000
    """
    try:
        return parse_index_list(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def int_range(low: int, high: int, option: str) -> Callable[[str], int]:
    """An argument type for a whole number from ``low`` to ``high``.

    >>> int_range(1, 128, "--base-dim")("16")
    16
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{option} must be a whole number from {low} to {high}, got {text!r}")
        return value

    return parse


def output_file(text: str) -> Path:
    """A file path that can be written: an existing regular file (replaced) or a new name in a writable directory.

    >>> output_file("/dev/null/x.safetensors")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: cannot write /dev/null/x.safetensors: /dev/null is not a directory
    """
    path = Path(text)
    if not text:
        raise argparse.ArgumentTypeError("expected a file name, got ''")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory; give a file name, e.g. {path / 'trace.safetensors'}")
    if path.exists() and not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a regular file")
    _check_parent(path, text)
    return path


def output_directory(text: str) -> Path:
    """A directory that exists and can be written, or can be made.

    >>> output_directory("/dev/null")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: /dev/null exists and is not a directory (-o names the output directory)
    """
    path = Path(text)
    if not text:
        raise argparse.ArgumentTypeError("expected a directory, got ''")
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a directory (-o names the output directory)")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise argparse.ArgumentTypeError(f"cannot write into {text}: permission denied")
        return path
    _check_parent(path, text)
    return path


def _check_parent(path: Path, text: str) -> None:
    """The nearest existing ancestor of ``path`` must be a directory this process may write into."""
    ancestor = path.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text}: {ancestor} is not writable")


def positive_number(text: str) -> float:
    """ "1.5" → 1.5; anything that is not a finite number above 0 is refused.

    >>> positive_number("0.7")
    0.7
    """
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number above 0 (1.5 slower, 0.7 faster), got {text!r}")
    return value
