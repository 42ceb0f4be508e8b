"""Figures 2 (stretched) and 3: the gradient fading along a long chain, tanh and its slope, the real
Jacobian products, then RNN vs LSTM for real.

    $ explain render vanishing-gradient --still
    $ explain render vanishing-gradient --stop-after 1 --still     # the chain stretched to 16 steps
    $ explain render vanishing-gradient --trace rnn-vs-lstm.safetensors --lang ko

The scene reads one nn.RNN and one nn.LSTM recorded with ``grads=True`` on the same sequence
(names ``{q}.l{k}.fwd.h`` and ``{q}.l{k}.fwd.grad_h``; the first module of each kind is used) and
the RNN's ``{q}@weight_hh_l{k}`` for the Jacobian products (without it the table says what it
leaves out). With no trace it records the book's char-RNN and char-LSTM on a line of the Zen of
Python with the loss at the last step only, so ||dL/dhₜ|| shows how far back the error reaches.
The numbers come from :func:`explain.figures.gradients.gradient_values`.
Options: ``layer`` (default: the top layer of each model), ``batch`` (default 0), ``step`` (--stop-after).
"""

from __future__ import annotations

from typing import Any

from manim import DOWN, LEFT, RIGHT, UP, Axes, DashedLine, Dot, GrowArrow, GrowFromEdge, LaggedStart, Rectangle, Text, VGroup, np

from explain.draw import theme
from explain.draw.base import SceneInputError, TraceScene
from explain.draw.captions import fitted_caption, recaption
from explain.draw.chain import ModuleBox, TokenTile, arrow_between, link
from explain.draw.cnn_parts import chosen_step, fit_width, run_steps
from explain.draw.fades import animating, appear, disappear, fade_in, fade_out
from explain.draw.graphs import LogBars, decade_range
from explain.figures.recurrent import MissingValues, subscript
from explain.figures.gradients import gradient_values, weight_hh_name
from explain.trace import Trace
from explain.scenes import SceneSpec

__all__ = ["CAPTIONS", "PRODUCT_ROWS", "SCENES", "short_number", "VanishingGradientScene"]

SCENES = [
    # the rnn-vs-lstm recipe records char-rnn beside char-lstm (renders depend on both)
    SceneSpec(
        "vanishing-gradient",
        "VanishingGradientScene",
        "The gradient fading along a 16-step chain, tanh′, the real Jacobian products, then char-rnn beside char-lstm (figures 2, 3)",
        "char-rnn",
        "rnn-vs-lstm",
    ),
]

#: the product table shows the last steps, the step t = STRETCH_STEPS − 1 back, and t = 0
PRODUCT_ROWS = 4

CAPTIONS = [
    ("Stretched to {count} steps with the loss at the last one: the gradient fades on its way back. Why?",
     "{count}단계로 늘이고 손실을 마지막 단계에만 두면, 기울기가 거슬러 가며 사라집니다. 왜 그럴까요?"),
    ("tanh squashes its input; its slope 1 − tanh² peaks at 1 at x = 0 and is small elsewhere.",
     "tanh는 입력을 −1과 1 사이로 눌러 담습니다. 기울기 1 − tanh²은 x = 0에서 최대 1이고, 그 밖에서는 작습니다."),
    ("One step back multiplies the gradient by Wₕₕᵀ·diag(1 − hₜ²): a matrix, not only the slopes below 1.",
     "한 단계 거슬러 갈 때마다 기울기에 Wₕₕᵀ·diag(1 − hₜ²)을 곱합니다. 1보다 작은 기울기만이 아니라 행렬을 곱합니다."),
    ("Real ‖∂L/∂hₜ‖ for a loss at the last step: add long-term memory (the cell state) → LSTM.",
     "마지막 시간 단계의 손실에서 구한 실제 ‖∂L/∂hₜ‖입니다. 장기 기억(셀 상태)을 더한 것이 LSTM입니다."),
]


class VanishingGradientScene(TraceScene):
    """The chain stretched with the real gradient fading; tanh and 1 − tanh²; the real products; RNN vs LSTM."""

    OPTIONS = frozenset({"layer", "batch", "step"})

    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        try:
            gradient_values(trace, options)
        except MissingValues as error:
            raise SceneInputError(str(error)) from None
        chosen_step(options, len(CAPTIONS))

    def construct(self) -> None:
        self.values = gradient_values(self.trace, self.options)
        self.shown = self.values
        self.add(self.text("The vanishing gradient", "기울기 소실", size=34).to_edge(UP, buff=0.25))
        self.figure, self.caption_line = None, None
        run_steps(self, [self.stretch_step, self.slope_step, self.products_step, self.comparison_step])

    def show(self, figure: VGroup, english: str, korean: str) -> None:
        """Replace the step's figure and caption (fades in a video, in place in a still)."""
        old, self.figure = self.figure, figure
        if self.caption_line is None:
            self.caption_line = fitted_caption(self, english, korean)
            self.add(self.caption_line)
        elif animating(self):  # the old figure leaves while the caption changes
            self.play(fade_out(old), recaption(self, self.caption_line, english, korean), run_time=0.5)
        else:
            self.caption_line.become(fitted_caption(self, english, korean))
        disappear(self, old)
        appear(self, figure, run_time=0.8)

    # -- step 1: figure 2's chain stretched, the real gradient fading back from the loss
    def stretch_step(self) -> None:
        stretch = self.values["stretch"]
        english, korean = (text.format(count=len(stretch)) for text in CAPTIONS[0])
        chain, gradient = self._stretched_chain()
        if not animating(self):
            self.show(VGroup(chain, gradient), english, korean)
            return
        self.show(chain, english, korean)  # the chain first, then the gradient grows back from the loss
        heading, back, bars, numbers = gradient
        self.play(fade_in(heading), GrowArrow(back), run_time=0.5)
        self.play(LaggedStart(*[GrowFromEdge(bar, DOWN) for bar in reversed(bars)], lag_ratio=0.2), run_time=2.0)
        self.play(fade_in(numbers), run_time=0.4)
        self.figure = VGroup(chain, gradient)

    def _stretched_chain(self) -> tuple[VGroup, VGroup]:
        """The unrolled chain of the last steps with the loss, and (heading, back arrow, bars, numbers) above it."""
        values = self.values
        steps, relative, tokens = values["stretch"], values["relative"]["rnn"], values["tokens"]
        spacing = min(0.8, 11.6 / len(steps))
        left = -6.2 + spacing / 2
        low, high = decade_range([relative[t] for t in steps])
        tallest = 2.5

        def height(value: float) -> float:
            return tallest * (np.log10(value) - low) / (high - low) if value > 0 else 0.0

        boxes, tiles, links, bars, numbers = VGroup(), VGroup(), VGroup(), VGroup(), VGroup()
        base = -0.1
        for index, t in enumerate(steps):
            x = left + index * spacing
            box = ModuleBox("A", width=spacing * 0.62, height=0.5, size=20).move_to([x, -0.6, 0])
            tile = TokenTile(tokens[t], side=min(0.42, spacing * 0.55)).next_to(box, DOWN, buff=0.35)
            tiles.add(tile, link(tile, box, stroke=2))
            boxes.add(box)
            bar = Rectangle(width=spacing * 0.45, height=max(height(relative[t]), 1e-3), stroke_width=0)
            bar.set_fill(theme.GRADIENT, opacity=1).move_to([x, base + bar.height / 2, 0])
            bars.add(bar)
            if (len(steps) - 1 - index) % 3 == 0:
                number = Text(short_number(relative[t]), font=theme.MONO_FONT, font_size=16, color=theme.GRADIENT)
                numbers.add(fit_width(number, spacing * 1.9).next_to(bar, UP, buff=0.06))
            label = Text(f"{t}", font=theme.MONO_FONT, font_size=16, color=theme.MUTED).next_to(tile, DOWN, buff=0.08)
            tiles.add(label)
        for before, after in zip(boxes, boxes[1:]):
            links.add(link(before, after, stroke=2, buff=0.02))
        loss = ModuleBox("L", width=0.6, height=0.5, size=22, fill=theme.LAYER_FILL).next_to(boxes[-1], RIGHT, buff=0.35)
        back = arrow_between(loss.get_left() + UP * 0.15, boxes[-1].get_right() + UP * 0.15, color=theme.GRADIENT, stroke=2.5)
        forward = link(boxes[-1], loss, stroke=2, buff=0.02).shift(DOWN * 0.12)
        heading = self.text(
            f"‖∂L/∂hₜ‖ ÷ ‖∂L/∂h at t = {steps[-1]}‖ of the RNN (layer {values['layers']['rnn']}), log scale",
            f"RNN(층 {values['layers']['rnn']})의 ‖∂L/∂hₜ‖ ÷ t = {steps[-1]}의 ‖∂L/∂h‖ (로그 눈금)",
            size=20, color=theme.GRADIENT,
        ).move_to([0, base + tallest + 0.75, 0])
        axis_note = self.text("t =", size=16, color=theme.MUTED).next_to(tiles[2], LEFT, buff=0.15)
        chain = VGroup(boxes, links, tiles, loss, forward, axis_note)
        if steps[0] > 0:
            earlier = "t = 0" if steps[0] == 1 else f"t = 0 … {steps[0] - 1}"
            chain.add(self.text(earlier, size=16, color=theme.MUTED).next_to(boxes[0], LEFT, buff=0.12))
        gradient = VGroup(heading, back, bars, numbers)
        VGroup(chain, gradient).move_to(DOWN * 0.05)
        return chain, gradient

    # -- step 2: tanh and its slope
    def slope_step(self) -> None:
        self.show(self._curves().move_to(DOWN * 0.2), *CAPTIONS[1])

    def _curves(self) -> VGroup:
        axes = Axes(
            x_range=[-3, 3, 1], y_range=[-1.2, 1.2, 0.5], x_length=6.4, y_length=4.2,
            axis_config={"color": theme.MUTED, "include_numbers": False, "include_tip": False},
        )
        tanh = axes.plot(np.tanh, color=theme.POSITIVE, stroke_width=4)
        slope = axes.plot(lambda x: 1 - np.tanh(x) ** 2, color=theme.HIGHLIGHT, stroke_width=4)
        tanh_label = Text("tanh(x)", font=theme.FONT, font_size=22, color=theme.POSITIVE).next_to(axes.c2p(2.2, 1.0), UP, buff=0.12)
        slope_label = Text("1 − tanh²(x)", font=theme.FONT, font_size=22, color=theme.HIGHLIGHT).next_to(axes.c2p(1.4, 0.3), UP + RIGHT, buff=0.1)
        peak = Dot(axes.c2p(0, 1), color=theme.HIGHLIGHT, radius=0.07)
        peak_label = self.text("1 at x = 0", "x = 0에서 1", size=18, color=theme.HIGHLIGHT).next_to(axes.c2p(0, 1.2), UP, buff=0.05)
        ticks = VGroup(  # y = ±1, tanh's bounds, as faint lines labelled at the left end
            *[DashedLine(axes.c2p(-3, y), axes.c2p(3, y), color=theme.MUTED, stroke_width=1, dash_length=0.08) for y in (1, -1)],
            *[Text(text, font=theme.MONO_FONT, font_size=16, color=theme.MUTED).next_to(axes.c2p(-3, y), LEFT, buff=0.1)
              for text, y in (("1", 1), ("−1", -1))],
            *[Text(text, font=theme.MONO_FONT, font_size=16, color=theme.MUTED).next_to(axes.c2p(x, 0), DOWN, buff=0.1)
              for text, x in (("−3", -3), ("3", 3))],
        )
        return VGroup(axes, tanh, slope, tanh_label, slope_label, peak, peak_label, ticks)

    # -- step 3: the real products, and what "multiply the slopes" leaves out
    def products_step(self) -> None:
        self.show(self._products().move_to(DOWN * 0.15), *CAPTIONS[2])

    def _products(self) -> VGroup:
        values = self.values
        tokens, means, jacobians, recorded = values["tokens"], values["slope_products"], values["jacobians"], values["relative"]["rnn"]
        last = len(tokens) - 1
        rows = sorted({*range(last, max(last - PRODUCT_ROWS, -1), -1), max(last - len(values["stretch"]) + 1, 0), 0}, reverse=True)
        header = [
            self.say("step", "단계"),
            self.say("slopes only:", "기울기만:"),
            self.say("real matrices:", "실제 행렬:"),
            self.say("recorded:", "기록된 값:"),
        ]
        formulas = ["", self.say("∏ mean(1 − h²)", "∏ 평균(1 − h²)"), "‖∏ W<sub>hh</sub><sup>T</sup> diag(1 − h²)‖", "‖∂L/∂h<sub>t</sub>‖ ÷ ‖∂L/∂h<sub>last</sub>‖"]
        body = []
        for t in rows:
            jacobian = f"{jacobians[t]:.1e}" if jacobians is not None else "—"
            body.append([f"t = {t:<2d} {tokens[t]!r}", f"{means[t]:.1e}", jacobian, f"{recorded[t]:.1e}"])
        columns = []
        for c in range(4):
            cells = [self.text(header[c], size=18, color=theme.MUTED),
                     self.text(formulas[c] or " ", size=18, color=theme.MUTED, markup=True)]
            cells += [Text(row[c], font=theme.MONO_FONT, font_size=20, color=theme.GRADIENT if c == 3 else theme.INK) for row in body]
            columns.append(cells)
        row_y, y, gap_y = [0.0, -0.42], -0.95, []
        for index, t in enumerate(rows):
            if index and rows[index - 1] - t > 1:  # steps left out between two rows: a ⋮ in the space
                gap_y.append(y - 0.05)
                y -= 0.4
            row_y.append(y)
            y -= 0.5
        table = VGroup()
        x = 0.0
        for cells in columns:
            width = max(cell.width for cell in cells)
            for cell, y in zip(cells, row_y):
                table.add(cell.move_to([x + width / 2, y, 0]))
            x += width + 0.6
        gaps = VGroup(*[Text("⋮", font=theme.MONO_FONT, font_size=18, color=theme.MUTED).move_to([columns[0][2].get_x(), y, 0])
                        for y in gap_y])
        if jacobians is None:
            name = weight_hh_name(values["modules"]["rnn"], values["layers"]["rnn"])
            english = f"The middle column needs Wₕₕ in the trace ({name}): the slopes alone leave Wₕₕ out."
            korean = f"가운데 열을 계산하려면 기록에 Wₕₕ({name})가 있어야 합니다. 기울기만 곱하면 Wₕₕ가 빠집니다."
        else:
            english = "Multiplying the mean slopes leaves out Wₕₕ; the real product includes it. The recorded gradient is at most its norm."
            korean = "평균 기울기만 곱하면 Wₕₕ가 빠집니다. 실제 곱은 Wₕₕ를 포함하며, 기록된 기울기는 그 노름을 넘지 않습니다."
        note = fit_width(self.text(english, korean, size=18, color=theme.MUTED), 12.8).next_to(table, DOWN, buff=0.35)
        layer = self.text(f"RNN layer {values['layers']['rnn']}, its real hₜ and Wₕₕ; the loss at t = {last}",
                          f"RNN 층 {values['layers']['rnn']}의 실제 hₜ와 Wₕₕ입니다. 손실은 t = {last}에만 있습니다", size=16, color=theme.MUTED)
        layer.next_to(note, DOWN, buff=0.15)
        return VGroup(table, gaps, note, layer)

    # -- step 4: RNN vs LSTM
    def comparison_step(self) -> None:
        chart, heading = self._comparison(self.values)
        self.show(VGroup(heading, chart), *CAPTIONS[3])

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


def short_number(value: float) -> str:
    """A bar's value in few characters: "1", "0.35", "0.04", "9e-5".

    >>> short_number(1.0), short_number(0.3456), short_number(0.04), short_number(8.8e-5)
    ('1', '0.35', '0.04', '9e-5')
    """
    if value >= 0.01:
        return f"{value:.2g}"
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"
