"""Bar charts on a log scale: per-step gradient norms of one or more recorded modules side by side.

    >>> from explain.draw.graphs import LogBars, decade_range
    >>> chart = LogBars([("RNN", [1e-4, 1e-2, 1.0], "#8E44AD"), ("LSTM", [0.1, 0.3, 1.0], "#1F5FA8")], labels=["a", "b", "c"])
    >>> chart.values["RNN"]
    [0.0001, 0.01, 1.0]
    >>> decade_range([3e-5, 0.4])
    (-5, 0)

Bar heights are log10 of the values between the decades that enclose them, so a gradient that
shrinks a thousandfold over time is as visible as one that halves. Zeros are drawn as empty slots.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from manim import DOWN, LEFT, RIGHT, UP, Line, Rectangle, Text, VGroup

from explain.draw import theme
from explain.draw.strip import show_token

__all__ = ["decade_range", "LogBars"]


def decade_range(values: Sequence[float]) -> tuple[int, int]:
    """The powers of ten that enclose the positive ``values`` (at least one decade apart)."""
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    if not positive:
        return (-1, 0)
    low = math.floor(math.log10(min(positive)))
    high = math.ceil(math.log10(max(positive)))
    return (low, max(high, low + 1))


def _decade_label(power: int) -> str:
    """ "1", "10", "0.1", "10⁻⁴": tick labels without LaTeX."""
    if -2 <= power <= 2:
        return f"{10.0 ** power:g}"
    return "10" + str(power).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


class LogBars(VGroup):
    """Grouped bars per step, one colour per series, on a log10 axis with decade ticks.

    Step labels are thinned to about 40, and to as many as fit side by side (``label_every``);
    keep ``steps`` to a few dozen bars.
    """

    def __init__(
        self,
        series: Sequence[tuple[str, Sequence[float], object]],
        *,
        labels: Sequence[str] | None = None,
        width: float = 9.0,
        height: float = 3.2,
        label_every: int | None = None,
    ):
        super().__init__()
        if not series:
            raise ValueError("LogBars needs at least one series")
        steps = len(series[0][1])
        if any(len(values) != steps for _, values, _ in series):
            raise ValueError("every series needs one value per step")
        self.values = {name: [float(v) for v in values] for name, values, _ in series}
        low, high = decade_range([v for values in self.values.values() for v in values])
        self.decades = (low, high)
        slot = width / steps
        bar_width = slot * 0.8 / len(series)
        to_height = lambda v: (math.log10(v) - low) / (high - low) * height  # noqa: E731

        self.axis = VGroup(
            Line(LEFT * 0.05, RIGHT * width, color=theme.MUTED, stroke_width=2),
            Line(DOWN * 0.0, UP * height, color=theme.MUTED, stroke_width=2),
        )
        self.ticks = VGroup()
        every = max(1, math.ceil((high - low) / 8))  # at most about 8 labelled decades
        for power in range(high, low - 1, -every):
            y = (power - low) / (high - low) * height
            self.ticks.add(
                VGroup(
                    Line(LEFT * 0.08 + UP * y, RIGHT * width + UP * y, color=theme.MUTED, stroke_width=0.5, stroke_opacity=0.5),
                    Text(_decade_label(power), font=theme.MONO_FONT, font_size=16, color=theme.MUTED).next_to(
                        LEFT * 0.08 + UP * y, LEFT, buff=0.08
                    ),
                )
            )
        self.bars = VGroup()
        for index, (name, values, color) in enumerate(series):
            group = VGroup()
            for step, value in enumerate(values):
                x = slot * step + slot * 0.1 + bar_width * (index + 0.5)
                bar_height = max(to_height(value), 0.0) if value > 0 else 0.0
                bar = Rectangle(width=bar_width, height=max(bar_height, 1e-3), stroke_width=0)
                bar.set_fill(color, opacity=1 if value > 0 else 0).move_to(RIGHT * x + UP * bar_height / 2)
                group.add(bar)
            self.bars.add(group)
        self.step_labels = VGroup()
        if labels is not None:
            texts = [Text(show_token(str(label)), font=theme.MONO_FONT, font_size=16, color=theme.MUTED) for label in labels]
            # every label_every-th step is labelled: at most about 40, and never so close that two touch
            widest = max((text.width for text in texts), default=0.0)
            label_every = label_every or max(1, math.ceil(steps / 40), math.ceil((widest + 0.12) / slot))
            for step, text in enumerate(texts):
                if step % label_every == 0:
                    self.step_labels.add(text.move_to(RIGHT * (slot * (step + 0.5)) + DOWN * 0.2))
        self.legend = VGroup(
            *[
                VGroup(
                    Rectangle(width=0.28, height=0.18, stroke_width=0).set_fill(color, opacity=1),
                    Text(name, font=theme.FONT, font_size=18, color=theme.INK),
                ).arrange(RIGHT, buff=0.1)
                for name, _, color in series
            ]
        ).arrange(RIGHT, buff=0.4)
        self.legend.next_to(self.axis, UP, buff=0.15).align_to(self.axis, RIGHT)
        self.add(self.ticks, self.axis, self.bars, self.step_labels, self.legend)
