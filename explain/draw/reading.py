"""What a frame asks a class to read: its words and numbers, how long to hold it, how tall its text is.

    >>> from manim import Text, VGroup
    >>> caption = Text("Forget gate: f near 0 erases", font_size=24)
    >>> count_reading(["Forget gate: fₜ near 0 erases", "0.93 -0.12"])
    (5, 3)
    >>> hold_seconds(words=5, values=3)
    2.95
    >>> hold_seconds(words=5, values=3, pace=1.5)
    4.425
    >>> [text for _, text in readings([VGroup(caption)])]
    ['Forget gate: f near 0 erases']

A step of a scene is held for

    hold = pace × (BASE + min(WORD × words, WORDS_MOST) + min(VALUE × values, VALUES_MOST))

seconds, where ``words`` and ``values`` count the tokens on screen that were not on screen at the
previous step (a caption that changes "t = 47" to "t = 48" asks for two new tokens), each distinct
text counted once (fifteen "W₁₁" labels are read as one): a value is a number
("0.93", "−1") or a one-letter label ("A", "x₀"), a word any other token with two letters or more
(operators and arrows are free). A class reads a caption at about 200 words a minute (0.3 s a
word); nobody reads 84 numbers of a strip table one by one, so values add 0.15 s each up to 3 s.
The last frame of a video is held at least ``LAST_HOLD`` s.

Text is found in two forms: Pango ``Text``/``MarkupText`` mobjects, and groups of glyphs cut from
one (numbers of strips and grids, labels on a baseline) that carry their text in ``reading_text``
(:func:`mark`). :func:`text_height_px` measures how tall a text is drawn, and
:func:`legibility_problems` lists what a lecture hall cannot read on a frame: text under
``MIN_TEXT_PX`` pixels at a given resolution, anything within ``MARGIN`` of the frame's edge,
names written as code (``W_ih``, backticks) outside a monospaced label.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator

from manim import MarkupText, Mobject, Text, VMobject

__all__ = [
    "BASE",
    "LAST_HOLD",
    "VALUE",
    "VALUES_MOST",
    "WORD",
    "WORDS_MOST",
    "count_reading",
    "hold_seconds",
    "legibility_problems",
    "mark",
    "readings",
    "text_height_px",
    "tokens",
]

#: seconds every step is held, whatever it shows
BASE = 1.0
#: seconds per new word (about 200 words a minute), and the most that words add to one step (the
#: first frame of a scene, title and legend included, would otherwise hold for half a minute)
WORD, WORDS_MOST = 0.3, 9.0
#: seconds per new number, and the most that numbers add to one step
VALUE, VALUES_MOST = 0.15, 3.0
#: the least the last frame of a video is held, in seconds
LAST_HOLD = 3.0

#: the least height of a number or label, in pixels of the rendered frame
MIN_TEXT_PX = 14.0
#: nothing may come closer to the frame's edge than this share of its width (height)
MARGIN = 0.01

_NUMBER = re.compile(r"^[−\-+(\[]*\d[\d.,]*(e[−\-+]?\d+)?%?[)\]:,;]*$")
_TAGS = re.compile(r"<[^>]+>")
#: letters that reach no higher than an x (t barely): a text made only of them is measured by its x-height
_SHORT_LETTERS = set("acemnorstuvwxzαεικνοπστυω")
#: a lowercase x is about this share of a capital or digit in the theme's fonts
X_HEIGHT_SHARE = 0.72


def plain(markup: str) -> str:
    """The text of Pango markup, tags dropped and entities read.

    >>> plain("h<sub>t−1</sub> &amp; c")
    'ht−1 & c'
    """
    text = _TAGS.sub("", markup)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def tokens(texts: Iterable[str]) -> Counter:
    """The whitespace-separated tokens of ``texts``, counted.

    >>> sorted(tokens(["t = 3", "t = 4"]).items())
    [('3', 1), ('4', 1), ('=', 2), ('t', 2)]
    """
    return Counter(token for text in texts for token in text.split())


def count_reading(texts: Iterable[str] | Counter) -> tuple[int, int]:
    """(words, values) in ``texts`` (or counted tokens): numbers and one-letter labels are values
    (read at a glance), other tokens with two letters or more are words; operators and arrows are free."""
    counted = texts if isinstance(texts, Counter) else tokens(texts)
    words = values = 0
    for token, count in counted.items():
        for _ in range(count):
            letters = sum(ch.isalpha() for ch in token)
            if _NUMBER.match(token) or (letters <= 1 and any(ch.isalnum() for ch in token)):
                values += 1
            elif letters:
                words += 1
    return words, values


def hold_seconds(*, words: int, values: int, pace: float = 1.0) -> float:
    """How long to hold a step that showed ``words`` new words and ``values`` new numbers."""
    return round(pace * (BASE + min(WORD * words, WORDS_MOST) + min(VALUE * values, VALUES_MOST)), 3)


def mark(mobject: Mobject, text: str) -> Mobject:
    """Tag a group of glyphs cut from a Text with the text it shows (so pacing and tests can read it)."""
    mobject.reading_text = text
    return mobject


def readings(mobjects: Iterable[Mobject]) -> Iterator[tuple[Mobject, str]]:
    """Every text in ``mobjects`` and their families: (mobject, plain text), outermost first."""
    for mobject in mobjects:
        if isinstance(mobject, MarkupText):
            yield mobject, plain(mobject.original_text)
        elif isinstance(mobject, Text):
            yield mobject, mobject.original_text
        elif getattr(mobject, "reading_text", None) is not None:
            yield mobject, mobject.reading_text
        else:
            yield from readings(mobject.submobjects)


def text_height_px(mobject: Mobject, text: str, pixels_per_unit: float) -> float | None:
    """How tall ``text`` is drawn, in pixels: its tallest glyph, or its x-height ÷ 0.72 when it has
    only short letters (a lone "x" is as legible as an "X" of 1.4× its height). None for a text
    without letters or digits (an arrow, a "+"), and for a fully transparent one."""
    if not any(ch.isalnum() for ch in text):
        return None
    glyphs = [m for m in mobject.family_members_with_points() if isinstance(m, VMobject)]
    if not glyphs or max(g.get_fill_opacity() for g in glyphs) == 0:
        return None
    characters = [ch for ch in text if not ch.isspace()]
    if len(characters) == len(glyphs):  # one glyph per character: measure letters and digits only (not ‖, ∂, |)
        glyphs = [glyph for glyph, ch in zip(glyphs, characters) if ch.isalnum()]
    tallest = max(g.height for g in glyphs)
    letters = [ch for ch in text if ch.isalnum()]
    if all(ch in _SHORT_LETTERS for ch in letters):
        tallest /= X_HEIGHT_SHARE
    return tallest * pixels_per_unit


_CODE_NAME = re.compile(r"`|\b[A-Za-z]_[A-Za-z0-9]{1,3}(?![A-Za-z0-9_])")


def legibility_problems(
    mobjects: Iterable[Mobject], *, pixel_height: int, frame_width: float, frame_height: float
) -> list[str]:
    """What cannot be read on a frame of ``mobjects`` rendered ``pixel_height`` pixels tall.

    >>> from manim import Text
    >>> small = Text("0.93", font_size=10)
    >>> legibility_problems([small], pixel_height=720, frame_width=14.2, frame_height=8.0)
    ["'0.93' is 9.5 px tall (at least 14)"]
    """
    per_unit = pixel_height / frame_height
    problems = []
    for mobject, text in readings(mobjects):
        height = text_height_px(mobject, text, per_unit)
        if height is not None and height < MIN_TEXT_PX - 0.05:
            problems.append(f"{text[:40]!r} is {height:.1f} px tall (at least {MIN_TEXT_PX:.0f})")
        font = getattr(mobject, "font", "")
        if _CODE_NAME.search(text) and "Mono" not in str(font):
            problems.append(f"{text[:40]!r} writes a name as code (use <sub> or a monospaced label)")
    right, top = frame_width / 2 * (1 - 2 * MARGIN), frame_height / 2 * (1 - 2 * MARGIN)
    for mobject in mobjects:
        for member in mobject.family_members_with_points():
            if isinstance(member, VMobject) and member.get_fill_opacity() == 0 and member.get_stroke_opacity() == 0:
                continue
            left_x, bottom_y = member.get_corner([-1, -1, 0])[:2]
            right_x, top_y = member.get_corner([1, 1, 0])[:2]
            if left_x < -right or right_x > right or bottom_y < -top or top_y > top:
                name = next((text for m, text in readings([mobject])), type(mobject).__name__)
                problems.append(
                    f"{type(member).__name__} of {name[:30]!r} reaches x {left_x:.2f}…{right_x:.2f}, y {bottom_y:.2f}…{top_y:.2f} "
                    f"(frame ±{right:.2f}, ±{top:.2f} inside the {MARGIN:.0%} margin)"
                )
                break
    return problems
