"""The errors explain raises for input a person can correct; only the command line turns them into
one line on stderr and exit status 2.

    >>> from explain.errors import ExplainError, TraceFileError, UsageError
    >>> issubclass(TraceFileError, ExplainError) and issubclass(UsageError, ExplainError)
    True
    >>> str(UsageError("unknown scene 'x'"))
    "unknown scene 'x'"

Both are ``ValueError``s too, so code that catches bad values keeps working.
"""

from __future__ import annotations

__all__ = ["ExplainError", "TraceFileError", "UsageError"]


class ExplainError(ValueError):
    """Something the user gave (a file, a name, an option) that explain cannot use; the message says what."""


class TraceFileError(ExplainError):
    """A trace file that cannot be read: missing, not a regular file, truncated, corrupt, foreign or too new."""


class UsageError(ExplainError):
    """A request that cannot be carried out as asked (unknown scene, options that exclude each other …)."""
