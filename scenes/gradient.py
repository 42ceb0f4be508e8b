"""Figure 3: the vanishing gradient: tanh and its slope, shrinking products, then RNN vs LSTM for real.

    $ explain render vanishing-gradient --still
    $ explain render vanishing-gradient --trace rnn-vs-lstm.safetensors --lang ko

The scene reads one nn.RNN and one nn.LSTM recorded with ``grads=True`` on the same sequence
(names ``{q}.l{k}.fwd.h`` and ``{q}.l{k}.fwd.grad_h``; the first module of each kind is used).
With no trace it records the book's char-RNN and char-LSTM on a line of the Zen of Python with
the loss at the last step only, so ||dL/dhₜ|| shows how far back the error reaches.
Options: ``layer`` (default: the top layer of each model), ``batch`` (default 0).
"""

from __future__ import annotations

from typing import Any

from manim import DOWN, LEFT, RIGHT, UP, Axes, Create, Dot, FadeIn, FadeOut, Text, VGroup, np

from explain.draw import theme
from explain.draw.base import SceneInputError, TraceScene
from explain.draw.captions import fitted_caption, recaption
from explain.draw.graphs import LogBars
from explain.names import recurrent_name
from explain.draw.recurrent_values import (
    MissingValues,
    find_recurrent,
    grad_norms,
    hidden_states,
    layers_of,
    step_labels,
    subscript,
)
from explain.trace import Trace
from scenes import SceneSpec

SCENES = [
    # the rnn-vs-lstm recipe records char-rnn beside char-lstm (renders depend on both)
    SceneSpec(
        "vanishing-gradient",
        "VanishingGradientScene",
        "tanh and its slope, then real ||dL/dh_t|| of char-rnn beside char-lstm (figure 3)",
        "char-rnn",
        "rnn-vs-lstm",
    ),
]

#: how many of the last steps the product table walks back through
PRODUCT_ROWS = 6
#: the chart shows at most this many steps (the last ones, where the loss is)
MAX_BARS = 60


def gradient_values(trace: Trace, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The numbers of the figure: per-step ||dL/dhₜ|| of the RNN and the LSTM, and tanh′ factors.

    ``window`` lists the steps the chart shows (the last :data:`MAX_BARS`). ``relative`` divides each model's norms by its last step's (the two losses differ in size; the
    figure compares how fast each decays). ``slopes[t]`` is the mean over units of 1 − hₜ² of the RNN's layer (tanh′ at its real states);
    ``products[k]`` multiplies the last k of them (from the last step backwards; ``products[0]`` is 1).
    """
    options = options or {}
    rnn = find_recurrent(trace, "grad_h", kind="rnn")
    lstm = find_recurrent(trace, "grad_h", kind="lstm")
    layers = {module: _layer(trace, module, options) for module in (rnn, lstm)}
    batch = int(options.get("batch") or 0)
    norms = {kind: grad_norms(trace, module, layers[module], batch=batch) for kind, module in (("rnn", rnn), ("lstm", lstm))}
    if len(norms["rnn"]) != len(norms["lstm"]):
        raise MissingValues(
            f"the RNN and the LSTM read sequences of different lengths ({len(norms['rnn'])} vs {len(norms['lstm'])})"
        )
    steps = len(norms["rnn"])
    units = range(trace[recurrent_name(rnn, layers[rnn], "h")].shape[-1])
    states = hidden_states(trace, rnn, layers[rnn], steps=range(steps), units=units, batch=batch)
    slopes = [float(np.mean([1.0 - h * h for h in row])) for row in states]
    products = [1.0]
    for t in range(steps - 1, -1, -1):
        products.append(products[-1] * slopes[t])
    return {
        "modules": {"rnn": rnn, "lstm": lstm},
        "relative": {kind: _relative(values) for kind, values in norms.items()},
        "layers": {"rnn": layers[rnn], "lstm": layers[lstm]},
        "norms": norms,
        "slopes": slopes,
        "products": products,
        "tokens": step_labels(trace, steps),
        "window": list(range(max(0, steps - MAX_BARS), steps)),
    }


def _relative(norms: list[float]) -> list[float]:
    """Each norm divided by the last step's (by the largest if the last is 0): how much is left t steps back.

    >>> _relative([0.01, 0.1, 1.0, 2.0])
    [0.005, 0.05, 0.5, 1.0]
    """
    reference = norms[-1] or max(norms) or 1.0
    return [value / reference for value in norms]


def _layer(trace: Trace, module: str, options: dict[str, Any]) -> int:
    layers = layers_of(trace, module, "grad_h")
    layer = int(options.get("layer", layers[-1]))
    if layer not in layers:
        raise MissingValues(f"layer {layer} has no gradients; {module or 'the module'} has grad_h for layers {layers}")
    return layer


CAPTIONS = [
    ("tanh squashes its input; its slope 1 − tanh² peaks at 1 at x = 0 and is small elsewhere.",
     "tanh는 입력을 −1과 1 사이로 눌러 담습니다. 기울기 1 − tanh²은 x = 0에서 최대 1이고, 그 밖에서는 작습니다."),
    ("One step back multiplies the gradient by W_hhᵀ·(1 − hₜ²): slopes below 1, step after step.",
     "한 단계 거슬러 갈 때마다 기울기에 W_hhᵀ·(1 − hₜ²)을 곱합니다. 1보다 작은 값이 단계마다 계속 곱해집니다."),
    ("Real ‖∂L/∂hₜ‖ for a loss at the last step: add long-term memory (the cell state) → LSTM.",
     "마지막 시간 단계의 손실에서 구한 실제 ‖∂L/∂hₜ‖입니다. 장기 기억(셀 상태)을 더한 것이 LSTM입니다."),
]


class VanishingGradientScene(TraceScene):
    """tanh and 1 − tanh²; the gradient multiplied by slopes below 1; RNN vs LSTM ||dL/dhₜ||."""

    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        try:
            gradient_values(trace, options)
        except MissingValues as error:
            raise SceneInputError(str(error)) from None

    def construct(self) -> None:
        values = gradient_values(self.trace, self.options)
        self.shown = values
        title = self.text("The vanishing gradient", "기울기 소실", size=34).to_edge(UP, buff=0.25)
        self.add(title)
        chart, heading = self._comparison(values)
        if self.is_still:
            self.add(chart, heading, fitted_caption(self, *CAPTIONS[-1]))
            return
        caption = fitted_caption(self, *CAPTIONS[0])
        curves = self._curves().move_to(LEFT * 3.3 + DOWN * 0.2)
        self.play(Create(curves), FadeIn(caption), run_time=1.0)
        self.pause()
        table = self._products(values).move_to(RIGHT * 3.6 + DOWN * 0.1)
        self.play(recaption(self, caption, *CAPTIONS[1]), run_time=0.4)
        for row in table:
            self.play(FadeIn(row, shift=DOWN * 0.1), run_time=0.3)
        self.pause()
        self.play(FadeOut(curves), FadeOut(table), run_time=0.4)
        self.play(FadeIn(heading), FadeIn(chart), recaption(self, caption, *CAPTIONS[2]), run_time=0.8)
        self.pause()

    def _curves(self) -> VGroup:
        axes = Axes(
            x_range=[-3, 3, 1], y_range=[-1.2, 1.2, 0.5], x_length=5.6, y_length=3.8,
            axis_config={"color": theme.MUTED, "include_numbers": False, "include_tip": False},
        )
        tanh = axes.plot(np.tanh, color=theme.POSITIVE, stroke_width=4)
        slope = axes.plot(lambda x: 1 - np.tanh(x) ** 2, color=theme.HIGHLIGHT, stroke_width=4)
        tanh_label = Text("tanh(x)", font=theme.FONT, font_size=22, color=theme.POSITIVE).next_to(axes.c2p(2.2, 1.0), UP, buff=0.12)
        slope_label = Text("1 − tanh²(x)", font=theme.FONT, font_size=22, color=theme.HIGHLIGHT).next_to(axes.c2p(1.4, 0.3), UP + RIGHT, buff=0.1)
        peak = Dot(axes.c2p(0, 1), color=theme.HIGHLIGHT, radius=0.07)
        peak_label = self.text("1 at x = 0", "x = 0에서 1", size=18, color=theme.HIGHLIGHT).next_to(axes.c2p(0, 1.2), UP, buff=0.05)
        ticks = VGroup(
            *[Text(text, font=theme.MONO_FONT, font_size=16, color=theme.MUTED).next_to(axes.c2p(0, y), LEFT, buff=0.1)
              for text, y in (("1", 1), ("−1", -1))],
            *[Text(text, font=theme.MONO_FONT, font_size=16, color=theme.MUTED).next_to(axes.c2p(x, 0), DOWN, buff=0.1)
              for text, x in (("−3", -3), ("3", 3))],
        )
        return VGroup(axes, tanh, slope, tanh_label, slope_label, peak, peak_label, ticks)

    def _products(self, values: dict[str, Any]) -> VGroup:
        slopes, products = values["slopes"], values["products"]
        last = len(slopes) - 1
        header = self.text("step · mean(1 − hₜ²) · product so far", "단계 · 평균(1 − hₜ²) · 누적 곱", size=20, color=theme.MUTED)
        rows = [header]
        steps_back = list(range(1, min(PRODUCT_ROWS - 1, last + 1) + 1))
        if steps_back[-1] != last + 1:
            steps_back.append(last + 1)
        for back in steps_back:
            if back > 1 and back - 1 not in steps_back:
                rows.append(Text("  ⋮", font=theme.MONO_FONT, font_size=20, color=theme.MUTED))
            t = last + 1 - back
            line = f"t={t:<3d} × {slopes[t]:.3f}  = {products[back]:.2e}"
            rows.append(Text(line, font=theme.MONO_FONT, font_size=20, color=theme.INK))
        note = self.text(f"RNN layer {values['layers']['rnn']}, real hₜ", f"RNN 층 {values['layers']['rnn']}, 실제 hₜ", size=16,
                         color=theme.MUTED)
        return VGroup(*rows, note).arrange(DOWN, aligned_edge=LEFT, buff=0.18)

    def _comparison(self, values: dict[str, Any]) -> tuple[LogBars, VGroup]:
        norms, relative, tokens, layers = values["norms"], values["relative"], values["tokens"], values["layers"]
        window = values["window"]
        chart = LogBars(
            [(self.say(f"RNN, layer {layers['rnn']}", f"RNN, 층 {layers['rnn']}"), [relative["rnn"][t] for t in window], theme.GRADIENT),
             (self.say(f"LSTM, layer {layers['lstm']}", f"LSTM, 층 {layers['lstm']}"), [relative["lstm"][t] for t in window],
              theme.POSITIVE)],
            labels=[tokens[t] for t in window], width=11.0, height=3.6,
        ).move_to(DOWN * 0.4 + RIGHT * 0.45)
        last = f"‖∂L/∂h{subscript(len(tokens) - 1)}‖: RNN {norms['rnn'][-1]:.2g}, LSTM {norms['lstm'][-1]:.2g}"
        if window[0] > 0:
            last += self.say(f"; bars: t = {window[0]} … {window[-1]}", f"; 막대: t = {window[0]} … {window[-1]}")
        heading = VGroup(
            self.text("‖∂L/∂hₜ‖ ÷ ‖∂L/∂h at the last step‖, log scale", "‖∂L/∂hₜ‖ ÷ 마지막 시간 단계의 ‖∂L/∂h‖ (로그 눈금)", size=24),
            self.text(f"left at t = 0: RNN {relative['rnn'][0]:.1e}, LSTM {relative['lstm'][0]:.1e}   ({last})",
                      f"t = 0에 남은 비율: RNN {relative['rnn'][0]:.1e}, LSTM {relative['lstm'][0]:.1e}   ({last})", size=18),
        )
        heading.arrange(DOWN, buff=0.1).next_to(chart, UP, buff=0.2)
        return chart, heading
