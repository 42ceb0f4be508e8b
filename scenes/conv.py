"""Convolution with a real kernel on a real input; every recorded step after it; a real pooling.

    $ explain render convolution --still
    $ explain render convolution --trace mnist.safetensors --channels 3 --lang ko
    $ explain render convolution --trace resnet.safetensors --module layer1.0.conv1

The numbers come from :mod:`explain.figures.convolution` (the plan: which convolution, channel,
positions, steps and pooling) and :mod:`explain.figures.windows` (windows and sums, pooling winners,
each recomputed and checked against the trace). Steps: the input, the kernel and the empty output;
the first worked window's values beside the kernel (padded windows hang over the map's edge and
their padding cells are grey); its products and their sum, then the other worked positions; the
sweep; then one figure per recorded step after the convolution (BatchNorm, activation, dropout,
each with its own formula and numbers); a line on screen when the trace does not hold what comes
next; the first pooling after the convolution with its real kernel, stride and padding. Number
cells are large enough to read in a lecture hall at 720p (a kernel larger than 5×5 writes its
numbers as whole numbers of one power of ten, stated under the grid); each step's caption (and a new part's
title) changes in the same animation as its figure, and the map a part reads moves into place
from the part before, so the screen is never blank between parts. Options:
``channels`` (the output channel to follow), ``module`` (the convolution), ``positions`` (how many
positions are worked out, default 3), ``step`` (stop after that step, for stills).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, Mobject, Rectangle, Text, UpdateFromAlphaFunc, VGroup, linear

from explain.draw import theme
from explain.draw.base import TraceScene
from explain.draw.cnn_parts import chosen_step, fit_width, next_step, operation_text
from explain.draw.fades import animating, appear, transition
from explain.draw.feature_maps import FeatureMap, NumberGrid, common_exponent, exponent_text, format_shape
from explain.draw.strip import ScaleBar, format_value
from explain.figures.convolution import BLOCK, ConvolutionPlan, convolution_plan
from explain.figures.layers import conv_spec, operation
from explain.figures.steps import Step
from explain.figures.windows import ConvStep, conv_input, conv_step, distinguishing_digits, pool_formula, recorded_input, window_text
from explain.figures.errors import refuse_nan
from explain.trace import Trace
from explain.scenes import SceneSpec

__all__ = ["ConvolutionScene", "EQUATION_Y", "GRID_CELL", "MAP_HEIGHT", "SCENES", "STEP_CAPTIONS", "WINDOW_COLORS"]

SCENES = [
    SceneSpec(
        "convolution",
        "ConvolutionScene",
        "A real kernel slides over a real input; every recorded step after it; the real pooling",
        "mnist-cnn",
    ),
]

#: outline colours of the (up to four) pooling windows
WINDOW_COLORS = ["#1F5FA8", "#B7950B", "#C0392B", "#6C3483"]

# -- the scene ---------------------------------------------------------------------------------

STEP_CAPTIONS = {
    "batch_norm": (
        "BatchNorm shifts and scales each channel with its own statistics and learned γ, β.",
        "배치 정규화는 채널마다 통계(μ, σ²)와 학습된 값(γ, β)으로 값을 옮기고 늘입니다.",
    ),
    "activation": ("The activation maps every value on its own.", "활성화 함수는 값 하나하나를 따로 바꿉니다."),
    "dropout": ("Dropout: in eval mode every value passes unchanged.", "드롭아웃: 평가 모드에서는 모든 값이 그대로 지나갑니다."),
    "other": ("Every value passes through this step on its own.", "값 하나하나가 이 단계를 따로 지나갑니다."),
}

#: side of a number cell: a five-character number ("-0.13") is then drawn 14 px tall at 720p, what a
#: lecture hall needs (explain.draw.reading.MIN_TEXT_PX)
GRID_CELL = 0.72
#: the widest number grid between the two maps: five cells (a larger kernel gets smaller cells)
GRID_ROOM = 5 * GRID_CELL
ROW_Y = 0.2
MAP_HEIGHT = 2.4
#: labels over a map or a grid are at most this wide (so they stay clear of the frame's edge)
LABEL_WIDTH = 2.7
LEFT_MAP, RIGHT_MAP = np.array([-5.55, ROW_Y, 0]), np.array([5.55, ROW_Y, 0])
#: centres of the two number grids between the maps: patch ⊙ kernel, products and sums, before → after
LEFT_SLOT, RIGHT_SLOT = np.array([-2.15, ROW_Y, 0]), np.array([2.15, ROW_Y, 0])
EQUATION_Y = -3.08


class ConvolutionScene(TraceScene):
    """Convolution with real numbers, every recorded step after it, then the real pooling.

    ``self.plan`` holds the choices and ``self.shown`` every number put on screen: the worked
    convolution steps, each later step's block before and after (by module), the pooling steps,
    and the notes said on screen. Each step starts with one transition in which its caption (and a
    new part's title) replaces the previous one while the figure changes; the map a part reads
    stays on screen and moves into place.
    """

    OPTIONS = frozenset({"module", "channels", "positions", "step"})

    @staticmethod
    def parts(plan: ConvolutionPlan) -> list[tuple[str, Step | None, bool]]:
        """Each step as (method, its argument, whether it starts a new figure), in order."""
        parts: list[tuple[str, Step | None, bool]] = [
            ("show_input_and_kernel", None, True),
            ("multiply", None, False),
            ("add_up", None, False),
            ("sweep", None, False),
        ]
        parts += [("apply_step", step, True) for step in plan.chain.steps]
        if plan.pool is not None:
            parts += [("pool", None, True), ("sweep_pool", None, False)]
        return parts

    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        refuse_nan(trace)
        chosen_step(options, len(cls.parts(convolution_plan(trace, options))))

    def construct(self) -> None:
        self.plan = convolution_plan(self.trace, self.options)
        self.shown: dict[str, Any] = {"conv_steps": [], "pool_steps": [], "steps": {}, "notes": []}
        self.title = self.current_caption = self.notice = None
        #: the last map drawn whole, as (tensor name, channel, FeatureMap): a part that reads it moves it into place
        self.carried: tuple[str, int, FeatureMap] | None = None
        parts = self.parts(self.plan)
        last = chosen_step(self.options, len(parts))
        # a still starts at the last new figure before its step
        first = max(i for i, (_, _, fresh) in enumerate(parts[:last]) if fresh) if self.is_still else 0
        for method, argument, _ in parts[first:last]:
            getattr(self, method)(*([] if argument is None else [argument]))
            self.pause()

    # -- step 1: the input, the kernel, the empty output
    def show_input_and_kernel(self) -> None:
        plan, trace = self.plan, self.trace
        spec = conv_spec(trace, plan.conv)
        source = conv_input(trace, plan.conv)
        first = conv_step(trace, plan.conv, plan.channel, *plan.positions[0])
        image = trace[source][0].double().numpy()
        output = trace[plan.conv][0].double().numpy()
        self.input_map = FeatureMap(image[first.first_channel], height=MAP_HEIGHT).move_to(LEFT_MAP)
        self.output_map = FeatureMap(output[plan.channel], height=MAP_HEIGHT).move_to(RIGHT_MAP)
        self.output_map.reveal(0)
        per_filter = first.kernel.shape[0]
        many = per_filter > 1  # then one input channel is drawn and the sums run over every channel
        channel = first.first_channel
        channel_note = "" if not many else self.say(f"\ninput channel {channel} of {per_filter}", f"\n입력 채널 {channel} / {per_filter}")
        kernel = trace[f"{plan.conv}@weight"][plan.channel, 0].double().numpy()
        self.kernel_grid = self.number_grid(kernel).move_to([0, ROW_Y, 0])
        where = self.say(f"\nchannel {channel}", f"\n채널 {channel}") if many else ""
        geometry = [] if spec.padding == (0, 0) and spec.stride == (1, 1) else [
            self.say(f"stride {spec.stride[0]}, padding {spec.padding[0]}", f"스트라이드 {spec.stride[0]}, 패딩 {spec.padding[0]}")
        ]
        output_label = [f"{self.say('output', '출력')} {format_shape(output.shape)}", f"{self.say('channel', '채널')} {plan.channel}", *geometry]
        self.kernel_label = self.label(f"{self.say('kernel', '커널')} w[{plan.channel}]{channel_note}", self.kernel_grid)
        self.kernel_label.add(*self.scale_note(self.kernel_grid))
        labels = [self.label(f"{source} " + format_shape(image.shape) + where, self.input_map), self.label("\n".join(output_label), self.output_map)]
        bars = [ScaleBar(m.scale_range, length=1.8).next_to(m, DOWN, buff=0.15) for m in (self.input_map, self.output_map)]
        c = plan.channel
        bias = f"b[{c}] + " if spec.bias else ""
        equation = self.formula(
            f"out[{c}, i, j] = {bias}Σₖ Σᵤ Σᵥ w[{c}, k, u, v] · x[k, {self.index('i', 0)}+u, {self.index('j', 1)}+v]"
            if many
            else f"out[{c}, i, j] = {bias}Σᵤ Σᵥ w[{c}, u, v] · x[{self.index('i', 0)}+u, {self.index('j', 1)}+v]"
        )
        padding = (
            self.say(" Outside the input it reads zeros (padding).", " 입력 밖에서는 0을 읽습니다(패딩).") if spec.padding != (0, 0) else ""
        )
        self.begin(
            (
                f"The kernel's {spec.weights_per_filter} weights are the model's; it slides over the input {spec.stride[0]} pixel(s) at a time.{padding}",
                f"커널의 가중치 {spec.weights_per_filter}개는 모델의 값입니다. 커널이 입력 위를 {spec.stride[0]}칸씩 움직입니다.{padding}",
            ),
            title=(
                f"Convolution: {plan.conv}, a {spec.kernel_text} kernel, filter {plan.channel} of {spec.out_channels}",
                f"합성곱: {plan.conv}, {spec.kernel_text} 커널, 필터 {spec.out_channels}개 중 {plan.channel}번",
            ),
            arriving=[self.input_map, labels[0], bars[0]],
        )
        appear(self, self.kernel_grid, self.kernel_label, self.output_map, labels[1], bars[1], equation)

    def index(self, var: str, axis: int) -> str:
        """ "i", "2i", "2i−1": where output index ``var`` starts reading along ``axis``."""
        spec = conv_spec(self.trace, self.plan.conv)
        stride, pad = spec.stride[axis], spec.padding[axis]
        base = var if stride == 1 else f"{stride}{var}"
        return base if pad == 0 else f"{base}−{pad}"

    def window_rect(self, step: ConvStep) -> Rectangle:
        """The kernel's window on the input map, hanging over the edge where it lies on padding."""
        return self.input_map.pixel_rect(step.rows[0], step.cols[0], step.rows[1] - step.rows[0], step.cols[1] - step.cols[0])

    def worked_steps(self) -> list[ConvStep]:
        """The worked positions (a still shows the last one)."""
        positions = self.plan.positions[-1:] if self.is_still else self.plan.positions
        return [conv_step(self.trace, self.plan.conv, self.plan.channel, row, col) for row, col in positions]

    # -- step 2: the window's input values next to the kernel's weights
    def multiply(self) -> None:
        step = self.worked_steps()[0]
        self.window = self.window_rect(step)
        self.target = self.output_map.pixel_rect(step.row, step.col)
        patch = self.number_grid(step.patch[0], scale=self.input_map.scale_range, padded=step.padded).move_to(LEFT_SLOT)
        where = window_text(step.rows, step.cols, channel=step.first_channel if step.patch.shape[0] > 1 else None)
        if step.padded.any():
            where += self.say("\ngrey: zero padding", "\n회색: 0 패딩")
        self.factors = [patch, self.label(where, patch, mono=True), *self.scale_note(patch), self.symbol("⊙").move_to((LEFT_SLOT + RIGHT_SLOT) / 2)]
        kernel = [self.kernel_grid, self.kernel_label]
        moving = [(m, m.get_center()) for m in kernel]  # the kernel makes room for the window's values
        VGroup(*kernel).shift(RIGHT_SLOT - self.kernel_grid.get_center())
        self.begin(
            ("Each input value under the window is multiplied by the weight over it.", "창 아래의 입력값마다 그 위에 놓인 가중치를 곱합니다."),
            moving=moving,
        )
        appear(self, self.window, self.target, *self.factors)

    # -- step 3: the products and their sum, at each worked position
    def add_up(self) -> None:
        self.computed = np.zeros(self.output_map.values.shape, dtype=bool)
        bias = conv_spec(self.trace, self.plan.conv).bias
        self.numbers = None
        for index, step in enumerate(self.worked_steps()):
            self.shown["conv_steps"].append(step)
            numbers = self.sum_numbers(step)
            if self.numbers is None:
                count = step.products.size
                self.begin(
                    (
                        f"The {count} products add up" + (", plus the bias, to one output value." if bias else " to one output value (this conv has no bias)."),
                        f"곱 {count}개를 모두 더하면" + (" (편향도 더해) 출력값 하나가 됩니다." if bias else " 출력값 하나가 됩니다 (편향 없음)."),
                    ),
                    leaving=[*self.factors, self.kernel_grid, self.kernel_label],
                    arriving=[numbers],
                )
            else:
                moving = [(self.window, self.window.get_center()), (self.target, self.target.get_center())]
                self.window.move_to(self.window_rect(step))
                self.target.move_to(self.output_map.pixel_rect(step.row, step.col))
                caption = None if index > 1 else (
                    "The window moves on; the same multiply-and-add gives the next output value.",
                    "창이 옮겨 가면 같은 곱셈과 덧셈이 다음 출력값을 줍니다.",
                )
                self.begin(caption, replacing=[(self.numbers, numbers)], moving=moving)
            self.numbers = numbers
            self.computed[step.row, step.col] = True
            self.output_map.reveal(mask=self.computed)
            if index == 0 and len(self.plan.positions) > 1 and not self.is_still:
                self.pause()
            elif animating(self):
                self.wait(0.3)

    def sum_numbers(self, step: ConvStep) -> VGroup:
        """The products at ``step`` as a grid, and their sum, the bias and the output value beside it."""
        per_filter = step.patch.shape[0]
        products = self.number_grid(step.products[0]).move_to(LEFT_SLOT)
        where = window_text(step.rows, step.cols, channel=step.first_channel if per_filter > 1 else None)
        over = "" if per_filter == 1 else self.say(f"ₖ ({per_filter} ch.)", f"ₖ (채널 {per_filter}개)")
        weighted = f"= {format_value(step.weighted_sum, 3)}"
        bias = [f"+ b = {format_value(step.bias, 3)}"] if conv_spec(self.trace, self.plan.conv).bias else []
        lines = ([f"Σ {weighted}"] if not over else [f"Σ{over}", f"  {weighted}"]) + [*bias, f"out[{step.row}, {step.col}] = {format_value(step.total, 3)}"]
        total = VGroup(*[Text(line, font=theme.MONO_FONT, font_size=24, color=theme.INK) for line in lines])
        total.arrange(DOWN, aligned_edge=LEFT, buff=0.2)
        fit_width(total, RIGHT_MAP[0] - MAP_HEIGHT / 2 - 0.3 - (products.get_right()[0] + 0.4))
        total.next_to(products, RIGHT, buff=0.4)
        total[-1].set_color(theme.HIGHLIGHT)
        return VGroup(products, self.label(f"{where} ⊙ w[{self.plan.channel}]", products, mono=True), *self.scale_note(products), total)

    # -- step 4: every other position, quickly
    def sweep(self) -> None:
        spec = conv_spec(self.trace, self.plan.conv)
        height, width = self.output_map.values.shape
        total = height * width
        input_map, output_map = self.input_map, self.output_map
        worked = self.computed.ravel()
        first = self.shown["conv_steps"][0]
        reach = (first.rows[1] - first.rows[0], first.cols[1] - first.cols[0])  # the window's span (dilation included)

        def position(alpha: float) -> tuple[int, int, int]:
            done = int(round(alpha * total))
            return (done, *divmod(min(done, total - 1), width))

        def fill(_: FeatureMap, alpha: float) -> None:
            output_map.reveal(mask=((np.arange(total) < position(alpha)[0]) | worked).reshape(height, width))

        def slide(window: Rectangle, alpha: float) -> None:
            _, row, col = position(alpha)
            window.move_to(input_map.pixel_rect(row * spec.stride[0] - spec.padding[0], col * spec.stride[1] - spec.padding[1], *reach))

        def follow(target: Rectangle, alpha: float) -> None:
            _, row, col = position(alpha)
            target.move_to(output_map.pixel_rect(row, col))

        self.begin(
            (f"The same kernel at all {height}×{width} positions gives the whole output map.", f"같은 커널을 {height}×{width} 위치 모두에 적용하면 출력 맵 전체가 나옵니다."),
            leaving=[self.numbers],
        )
        if animating(self):
            # one animation per moving mobject: Manim redraws only those, and leaves them on screen
            updates = [UpdateFromAlphaFunc(output_map, fill), UpdateFromAlphaFunc(self.window, slide), UpdateFromAlphaFunc(self.target, follow)]
            self.play(*updates, run_time=3, rate_func=linear)
        output_map.reveal(total)
        transition(self, leaving=[self.window, self.target], run_time=0.3)
        self.carried = (self.plan.conv, self.plan.channel, output_map)
        if not self.plan.chain.steps:
            self.say_unshown()

    # -- steps after the convolution: each recorded step with its own formula and numbers
    def apply_step(self, step: Step) -> None:
        plan, trace = self.plan, self.trace
        channel = plan.channel
        before = trace[step.source][0, channel].double().numpy()
        after = trace[step.module][0, channel].double().numpy()
        row, col = plan.block
        size = min(BLOCK, before.shape[0], before.shape[1])
        blocks = (before[row : row + size, col : col + size], after[row : row + size, col : col + size])
        self.shown["steps"][step.module] = blocks
        kept = self.carried_map(step.source, channel)
        before_map, moving = self.placed(kept, lambda: FeatureMap(before, height=MAP_HEIGHT), LEFT_MAP)
        after_map = FeatureMap(after, height=MAP_HEIGHT).move_to(RIGHT_MAP)
        cell = self.grid_cell(blocks[0].shape)
        grids = [
            NumberGrid(block, cell=cell, scale=fmap.scale_range).move_to(slot)
            for block, fmap, slot in zip(blocks, (before_map, after_map), (LEFT_SLOT, RIGHT_SLOT))
        ]
        where = f"[{row}:{row + size}, {col}:{col + size}]"
        what = operation_text(step.operation, self.lang)
        name = what.split(" (")[0]
        maps = [
            *([] if kept else [before_map]),
            self.label(f"{step.source}, {self.say('channel', '채널')} {channel}", before_map),
            ScaleBar(before_map.scale_range, length=1.8).next_to(before_map, DOWN, buff=0.15),
            after_map,
            self.label(f"{step.module}, {self.say('channel', '채널')} {channel}", after_map),
            ScaleBar(after_map.scale_range, length=1.8).next_to(after_map, DOWN, buff=0.15),
            before_map.pixel_rect(row, col, size, size),
            after_map.pixel_rect(row, col, size, size),
        ]
        numbers = [
            grids[0],
            self.label(step.source + where, grids[0], mono=True),
            self.symbol("→").move_to([0, ROW_Y + 0.2, 0]),
            fit_width(Text(name, font=theme.FONT, font_size=20, color=theme.INK), 1.2).move_to([0, ROW_Y - 0.25, 0]),
            grids[1],
            self.label(step.module + where, grids[1], mono=True),
            self.formula(self.step_formula(step, channel, blocks)),
        ]
        self.begin(
            STEP_CAPTIONS.get(step.kind, STEP_CAPTIONS["other"]),
            title=(f"{what} after {step.source}: {step.module}", f"{step.source} 다음의 {what}: {step.module}"),
            leaving=self.rest_of_screen(kept),
            arriving=maps,
            moving=moving,
        )
        appear(self, *numbers)
        self.carried = (step.module, channel, after_map)
        if step is plan.chain.steps[-1]:
            self.say_unshown()

    def step_formula(self, step: Step, channel: int, blocks) -> str:
        """The step's equation; a BatchNorm's with this channel's numbers and one worked value."""
        if step.kind != "batch_norm":
            return step.formula
        n = step.normalisation(self.trace, channel)
        x, y = blocks[0].flat[0], blocks[1].flat[0]
        return (
            f"y = (x − μ) / √(σ² + ε) · γ + β\n{self.say('channel', '채널')} {channel}: μ = {n['mean']:.3g}, σ² = {n['var']:.3g}, ε = {n['eps']:g}, "
            f"γ = {n['gamma']:.3g}, β = {n['beta']:.3g}:  {format_value(x, 3)} → {format_value(y, 3)}"
        )

    def say_unshown(self) -> None:
        """One line under the title when the trace does not hold what the convolution's output goes through next."""
        note = self.plan.chain.note
        if note is None:
            return
        self.shown["notes"].append(note)
        self.notice = fit_width(Text(note.text(self.lang), font=theme.FONT, font_size=18, color=theme.MUTED), 13.2)
        self.notice.next_to(self.title, DOWN, buff=0.12)
        appear(self, self.notice, run_time=0.3)

    # -- pooling, window by window
    def pool(self) -> None:
        plan, trace = self.plan, self.trace
        source_name = recorded_input(trace, plan.pool)
        source = trace[source_name][0, plan.pool_channel].double().numpy()
        pooled = trace[plan.pool][0, plan.pool_channel].double().numpy()
        steps = plan.pool_steps
        self.shown["pool_steps"] = steps
        what = operation_text(operation(trace, plan.pool), self.lang)
        shape_in, shape_out = format_shape(trace[source_name].shape[1:]), format_shape(trace[plan.pool].shape[1:])
        kept = self.carried_map(source_name, plan.pool_channel)
        pool_input, moving = self.placed(kept, lambda: FeatureMap(source, height=MAP_HEIGHT), LEFT_MAP)
        ratio = max(0.25, min(1.0, pooled.shape[0] / source.shape[0]))
        self.pool_output = FeatureMap(pooled, height=MAP_HEIGHT * ratio, scale=pool_input.scale_range).move_to(RIGHT_MAP)
        computed = np.zeros(pooled.shape, dtype=bool)
        for step in steps:
            computed[step.row, step.col] = True
        self.pool_output.reveal(mask=computed)
        top, left = min(s.rows[0] for s in steps), min(s.cols[0] for s in steps)
        bottom, right = max(s.rows[1] for s in steps), max(s.cols[1] for s in steps)
        rows, cols = np.arange(top, bottom), np.arange(left, right)
        region = np.full((len(rows), len(cols)), -np.inf if steps[0].is_max else 0.0)
        inside_r, inside_c = (rows >= 0) & (rows < source.shape[0]), (cols >= 0) & (cols < source.shape[1])
        region[np.ix_(np.flatnonzero(inside_r), np.flatnonzero(inside_c))] = source[rows[inside_r]][:, cols[inside_c]]
        padded = ~(inside_r[:, None] & inside_c[None, :])
        self.pool_marks = VGroup(pool_input.pixel_rect(top, left, bottom - top, right - left))
        for step in steps:
            self.pool_marks.add(self.pool_output.pixel_rect(step.row, step.col))
        size = "×".join(str(k) for k in steps[0].window.shape)
        self.begin(
            (
                f"Each {size} window keeps only its {'largest value (outlined)' if steps[0].is_max else 'mean'}: {shape_in} → {shape_out}.",
                f"{size} 창마다 {'가장 큰 값(테두리)' if steps[0].is_max else '평균'}만 남깁니다: {shape_in} → {shape_out}.",
            ),
            title=(f"{what}: {plan.pool} reads {source_name} ({shape_in})", f"{what}: {plan.pool}의 입력은 {source_name} ({shape_in})"),
            leaving=self.rest_of_screen(kept),
            arriving=[
                *([] if kept else [pool_input]),
                self.label(f"{source_name}, {self.term('channel')} {plan.pool_channel}", pool_input),
                ScaleBar(pool_input.scale_range, length=1.8).next_to(pool_input, DOWN, buff=0.15),
                self.pool_output,
                self.label(f"{plan.pool}: {shape_out}", self.pool_output),
                self.formula(pool_formula(trace, plan.pool)),
            ],
            moving=moving,
        )
        self.carried = None
        if plan.pool_note is not None:
            self.shown["notes"].append(plan.pool_note)
            self.notice = fit_width(Text(plan.pool_note.text(self.lang), font=theme.FONT, font_size=18, color=theme.MUTED), 13.2).next_to(self.title, DOWN, buff=0.12)
            appear(self, self.notice, self.pool_marks)
        else:
            self.pool_numbers(steps, region, padded, (top, left), pool_input.scale_range)
            appear(self, self.pool_marks)

    def pool_numbers(self, steps, region: np.ndarray, padded: np.ndarray, corner: tuple[int, int], scale) -> None:
        """The input region under the windows in numbers, each window outlined in its colour, and the results."""
        cell = self.grid_cell(region.shape)
        digits = distinguishing_digits(steps)
        grid = NumberGrid(region, cell=cell, scale=scale, digits=digits, padded=padded).move_to(LEFT_SLOT)
        out_rows = sorted({s.row for s in steps})
        out_cols = sorted({s.col for s in steps})
        result_values = np.array([[next(s.value for s in steps if (s.row, s.col) == (r, c)) for c in out_cols] for r in out_rows])
        taking = Text(f"{self.term('max') if steps[0].is_max else self.say('mean', '평균')} →", font=theme.MONO_FONT, font_size=24, color=theme.INK)
        taking.next_to(grid, RIGHT, buff=0.35)
        result = NumberGrid(result_values, cell=GRID_CELL, scale=scale, digits=digits).next_to(taking, RIGHT, buff=0.35)
        windows, winners = VGroup(), VGroup()
        overlapping = sum(s.window.size for s in steps) > region.size
        for index, step in enumerate(steps):
            color = WINDOW_COLORS[index % len(WINDOW_COLORS)]
            height, width = step.window.shape
            inset = 0.05 * index if overlapping else 0.0  # overlapping windows stay apart
            window = Rectangle(width=width * cell - 2 * inset, height=height * cell - 2 * inset, stroke_color=color, stroke_width=3)
            r0, c0 = step.rows[0] - corner[0], step.cols[0] - corner[1]
            windows.add(window.move_to((grid.cell(r0, c0).get_center() + grid.cell(r0 + height - 1, c0 + width - 1).get_center()) / 2))
            if step.is_max:
                winner = grid.cell(r0 + step.winner[0], c0 + step.winner[1])
                winners.add(Rectangle(width=cell - 0.1, height=cell - 0.1, stroke_color=color, stroke_width=5).move_to(winner))
            source = result.cell(out_rows.index(step.row), out_cols.index(step.col))
            winners.add(Rectangle(width=GRID_CELL - 0.08, height=GRID_CELL - 0.08, stroke_color=color, stroke_width=4).move_to(source))
        where = window_text((corner[0], corner[0] + region.shape[0]), (corner[1], corner[1] + region.shape[1]))
        if padded.any():
            where += self.say("\ngrey: padding", "\n회색: 패딩")
        appear(self, grid, self.label(where, grid, mono=True), windows)
        appear(self, winners)
        appear(self, taking, result)

    # -- the whole pooled map
    def sweep_pool(self) -> None:
        pooled, total = self.pool_output, self.pool_output.values.size
        shape = "×".join(str(s) for s in pooled.values.shape)
        self.begin((f"Pooled over the whole map: {shape}.", f"맵 전체를 풀링한 결과: {shape}."), leaving=[self.pool_marks])
        if animating(self):
            self.play(UpdateFromAlphaFunc(pooled, lambda m, alpha: m.reveal(int(round(alpha * total)))), run_time=1.5, rate_func=linear)
        pooled.reveal(total)

    # -- changing the screen
    def begin(self, caption: tuple[str, str] | None, *, title: tuple[str, str] | None = None, **changes) -> None:
        """Start a step (:func:`explain.draw.cnn_parts.next_step`); a new part's title is written at the top."""
        heading = None if title is None else fit_width(self.text(*title, size=28), 13.4).to_edge(UP, buff=0.25)
        next_step(self, caption, title=heading, **changes)

    def rest_of_screen(self, *keep: Mobject | None) -> list[Mobject]:
        """Everything on screen but the title, the caption and ``keep``: what a new part replaces."""
        return [m for m in self.mobjects if m not in (self.title, self.current_caption, *keep)]

    def carried_map(self, name: str, channel: int) -> FeatureMap | None:
        """The map of ``name``'s ``channel`` if the previous part left it on screen, else None."""
        if self.carried is None or self.carried[:2] != (name, channel) or self.carried[2] not in self.mobjects:
            return None
        return self.carried[2]

    @staticmethod
    def placed(kept: FeatureMap | None, make, place: np.ndarray) -> tuple[FeatureMap, list[tuple[FeatureMap, np.ndarray]]]:
        """The map a part reads, at ``place``: ``kept`` moved there (and the move, for the part's
        transition to play) or a new one from ``make()``."""
        if kept is None:
            return make().move_to(place), []
        start = kept.get_center()
        return kept.move_to(place), [(kept, start)]

    # -- small drawing helpers
    @staticmethod
    def grid_cell(shape: tuple[int, ...]) -> float:
        """The cell of a number grid of ``shape``: GRID_CELL, smaller only where more than five cells must fit."""
        return min(GRID_CELL, GRID_ROOM / max(shape))

    def number_grid(self, values: np.ndarray, *, scale=None, padded: np.ndarray | None = None) -> NumberGrid:
        """A grid of a window, a kernel or their products; in cells smaller than GRID_CELL (a kernel
        larger than 5×5) the numbers are whole numbers of one power of ten (see :meth:`scale_note`),
        so that they are still 14 px tall at 720p."""
        cell = self.grid_cell(values.shape)
        real = values if padded is None else values[~np.asarray(padded, dtype=bool)]
        exponent = None if cell >= GRID_CELL else common_exponent(real)
        return NumberGrid(values, cell=cell, scale=scale, padded=padded, exponent=exponent)

    def scale_note(self, grid: NumberGrid) -> list[Text]:
        """Under a grid of whole numbers: their power of ten, once, with its largest number read out ("×10⁻³: -82 = -0.082")."""
        if grid.exponent is None:
            return []
        index = int(np.abs(np.where(grid.padded, 0, grid.values)).argmax())
        value = format_value(grid.values.flat[index], max(0, -grid.exponent))
        note = Text(f"{exponent_text(grid.exponent)}: {grid.texts[index]} = {value}", font=theme.MONO_FONT, font_size=18, color=theme.INK)
        return [fit_width(note, max(LABEL_WIDTH, grid.width)).next_to(grid, DOWN, buff=0.12)]

    def label(self, text: str, over, *, mono: bool = False) -> VGroup:
        """Lines of text centred above ``over``, no wider than ``over`` or LABEL_WIDTH (so they stay inside the frame)."""
        font = theme.MONO_FONT if mono else theme.FONT
        width = max(LABEL_WIDTH, over.width)

        def set_lines(text: str) -> VGroup:
            return VGroup(*[Text(line, font=font, font_size=18 if mono else 20, color=theme.INK) for line in text.split("\n")]).arrange(DOWN, buff=0.08)

        lines = set_lines(text)
        if lines.width > width and " ⊙ " in text:  # a padded window's "x[0, 14:17, −1:2] ⊙ w[5]": two lines, not smaller type
            lines = set_lines(text.replace(" ⊙ ", "\n⊙ "))
        return fit_width(lines, width).next_to(over, UP, buff=0.12)

    def formula(self, text: str) -> VGroup:
        """The step's equation (one or more lines) above the caption."""
        lines = VGroup(*[Text(line, font=theme.MONO_FONT, font_size=20, color=theme.INK) for line in text.split("\n")])
        lines = fit_width(lines.arrange(DOWN, buff=0.12), 13.4)
        return lines.move_to([0, EQUATION_Y, 0], aligned_edge=DOWN).shift(DOWN * 0.12)

    def symbol(self, text: str) -> Text:
        return Text(text, font=theme.FONT, font_size=34, color=theme.INK)
