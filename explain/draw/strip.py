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
    AnimationGroup,
    Rectangle,
    Square,
    Text,
    VGroup,
    np,
)

from explain.draw import theme


def format_value(value: float, digits: int = 2) -> str:
    """A compact label for a cell: "0.93", "-0.12", "1.00".

    >>> format_value(0.934), format_value(-0.1249), format_value(12.5)
    ('0.93', '-0.12', '12.5')
    """
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
    ):
        super().__init__()
        self.values = [float(v) for v in values]
        self.scale = scale
        self.digits = digits
        self.cell_size = cell
        direction = DOWN if vertical else RIGHT
        self.cells = VGroup(
            *[
                Square(side_length=cell, stroke_color=theme.MUTED, stroke_width=1)
                .set_fill(theme.value_color(v, scale), opacity=1)
                .shift(direction * cell * index)
                for index, v in enumerate(self.values)
            ]
        )
        self.add(self.cells)
        self.numbers = VGroup()
        if show_values:
            self.numbers = VGroup(*[self._number(v, square) for v, square in zip(self.values, self.cells)])
            self.add(self.numbers)
        self.labels = VGroup()
        if labels is not None:
            if len(labels) != len(self.values):
                raise ValueError(f"{len(labels)} labels for {len(self.values)} values")
            self.labels = _labels_on_baseline(labels, self.cells, vertical=vertical, size=cell * 40)
            self.add(self.labels)

    def _number(self, value: float, square: Square) -> Text:
        text = Text(format_value(value, self.digits), font=theme.MONO_FONT, font_size=self.cell_size * 30)
        text.scale_to_fit_width(min(text.width, self.cell_size * 0.86)).move_to(square)
        light = abs(theme.SCALES.get(self.scale, (0, 1))[1] if isinstance(self.scale, str) else 1) * 0.6
        text.set_color(theme.BACKGROUND if abs(value) > light else theme.INK)
        return text

    def recolor(self, values: Sequence[float]) -> AnimationGroup:
        """An animation that shows new values in the same cells (numbers too)."""
        if len(values) != len(self.cells):
            raise ValueError(f"{len(values)} values for a strip of {len(self.cells)} cells")
        self.values = [float(v) for v in values]
        animations = [
            square.animate.set_fill(theme.value_color(v, self.scale), opacity=1)
            for v, square in zip(self.values, self.cells)
        ]
        for old, value, square in zip(self.numbers, self.values, self.cells):
            animations.append(old.animate.become(self._number(value, square)))
        return AnimationGroup(*animations)


class ScaleBar(VGroup):
    """A horizontal colour scale with its end values, e.g. 0 → 1 (sigmoid) or −1 → 1 (tanh)."""

    def __init__(self, scale: str | tuple[float, float] = "sigmoid", *, length: float = 2.0, height: float = 0.16, steps: int = 24):
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
        ticks = [(low, self.bar[0]), (high, self.bar[-1])]
        if low < 0 < high:
            ticks.insert(1, (0.0, self.bar[steps // 2]))
        self.tick_labels = VGroup(
            *[
                Text(_tick(value), font=theme.MONO_FONT, font_size=16, color=theme.MUTED).next_to(cell, DOWN, buff=0.05)
                for value, cell in ticks
            ]
        )
        self.add(self.bar, outline, self.tick_labels)

    def with_title(self, title: str) -> VGroup:
        """The bar with a small title above it (e.g. "σ: 0 → 1")."""
        label = Text(title, font=theme.FONT, font_size=16, color=theme.MUTED).next_to(self, UP, buff=0.06)
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
        groups.add(glyphs.set_x(cell.get_x()))
    return groups


def _tick(value: float) -> str:
    """ "−1", "0", "1", "0.5": scale ends without trailing zeros, with a real minus sign."""
    text = f"{value:g}"
    return text.replace("-", "−")
