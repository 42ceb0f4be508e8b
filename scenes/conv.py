"""Convolution with a real kernel on a real input; every recorded step after it; a real pooling.

    $ explain render convolution --still
    $ explain render convolution --trace mnist.safetensors --channels 3 --lang ko
    $ explain render convolution --trace resnet.safetensors --module layer1.0.conv1

The numbers come from :mod:`explain.figures.convolution` (the plan: which convolution, channel,
positions, steps and pooling) and :mod:`explain.figures.windows` (windows and sums, pooling winners,
each recomputed and checked against the trace). Steps: the input, the kernel and the empty output;
worked positions (padded windows hang over the map's edge and their padding cells are grey); the
sweep; then one figure per recorded step after the convolution (BatchNorm, activation, dropout,
each with its own formula and numbers); a line on screen when the trace does not hold what comes
next; the first pooling after the convolution with its real kernel, stride and padding. Options:
``channels`` (the output channel to follow), ``module`` (the convolution), ``positions`` (how many
positions are worked out, default 3), ``step`` (stop after that step, for stills).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    Group,
    Rectangle,
    Text,
    UpdateFromAlphaFunc,
    VGroup,
    linear,
)

from explain.draw import theme
from explain.draw.base import TraceScene
from explain.draw.cnn_parts import chosen_step, fit_width, operation_text, set_caption
from explain.draw.fades import appear, disappear, fade_in, swap
from explain.draw.feature_maps import FeatureMap, NumberGrid, format_shape
from explain.draw.strip import ScaleBar, format_value
from explain.figures.convolution import BLOCK, convolution_plan
from explain.figures.layers import conv_spec, operation
from explain.figures.steps import Step
from explain.figures.windows import ConvStep, conv_input, conv_step, distinguishing_digits, pool_formula, recorded_input, window_text
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

GRID_CELL = 0.48
TOP_ROW, BOTTOM_ROW = 1.2, -1.45
MAP_HEIGHT = 2.7
LEFT_MAP, RIGHT_MAP = np.array([-5.3, 0.9, 0]), np.array([5.3, 0.9, 0])
EQUATION_Y = -3.08
POOL_CELL, RELU_CELL, POOL_Y = 0.7, 0.6, 0.4


class ConvolutionScene(TraceScene):
    """Convolution with real numbers, every recorded step after it, then the real pooling.

    ``self.plan`` holds the choices and ``self.shown`` every number put on screen: the worked
    convolution steps, each later step's block before and after (by module), the pooling steps,
    and the notes said on screen.
    """


    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        plan = convolution_plan(trace, options)
        # construct's steps: kernel, positions, sweep, a step per operation after the conv, a pool (two steps)
        chosen_step(options, 3 + len(plan.chain.steps) + 2 * (plan.pool is not None))

    def construct(self) -> None:
        self.plan = convolution_plan(self.trace, self.options)
        self.shown: dict[str, Any] = {"conv_steps": [], "pool_steps": [], "steps": {}, "notes": []}
        self.title = self.current_caption = self.notice = None
        self.pending_caption: tuple[str, str] | None = None
        # (step, whether it starts a new figure): a still starts at the last new figure before its step
        steps = [(self.show_input_and_kernel, True), (self.work_out_positions, False), (self.sweep, False)]
        steps += [(lambda step=step: self.apply_step(step), True) for step in self.plan.chain.steps]
        if self.plan.pool is not None:
            steps += [(self.pool, True), (self.sweep_pool, False)]
        last = chosen_step(self.options, len(steps))
        first = max(i for i, (_, fresh) in enumerate(steps[:last]) if fresh) if self.is_still else 0
        for step, _ in steps[first:last]:
            step()
            self.pause()
        if self.pending_caption is not None:
            set_caption(self, *self.pending_caption)

    # -- step 1: the input, the kernel, the empty output
    def show_input_and_kernel(self) -> None:
        plan, trace = self.plan, self.trace
        spec = conv_spec(trace, plan.conv)
        source = conv_input(trace, plan.conv)
        first = conv_step(trace, plan.conv, plan.channel, *plan.positions[0]).first_channel
        image = trace[source][0].double().numpy()
        output = trace[plan.conv][0].double().numpy()
        self.swap_title(
            f"Convolution: {plan.conv}, a {spec.kernel_text} kernel, filter {plan.channel} of {spec.out_channels}",
            f"합성곱: {plan.conv}, {spec.kernel_text} 커널, 필터 {spec.out_channels}개 중 {plan.channel}번",
        )
        self.input_map = FeatureMap(image[first], height=MAP_HEIGHT).move_to(LEFT_MAP)
        self.output_map = self.conv_output_map()
        self.output_map.reveal(0)
        per_filter = conv_step(trace, plan.conv, plan.channel, *plan.positions[0]).kernel.shape[0]
        many = per_filter > 1  # then one input channel is drawn and the sums run over every channel
        channel_note = "" if not many else self.say(f"\ninput channel {first} of {per_filter}", f"\n입력 채널 {first} / {per_filter}")
        kernel = trace[f"{plan.conv}@weight"][plan.channel, 0].double().numpy()
        self.kernel_grid = NumberGrid(kernel, cell=min(GRID_CELL, 2.4 / max(kernel.shape)), scale=None).move_to([1.05, TOP_ROW, 0])
        where = self.say(f", channel {first}", f", 채널 {first}") if many else ""
        geometry = [] if spec.padding == (0, 0) and spec.stride == (1, 1) else [
            self.say(f"stride {spec.stride[0]}, padding {spec.padding[0]}", f"스트라이드 {spec.stride[0]}, 패딩 {spec.padding[0]}")
        ]
        labels = VGroup(
            self.label(f"{source} " + format_shape(image.shape) + where, self.input_map),
            self.label(f"{self.say('kernel', '커널')} w[{plan.channel}]{channel_note}", self.kernel_grid),
            self.label("\n".join([f"{self.say('output', '출력')} {format_shape(output.shape)}, {self.say('channel', '채널')} {plan.channel}", *geometry]), self.output_map),
        )
        bars = VGroup(*[ScaleBar(m.scale_range, length=1.8).next_to(m, DOWN, buff=0.15) for m in (self.input_map, self.output_map)])
        c = plan.channel
        bias = f"b[{c}] + " if spec.bias else ""
        self.equation = self.formula(
            f"out[{c}, i, j] = {bias}Σₖ Σᵤ Σᵥ w[{c}, k, u, v] · x[k, {self.index('i', 0)}+u, {self.index('j', 1)}+v]"
            if many
            else f"out[{c}, i, j] = {bias}Σᵤ Σᵥ w[{c}, u, v] · x[{self.index('i', 0)}+u, {self.index('j', 1)}+v]"
        )
        appear(self, self.input_map, labels[0], bars[0])
        appear(self, self.kernel_grid, labels[1], self.output_map, labels[2], bars[1], self.equation)
        padding = (
            self.say(" Outside the input it reads zeros (padding).", " 입력 밖에서는 0을 읽습니다(패딩).") if spec.padding != (0, 0) else ""
        )
        self.narrate(
            f"The kernel's {spec.weights_per_filter} weights are the model's; it slides over the input {spec.stride[0]} pixel(s) at a time.{padding}",
            f"커널의 가중치 {spec.weights_per_filter}개는 모델의 값입니다. 커널이 입력 위를 {spec.stride[0]}칸씩 움직입니다.{padding}",
        )

    def index(self, var: str, axis: int) -> str:
        """ "i", "2i", "2i−1": where output index ``var`` starts reading along ``axis``."""
        spec = conv_spec(self.trace, self.plan.conv)
        stride, pad = spec.stride[axis], spec.padding[axis]
        base = var if stride == 1 else f"{stride}{var}"
        return base if pad == 0 else f"{base}−{pad}"

    def window_rect(self, step: ConvStep) -> Rectangle:
        """The kernel's window on the input map, hanging over the edge where it lies on padding."""
        return self.input_map.pixel_rect(step.rows[0], step.cols[0], step.rows[1] - step.rows[0], step.cols[1] - step.cols[0])

    # -- step 2: the first positions with their numbers
    def work_out_positions(self) -> None:
        plan = self.plan
        first = conv_step(self.trace, plan.conv, plan.channel, *plan.positions[0])
        self.window = self.window_rect(first)
        self.target = self.output_map.pixel_rect(0, 0)
        self.operators = VGroup(self.symbol("⊙").move_to([-0.45, TOP_ROW, 0]), self.symbol("=").move_to([-1.95, BOTTOM_ROW, 0]))
        appear(self, self.window, self.target, self.operators, run_time=0.4)
        self.numbers = None
        self.computed = np.zeros(self.output_map.values.shape, dtype=bool)
        positions = plan.positions[-1:] if self.is_still else plan.positions  # a still shows the last one
        for row, col in positions:
            step = conv_step(self.trace, plan.conv, plan.channel, row, col)
            self.shown["conv_steps"].append(step)
            self.show_conv_step(step)
            if self.numbers is not None and len(self.shown["conv_steps"]) == 1:
                bias = conv_spec(self.trace, plan.conv).bias
                self.narrate(
                    "Multiply each input value by the weight over it, then add the products" + (" and the bias." if bias else " (this conv has no bias)."),
                    "겹치는 입력값과 가중치를 곱하고, 곱을 모두 더한 뒤 " + ("편향을 더합니다." if bias else "끝납니다 (편향 없음)."),
                )
                self.pause()

    def show_conv_step(self, step: ConvStep) -> None:
        cell_size = min(GRID_CELL, 2.4 / max(step.patch.shape[1:]))
        patch = NumberGrid(step.patch[0], cell=cell_size, scale=self.input_map.scale_range, padded=step.padded).move_to([-1.95, TOP_ROW, 0])
        products = NumberGrid(step.products[0], cell=cell_size).move_to([-0.45, BOTTOM_ROW, 0])
        per_filter = step.patch.shape[0]
        over = "" if per_filter == 1 else self.say(f"ₖ ({per_filter} ch.)", f"ₖ (채널 {per_filter}개)")
        weighted = f"= {format_value(step.weighted_sum, 3)}"
        bias = [f"+ b = {format_value(step.bias, 3)}"] if conv_spec(self.trace, self.plan.conv).bias else []
        lines = ([f"Σ {weighted}"] if not over else [f"Σ{over}", f"  {weighted}"]) + [*bias, f"out[{step.row}, {step.col}] = {format_value(step.total, 3)}"]
        total = VGroup(*[Text(line, font=theme.MONO_FONT, font_size=22, color=theme.INK) for line in lines])
        total.arrange(DOWN, aligned_edge=LEFT, buff=0.16).next_to(products, RIGHT, buff=0.3)
        total[-1].set_color(theme.HIGHLIGHT)
        where = window_text(step.rows, step.cols, channel=step.first_channel if per_filter > 1 else None)
        if step.padded.any():
            where += self.say("\ngrey: zero padding", "\n회색: 0 패딩")
        fit_width(total, 3.9 - total.get_left()[0])  # clear of the output map's scale
        numbers = VGroup(patch, self.label(where, patch, mono=True), products, total)
        window = self.window_rect(step)
        cell = self.output_map.pixel_rect(step.row, step.col)
        if self.is_still:
            self.window.move_to(window)
            self.target.move_to(cell)
            self.add(numbers)
        elif self.numbers is None:
            self.play(self.window.animate.move_to(window), self.target.animate.move_to(cell), fade_in(*numbers[:2]), run_time=0.5)
            self.play(fade_in(numbers[2]), run_time=0.5)
            self.play(fade_in(numbers[3]), run_time=0.4)
        else:
            self.play(self.window.animate.move_to(window), self.target.animate.move_to(cell), swap(self.numbers, numbers), run_time=0.6)
        self.numbers = numbers
        self.computed[step.row, step.col] = True
        self.output_map.reveal(mask=self.computed)
        if not self.is_still:
            self.wait(0.3)

    # -- step 3: every other position, quickly
    def sweep(self) -> None:
        spec = conv_spec(self.trace, self.plan.conv)
        height, width = self.output_map.values.shape
        total = height * width
        input_map, output_map, target = self.input_map, self.output_map, self.target
        worked = self.computed.ravel()
        first = self.shown["conv_steps"][0] if self.shown["conv_steps"] else conv_step(self.trace, self.plan.conv, self.plan.channel, *self.plan.positions[0])
        reach = (first.rows[1] - first.rows[0], first.cols[1] - first.cols[0])  # the window's span (dilation included)

        def advance(_: Group, alpha: float) -> None:
            done = int(round(alpha * total))
            output_map.reveal(mask=((np.arange(total) < done) | worked).reshape(height, width))
            row, col = divmod(min(done, total - 1), width)
            top, left = row * spec.stride[0] - spec.padding[0], col * spec.stride[1] - spec.padding[1]
            self.window.move_to(input_map.pixel_rect(top, left, *reach))
            target.move_to(output_map.pixel_rect(row, col))

        disappear(self, self.numbers, self.operators, run_time=0.3)
        self.narrate(
            f"The same kernel at all {height}×{width} positions gives the whole output map.",
            f"같은 커널을 {height}×{width} 위치 모두에 적용하면 출력 맵 전체가 나옵니다.",
        )
        if not self.is_still:
            # everything that changes is the animated mobject: Manim redraws only moving mobjects
            moving = Group(self.window, target, output_map)
            self.play(UpdateFromAlphaFunc(moving, advance), run_time=3, rate_func=linear)
            self.remove(moving)  # the wrapper only; its members stay on screen
        output_map.reveal(total)
        disappear(self, self.window, self.target, run_time=0.3)
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
        disappear(self, *[m for m in self.mobjects if m not in (self.title, self.current_caption)], run_time=0.3)
        self.notice = None
        what = operation_text(step.operation, self.lang)
        self.swap_title(f"{what} after {step.source}: {step.module}", f"{step.source} 다음의 {what}: {step.module}")
        before_map = FeatureMap(before, height=MAP_HEIGHT).move_to([LEFT_MAP[0], POOL_Y, 0])
        after_map = FeatureMap(after, height=MAP_HEIGHT).move_to([RIGHT_MAP[0], POOL_Y, 0])
        grids = [
            NumberGrid(block, cell=RELU_CELL, scale=fmap.scale_range).move_to([x, POOL_Y, 0])
            for block, fmap, x in zip(blocks, (before_map, after_map), (-1.95, 1.95))
        ]
        where = f"[{row}:{row + size}, {col}:{col + size}]"
        name = what.split(" (")[0]
        figure = Group(
            before_map,
            self.label(f"{step.source}, {self.say('channel', '채널')} {channel}", before_map),
            ScaleBar(before_map.scale_range, length=1.8).next_to(before_map, DOWN, buff=0.15),
            after_map,
            self.label(f"{step.module}, {self.say('channel', '채널')} {channel}", after_map),
            ScaleBar(after_map.scale_range, length=1.8).next_to(after_map, DOWN, buff=0.15),
            before_map.pixel_rect(row, col, size, size),
            after_map.pixel_rect(row, col, size, size),
            grids[0],
            self.label(step.source + where, grids[0], mono=True),
            self.symbol("→").move_to([0, POOL_Y + 0.15, 0]),
            fit_width(Text(name, font=theme.FONT, font_size=18, color=theme.INK), 1.3).move_to([0, POOL_Y - 0.25, 0]),
            grids[1],
            self.label(step.module + where, grids[1], mono=True),
            self.formula(self.step_formula(step, channel, blocks)),
        )
        appear(self, *figure[:8])
        appear(self, *figure[8:])
        self.narrate(*STEP_CAPTIONS.get(step.kind, STEP_CAPTIONS["other"]))
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
        disappear(self, *[m for m in self.mobjects if m not in (self.title, self.current_caption)], run_time=0.4)
        what = operation_text(operation(trace, plan.pool), self.lang)
        shape_in, shape_out = format_shape(trace[source_name].shape[1:]), format_shape(trace[plan.pool].shape[1:])
        self.swap_title(f"{what}: {plan.pool} reads {source_name} ({shape_in})", f"{what}: {plan.pool}의 입력은 {source_name} ({shape_in})")
        pool_input = FeatureMap(source, height=MAP_HEIGHT).move_to([LEFT_MAP[0], POOL_Y, 0])
        ratio = max(0.25, min(1.0, pooled.shape[0] / source.shape[0]))
        self.pool_output = FeatureMap(pooled, height=MAP_HEIGHT * ratio, scale=pool_input.scale_range).move_to([RIGHT_MAP[0], POOL_Y, 0])
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
        marks = VGroup(pool_input.pixel_rect(top, left, bottom - top, right - left))
        for step in steps:
            marks.add(self.pool_output.pixel_rect(step.row, step.col))
        appear(
            self,
            pool_input,
            self.label(f"{source_name}, {self.term('channel')} {plan.pool_channel}", pool_input),
            ScaleBar(pool_input.scale_range, length=1.8).next_to(pool_input, DOWN, buff=0.15),
            self.pool_output,
            self.label(f"{plan.pool}: {shape_out}", self.pool_output),
            self.formula(pool_formula(trace, plan.pool)),
        )
        self.pool_marks = marks
        if plan.pool_note is not None:
            self.shown["notes"].append(plan.pool_note)
            self.notice = fit_width(Text(plan.pool_note.text(self.lang), font=theme.FONT, font_size=18, color=theme.MUTED), 13.2).next_to(self.title, DOWN, buff=0.12)
            appear(self, self.notice, marks)
        else:
            self.pool_numbers(steps, region, padded, (top, left), pool_input.scale_range)
            appear(self, marks)
        size = "×".join(str(k) for k in steps[0].window.shape)
        self.narrate(
            f"Each {size} window keeps only its {'largest value (outlined)' if steps[0].is_max else 'mean'}: {shape_in} → {shape_out}.",
            f"{size} 창마다 {'가장 큰 값(테두리)' if steps[0].is_max else '평균'}만 남깁니다: {shape_in} → {shape_out}.",
        )

    def pool_numbers(self, steps, region: np.ndarray, padded: np.ndarray, corner: tuple[int, int], scale) -> None:
        """The input region under the windows in numbers, each window outlined in its colour, and the results."""
        cell = min(POOL_CELL, 3.2 / max(region.shape))
        digits = distinguishing_digits(steps)
        grid = NumberGrid(region, cell=cell, scale=scale, digits=digits, padded=padded).move_to([-1.4, POOL_Y, 0])
        out_rows = sorted({s.row for s in steps})
        out_cols = sorted({s.col for s in steps})
        result_values = np.array([[next(s.value for s in steps if (s.row, s.col) == (r, c)) for c in out_cols] for r in out_rows])
        result = NumberGrid(result_values, cell=POOL_CELL, scale=scale, digits=digits).move_to([2.2, POOL_Y, 0])
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
            winners.add(Rectangle(width=POOL_CELL - 0.08, height=POOL_CELL - 0.08, stroke_color=color, stroke_width=4).move_to(source))
        where = window_text((corner[0], corner[0] + region.shape[0]), (corner[1], corner[1] + region.shape[1]))
        if padded.any():
            where += self.say("\ngrey: padding", "\n회색: 패딩")
        appear(self, grid, self.label(where, grid, mono=True), windows)
        appear(self, winners)
        appear(self, Text(f"{self.term('max') if steps[0].is_max else self.say('mean', '평균')} →", font=theme.MONO_FONT, font_size=22, color=theme.INK).move_to([0.8, POOL_Y, 0]), result)

    # -- the whole pooled map
    def sweep_pool(self) -> None:
        pooled, total = self.pool_output, self.pool_output.values.size
        disappear(self, *self.pool_marks, run_time=0.2)
        if not self.is_still:
            self.play(UpdateFromAlphaFunc(pooled, lambda m, alpha: m.reveal(int(round(alpha * total)))), run_time=1.5, rate_func=linear)
        pooled.reveal(total)
        shape = "×".join(str(s) for s in pooled.values.shape)
        self.narrate(f"Pooled over the whole map: {shape}.", f"맵 전체를 풀링한 결과: {shape}.")

    # -- small drawing helpers
    def heading(self, english: str, korean: str) -> Text:
        return fit_width(self.text(english, korean, size=28), 13.4).to_edge(UP, buff=0.25)

    def conv_output_map(self) -> FeatureMap:
        output = self.trace[self.plan.conv][0, self.plan.channel].double().numpy()
        return FeatureMap(output, height=MAP_HEIGHT).move_to(RIGHT_MAP)

    def narrate(self, english: str, korean: str) -> None:
        """Show a caption; a still only builds the last one."""
        if self.is_still:
            self.pending_caption = (english, korean)
        else:
            set_caption(self, english, korean)

    def swap_title(self, english: str, korean: str) -> None:
        title = self.heading(english, korean)
        if self.title is None or self.is_still:
            if self.title is not None:
                self.remove(self.title)
            self.add(title)
        else:
            self.play(swap(self.title, title), run_time=0.3)
        self.title = title

    def label(self, text: str, over, *, mono: bool = False) -> VGroup:
        """Lines of text centred above ``over``, no wider than a map (so they stay inside the frame)."""
        font = theme.MONO_FONT if mono else theme.FONT
        lines = VGroup(*[Text(line, font=font, font_size=18 if mono else 20, color=theme.INK) for line in text.split("\n")])
        return fit_width(lines.arrange(DOWN, buff=0.08), 3.0).next_to(over, UP, buff=0.12)

    def formula(self, text: str) -> VGroup:
        """The step's equation (one or more lines) above the caption."""
        lines = VGroup(*[Text(line, font=theme.MONO_FONT, font_size=20, color=theme.INK) for line in text.split("\n")])
        lines = fit_width(lines.arrange(DOWN, buff=0.12), 13.4)
        return lines.move_to([0, EQUATION_Y, 0], aligned_edge=DOWN).shift(DOWN * 0.12)

    def symbol(self, text: str) -> Text:
        return Text(text, font=theme.FONT, font_size=34, color=theme.INK)
