"""Placeholder until its issue lands: registers no commands yet."""


def register(subparsers) -> None:
    return None
