"""The GRU cell in PyTorch's convention with a trace's real values (BOOK.md §1 and §4 figure 6).

    $ explain render gru-cell --still                        # the full cell, every strip of step 0
    $ explain render gru-cell --layer 0 --steps 0-5 --units 0-11 --lang ko

Build order: (1) one merged state line, (2) update gate, (3) reset gate, (4) the new hidden state.
PyTorch's equations, drawn as written: r multiplies the hidden term AFTER its matrix product
(rₜ ⊙ (W_hn hₜ₋₁ + b_hn)), and hₜ = (1 − zₜ) ⊙ nₜ + zₜ ⊙ hₜ₋₁, so zₜ → 1 keeps the old state; a
note on screen says where the classic figure differs. ``self.shown[t]`` keeps what the strips showed.
"""

from __future__ import annotations

from manim import LEFT, RIGHT, UP, Dot, VGroup

from explain.draw import theme
from explain.draw.cell import layer_box, module_box, pointwise, wire
from explain.draw.cell_scene import LEFT_EDGE, BuildStep, CellScene
from explain.figures.cells import gru_step_values
from explain.scenes import SceneSpec

__all__ = ["EQUATION_H", "EQUATION_N", "EQUATION_R", "EQUATION_Z", "GRUCellScene", "H_TILDE", "junction", "SCENES"]

SCENES = [SceneSpec("gru-cell", "GRUCellScene", "The GRU cell in PyTorch's convention, with real values (figure 6)", "char-gru")]

H_TILDE = "h\u0303"

# Geometry (scene units): the one state line on top; below it hₜ₋₁ (BOTTOM) and xₜ (X_LINE) run as
# two lines: the gates read both (a dot where a gate's wire takes a line), W_hn only hₜ₋₁, W_in only xₜ.
TOP, BOTTOM, X_LINE, GATES, Z_Y, MIX_Y = 1.45, -1.55, -1.9, -0.8, 0.75, 0.0
LEFT_END, RIGHT_END = LEFT_EDGE, 0.55
H_DOWN_X, X_IN, Z_X, R_X, WHN_X, WIN_X, OUT_X, H_UP_X = -5.9, -5.6, -5.3, -4.4, -3.5, -2.3, -1.2, -0.45

EQUATION_Z = "z<sub>t</sub> = σ(W<sub>iz</sub> x<sub>t</sub> + b<sub>iz</sub> + W<sub>hz</sub> h<sub>t−1</sub> + b<sub>hz</sub>)"
EQUATION_R = "r<sub>t</sub> = σ(W<sub>ir</sub> x<sub>t</sub> + b<sub>ir</sub> + W<sub>hr</sub> h<sub>t−1</sub> + b<sub>hr</sub>)"
EQUATION_N = (
    "n<sub>t</sub> = tanh(W<sub>in</sub> x<sub>t</sub> + b<sub>in</sub> + r<sub>t</sub> ⊙ (W<sub>hn</sub> h<sub>t−1</sub> + b<sub>hn</sub>))"
)
EQUATION_H = "h<sub>t</sub> = (1 − z<sub>t</sub>) ⊙ n<sub>t</sub> + z<sub>t</sub> ⊙ h<sub>t−1</sub>"


class GRUCellScene(CellScene):
    """Figure 6 of the book, drawn the way PyTorch computes it, with a trace's values."""

    kind = "gru"
    cell_name = ("GRU cell", "GRU 셀")
    rows = {
        "h_prev": (("h", "t−1"), "state"),
        "z": (("z", "t"), "sigmoid"),
        "r": (("r", "t"), "sigmoid"),
        "n": (("n", "t"), "tanh"),
        "h": (("h", "t"), "state"),
    }
    build = [
        BuildStep(
            "state_line", ["h_prev"], [],
            "A GRU keeps one state hₜ: the LSTM's cell state and hidden state merged into one line.",
            "GRU의 상태는 hₜ 하나입니다. LSTM의 셀 상태와 은닉 상태가 한 줄로 합쳐졌습니다.",
        ),
        BuildStep(
            "update", ["z"], [EQUATION_Z],
            "Update gate zₜ: in PyTorch zₜ → 1 keeps the old state, zₜ → 0 lets the candidate in.",
            "업데이트 게이트 zₜ: PyTorch에서는 zₜ → 1이면 이전 상태를 유지하고, zₜ → 0이면 후보를 받아들입니다.",
        ),
        BuildStep(
            "reset", ["r"], [EQUATION_R],
            "Reset gate rₜ scales the hidden term after its matrix product: rₜ ⊙ (W<sub>hn</sub> hₜ₋₁ + b<sub>hn</sub>).",
            "리셋 게이트 rₜ는 행렬 곱을 마친 은닉 항에 곱해집니다: rₜ ⊙ (W<sub>hn</sub> hₜ₋₁ + b<sub>hn</sub>).",
        ),
        BuildStep(
            "new_state", ["n", "h"], [EQUATION_N, EQUATION_H],
            "New state: the candidate nₜ and the old hₜ₋₁, mixed unit by unit by zₜ.",
            "새 상태: 후보 nₜ와 이전 hₜ₋₁을 유닛마다 zₜ의 비율로 섞습니다.",
        ),
    ]
    summary = [EQUATION_N, EQUATION_H]
    still_caption = (
        "Every strip holds this step's recorded values; zₜ near 1 means the unit keeps hₜ₋₁.",
        "각 줄은 이 시간 단계에서 기록된 실제 값입니다. zₜ가 1에 가까운 유닛은 hₜ₋₁을 유지합니다.",
    )
    note = (
        f"Classic figure: hₜ = (1 − zₜ) ⊙ hₜ₋₁ + zₜ ⊙ {H_TILDE}ₜ, r before W·h.\n"
        "PyTorch (drawn here): zₜ → 1 keeps hₜ₋₁, rₜ after W<sub>hn</sub> hₜ₋₁ + b<sub>hn</sub>.",
        f"고전적인 그림: hₜ = (1 − zₜ) ⊙ hₜ₋₁ + zₜ ⊙ {H_TILDE}ₜ, r은 W·h 앞.\n"
        "PyTorch(이 그림): zₜ → 1이면 hₜ₋₁ 유지, rₜ는 W<sub>hn</sub> hₜ₋₁ + b<sub>hn</sub> 뒤.",
    )
    legend_titles = (("σ gates z, r", "σ 게이트 z, r"), ("tanh: candidate n", "tanh: 후보 n"), ("state h", "상태 h"))

    def step_values(self, t: int) -> dict[str, list[float]]:
        return gru_step_values(self.trace, self.view, t)

    def diagram(self) -> dict[str, VGroup]:
        """The cell's parts in build order: frame, state_line, update, reset, new_state."""
        frame = module_box(6.0, 3.95).move_to([-3.2, (TOP + X_LINE) / 2 + 0.03, 0])
        state_line = VGroup(
            wire([LEFT_END, TOP], [Z_X - 0.2, TOP]),
            pointwise("×").move_to([Z_X, TOP, 0]),
            wire([Z_X + 0.2, TOP], [OUT_X - 0.2, TOP]),
            pointwise("+").move_to([OUT_X, TOP, 0]),
            wire([OUT_X + 0.2, TOP], [RIGHT_END, TOP]),
            self.symbol("h", "t−1").next_to([LEFT_END, TOP, 0], UP + RIGHT, buff=0.08),
            self.symbol("h", "t").next_to([RIGHT_END, TOP, 0], UP + LEFT, buff=0.08),
        )
        foot = X_LINE - 0.6
        x_label = self.symbol("x", "t").next_to([X_IN, foot, 0], LEFT, buff=0.1)
        self.x_anchor = [X_IN, foot, 0]  # the foot of the xₜ line
        update = VGroup(
            wire([H_DOWN_X, TOP], [H_DOWN_X, BOTTOM], [Z_X, BOTTOM], arrow=False),
            wire([X_IN, foot], [X_IN, X_LINE], [Z_X, X_LINE], arrow=False),
            x_label,
            wire([Z_X, X_LINE], [Z_X, GATES - 0.21]),
            *[junction(Z_X, y) for y in (BOTTOM, X_LINE)],
            layer_box("σ").move_to([Z_X, GATES, 0]),
            wire([Z_X, GATES + 0.21], [Z_X, TOP - 0.2]),
            self.symbol("z", "t", size=18).next_to([Z_X, (GATES + Z_Y) / 2, 0], LEFT, buff=0.08),
            wire([Z_X, Z_Y], [WIN_X - 0.32, Z_Y]),
            pointwise("1−").move_to([WIN_X, Z_Y, 0]),
            wire([WIN_X + 0.32, Z_Y], [OUT_X - 0.2, Z_Y]),
            pointwise("×").move_to([OUT_X, Z_Y, 0]),
        )
        reset = VGroup(
            wire([R_X, X_LINE], [R_X, GATES - 0.21]),
            *[junction(R_X, y) for y in (BOTTOM, X_LINE)],
            wire([Z_X, BOTTOM], [WHN_X, BOTTOM], arrow=False),  # W_hn reads hₜ₋₁ only
            wire([Z_X, X_LINE], [R_X, X_LINE], arrow=False),
            layer_box("σ").move_to([R_X, GATES, 0]),
            wire([R_X, GATES + 0.21], [R_X, MIX_Y], [WHN_X - 0.2, MIX_Y]),
            self.symbol("r", "t", size=18).next_to([R_X, MIX_Y, 0], UP, buff=0.06),
            wire([WHN_X, BOTTOM], [WHN_X, GATES - 0.21]),
            layer_box("W<sub>hn</sub>", markup=True).move_to([WHN_X, GATES, 0]),
            wire([WHN_X, GATES + 0.21], [WHN_X, MIX_Y - 0.2]),
            pointwise("×").move_to([WHN_X, MIX_Y, 0]),
        )
        new_state = VGroup(
            wire([WHN_X + 0.2, MIX_Y], [WIN_X - 0.2, MIX_Y]),
            wire([R_X, X_LINE], [WIN_X, X_LINE], [WIN_X, GATES - 0.21]),  # W_in reads xₜ only
            layer_box("W<sub>in</sub>", markup=True).move_to([WIN_X, GATES, 0]),
            wire([WIN_X, GATES + 0.21], [WIN_X, MIX_Y - 0.2]),
            pointwise("+").move_to([WIN_X, MIX_Y, 0]),
            wire([WIN_X + 0.2, MIX_Y], [OUT_X - 0.32, MIX_Y]),
            pointwise("tanh").move_to([OUT_X, MIX_Y, 0]),
            wire([OUT_X, MIX_Y + 0.2], [OUT_X, Z_Y - 0.2]),
            self.symbol("n", "t", size=18).next_to([OUT_X, (MIX_Y + Z_Y) / 2, 0], RIGHT, buff=0.08),
            wire([OUT_X, Z_Y + 0.2], [OUT_X, TOP - 0.2]),
            wire([H_UP_X, TOP], [H_UP_X, TOP + 0.95]),
            self.symbol("h", "t").next_to([H_UP_X, TOP + 0.95, 0], RIGHT, buff=0.08),
        )
        return {"frame": frame, "state_line": state_line, "update": update, "reset": reset, "new_state": new_state}


def junction(x: float, y: float) -> Dot:
    """A dot where a gate's wire takes a line (the wire reads that line)."""
    return Dot([x, y, 0], radius=0.05, color=theme.CELL_LINE)
