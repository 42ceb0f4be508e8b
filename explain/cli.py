"""The ``explain`` command.

    $ explain models                      # the book's models
    $ explain record hello-lstm -o t.safetensors
    $ explain show t.safetensors
    $ explain render lstm-cell --still --quality low

Errors a user can act on (bad file, unknown model, bad option) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import select
import sys

from explain import __version__
from explain.commands import MODULES
from explain.errors import ExplainError

__all__ = ["INTERRUPTED", "build_parser", "main", "run"]

#: the exit status after Ctrl-C (128 + SIGINT), as shells report it
INTERRUPTED = 130
#: the exit status after the reader of stdout went away (128 + SIGPIPE, as the shell reports a program it killed)
BROKEN_PIPE = 141


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line on stderr (the command, the problem, where to look), exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="explain",
        description="Record what happens inside PyTorch RNNs and CNNs, and redraw the book's figures with it.",
    )
    parser.add_argument("--version", action="version", version=f"explain {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in MODULES:
        importlib.import_module(f"explain.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    from explain.recording.api import RecordingError

    try:
        status = int(args.handler(args) or 0)
        sys.stdout.flush()  # a reader that left early shows here, not in Python's flush at exit
        return status
    except (ExplainError, RecordingError, FileNotFoundError) as error:
        print(f"explain {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"explain {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        if not _reader_left():  # another pipe broke: not the user's choice, say so
            raise
        # the reader of stdout left (explain show FILE | head): stop quietly, as a program killed by SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (Python flushes stdout again at exit)
        return BROKEN_PIPE


def _reader_left() -> bool:
    """Has the reader of stdout closed its end of the pipe? (poll reports an error on ours)"""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows) or no file behind stdout: assume so
        return True


def run() -> None:
    """The ``explain`` program: :func:`main`, then exit with its status.

    After Ctrl-C everything worth keeping is already written (renders move into place only when
    finished, the cache is replaced atomically), so the process ends at once instead of spending
    seconds tearing down torch and manim.
    """
    status = main()
    if status == INTERRUPTED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    run()
