"""CellScene: the walkthrough shared by the LSTM and GRU cell figures (diagram left, strips right).

    class GRUCellScene(CellScene):
        kind = "gru"
        rows = {"h_prev": (("h", "t−1"), "tanh"), "z": (("z", "t"), "sigmoid"), ...}
        build = [BuildStep("state_line", ["h_prev"], [], "One state …", "하나의 상태 …"), ...]
        def diagram(self): ...                     # {"frame": …, "state_line": …, …}
        def step_values(self, t): return gru_step_values(self.trace, self.view, t)

A subclass names its strips (``rows``), its build steps (diagram part, rows revealed, equations,
captions) and draws its diagram; this class lays out the frame (title and equations top left,
diagram left, strip table and legend right, caption at the bottom), plays the slow first step in
build order, then a fast pass per further time step, and keeps what was shown in ``self.shown``.
"""

from __future__ import annotations

from dataclasses import dataclass

from manim import DOWN, LEFT, RIGHT, UP, UR, Circumscribe, MarkupText, VGroup, np

from explain.draw import theme
from explain.draw.base import TraceScene
from explain.draw.cell import symbol
from explain.figures.cells import CellView, cell_view, next_character, symmetric_range
from explain.draw.fades import fade_in, fade_out, swap
from explain.draw.strip import NUMBER_CELL, ScaleBar, StripTable, show_token

__all__ = ["BuildStep", "CellScene", "NUMBERS_FROM", "ROW_PITCH"]

#: where the left column (title, equations, diagram) starts and the right column (strips) ends
LEFT_EDGE, RIGHT_EDGE = -6.9, 6.95
#: a strip's cell (most and least height), the width strips may take, and the narrowest cell
#: that still shows its number 14 px tall at 720p (narrower cells show colours only)
CELL, STRIPS_WIDTH = 0.45, 5.4
NUMBERS_FROM = NUMBER_CELL
#: distance between the strips' rows, whatever the cell size
ROW_PITCH = 0.55


@dataclass(frozen=True)
class BuildStep:
    """One step of the figure's build order: the diagram part drawn, the strips revealed, the
    equations shown (Pango markup) and the caption in English and Korean."""

    part: str
    rows: list[str]
    equations: list[str]
    english: str
    korean: str


class CellScene(TraceScene):
    """A recurrent cell figure driven by a trace; subclasses give the diagram and the rows."""

    OPTIONS = frozenset({"layer", "direction", "batch", "steps", "units"})

    #: "lstm" or "gru": which recurrent module the trace must hold
    kind: str = ""
    #: the title's name of the cell, English and Korean
    cell_name: tuple[str, str] = ("", "")
    #: strip rows, top to bottom: key → ((symbol, subscript[, accent]), scale); scale "state"
    #: is the symmetric range of every row marked "state"
    rows: dict[str, tuple[tuple[str, ...], str]] = {}
    build: list[BuildStep] = []
    #: the equations left on screen for the still and the fast passes
    summary: list[str] = []
    still_caption: tuple[str, str] = ("", "")
    #: a muted note under the legend (where PyTorch differs from the figure's usual names)
    note: tuple[str, str] = ("", "")
    #: the note for a hand-written cell whose values came through explain.Probe (its code, not these equations, made them)
    probed_note = ("Values the cell's own code passed through explain.Probe.", "셀의 코드가 explain.Probe로 넘긴 값입니다.")
    #: the titles of the legend's bars: (sigmoid, tanh, state) in English and Korean
    legend_titles: tuple[tuple[str, str], ...] = ()

    @classmethod
    def check(cls, trace, options) -> None:
        cell_view(trace, cls.kind, options)

    def step_values(self, t: int) -> dict[str, list[float]]:
        """Every strip's values at step ``t`` (a dict keyed like :attr:`rows`)."""
        raise NotImplementedError

    def diagram(self) -> dict[str, VGroup]:
        """The diagram's parts: "frame" and one VGroup per :attr:`build` step's ``part``.

        Sets ``self.x_anchor``, the foot of the xₜ line: the token being read is written right of it.
        """
        raise NotImplementedError

    # -- the scene -------------------------------------------------------------------------------

    def construct(self) -> None:
        self.view: CellView = cell_view(self.trace, self.kind, self.options)
        self.shown: dict[int, dict[str, list[float]]] = {}
        steps = {t: self.step_values(t) for t in self.view.steps}
        state_rows = [key for key, (_, scale) in self.rows.items() if scale == "state"]
        self.state_scale = symmetric_range([values[key] for values in steps.values() for key in state_rows])
        first = self.view.steps[0]
        parts = self.diagram()
        self.reading = self.token_label(first)
        table = self.table(steps[first])
        legend = self.legend(table)
        title = self.title(first)
        if self.is_still:
            caption = self.caption(*self.still_caption, markup=True)
            self.add(title, *parts.values(), self.reading, table, legend, self.equations(self.summary), caption)
            self.shown[first] = table.values()
            return
        self.walk_through(first, parts, table, legend, title)
        self.current_title = title
        for t in self.view.steps[1:]:
            self.fast_pass(t, steps[t], table)

    def walk_through(self, t: int, parts: dict[str, VGroup], table: StripTable, legend: VGroup, title: MarkupText) -> None:
        """The first time step, slowly, in the figure's build order."""
        row = dict(zip(table.strips, table.submobjects))
        # parts fade in whole: drawn stroke by stroke (Create) they pass through stubs and empty boxes
        self.play(fade_in(title), fade_in(table.header), fade_in(legend), fade_in(parts["frame"]), run_time=0.8)
        caption, equations = VGroup(), VGroup()
        for index, step in enumerate(self.build):
            new_equations = self.equations(step.equations)
            new_caption = self.caption(step.english, step.korean, markup=True)
            extra = [fade_in(self.reading)] if index == 1 else []
            self.play(
                fade_in(parts[step.part]),
                swap(equations, new_equations),
                *[fade_in(row[key]) for key in step.rows],
                swap(caption, new_caption),
                *extra,
                run_time=1.2,
            )
            if index > 0:
                self.play(*[Circumscribe(row[key], color=theme.HIGHLIGHT, time_width=0.6) for key in step.rows], run_time=0.8)
            caption, equations = new_caption, new_equations
            self.pause(self.step_notes(step, t))
        guess = self.guess_caption(t)
        summary = self.equations(self.summary)
        if guess is None:
            self.play(swap(equations, summary), fade_out(caption), run_time=0.5)
            self.caption_line = None
        else:
            self.play(swap(equations, summary), swap(caption, guess), run_time=0.8)
            self.caption_line = guess
            self.pause()
        self.shown[t] = table.values()

    def fast_pass(self, t: int, values: dict[str, list[float]], table: StripTable) -> None:
        """A further time step: same cell, new token, every strip recoloured at once, and a caption
        that says so (with the next character the top layer points at, when its units are characters)."""
        title, reading = self.title(t), self.token_label(t)
        token = self.view.tokens[t]
        read = "" if token is None else self.say(f", reading ‘{show_token(token)}’", f", 읽는 글자 ‘{show_token(token)}’")
        english = f"t = {t}{read}: the same weights; every strip now holds this step's values."
        korean = f"t = {t}{read}: 같은 가중치로 계산한 이 시간 단계의 값이 모든 줄에 있습니다."
        guess = next_character(self.trace, self.view, t)
        if guess is not None:
            char, value = guess
            english += f" Top-layer hₜ points at ‘{show_token(char)}’ ({value:.2f})."
            korean += f" 맨 위 층 hₜ가 가리키는 다음 글자: ‘{show_token(char)}’ ({value:.2f})."
        caption = self.caption(_escape(english), _escape(korean), markup=True)
        animations = [swap(self.current_title, title), swap(self.reading, reading), table.recolor(values)]
        animations.append(fade_in(caption) if self.caption_line is None else swap(self.caption_line, caption))
        self.play(*animations, run_time=1.0)
        self.current_title, self.reading, self.caption_line = title, reading, caption
        self.shown[t] = table.values()
        self.pause()

    def step_notes(self, step: BuildStep, t: int) -> str:
        """The speaker notes of build step ``step`` at time step ``t``: its caption, as a sentence
        a lecturer reads; subclasses add what the step's values show."""
        return self.say(step.english, step.korean).replace("<sub>", "").replace("</sub>", "")

    def guess_caption(self, t: int) -> MarkupText | None:
        """After the walkthrough: the next character the top layer's hₜ points at, when its units
        line up with a vocabulary (the hello LSTM is trained to make hₜ the next character's one-hot)."""
        guess = next_character(self.trace, self.view, t)
        if guess is None:
            return None
        char, value = guess
        return self.caption(
            _escape(f"The top layer's hₜ is trained to be the next character: its largest unit is ‘{show_token(char)}’ ({value:.2f})."),
            _escape(f"맨 위 층의 hₜ는 다음 글자가 되도록 학습되었습니다. 가장 큰 유닛은 ‘{show_token(char)}’ ({value:.2f})입니다."),
            markup=True,
        )

    # -- pieces ----------------------------------------------------------------------------------

    def in_direction(self, text: str) -> str:
        """``text`` about the step before, for the direction drawn: t−1 forward, t+1 backward."""
        view = getattr(self, "view", None)
        if view is None or view.direction == "fwd":
            return text
        return text.replace("t−1", "t+1").replace("ₜ₋₁", "ₜ₊₁")

    def text(self, english: str, korean: str | None = None, **kwargs):
        """:meth:`TraceScene.text`, with the previous step named for the direction drawn."""
        korean = None if korean is None else self.in_direction(korean)
        return super().text(self.in_direction(english), korean, **kwargs)

    def symbol(self, name: str, subscript: str = "", accent: str = "", **kwargs) -> MarkupText:
        """:func:`explain.draw.cell.symbol`, with the previous step named for the direction drawn."""
        return symbol(name, self.in_direction(subscript), accent, **kwargs)

    def title(self, t: int) -> MarkupText:
        view, (english, korean) = self.view, self.cell_name
        token = view.tokens[t]
        reading = "" if token is None else self.say(f" · reading ‘{show_token(token)}’", f" · 읽는 글자 ‘{show_token(token)}’")
        where = self.say(
            f"{english} · layer {view.layer} of {view.layers} ({view.direction}) · t = {t}",
            f"{korean} · 층 {view.layer} / {view.layers} ({self.term(view.direction)}) · t = {t}",
        ) + reading
        text = theme.markup_text(_escape(where), size=24)
        if text.width > RIGHT_EDGE - LEFT_EDGE - 6.2:
            text.scale_to_fit_width(RIGHT_EDGE - LEFT_EDGE - 6.2)
        return text.to_corner(UP + LEFT, buff=0.3)

    def token_label(self, t: int) -> MarkupText:
        """The token read at step ``t`` beside xₜ (or "t = 4" when the trace has no tokens)."""
        token = self.view.tokens[t]
        label = f"t = {t}" if token is None else f"‘{_escape(show_token(token))}’"
        text = theme.markup_text(label, size=18, color=theme.HIGHLIGHT)
        return text.next_to(np.array(self.x_anchor, dtype=float), RIGHT, buff=0.1)

    def equations(self, lines: list[str]) -> VGroup:
        group = VGroup(*[self.text(line, size=21, markup=True) for line in lines])
        group.arrange(DOWN, aligned_edge=LEFT, buff=0.14)
        return group.move_to([LEFT_EDGE, 3.0, 0], aligned_edge=UP + LEFT)

    def table(self, values: dict[str, list[float]]) -> StripTable:
        scales = {"sigmoid": "sigmoid", "tanh": "tanh", "state": self.state_scale}
        rows = {key: (self.symbol(*name), values[key], scales[scale]) for key, (name, scale) in self.rows.items()}
        width = min(1.0, STRIPS_WIDTH / len(self.view.units))  # more units, narrower cells
        height = min(CELL, width)
        table = StripTable(
            rows, header=self.view.labels, cell=width, cell_height=height, row_gap=ROW_PITCH - height, show_values=width >= NUMBERS_FROM
        )
        return table.move_to([RIGHT_EDGE, 2.95, 0], aligned_edge=UR)

    def legend(self, table: StripTable) -> VGroup:
        scales = ["sigmoid", "tanh", self.state_scale][: len(self.legend_titles)]
        bars = VGroup(
            *[ScaleBar(scale, length=1.4).with_title(self.say(*title)) for scale, title in zip(scales, self.legend_titles)]
        ).arrange(RIGHT, buff=0.45)
        units = self.text(self.view.units_text("en"), self.view.units_text("ko"), size=17, color=theme.MUTED)
        note = self.text(*(self.probed_note if self.view.probed else self.note), size=17, color=theme.MUTED, markup=True)
        group = VGroup(bars, units, note).arrange(DOWN, aligned_edge=LEFT, buff=0.2)
        if group.width > 6.0:
            group.scale_to_fit_width(6.0)
        return group.next_to(table, DOWN, buff=0.3).align_to(table, RIGHT)


def _escape(text: str) -> str:
    """Text for Pango markup: &, < and > escaped (tokens such as "<s>")."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
