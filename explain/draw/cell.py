"""The parts of colah-style cell figures: module box, yellow layer boxes, pink pointwise ops, wires.

    >>> from explain.draw.cell import layer_box, pointwise, wire, symbol
    >>> forget = layer_box("σ").move_to([-4.6, -0.4, 0])      # a learned layer (yellow)
    >>> times = pointwise("×").move_to([-4.6, 1.45, 0])       # a pointwise operation (pink)
    >>> arrow = wire([-4.6, -0.19, 0], [-4.6, 1.25, 0])       # a line ending in an arrow
    >>> label = symbol("C", "t−1")                            # Cₜ₋₁ as Pango markup

Wires are polylines through the given points; only the last segment carries the arrow tip, so a
wire can turn corners like the lines of the book's figures.
"""

from __future__ import annotations

from collections.abc import Sequence

from manim import Arrow, Ellipse, Line, MarkupText, Rectangle, RoundedRectangle, Text, VGroup, np

from explain.draw import theme

__all__ = ["layer_box", "module_box", "pointwise", "symbol", "wire", "WIRE_WIDTH"]

WIRE_WIDTH = 3.0


def module_box(width: float, height: float) -> RoundedRectangle:
    """The rounded box around one cell (light fill, thin outline)."""
    return RoundedRectangle(
        width=width, height=height, corner_radius=0.3, stroke_color=theme.MUTED, stroke_width=2
    ).set_fill(theme.MODULE_FILL, opacity=1)


def layer_box(label: str, *, width: float = 0.62, height: float = 0.42, markup: bool = False) -> VGroup:
    """A learned layer: a yellow rectangle with σ, tanh or (``markup=True``) e.g. ``W<sub>hn</sub>`` inside."""
    box = Rectangle(width=width, height=height, stroke_color=theme.LAYER_STROKE, stroke_width=2)
    box.set_fill(theme.LAYER_FILL, opacity=1)
    if markup:
        text = theme.markup_text(label, size=20)
    else:
        text = Text(label, font=theme.FONT, font_size=20, color=theme.INK)
    text.move_to(box)
    return VGroup(box, text)


def pointwise(label: str, *, radius: float = 0.2) -> VGroup:
    """A pointwise operation: a pink circle with × or +, or a pink oval with tanh."""
    width = 2 * radius if len(label) == 1 else 3.2 * radius
    shape = Ellipse(width=width, height=2 * radius, stroke_color=theme.POINTWISE_STROKE, stroke_width=2)
    shape.set_fill(theme.POINTWISE_FILL, opacity=1)
    size = 26 if len(label) == 1 else 16
    text = Text(label, font=theme.FONT, font_size=size, color=theme.INK).move_to(shape)
    return VGroup(shape, text)


def wire(*points: Sequence[float], arrow: bool = True, color=theme.CELL_LINE) -> VGroup:
    """A line through ``points``; the last segment ends in an arrow tip unless ``arrow`` is False."""
    corners = [np.array([*point[:2], 0.0], dtype=float) for point in points]
    if len(corners) < 2:
        raise ValueError("a wire needs at least two points")
    segments = VGroup()
    for start, end in zip(corners[:-2], corners[1:-1]):
        segments.add(Line(start, end, stroke_width=WIRE_WIDTH, color=color))
    start, end = corners[-2], corners[-1]
    if arrow:
        last = Arrow(
            start, end, buff=0, stroke_width=WIRE_WIDTH, color=color, tip_length=0.14, max_tip_length_to_length_ratio=0.6
        )
    else:
        last = Line(start, end, stroke_width=WIRE_WIDTH, color=color)
    return segments.add(last)


def symbol(name: str, subscript: str = "", accent: str = "", *, size: float = 24, color=theme.INK) -> MarkupText:
    """A maths symbol with a Pango subscript, e.g. ``symbol("C", "t−1")`` → Cₜ₋₁, ``accent="̃"`` → C̃.

    Markup keeps real subscripts without LaTeX; the theme's font covers Latin, Greek and Hangul.
    """
    markup = f"<i>{name}{accent}</i>" + (f"<sub>{subscript}</sub>" if subscript else "")
    return theme.markup_text(markup, size=size, color=color)
