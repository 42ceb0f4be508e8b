"""A line a figure says on screen about what it does not draw, in English and Korean.

    >>> note = Note("after conv1: Net.forward goes on unrecorded", "conv1 다음: Net.forward의 나머지는 기록되지 않았습니다")
    >>> note.text("ko")
    'conv1 다음: Net.forward의 나머지는 기록되지 않았습니다'
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Note"]


class Note(NamedTuple):
    """One line, in both languages a scene speaks."""

    en: str
    ko: str

    def text(self, lang: str) -> str:
        return self.ko if lang == "ko" else self.en
