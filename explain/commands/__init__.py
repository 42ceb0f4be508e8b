"""Subcommands of ``explain``: each module has ``register(subparsers)`` that adds its commands.

Each command's handler takes the parsed arguments and returns the exit status.
"""

MODULES = ["record", "render", "inspect"]
