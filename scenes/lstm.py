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

from manim import DOWN, LEFT, RIGHT, UP, VGroup

from explain.draw.cell import layer_box, module_box, pointwise, wire
from explain.draw.cell_scene import LEFT_EDGE, BuildStep, CellScene
from explain.figures.cells import lstm_step_values
from explain.scenes import SceneSpec

__all__ = ["C_TILDE", "LSTMCellScene", "SCENES"]

SCENES = [SceneSpec("lstm-cell", "LSTMCellScene", "The LSTM cell gate by gate, with real values (figure 5)", "hello-lstm")]

C_TILDE = "C\u0303"

# Geometry of the diagram (scene units); colah's layout: cell state on top, hidden state below.
TOP, BOTTOM, GATES = 1.2, -1.5, -0.7
LEFT_END, RIGHT_END = LEFT_EDGE, 0.55
FORGET_X, INPUT_X, CANDIDATE_X, OUTPUT_X, X_IN, COPY_X, H_UP_X = -4.6, -3.8, -2.9, -1.9, -5.5, -1.0, -0.45
MIX_Y, TANH_Y, OUT_Y = 0.2, 0.5, -0.3


class LSTMCellScene(CellScene):
    """Figure 5 of the book with a trace's values: one LSTM layer, step by step."""

    kind = "lstm"
    cell_name = ("LSTM cell", "LSTM 셀")
    rows = {
        "c_prev": (("C", "t−1"), "state"),
        "f": (("f", "t"), "sigmoid"),
        "i": (("i", "t"), "sigmoid"),
        "g": (("C", "t", "\u0303"), "tanh"),
        "c": (("C", "t"), "state"),
        "o": (("o", "t"), "sigmoid"),
        "h": (("h", "t"), "tanh"),
    }
    build = [
        BuildStep(
            "cell_line", ["c_prev"], [],
            "The cell state Cₜ₋₁ runs along the top; gates only scale it (×) and add to it (+).",
            "셀 상태 Cₜ₋₁이 위쪽을 따라 흐릅니다. 게이트는 여기에 곱하거나(×) 더할(+) 뿐입니다.",
        ),
        BuildStep(
            "forget", ["f"],
            ["f<sub>t</sub> = σ(W<sub>if</sub> x<sub>t</sub> + b<sub>if</sub> + W<sub>hf</sub> h<sub>t−1</sub> + b<sub>hf</sub>)"],
            "Forget gate: fₜ near 0 erases a unit of Cₜ₋₁, near 1 keeps it.",
            "망각 게이트: fₜ가 0에 가까운 유닛은 Cₜ₋₁의 값을 지우고, 1에 가까운 유닛은 유지합니다.",
        ),
        BuildStep(
            "input", ["i", "g"],
            [
                "i<sub>t</sub> = σ(W<sub>ii</sub> x<sub>t</sub> + b<sub>ii</sub> + W<sub>hi</sub> h<sub>t−1</sub> + b<sub>hi</sub>)",
                f"{C_TILDE}<sub>t</sub> = g<sub>t</sub> = tanh(W<sub>ig</sub> x<sub>t</sub> + b<sub>ig</sub> + W<sub>hg</sub> h<sub>t−1</sub> + b<sub>hg</sub>)",
            ],
            f"Input gate iₜ chooses which units to write; the candidate {C_TILDE}ₜ (PyTorch's g) is what to write.",
            f"입력 게이트 iₜ는 값을 쓸 유닛을 고르고, 후보 {C_TILDE}ₜ(PyTorch의 g)는 쓸 값입니다.",
        ),
        BuildStep(
            "update", ["c"],
            [f"C<sub>t</sub> = f<sub>t</sub> ⊙ C<sub>t−1</sub> + i<sub>t</sub> ⊙ {C_TILDE}<sub>t</sub>"],
            f"Cell update: keep fₜ ⊙ Cₜ₋₁ and add iₜ ⊙ {C_TILDE}ₜ.",
            f"셀 상태 갱신: fₜ ⊙ Cₜ₋₁을 남기고 iₜ ⊙ {C_TILDE}ₜ를 더합니다.",
        ),
        BuildStep(
            "output", ["o", "h"],
            [
                "o<sub>t</sub> = σ(W<sub>io</sub> x<sub>t</sub> + b<sub>io</sub> + W<sub>ho</sub> h<sub>t−1</sub> + b<sub>ho</sub>)",
                "h<sub>t</sub> = o<sub>t</sub> ⊙ tanh(C<sub>t</sub>)",
            ],
            "Output gate oₜ picks what of tanh(Cₜ) leaves as hₜ (right, and up to the next layer).",
            "출력 게이트 oₜ가 tanh(Cₜ) 중 hₜ로 내보낼 것을 고릅니다(오른쪽으로, 그리고 다음 층으로).",
        ),
    ]
    summary = build[3].equations + build[4].equations[1:]
    still_caption = (
        f"Every strip holds this step's recorded values, in the figure's order: f, i, {C_TILDE}, o.",
        f"각 줄은 이 시간 단계에서 기록된 실제 값이며, 그림의 순서 f, i, {C_TILDE}, o를 따릅니다.",
    )
    note = (
        f"PyTorch stores the gates in order i, f, g, o; {C_TILDE}ₜ is its g.",
        f"PyTorch는 게이트를 i, f, g, o 순서로 저장합니다. {C_TILDE}ₜ가 g입니다.",
    )
    legend_titles = (("σ gates f, i, o", "σ 게이트 f, i, o"), ("tanh: C̃, h", "tanh: C̃, h"), ("cell state C", "셀 상태 C"))

    def step_values(self, t: int) -> dict[str, list[float]]:
        return lstm_step_values(self.trace, self.view, t)

    def step_notes(self, step: BuildStep, t: int) -> str:
        """The caption, and at the forget gate the unit it erases most, with its numbers."""
        notes = super().step_notes(step, t)
        if step.part != "forget":
            return notes
        values = self.step_values(t)
        erased = [(1 - f) * abs(c) for f, c in zip(values["f"], values["c_prev"])]
        unit = max(range(len(erased)), key=erased.__getitem__)
        f, c = values["f"][unit], values["c_prev"][unit]
        label = self.view.labels[unit]
        return notes + self.say(
            f" Look at unit ‘{label}’: fₜ = {f:.2f}, so of Cₜ₋₁ = {c:.2f} only {f * c:.2f} is kept.",
            f" ‘{label}’ 유닛을 보세요: fₜ = {f:.2f}이므로 Cₜ₋₁ = {c:.2f} 중 {f * c:.2f}만 남습니다.",
        )

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
            self.symbol("C", "t−1").next_to([LEFT_END, TOP, 0], UP + RIGHT, buff=0.08),
            self.symbol("C", "t").next_to([RIGHT_END, TOP, 0], UP + LEFT, buff=0.08),
        )
        forget_box = layer_box("σ").move_to([FORGET_X, GATES, 0])
        forget = VGroup(
            wire([LEFT_END, BOTTOM], [OUTPUT_X, BOTTOM], arrow=False),
            self.symbol("h", "t−1").next_to([LEFT_END, BOTTOM, 0], DOWN + RIGHT, buff=0.08),
            wire([X_IN, BOTTOM - 0.85], [X_IN, BOTTOM], arrow=False),
            self.symbol("x", "t").next_to([X_IN, BOTTOM - 0.85, 0], LEFT, buff=0.1),
            wire([FORGET_X, BOTTOM], [FORGET_X, GATES - 0.21]),
            forget_box,
            wire([FORGET_X, GATES + 0.21], [FORGET_X, TOP - 0.2]),
            self.symbol("f", "t", size=18).next_to([FORGET_X, (GATES + TOP) / 2, 0], LEFT, buff=0.08),
        )
        mix = pointwise("×").move_to([CANDIDATE_X, MIX_Y, 0])
        input_part = VGroup(
            wire([INPUT_X, BOTTOM], [INPUT_X, GATES - 0.21]),
            layer_box("σ").move_to([INPUT_X, GATES, 0]),
            wire([INPUT_X, GATES + 0.21], [INPUT_X, MIX_Y], [CANDIDATE_X - 0.2, MIX_Y]),
            self.symbol("i", "t", size=18).next_to([INPUT_X, MIX_Y, 0], UP, buff=0.06),
            wire([CANDIDATE_X, BOTTOM], [CANDIDATE_X, GATES - 0.21]),
            layer_box("tanh").move_to([CANDIDATE_X, GATES, 0]),
            wire([CANDIDATE_X, GATES + 0.21], [CANDIDATE_X, MIX_Y - 0.2]),
            self.symbol("C", "t", size=18, accent="\u0303").next_to([CANDIDATE_X, (GATES + MIX_Y) / 2, 0], RIGHT, buff=0.08),
            mix,
        )
        update = VGroup(wire([CANDIDATE_X, MIX_Y + 0.2], [CANDIDATE_X, TOP - 0.2]))
        output = VGroup(
            wire([OUTPUT_X, BOTTOM], [OUTPUT_X, GATES - 0.21]),
            layer_box("σ").move_to([OUTPUT_X, GATES, 0]),
            wire([OUTPUT_X, GATES + 0.21], [OUTPUT_X, OUT_Y], [COPY_X - 0.2, OUT_Y]),
            self.symbol("o", "t", size=18).next_to([OUTPUT_X, OUT_Y, 0], UP, buff=0.06),
            wire([COPY_X, TOP], [COPY_X, TANH_Y + 0.2]),
            pointwise("tanh").move_to([COPY_X, TANH_Y, 0]),
            wire([COPY_X, TANH_Y - 0.2], [COPY_X, OUT_Y + 0.2]),
            pointwise("×").move_to([COPY_X, OUT_Y, 0]),
            wire([COPY_X, OUT_Y - 0.2], [COPY_X, BOTTOM], [RIGHT_END, BOTTOM]),
            wire([H_UP_X, BOTTOM], [H_UP_X, TOP + 1.0]),
            self.symbol("h", "t").next_to([H_UP_X, TOP + 1.0, 0], RIGHT, buff=0.08),
            self.symbol("h", "t").next_to([RIGHT_END, BOTTOM, 0], DOWN + LEFT, buff=0.08),
        )
        self.x_anchor = [X_IN, BOTTOM - 0.85, 0]  # the foot of the xₜ line
        return {"frame": frame, "cell_line": cell_line, "forget": forget, "input": input_part, "update": update, "output": output}
