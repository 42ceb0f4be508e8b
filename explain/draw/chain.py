"""Pieces of recurrent diagrams: module boxes, arrows between them, self-loops, token tiles.

    >>> from manim import DOWN
    >>> from explain.draw.chain import ModuleBox, link, self_loop, TokenTile
    >>> box = ModuleBox("A")
    >>> loop = self_loop(box)                   # the rolled RNN's recurrent edge
    >>> tile = TokenTile("h").next_to(box, DOWN, buff=0.6)
    >>> arrow = link(tile, box)                 # the input entering from below

Boxes follow the book's figures on a light page: the module is a rounded box, inputs enter from
below, outputs leave upward, the state passes to the right.
"""

from __future__ import annotations

from manim import (
    DOWN,
    PI,
    RIGHT,
    UP,
    Arrow,
    CurvedArrow,
    Mobject,
    RoundedRectangle,
    Text,
    VGroup,
)

from explain.draw import theme
from explain.draw.strip import show_token

__all__ = ["arrow_between", "link", "ModuleBox", "readable", "self_loop", "TokenTile"]


def readable(text: str) -> str:
    """``text`` with control characters as their Unicode pictures, so one line stays one line.

    >>> readable("a\\nb\\rc\\x0b")
    'a␊b␍c␋'
    """
    return "".join(chr(0x2400 + ord(ch)) if ord(ch) < 32 else ch for ch in text)


class ModuleBox(VGroup):
    """A rounded box with a label in the middle (the recurrent module "A", a layer, a decoder)."""

    def __init__(self, label: str, *, width: float = 1.0, height: float = 0.8, size: float = 30, fill=theme.MODULE_FILL):
        super().__init__()
        self.box = RoundedRectangle(width=width, height=height, corner_radius=0.14, stroke_color=theme.INK, stroke_width=2)
        self.box.set_fill(fill, opacity=1)
        self.label = Text(label, font=theme.FONT, font_size=size, color=theme.INK)
        if self.label.width > width * 0.9:
            self.label.scale_to_fit_width(width * 0.9)
        self.label.move_to(self.box)
        self.add(self.box, self.label)


class TokenTile(VGroup):
    """A token being read, in a small tile (a space shows as "␣"); a word widens it up to ``max_width``.

    >>> float(TokenTile("a").width), round(float(TokenTile("remember", max_width=1.2).width), 2)
    (0.5, 1.2)
    """

    def __init__(self, token: str, *, side: float = 0.5, color=theme.INK, fill=theme.BACKGROUND, max_width: float | None = None):
        super().__init__()
        self.token = token
        self.glyph = Text(readable(show_token(token)), font=theme.MONO_FONT, font_size=side * 56, color=color)
        if self.glyph.height > side * 0.7:
            self.glyph.scale_to_fit_height(side * 0.7)
        width = min(max(side, self.glyph.width + side * 0.3), max_width or side * 3)
        if self.glyph.width > width - side * 0.2:  # a long word is set smaller to stay inside its tile
            self.glyph.scale_to_fit_width(width - side * 0.2)
        self.box = RoundedRectangle(width=width, height=side, corner_radius=0.06, stroke_color=theme.MUTED, stroke_width=1.5)
        self.box.set_fill(fill, opacity=1)
        self.glyph.move_to(self.box)
        self.add(self.box, self.glyph)


def link(start: Mobject, end: Mobject, *, color=theme.INK, buff: float = 0.06, stroke: float = 3) -> Arrow:
    """An arrow from ``start`` to ``end``, leaving and entering at the facing sides."""
    direction = end.get_center() - start.get_center()
    horizontal = abs(direction[0]) >= abs(direction[1])
    if horizontal:
        begin = start.get_right() if direction[0] > 0 else start.get_left()
        finish = end.get_left() if direction[0] > 0 else end.get_right()
    else:
        begin = start.get_top() if direction[1] > 0 else start.get_bottom()
        finish = end.get_bottom() if direction[1] > 0 else end.get_top()
    return arrow_between(begin, finish, color=color, buff=buff, stroke=stroke)


def arrow_between(begin, finish, *, color=theme.INK, buff: float = 0.06, stroke: float = 3) -> Arrow:
    """A straight arrow between two points with a small tip that does not grow with length."""
    return Arrow(
        begin,
        finish,
        buff=buff,
        color=color,
        stroke_width=stroke,
        tip_length=0.16,
        max_tip_length_to_length_ratio=0.5,
        max_stroke_width_to_length_ratio=40,
    )


def self_loop(box: Mobject, *, color=theme.INK, reach: float = 0.55) -> CurvedArrow:
    """The recurrent edge of a rolled module: out of its right side, round, and back in."""
    start = box.get_right() + UP * box.height * 0.25
    end = box.get_right() + DOWN * box.height * 0.25
    loop = CurvedArrow(start, end, angle=-1.6 * PI, color=color, stroke_width=3, tip_length=0.14)
    if loop.width > reach:
        loop.stretch_to_fit_width(reach).next_to(box, RIGHT, buff=0)
    return loop

