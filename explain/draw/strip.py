"""Value strips: a vector as a row of coloured cells, and the colour scale beside it.

    >>> from explain.draw.strip import ValueStrip, ScaleBar
    >>> strip = ValueStrip([0.1, 0.9, 0.5], scale="sigmoid", show_values=True)
    >>> len(strip.cells), strip.values
    (3, [0.1, 0.9, 0.5])
    >>> bar = ScaleBar("tanh")          # −1 … 0 … 1, the legend for tanh-valued strips

Every value shown is one of the trace's; the strip keeps them in ``values`` so tests can check
what is on screen.
"""

from __future__ import annotations

from collections.abc import Sequence

from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    Animation,
    AnimationGroup,
    Mobject,
    Rectangle,
    Text,
    VGroup,
    VMobject,
    interpolate_color,
    np,
)

from explain.draw import theme
from explain.draw.reading import mark

__all__ = [
    "format_value",
    "MONO_CHARACTERS",
    "mono_text",
    "NUMBER_CELL",
    "NUMBER_SIZE",
    "NUMBER_SLOTS",
    "ScaleBar",
    "show_token",
    "StripTable",
    "ValueStrip",
]


def format_value(value: float, digits: int = 2) -> str:
    """A compact label for a cell: "0.93", "-0.12", "1.00".

    >>> format_value(0.934), format_value(-0.1249), format_value(12.5), format_value(-0.0004)
    ('0.93', '-0.12', '12.5', '0.00')
    """
    value = round(float(value), digits) + 0.0  # no "-0.00": a tiny negative shows as 0
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.{digits}f}"


class ValueStrip(VGroup):
    """Cells coloured by value on a scale; optional numbers inside and labels under the cells."""

    def __init__(
        self,
        values: Sequence[float],
        *,
        scale: str | tuple[float, float] = "tanh",
        cell: float = 0.32,
        vertical: bool = False,
        show_values: bool = False,
        labels: Sequence[str] | None = None,
        digits: int = 2,
        cell_height: float | None = None,
    ):
        super().__init__()
        self.values = [float(v) for v in values]
        self.value_scale = scale
        self.digits = digits
        self.cell_size = cell
        self.cell_height = cell if cell_height is None else cell_height
        direction = DOWN if vertical else RIGHT
        step = self.cell_height if vertical else cell
        self.cells = VGroup(
            *[
                Rectangle(width=cell, height=self.cell_height, stroke_color=theme.MUTED, stroke_width=1)
                .set_fill(theme.value_color(v, scale), opacity=1)
                .shift(direction * step * index)
                for index, v in enumerate(self.values)
            ]
        )
        self.add(self.cells)
        self.numbers = VGroup()
        if show_values:
            self.numbers = self._numbers(self.values)
            self.add(self.numbers)
        self.labels = VGroup()
        if labels is not None:
            if len(labels) != len(self.values):
                raise ValueError(f"{len(labels)} labels for {len(self.values)} values")
            self.labels = _labels_on_baseline(labels, self.cells, vertical=vertical, size=cell * 40)
            self.add(self.labels)

    def _numbers(self, values: Sequence[float]) -> VGroup:
        """One number per cell (see :func:`mono_text`), ink or white by the darkness of its cell."""
        # as large as the cell allows, up to NUMBER_SIZE (digits of 14 px at 720p and above)
        numbers, room = VGroup(), self.cell_size * 0.86
        size = min(NUMBER_SIZE, self.cell_height * 40)
        widest = max([format_value(v, self.digits) for v in values] + [format_value(-0.5, self.digits)], key=len)
        shrink = min(1.0, room / mono_text(widest, size=size).width)  # one size for every number
        for value, square in zip(values, self.cells):
            glyphs = mono_text(format_value(value, self.digits), size=size, slots=NUMBER_SLOTS).scale(shrink)
            if glyphs.width > room:  # the rare long number ("-100.0")
                glyphs.scale_to_fit_width(room)
            glyphs.move_to(square)
            dark = _is_dark(theme.value_color(value, self.value_scale))
            numbers.add(glyphs.set_color(theme.BACKGROUND if dark else theme.INK))
        return numbers

    def recolor(self, values: Sequence[float]) -> Animation:
        """An animation that shows new values in the same cells: colours blend, numbers switch halfway."""
        if len(values) != len(self.cells):
            raise ValueError(f"{len(values)} values for a strip of {len(self.cells)} cells")
        self.values = [float(v) for v in values]
        return _Recolor(self)


class _Recolor(Animation):
    """Blend a strip's cells to the colours of its ``values`` and swap in their numbers.

    Written out instead of ``square.animate``/``Transform`` because those deep-copy every cell
    and glyph at every step; this animation copies nothing.
    """

    def __init__(self, strip: ValueStrip, **kwargs):
        self.start_colors = [square.get_fill_color() for square in strip.cells]
        self.end_colors = [theme.value_color(v, strip.value_scale) for v in strip.values]
        self.new_numbers = strip._numbers(strip.values) if len(strip.numbers) else None
        super().__init__(strip, **kwargs)

    def create_starting_mobject(self) -> Mobject:
        return Mobject()  # the start colours are kept above; nothing else is interpolated

    def interpolate_mobject(self, alpha: float) -> None:
        strip = self.mobject
        for square, start, end in zip(strip.cells, self.start_colors, self.end_colors):
            square.set_fill(interpolate_color(start, end, alpha), opacity=1)
        if self.new_numbers is not None and alpha >= 0.5:
            # glyph by glyph, in place: the renderer keeps drawing the same mobjects during a play
            for old_number, new_number in zip(strip.numbers, self.new_numbers):
                for old_glyph, new_glyph in zip(old_number, new_number):
                    old_glyph.points = new_glyph.points
                    old_glyph.set_fill(new_glyph.get_fill_color(), opacity=1)
                mark(old_number, new_number.reading_text)
            self.new_numbers = None


#: the font size of numbers in cells wide enough for them ("-0.12" is 14 px tall at 720p from 14.7)
NUMBER_SIZE = 16
#: a cell at least this wide shows "-0.12" at NUMBER_SIZE (narrower cells shrink their numbers)
NUMBER_CELL = 0.76

#: characters that :func:`mono_text` composes from cached glyphs (numbers, nan and inf)
MONO_CHARACTERS = "0123456789.-+enaif"
#: glyphs per number in a strip ("-0.12", "-12.5", "100.0"); shorter numbers get empty slots
NUMBER_SLOTS = 6
_glyph_sets: dict[float, tuple[float, dict[str, VMobject]]] = {}


def mono_text(text: str, *, size: float, slots: int = 0) -> VGroup:
    """``text`` (digits, ".", "-") in the monospaced font, composed from glyphs shaped once per size.

    Numbers change at every step of a scene; shaping each with Pango would cost tens of
    milliseconds apiece, copying cached glyphs costs almost nothing. Glyphs sit at the
    monospaced advance on a shared baseline, as Pango would set them. With ``slots``, empty
    glyphs pad the group to that many, so one number can take another's shape glyph by glyph.

    >>> len(mono_text("-0.25", size=12)), len(mono_text("0.5", size=12, slots=6))
    (5, 6)
    """
    if any(ch not in MONO_CHARACTERS for ch in text):
        raise ValueError(f"mono_text sets numbers only (characters {MONO_CHARACTERS!r}), got {text!r}")
    if size not in _glyph_sets:
        line = Text(MONO_CHARACTERS + "0", font=theme.MONO_FONT, font_size=size)
        advance = (line.submobjects[-1].get_center() - line.submobjects[0].get_center())[0] / len(MONO_CHARACTERS)
        origin = line.submobjects[0].get_center()  # the centre of a "0" in slot 0
        glyphs = {
            char: glyph.copy().shift(-(origin + RIGHT * advance * index))  # relative to its slot
            for index, (char, glyph) in enumerate(zip(MONO_CHARACTERS, line.submobjects))
        }
        _glyph_sets[size] = (advance, glyphs)
    advance, glyphs = _glyph_sets[size]
    group = VGroup(*[_outline(glyphs[ch]).shift(RIGHT * advance * index) for index, ch in enumerate(text)])
    padding = [VMobject(stroke_width=0).set_fill(theme.INK, opacity=1) for _ in range(slots - len(text))]
    return mark(group.add(*padding), text)


def _outline(glyph: VMobject) -> VMobject:
    """A filled copy of a glyph's outline: its points only (``copy()`` deep-copies far more)."""
    outline = VMobject(stroke_width=0).set_fill(theme.INK, opacity=1)
    outline.points = glyph.points.copy()
    return outline


def _is_dark(color) -> bool:
    """Whether white text reads better than ink on ``color`` (relative luminance below ~0.45)."""
    red, green, blue = color.to_rgb()
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue < 0.45


class StripTable(VGroup):
    """Labelled rows of value strips over shared unit labels, e.g. the gates of one LSTM step.

        >>> table = StripTable(
        ...     {"f": (Text("f"), [0.9, 0.1], "sigmoid"), "h": (Text("h"), [0.3, -0.5], "tanh")},
        ...     header=["a", "b"],
        ... )
        >>> table.values()["f"]
        [0.9, 0.1]

    Rows keep their keys: ``table.strips["f"]``, ``table.row_labels["f"]``; :meth:`recolor` shows
    the values of another step in the same cells.
    """

    def __init__(
        self,
        rows: dict[str, tuple[Mobject, Sequence[float], str | tuple[float, float]]],
        *,
        header: Sequence[str] | None = None,
        cell: float = 0.42,
        row_gap: float = 0.14,
        show_values: bool = True,
        cell_height: float | None = None,
    ):
        super().__init__()
        self.strips: dict[str, ValueStrip] = {}
        self.row_labels: dict[str, Mobject] = {}
        height = cell if cell_height is None else cell_height
        for index, (key, (label, values, scale)) in enumerate(rows.items()):
            strip = ValueStrip(values, scale=scale, cell=cell, show_values=show_values, cell_height=height)
            strip.shift(DOWN * index * (height + row_gap))
            label.next_to(strip.cells, LEFT, buff=0.15)
            self.strips[key], self.row_labels[key] = strip, label
            self.add(VGroup(label, strip))
        self.header = VGroup()
        if header is not None:
            first = next(iter(self.strips.values()))
            self.header = _labels_on_baseline(header, first.cells, vertical=False, size=min(max(cell * 40, 10), 20))
            self.header.shift(UP * (first.cells.get_top()[1] + 0.08 - self.header.get_bottom()[1]))
            self.add(self.header)

    def values(self) -> dict[str, list[float]]:
        """What each row shows now."""
        return {key: list(strip.values) for key, strip in self.strips.items()}

    def recolor(self, values: dict[str, Sequence[float]]) -> AnimationGroup:
        """An animation to the values of another step (every row named in ``values``)."""
        return AnimationGroup(*[self.strips[key].recolor(row) for key, row in values.items()])


class ScaleBar(VGroup):
    """A horizontal colour scale with its end values, e.g. 0 → 1 (sigmoid) or −1 → 1 (tanh).

    The values sit under the bar (0 under its middle when the scale crosses it), or with
    ``beside=True`` left and right of it, on the bar's line, where a figure has no height to spare.

    >>> [label.text for label in ScaleBar((-2.0, 2.0), beside=True).tick_labels]
    ['−2', '2']
    """

    def __init__(
        self, scale: str | tuple[float, float] = "sigmoid", *, length: float = 2.0, height: float = 0.16, steps: int = 24, beside: bool = False
    ):
        super().__init__()
        low, high = theme.SCALES[scale] if isinstance(scale, str) else scale
        width = length / steps
        self.bar = VGroup(
            *[
                Rectangle(width=width, height=height, stroke_width=0)
                .set_fill(theme.value_color(value, (low, high)), opacity=1)
                .shift(RIGHT * width * index)
                for index, value in enumerate(np.linspace(low, high, steps))
            ]
        )
        outline = Rectangle(width=length, height=height, stroke_color=theme.MUTED, stroke_width=1).move_to(self.bar)
        ticks = [(low, self.bar[0], LEFT), (high, self.bar[-1], RIGHT)]
        if low < 0 < high and not beside:
            ticks.insert(1, (0.0, self.bar[steps // 2], DOWN))
        self.tick_labels = VGroup(
            *[
                Text(_tick(value), font=theme.MONO_FONT, font_size=18, color=theme.MUTED).next_to(cell, side if beside else DOWN, buff=0.08 if beside else 0.05)
                for value, cell, side in ticks
            ]
        )
        self.add(self.bar, outline, self.tick_labels)

    def with_title(self, title: str) -> VGroup:
        """The bar with a small title above it (e.g. "σ: 0 → 1")."""
        markup = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        label = theme.markup_text(markup, size=18, color=theme.MUTED).next_to(self, UP, buff=0.06)
        return VGroup(self, label)


def show_token(token: str) -> str:
    """A token as it can be seen on screen: a space becomes "␣", a newline "↵".

    >>> show_token(" "), show_token("a"), show_token("\\n")
    ('␣', 'a', '↵')
    """
    return {" ": "␣", "\n": "↵", "\t": "⇥", "": "∅"}.get(token, token)


def _labels_on_baseline(labels: Sequence[str], cells: VGroup, *, vertical: bool, size: float) -> VGroup:
    """Labels under (or left of) cells; set as one line of text so letters share a baseline."""
    shown = [show_token(str(label)).replace(" ", "") or "?" for label in labels]
    if vertical:
        return VGroup(
            *[
                Text(text, font=theme.MONO_FONT, font_size=size, color=theme.MUTED).next_to(cell, LEFT, buff=0.08)
                for text, cell in zip(shown, cells)
            ]
        )
    line = Text(" ".join(shown), font=theme.MONO_FONT, font_size=size, color=theme.MUTED)
    line.next_to(cells, DOWN, buff=0.08)
    groups, start = VGroup(), 0
    for text, cell in zip(shown, cells):
        glyphs = VGroup(*line.submobjects[start : start + len(text)])
        start += len(text)
        groups.add(mark(glyphs.set_x(cell.get_x()), text))
    return groups


def _tick(value: float) -> str:
    """ "−1", "0", "1", "0.5": scale ends without trailing zeros, with a real minus sign."""
    text = f"{value:g}"
    return text.replace("-", "−")
