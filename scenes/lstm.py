"""The LSTM cell gate by gate with a trace's real values (BOOK.md §4 figure 5, colah's layout).

    $ explain render lstm-cell --still                       # the full cell, every strip of step 0
    $ explain render lstm-cell --steps 0-5 --units 0-11 --lang ko
    $ explain render lstm-cell --trace t.safetensors --layer 0 --slides

Build order of the book: (1) the cell-state line, (2) forget gate, (3) input gate and candidate,
(4) cell update, (5) output gate and hₜ, each with its equation in PyTorch's form and the strips of
the step's values; then a fast pass for each further time step. ``self.shown[t]`` keeps what the
strips showed at step t, so tests compare the screen with the trace.
"""

from __future__ import annotations

from manim import DOWN, LEFT, RIGHT, UP, UR, Circumscribe, Create, FadeIn, FadeOut, MarkupText, Transform, VGroup

from explain.draw import theme
from explain.draw.base import TraceScene
from explain.draw.cell import layer_box, module_box, pointwise, symbol, wire
from explain.draw.cell_values import cell_view, lstm_step_values, symmetric_range
from explain.draw.strip import ScaleBar, StripTable, show_token
from scenes import SceneSpec

SCENES = [SceneSpec("lstm-cell", "LSTMCellScene", "The LSTM cell gate by gate, with real values (figure 5)", "hello-lstm")]

#: the equations of each build step, PyTorch's form, as Pango markup
EQUATIONS = {
    "forget": ["f<sub>t</sub> = σ(W<sub>if</sub> x<sub>t</sub> + b<sub>if</sub> + W<sub>hf</sub> h<sub>t−1</sub> + b<sub>hf</sub>)"],
    "input": [
        "i<sub>t</sub> = σ(W<sub>ii</sub> x<sub>t</sub> + b<sub>ii</sub> + W<sub>hi</sub> h<sub>t−1</sub> + b<sub>hi</sub>)",
        "C̃<sub>t</sub> = g<sub>t</sub> = tanh(W<sub>ig</sub> x<sub>t</sub> + b<sub>ig</sub> + W<sub>hg</sub> h<sub>t−1</sub> + b<sub>hg</sub>)",
    ],
    "update": ["C<sub>t</sub> = f<sub>t</sub> ⊙ C<sub>t−1</sub> + i<sub>t</sub> ⊙ C̃<sub>t</sub>"],
    "output": [
        "o<sub>t</sub> = σ(W<sub>io</sub> x<sub>t</sub> + b<sub>io</sub> + W<sub>ho</sub> h<sub>t−1</sub> + b<sub>ho</sub>)",
        "h<sub>t</sub> = o<sub>t</sub> ⊙ tanh(C<sub>t</sub>)",
    ],
}
#: the two equations left on screen for the fast passes and the still
SUMMARY = EQUATIONS["update"] + EQUATIONS["output"][1:]

# Geometry of the diagram (scene units); colah's layout: cell state on top, hidden state below.
TOP, BOTTOM, GATES = 1.2, -1.5, -0.7
LEFT_END, RIGHT_END = -6.9, 0.55
FORGET_X, INPUT_X, CANDIDATE_X, OUTPUT_X, X_IN, COPY_X, H_UP_X = -4.6, -3.8, -2.9, -1.9, -5.5, -1.0, -0.45
MIX_Y, TANH_Y, OUT_Y = 0.2, 0.5, -0.3


class LSTMCellScene(TraceScene):
    """Figure 5 of the book with a trace's values: one LSTM layer, step by step."""

    default_model = "hello-lstm"

    @classmethod
    def check(cls, trace, options) -> None:
        cell_view(trace, "lstm", options)

    def construct(self) -> None:
        self.view = view = cell_view(self.trace, "lstm", self.options)
        self.shown: dict[int, dict[str, list[float]]] = {}
        steps = {t: lstm_step_values(self.trace, view, t) for t in view.steps}
        self.cell_scale = symmetric_range([row for values in steps.values() for row in (values["c"], values["c_prev"])])
        first = view.steps[0]
        parts = self.diagram()
        table = self.table(steps[first])
        legend = self.legend(table)
        title = self.title(first)
        if self.is_still:
            caption = self.caption(
                "Every strip holds this step's recorded values, in the figure's order: f, i, C̃, o.",
                "각 줄은 이 시간 단계에서 기록된 실제 값입니다. 그림의 순서 f, i, C̃, o를 따릅니다.",
                markup=True,
            )
            self.add(title, *parts.values(), table, legend, self.equations(SUMMARY), caption)
            self.shown[first] = table.values()
            return
        self.walk_through(first, parts, table, legend, title)
        for t in view.steps[1:]:
            title = self.fast_pass(t, steps[t], table, title)

    # -- the slow first step, in the book's order ----------------------------------------------

    def walk_through(self, t: int, parts: dict, table: StripTable, legend: VGroup, title: MarkupText) -> None:
        rows = table.submobjects
        keys = list(table.strips)
        row = {key: rows[index] for index, key in enumerate(keys)}
        self.play(FadeIn(title), FadeIn(table.header), FadeIn(legend), Create(parts["frame"]), run_time=0.8)
        caption = self.caption(
            "The cell state Cₜ₋₁ runs along the top; gates only scale it (×) and add to it (+).",
            "셀 상태 Cₜ₋₁가 위쪽을 따라 흐릅니다. 게이트는 곱하고(×) 더할(+) 뿐입니다.",
        )
        self.play(Create(parts["cell_line"]), FadeIn(row["c_prev"]), FadeIn(caption), run_time=1.2)
        self.pause("cell state")
        steps = [
            ("forget", ["f"], "Forget gate: fₜ near 0 erases a unit of Cₜ₋₁, near 1 keeps it.",
             "망각 게이트: fₜ가 0에 가까우면 Cₜ₋₁의 그 값을 지우고, 1에 가까우면 유지합니다."),
            ("input", ["i", "g"], "Input gate iₜ chooses which units to write; the candidate C̃ₜ (PyTorch's g) is what to write.",
             "입력 게이트 iₜ는 쓸 칸을 고르고, 후보 C̃ₜ(PyTorch의 g)는 쓸 값입니다."),
            ("update", ["c"], "Cell update: keep fₜ ⊙ Cₜ₋₁ and add iₜ ⊙ C̃ₜ.",
             "셀 상태 갱신: fₜ ⊙ Cₜ₋₁를 남기고 iₜ ⊙ C̃ₜ를 더합니다."),
            ("output", ["o", "h"], "Output gate oₜ picks what of tanh(Cₜ) leaves as hₜ (right, and up to the next layer).",
             "출력 게이트 oₜ가 tanh(Cₜ) 중 hₜ로 내보낼 것을 고릅니다(오른쪽, 그리고 위층으로)."),
        ]
        equations = VGroup()
        for part, keys_shown, english, korean in steps:
            new_equations = self.equations(EQUATIONS[part])
            new_caption = self.caption(english, korean, markup=True)
            self.play(
                Create(parts[part]),
                FadeOut(equations),
                FadeIn(new_equations),
                *[FadeIn(row[key]) for key in keys_shown],
                Transform(caption, new_caption),
                run_time=1.2,
            )
            self.play(*[Circumscribe(row[key], color=theme.HIGHLIGHT, time_width=0.6) for key in keys_shown], run_time=0.8)
            equations = new_equations
            self.pause(part)
        self.play(FadeOut(equations), FadeIn(self.equations(SUMMARY)), FadeOut(caption), run_time=0.5)
        self.shown[t] = table.values()

    def fast_pass(self, t: int, values: dict[str, list[float]], table: StripTable, title: MarkupText) -> MarkupText:
        """The next time step: same cell, new token, every strip recoloured at once."""
        self.play(
            Transform(title, self.title(t)), Transform(self.reading, self.token_label(t)), table.recolor(values), run_time=1.0
        )
        self.shown[t] = table.values()
        self.pause(f"t = {t}")
        return title

    # -- pieces ----------------------------------------------------------------------------------

    def title(self, t: int) -> MarkupText:
        view = self.view
        token = show_token(view.tokens[t])
        where = self.say(
            f"LSTM cell · layer {view.layer} of {view.layers} ({view.direction}) · t = {t} · reading ‘{token}’",
            f"LSTM 셀 · 층 {view.layer} / {view.layers} ({view.direction}) · t = {t} · 입력 ‘{token}’",
        )
        text = MarkupText(_escape(where), font=theme.FONT, font_size=24, color=theme.INK)
        return text.to_corner(UP + LEFT, buff=0.3)

    def token_label(self, t: int):
        """The token read at step ``t``, under xₜ."""
        label = self.text(f"‘{show_token(self.view.tokens[t])}’", size=18, color=theme.HIGHLIGHT)
        return label.next_to([X_IN, BOTTOM - 0.85, 0], RIGHT, buff=0.12)

    def equations(self, lines: list[str]) -> VGroup:
        group = VGroup(*[self.text(line, size=21, markup=True) for line in lines])
        group.arrange(DOWN, aligned_edge=LEFT, buff=0.14)
        return group.move_to([LEFT_END, 3.0, 0], aligned_edge=UP + LEFT)

    def table(self, values: dict[str, list[float]]) -> StripTable:
        scales = {"c_prev": self.cell_scale, "f": "sigmoid", "i": "sigmoid", "g": "tanh", "c": self.cell_scale, "o": "sigmoid", "h": "tanh"}
        names = {
            "c_prev": symbol("C", "t−1"), "f": symbol("f", "t"), "i": symbol("i", "t"), "g": symbol("C", "t", accent="\u0303"),
            "c": symbol("C", "t"), "o": symbol("o", "t"), "h": symbol("h", "t"),
        }
        rows = {key: (names[key], values[key], scales[key]) for key in names}
        table = StripTable(rows, header=self.view.labels, cell=0.42, row_gap=0.13)
        return table.move_to([6.95, 2.95, 0], aligned_edge=UR)

    def legend(self, table: StripTable) -> VGroup:
        low, high = self.cell_scale
        bars = VGroup(
            ScaleBar("sigmoid", length=1.4).with_title(self.say("σ gates f, i, o", "σ 게이트 f, i, o")),
            ScaleBar("tanh", length=1.4).with_title(self.say("tanh: C̃, h", "tanh: C̃, h")),
            ScaleBar(self.cell_scale, length=1.4).with_title(self.say(f"cell state C", "셀 상태 C")),
        ).arrange(RIGHT, buff=0.45)
        units = self.text(self.view.units_text("en"), self.view.units_text("ko"), size=17, color=theme.MUTED)
        note = self.text(
            "PyTorch stores the gates in order i, f, g, o; C̃ₜ is its g.",
            "PyTorch는 게이트를 i, f, g, o 순서로 저장합니다. C̃ₜ가 g입니다.",
            size=17,
            color=theme.MUTED,
            markup=True,
        )
        group = VGroup(bars, units, note).arrange(DOWN, aligned_edge=LEFT, buff=0.2)
        return group.next_to(table, DOWN, buff=0.3).align_to(table, RIGHT)

    def diagram(self) -> dict[str, VGroup]:
        """The cell's parts in build order: frame, cell_line, forget, input, update, output."""
        times_forget, plus = pointwise("×").move_to([FORGET_X, TOP, 0]), pointwise("+").move_to([CANDIDATE_X, TOP, 0])
        frame = module_box(5.9, 3.35).move_to([-3.25, (TOP + BOTTOM) / 2 + 0.08, 0])
        cell_line = VGroup(
            wire([LEFT_END, TOP], [FORGET_X - 0.2, TOP]),
            times_forget,
            wire([FORGET_X + 0.2, TOP], [CANDIDATE_X - 0.2, TOP]),
            plus,
            wire([CANDIDATE_X + 0.2, TOP], [RIGHT_END, TOP]),
            symbol("C", "t−1").next_to([LEFT_END, TOP, 0], UP + RIGHT, buff=0.08),
            symbol("C", "t").next_to([RIGHT_END, TOP, 0], UP + LEFT, buff=0.08),
        )
        forget_box = layer_box("σ").move_to([FORGET_X, GATES, 0])
        forget = VGroup(
            wire([LEFT_END, BOTTOM], [OUTPUT_X, BOTTOM], arrow=False),
            symbol("h", "t−1").next_to([LEFT_END, BOTTOM, 0], DOWN + RIGHT, buff=0.08),
            wire([X_IN, BOTTOM - 0.85], [X_IN, BOTTOM], arrow=False),
            symbol("x", "t").next_to([X_IN, BOTTOM - 0.85, 0], LEFT, buff=0.1),
            wire([FORGET_X, BOTTOM], [FORGET_X, GATES - 0.21]),
            forget_box,
            wire([FORGET_X, GATES + 0.21], [FORGET_X, TOP - 0.2]),
            symbol("f", "t", size=18).next_to([FORGET_X, (GATES + TOP) / 2, 0], LEFT, buff=0.08),
        )
        mix = pointwise("×").move_to([CANDIDATE_X, MIX_Y, 0])
        input_part = VGroup(
            wire([INPUT_X, BOTTOM], [INPUT_X, GATES - 0.21]),
            layer_box("σ").move_to([INPUT_X, GATES, 0]),
            wire([INPUT_X, GATES + 0.21], [INPUT_X, MIX_Y], [CANDIDATE_X - 0.2, MIX_Y]),
            symbol("i", "t", size=18).next_to([INPUT_X, MIX_Y, 0], UP, buff=0.06),
            wire([CANDIDATE_X, BOTTOM], [CANDIDATE_X, GATES - 0.21]),
            layer_box("tanh").move_to([CANDIDATE_X, GATES, 0]),
            wire([CANDIDATE_X, GATES + 0.21], [CANDIDATE_X, MIX_Y - 0.2]),
            symbol("C", "t", size=18, accent="\u0303").next_to([CANDIDATE_X, (GATES + MIX_Y) / 2, 0], RIGHT, buff=0.08),
            mix,
        )
        update = VGroup(wire([CANDIDATE_X, MIX_Y + 0.2], [CANDIDATE_X, TOP - 0.2]))
        output = VGroup(
            wire([OUTPUT_X, BOTTOM], [OUTPUT_X, GATES - 0.21]),
            layer_box("σ").move_to([OUTPUT_X, GATES, 0]),
            wire([OUTPUT_X, GATES + 0.21], [OUTPUT_X, OUT_Y], [COPY_X - 0.2, OUT_Y]),
            symbol("o", "t", size=18).next_to([OUTPUT_X, OUT_Y, 0], UP, buff=0.06),
            wire([COPY_X, TOP], [COPY_X, TANH_Y + 0.2]),
            pointwise("tanh").move_to([COPY_X, TANH_Y, 0]),
            wire([COPY_X, TANH_Y - 0.2], [COPY_X, OUT_Y + 0.2]),
            pointwise("×").move_to([COPY_X, OUT_Y, 0]),
            wire([COPY_X, OUT_Y - 0.2], [COPY_X, BOTTOM], [RIGHT_END, BOTTOM]),
            wire([H_UP_X, BOTTOM], [H_UP_X, TOP + 1.0]),
            symbol("h", "t").next_to([H_UP_X, TOP + 1.0, 0], RIGHT, buff=0.08),
            symbol("h", "t").next_to([RIGHT_END, BOTTOM, 0], DOWN + LEFT, buff=0.08),
        )
        self.reading = self.token_label(self.view.steps[0])
        forget.add(self.reading)
        return {"frame": frame, "cell_line": cell_line, "forget": forget, "input": input_part, "update": update, "output": output}


def _escape(text: str) -> str:
    """Text for Pango markup: &, < and > escaped (tokens such as "<s>")."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
