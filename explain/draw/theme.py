"""Colours, fonts and value→colour scales shared by every scene.

    >>> from explain.draw.theme import value_color
    >>> value_color(0.0, "sigmoid").to_hex(), value_color(1.0, "sigmoid").to_hex()
    ('#FFFFFF', '#1F5FA8')

The look follows the book's (colah-style) figures on a light page: yellow rectangles are learned
layers, pink circles are pointwise operations, values are strips of coloured cells whose scale
is always shown (sigmoid gates 0→1, tanh values −1→1).
"""

from __future__ import annotations

import re

from manim import ManimColor, MarkupText, interpolate_color

from explain import palette

__all__ = [
    "ACCENT_FONT",
    "accents_markup",
    "BACKGROUND",
    "CELL_LINE",
    "FONT",
    "GRADIENT",
    "HIGHLIGHT",
    "INK",
    "LAYER_FILL",
    "LAYER_STROKE",
    "markup_text",
    "MODULE_FILL",
    "MONO_FONT",
    "MUTED",
    "NEGATIVE",
    "POINTWISE_FILL",
    "POINTWISE_STROKE",
    "POSITIVE",
    "SCALES",
    "value_color",
    "ZERO",
]

BACKGROUND = ManimColor("#FFFFFF")
INK = ManimColor("#1B1B1B")
MUTED = ManimColor("#6B6B6B")
LAYER_FILL = ManimColor("#F9E79F")  # yellow learned-layer boxes (σ, tanh)
LAYER_STROKE = ManimColor("#B7950B")
POINTWISE_FILL = ManimColor("#F5B7B1")  # pink pointwise operations (×, +, tanh)
POINTWISE_STROKE = ManimColor("#C0392B")
MODULE_FILL = ManimColor("#EAF2F8")  # the rounded cell / module box
CELL_LINE = ManimColor("#1B1B1B")
HIGHLIGHT = ManimColor("#E67E22")
GRADIENT = ManimColor("#8E44AD")

NEGATIVE = ManimColor(palette.NEGATIVE)  # −1 on a tanh scale
ZERO = ManimColor(palette.ZERO)
POSITIVE = ManimColor(palette.POSITIVE)  # +1 on a tanh scale, 1 on a sigmoid scale

# One family for Latin and Hangul so English and Korean captions look alike (fonts-noto-cjk).
FONT = "Noto Sans CJK KR"
MONO_FONT = "DejaVu Sans Mono"

SCALES = palette.SCALES
#: a font whose combining accents sit right (Noto CJK draws the tilde of C̃ into the letter)
ACCENT_FONT = "DejaVu Sans"


def accents_markup(markup: str) -> str:
    """Pango markup with every accented letter (a letter + a combining mark, e.g. C̃) set in ACCENT_FONT.

    >>> accents_markup("C\u0303<sub>t</sub> = g<sub>t</sub>")
    '<span font_family="DejaVu Sans">C\u0303</span><sub>t</sub> = g<sub>t</sub>'
    """
    return re.sub(r"(\w[\u0300-\u036f]+)", rf'<span font_family="{ACCENT_FONT}">\1</span>', markup)


def value_color(value: float, scale: str | tuple[float, float] = "tanh") -> ManimColor:
    """The colour of ``value`` on a named scale ("sigmoid" 0→1, "tanh" −1→1) or a (low, high) range.

    Values outside the range are clipped; ranges that include 0 are diverging around white.
    """
    low, high = SCALES[scale] if isinstance(scale, str) else scale
    if high <= low:
        high = low + 1e-12
    value = min(max(float(value), low), high)
    if low < 0 < high:
        if value < 0:
            return interpolate_color(ZERO, NEGATIVE, value / low)
        return interpolate_color(ZERO, POSITIVE, value / high)
    return interpolate_color(ZERO, POSITIVE, (value - low) / (high - low))


def markup_text(markup: str, *, size: float, color=INK, font: str = FONT, **kwargs) -> MarkupText:
    """Pango markup (``h<sub>t</sub>``) as a MarkupText, accents fixed (:func:`accents_markup`).

    Built without manim's SVG cache: that cache deep-copies every parsed text twice, which costs
    more than the parse itself for the one-off labels of a scene.
    """
    return MarkupText(accents_markup(markup), font=font, font_size=size, color=color, use_svg_cache=False, **kwargs)

