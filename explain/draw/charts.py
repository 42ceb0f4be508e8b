"""A small line chart for measured curves: manim Axes with Pango tick labels (no LaTeX needed).

    >>> from explain.draw import theme
    >>> chart = LineChart([Series("plain 20", [10, 20, 30], [2.3, 1.4, 0.9], theme.HIGHLIGHT)],
    ...                   x_ticks=[0, 30], y_ticks=[0, 2.5], x_label="step", y_label="training loss")
    >>> len(chart.lines), [round(float(v), 6) for v in chart.axes.p2c(chart.axes.c2p(20, 1.4))]
    (1, [20.0, 1.4])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from manim import DOWN, LEFT, RIGHT, UP, Axes, Line, Text, VGroup

from explain.draw import theme

__all__ = ["LineChart", "Series"]


@dataclass(frozen=True)
class Series:
    """One line of a chart: its legend label, x and y values and colour."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    color: object


def _plain(value: float) -> str:
    return f"{value:g}"


def _free_side(points: Sequence, index: int):
    """Where a point's value label does not cross the line: above-left where the line rises through
    the point, above-right where it falls, straight above at a peak or a valley.

    >>> import numpy as np
    >>> rising = [np.array([0.0, 0.0, 0]), np.array([1.0, 1.0, 0]), np.array([2.0, 2.0, 0])]
    >>> [_free_side(rising, i).tolist() for i in range(3)], _free_side(rising[:2] + [np.array([2.0, 0.0, 0])], 1).tolist()
    ([[-1.0, 1.0, 0.0], [-1.0, 1.0, 0.0], [-1.0, 1.0, 0.0]], [0.0, 1.0, 0.0])
    """
    neighbours = [points[i] for i in (index - 1, index + 1) if 0 <= i < len(points)]
    slopes = [(other[1] - points[index][1]) * (other[0] - points[index][0]) for other in neighbours]  # > 0: rising
    if slopes and all(s > 0 for s in slopes):
        return UP + LEFT
    if slopes and all(s < 0 for s in slopes):
        return UP + RIGHT
    return UP


class LineChart(VGroup):
    """Axes spanning the first and last ticks, one polyline per series, tick labels and a legend.

    ``dots`` marks every point (for a few measured points); ``value_text`` writes each point's
    value above it. The legend sits at the upper right inside the axes (``legend=False`` omits it).
    """

    def __init__(
        self,
        series: Sequence[Series],
        *,
        x_ticks: Sequence[float],
        y_ticks: Sequence[float],
        x_label: str,
        y_label: str,
        width: float = 5.0,
        height: float = 3.0,
        dots: bool = False,
        value_text: Callable[[float], str] | None = None,
        tick_text: Callable[[float], str] = _plain,
        legend: bool = True,
        size: float = 16,
    ):
        super().__init__()
        self.axes = Axes(
            x_range=[x_ticks[0], x_ticks[-1], x_ticks[-1] - x_ticks[0]],
            y_range=[y_ticks[0], y_ticks[-1], y_ticks[-1] - y_ticks[0]],
            x_length=width,
            y_length=height,
            axis_config={"color": theme.MUTED, "include_numbers": False, "include_tip": False, "include_ticks": False},
        )
        self.add(self.axes)
        ticks = VGroup()
        for x in x_ticks:
            mark = Line(self.axes.c2p(x, y_ticks[0]), self.axes.c2p(x, y_ticks[0]) + DOWN * 0.08, color=theme.MUTED, stroke_width=2)
            ticks.add(mark, Text(tick_text(x), font=theme.MONO_FONT, font_size=size, color=theme.MUTED).next_to(mark, DOWN, buff=0.05))
        for y in y_ticks:
            mark = Line(self.axes.c2p(x_ticks[0], y), self.axes.c2p(x_ticks[0], y) + LEFT * 0.08, color=theme.MUTED, stroke_width=2)
            ticks.add(mark, Text(tick_text(y), font=theme.MONO_FONT, font_size=size, color=theme.MUTED).next_to(mark, LEFT, buff=0.05))
        self.add(ticks)
        self.lines = VGroup()
        self.values = VGroup()
        for line in series:
            graph = self.axes.plot_line_graph(
                list(line.x), list(line.y), line_color=line.color, stroke_width=3, add_vertex_dots=dots, vertex_dot_radius=0.06,
                vertex_dot_style={"fill_color": line.color},
            )
            self.lines.add(graph)
            points = [self.axes.c2p(x, y) for x, y in zip(line.x, line.y)]
            for index, point in enumerate(points if value_text else []):
                label = Text(value_text(line.y[index]), font=theme.MONO_FONT, font_size=size - 2, color=line.color)
                self.values.add(label.next_to(point, _free_side(points, index), buff=0.1))
        self.add(self.lines, self.values)
        x_title = Text(x_label, font=theme.FONT, font_size=size, color=theme.INK).next_to(ticks, DOWN, buff=0.08).set_x(self.axes.get_x())
        y_title = Text(y_label, font=theme.FONT, font_size=size, color=theme.INK).next_to(self.axes, UP, buff=0.15).align_to(self.axes, LEFT)
        self.add(x_title, y_title)
        if legend and len(series) > 1:
            keys = VGroup(
                *[
                    VGroup(Line(LEFT * 0.2, RIGHT * 0.2, color=line.color, stroke_width=4), Text(line.label, font=theme.FONT, font_size=size - 2, color=theme.INK)).arrange(RIGHT, buff=0.1)
                    for line in series
                ]
            ).arrange(DOWN, aligned_edge=LEFT, buff=0.06)
            keys.next_to(self.axes.c2p(x_ticks[-1], y_ticks[-1]), DOWN + LEFT, buff=0.1)
            self.legend = keys
            self.add(keys)
