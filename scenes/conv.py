"""Convolution, ReLU and max-pooling with a real kernel of the trained MNIST CNN on a real digit.

    $ explain render convolution --still
    $ explain render convolution --trace mnist.safetensors --channels 3 --lang ko

The scene reads the first convolution's kernel (``{q}@weight``, ``{q}@bias``), its input
(``@input.0`` or the previous module's output) and output, the ReLU after it, and the first
max-pool with its input; module configurations come from ``meta["modules"]``. Every number on
screen is computed by the pure functions below from the trace, and checked against the trace's
own outputs. Options: ``channels`` (the output channel to follow; default the one whose map has
the most mixed signs), ``module`` (the convolution), ``positions`` (how many positions are worked
out with their numbers, default 3), ``step`` (stop after that step, for stills).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
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
from explain.draw.base import SceneInputError, TraceScene
from explain.draw.cnn_numbers import INPUT, conv_spec, is_conv
from explain.draw.cnn_parts import chosen_step, fit_width, set_caption
from explain.draw.fades import animating, appear, disappear, fade_in, fade_out, swap
from explain.draw.feature_maps import FeatureMap, NumberGrid, format_shape
from explain.draw.strip import ScaleBar, format_value
from explain.trace import Trace
from scenes import SceneSpec

SCENES = [
    SceneSpec("convolution", "ConvolutionScene", "A real 5×5 kernel slides over a real digit; ReLU; 2×2 max-pooling", "mnist-cnn"),
]

#: the tolerance within which a recomputed cell must equal the trace's
TOLERANCE = 1e-4


# -- what the scene shows, as pure functions of the trace -------------------------------------


def module_type(trace: Trace, name: str) -> str:
    """The recorded module's type name ("Conv2d", "ReLU", …), or "" when not described."""
    return str(trace.meta.get("modules", {}).get(name, {}).get("type", ""))


#: module types without parameters that keep (or only flatten) their input's values
ACTIVATIONS = {"ReLU", "LeakyReLU", "ELU", "GELU", "Sigmoid", "Tanh", "Dropout", "Dropout2d", "Flatten"}


def is_activation(trace: Trace, name: str) -> bool:
    """True for an activation-like module (ReLU, dropout, …): its map is the layer before's, transformed."""
    return module_type(trace, name) in ACTIVATIONS


def module_outputs(trace: Trace) -> list[str]:
    """Names of leaf modules' outputs in execution order (no containers, no ``@`` parts).

    >>> import torch
    >>> module_outputs(Trace({"@input.0": torch.zeros(1), "f.0": torch.zeros(1), "f": torch.zeros(1), "f.0@weight": torch.zeros(1)}))
    ['f.0']
    """
    names = [name for name in trace.names() if "@" not in name]
    return [name for name in names if not any(other.startswith(name + ".") for other in names)]


def input_of(trace: Trace, name: str) -> str:
    """The recorded tensor a module read: the previous module's output, or the model's input.

    Valid for a chain of modules (nn.Sequential), which is how the book's CNNs are written;
    :func:`conv_step` checks the recomputed output against the trace, so a wrong guess cannot pass.
    """
    outputs = module_outputs(trace)
    if name not in outputs:
        raise SceneInputError(f"{name!r} is not a recorded module output of this trace")
    index = outputs.index(name)
    if index > 0:
        return outputs[index - 1]
    if INPUT not in trace:
        raise SceneInputError(f"the trace has no model input {INPUT!r} (record the CNN with explain.record(model, image))")
    return INPUT


def next_of_type(trace: Trace, after: str | None, kind: str) -> str | None:
    """The first module output of type ``kind`` (e.g. "ReLU") after module ``after`` (or from the start)."""
    outputs = module_outputs(trace)
    start = outputs.index(after) + 1 if after is not None else 0
    return next((name for name in outputs[start:] if module_type(trace, name) == kind), None)


def first_conv(trace: Trace) -> str:
    """The first recorded convolution whose kernel is in the trace."""
    for name in module_outputs(trace):
        if is_conv(trace.meta.get("modules", {}).get(name, {})) and f"{name}@weight" in trace:
            return name
    raise SceneInputError("the trace has no convolution with its kernel (record a CNN: explain record mnist-cnn)")


def mixed_channel(maps: np.ndarray) -> int:
    """The channel whose map has the most mixed signs (so ReLU has something to do), then the most spread.

    >>> mixed_channel(np.array([[[1.0, 2.0]], [[1.0, -1.0]], [[3.0, 5.0]]]))
    1
    """
    flat = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1)
    balance = np.minimum((flat > 0).sum(1), (flat < 0).sum(1))
    return int(np.lexsort((flat.std(1), balance))[-1])


def busiest_block(values: np.ndarray, size: int, *, mixed: bool) -> tuple[int, int]:
    """Top-left (row, col) of the ``size``-aligned block with the most mixed signs (``mixed``) or largest sum.

    >>> busiest_block(np.array([[0, 0, 1, -1], [0, 0, 2, -3]], dtype=float), 2, mixed=True)
    (0, 2)
    """
    values = np.asarray(values, dtype=np.float64)
    best, best_score = (0, 0), None
    for row in range(0, values.shape[0] - size + 1, size):
        for col in range(0, values.shape[1] - size + 1, size):
            block = values[row : row + size, col : col + size]
            if mixed:
                score = (min((block > 0).sum(), (block < 0).sum()), np.abs(block).sum())
            else:
                score = (block.sum(), 0.0)
            if best_score is None or score > best_score:
                best, best_score = (row, col), score
    return best


@dataclass(frozen=True)
class ConvStep:
    """One output cell of a convolution: the input patch, the kernel, their products and the sum."""

    channel: int
    row: int
    col: int
    patch: np.ndarray  # [C_in, kh, kw], the input under the kernel (zeros where padded)
    kernel: np.ndarray  # [C_in, kh, kw]
    bias: float
    recorded: float  # the trace's output at (channel, row, col)

    @property
    def products(self) -> np.ndarray:
        return self.patch * self.kernel

    @property
    def weighted_sum(self) -> float:
        """Σ patch · kernel, before the bias."""
        return float(self.products.sum())

    @property
    def total(self) -> float:
        return self.weighted_sum + self.bias


def conv_step(trace: Trace, conv: str, channel: int, row: int, col: int) -> ConvStep:
    """Output cell (channel, row, col) of convolution ``conv``, recomputed from the trace's input and kernel.

    Raises SceneInputError if the recomputed value differs from the trace's output (the input
    was not this module's, or the trace is inconsistent).
    """
    spec = conv_spec(trace, conv)
    if f"{conv}@weight" not in trace:
        raise SceneInputError(f"the trace has no kernel {conv}@weight (record it with a recent explain)")
    weight = trace[f"{conv}@weight"].double().numpy()
    bias = float(trace[f"{conv}@bias"][channel]) if f"{conv}@bias" in trace else 0.0
    source = trace[input_of(trace, conv)][0].double().numpy()
    (pad_h, pad_w), (stride_h, stride_w) = spec.padding, spec.stride
    padded = np.pad(source, ((0, 0), (pad_h, pad_h), (pad_w, pad_w)))
    top, left = row * stride_h, col * stride_w
    patch = padded[:, top : top + spec.kernel[0], left : left + spec.kernel[1]]
    group = channel // (spec.out_channels // spec.groups)
    patch = patch[group * weight.shape[1] : (group + 1) * weight.shape[1]]
    recorded = float(trace[conv][0, channel, row, col])
    step = ConvStep(channel, row, col, patch, weight[channel], bias, recorded)
    if abs(step.total - recorded) > TOLERANCE * max(1.0, abs(recorded)):
        raise SceneInputError(
            f"{conv}: recomputing cell ({channel}, {row}, {col}) gives {step.total:.6f}, the trace has {recorded:.6f}; "
            "the recorded input is not what this convolution read"
        )
    return step


@dataclass(frozen=True)
class PoolStep:
    """One output cell of a max-pool: its window, the winning cell and the trace's value."""

    channel: int
    row: int
    col: int
    window: np.ndarray  # [kh, kw]
    winner: tuple[int, int]  # (row, col) inside the window
    recorded: float

    @property
    def value(self) -> float:
        return float(self.window[self.winner])


def pool_step(trace: Trace, pool: str, channel: int, row: int, col: int) -> PoolStep:
    """Output cell (channel, row, col) of max-pool ``pool``: which input cell wins, checked against the trace."""
    config = trace.meta.get("modules", {}).get(pool, {})
    kernel = _pair(config.get("kernel") or config.get("kernel_size") or 2)
    stride = _pair(config.get("stride") or kernel)
    if _pair(config.get("padding", 0)) != (0, 0):
        raise SceneInputError(f"{pool}: padded max-pooling is not drawn by this scene")
    source = trace[input_of(trace, pool)][0, channel].double().numpy()
    top, left = row * stride[0], col * stride[1]
    window = source[top : top + kernel[0], left : left + kernel[1]]
    winner = tuple(int(i) for i in np.unravel_index(int(window.argmax()), window.shape))
    step = PoolStep(channel, row, col, window, winner, float(trace[pool][0, channel, row, col]))
    if abs(step.value - step.recorded) > TOLERANCE * max(1.0, abs(step.recorded)):
        raise SceneInputError(f"{pool}: the window's maximum {step.value:.6f} is not the trace's {step.recorded:.6f}")
    return step


def distinguishing_digits(steps: Sequence[PoolStep], most: int = 4) -> int:
    """The fewest decimals (2 to ``most``) at which every window's winner visibly beats the rest.

    >>> window = np.array([[0.331, 0.334], [0.2, 0.1]])
    >>> distinguishing_digits([PoolStep(0, 0, 0, window, (0, 1), 0.334)])
    3
    """
    for digits in range(2, most + 1):
        if all(
            round(value, digits) < round(step.value, digits) or value == step.value
            for step in steps
            for value in np.delete(step.window.ravel(), np.ravel_multi_index(step.winner, step.window.shape))
        ):
            return digits
    return most


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, (int, float)) else (int(value[0]), int(value[1]))


@dataclass(frozen=True)
class ConvolutionPlan:
    """Which modules, channels and positions the scene shows (all chosen from the trace)."""

    conv: str
    relu: str | None
    pool: str | None
    channel: int
    pool_channel: int
    positions: list[tuple[int, int]]
    relu_block: tuple[int, int]
    pool_block: tuple[int, int]


def convolution_plan(trace: Trace, options: dict[str, Any] | None = None) -> ConvolutionPlan:
    """The scene's choices: the convolution, its ReLU, the first max-pool after it, channels and positions."""
    options = options or {}
    conv = options.get("module") or first_conv(trace)
    if not is_conv(trace.meta.get("modules", {}).get(conv, {})) or f"{conv}@weight" not in trace:
        raise SceneInputError(f"{conv!r} is not a recorded convolution with its kernel; try {first_conv(trace)!r}")
    out = trace[conv][0].double().numpy()
    channels = options.get("channels")
    channel = int(channels[0] if isinstance(channels, Sequence) else channels) if channels is not None else mixed_channel(out)
    if not 0 <= channel < out.shape[0]:
        raise SceneInputError(f"channel {channel} is not in {conv} (channels 0–{out.shape[0] - 1})")
    count = int(options.get("positions", 3))
    if not 1 <= count <= out.shape[2]:
        raise SceneInputError(f"positions must be between 1 and {out.shape[2]}, got {count}")
    relu = next_of_type(trace, conv, "ReLU")
    pool = next_of_type(trace, conv, "MaxPool2d")
    pool_channel, pool_block = 0, (0, 0)
    if pool is not None:
        pooled_input = trace[input_of(trace, pool)][0].double().numpy()
        pool_channel = channel if input_of(trace, pool) in (conv, relu) else int(np.abs(pooled_input).mean((1, 2)).argmax())
        pool_block = busiest_block(pooled_input[pool_channel], 4, mixed=False)
    relu_block = busiest_block(out[channel], 4, mixed=True)
    positions = informative_positions(trace, conv, count)
    return ConvolutionPlan(conv, relu, pool, channel, pool_channel, positions, relu_block, pool_block)


def informative_positions(trace: Trace, conv: str, count: int) -> list[tuple[int, int]]:
    """``count`` neighbouring output positions whose input windows hold the most signal.

    The row whose windows see the largest total |input|, starting at the first window of that row
    with at least a quarter of the row's strongest signal (so the worked sums are not all zeros).
    """
    spec = conv_spec(trace, conv)
    source = trace[input_of(trace, conv)][:1].double().abs().sum(1, keepdim=True)
    signal = torch.nn.functional.avg_pool2d(source, spec.kernel, spec.stride, spec.padding, count_include_pad=True)[0, 0]
    height, width = trace[conv].shape[2:]
    signal = signal[:height, :width].numpy()
    row = int(signal.sum(1).argmax())
    strong = np.flatnonzero(signal[row] >= 0.25 * signal[row].max())
    first = min(int(strong[0]) if strong.size else 0, width - count)
    return [(row, col) for col in range(first, first + count)]


# -- the scene ---------------------------------------------------------------------------------

GRID_CELL = 0.48
TOP_ROW, BOTTOM_ROW = 1.2, -1.45
MAP_HEIGHT = 2.7
LEFT_MAP, RIGHT_MAP = np.array([-5.3, 0.9, 0]), np.array([5.3, 0.9, 0])
EQUATION_Y = -3.08
POOL_CELL, RELU_CELL, POOL_Y = 0.7, 0.6, 0.4


class ConvolutionScene(TraceScene):
    """Convolution with real numbers, then ReLU, then 2×2 max-pooling (issue 5, scene 1).

    ``self.plan`` holds the choices and ``self.shown`` every number put on screen: the worked
    convolution steps, the ReLU block before and after, the max-pool steps.
    """

    default_model = "mnist-cnn"

    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        plan = convolution_plan(trace, options)
        conv_step(trace, plan.conv, plan.channel, *plan.positions[0])

    def construct(self) -> None:
        self.plan = convolution_plan(self.trace, self.options)
        self.shown: dict[str, Any] = {"conv_steps": [], "pool_steps": []}
        self.title = self.current_caption = None
        self.pending_caption: tuple[str, str] | None = None
        # (step, whether it starts a new figure): a still starts at the last new figure before its step
        steps = [(self.show_input_and_kernel, True), (self.work_out_positions, False), (self.sweep, False)]
        if self.plan.relu is not None:
            steps.append((self.apply_relu, True))
        if self.plan.pool is not None:
            steps += [(self.max_pool, True), (self.sweep_pool, False)]
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
        image = trace[input_of(trace, plan.conv)][0].double().numpy()
        output = trace[plan.conv][0].double().numpy()
        self.swap_title(
            f"Convolution: {plan.conv}, a {spec.kernel_text} kernel, filter {plan.channel} of {spec.out_channels}",
            f"합성곱: {plan.conv}, {spec.kernel_text} 커널, 필터 {plan.channel} / {spec.out_channels}개",
        )
        self.narrate(  # the caption changes with the title, not after the figure
            f"The kernel's {spec.weights_per_filter} weights were learned in training; it slides over the input one pixel at a time.",
            f"커널의 가중치 {spec.weights_per_filter}개는 학습으로 얻은 값입니다. 커널이 입력 위를 한 칸씩 움직입니다.",
        )
        self.input_map = FeatureMap(image[0], height=MAP_HEIGHT).move_to(LEFT_MAP)
        self.output_map = self.conv_output_map()
        self.output_map.reveal(0)
        many = spec.in_channels > 1  # then channel 0 is drawn and the sums run over every channel
        channel_note = "" if not many else self.say(f"\ninput channel 0 of {spec.in_channels}", f"\n입력 채널 0 / {spec.in_channels}")
        self.kernel_grid = NumberGrid(trace[f"{plan.conv}@weight"][plan.channel, 0].double().numpy(), cell=GRID_CELL).move_to([1.05, TOP_ROW, 0])
        labels = VGroup(
            self.label(self.say("input ", "입력 ") + format_shape(image.shape) + (self.say(", channel 0", ", 채널 0") if many else ""), self.input_map),
            self.label(f"{self.say('kernel', '커널')} w[{plan.channel}]{channel_note}", self.kernel_grid),
            self.label(f"{self.say('output', '출력')} {format_shape(output.shape)}\n{self.say('channel', '채널')} {plan.channel}", self.output_map),
        )
        bars = VGroup(*[ScaleBar(m.scale_range, length=1.8).next_to(m, DOWN, buff=0.15) for m in (self.input_map, self.output_map)])
        c = plan.channel
        self.equation = self.formula(
            f"out[{c}, i, j] = b[{c}] + Σₖ Σᵤ Σᵥ w[{c}, k, u, v] · x[k, i+u, j+v]" if many else f"out[{c}, i, j] = b[{c}] + Σᵤ Σᵥ w[{c}, u, v] · x[i+u, j+v]"
        )
        appear(self, self.input_map, labels[0], bars[0])
        appear(self, self.kernel_grid, labels[1], self.output_map, labels[2], bars[1], self.equation)

    # -- step 2: the first positions with their numbers
    def work_out_positions(self) -> None:
        plan = self.plan
        kernel = conv_spec(self.trace, plan.conv).kernel
        self.window = self.input_map.pixel_rect(0, 0, *kernel)
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
                self.narrate(
                    "Multiply each input value by the weight over it, then add the products and the bias.",
                    "겹치는 입력값과 가중치를 곱하고, 곱을 모두 더한 뒤 편향을 더합니다.",
                )
                self.pause()

    def show_conv_step(self, step: ConvStep) -> None:
        spec = conv_spec(self.trace, self.plan.conv)
        patch = NumberGrid(step.patch[0], cell=GRID_CELL, scale=self.input_map.scale_range).move_to([-1.95, TOP_ROW, 0])
        products = NumberGrid(step.products[0], cell=GRID_CELL).move_to([-0.45, BOTTOM_ROW, 0])
        rows = f"{step.row * spec.stride[0]}:{step.row * spec.stride[0] + spec.kernel[0]}"
        cols = f"{step.col * spec.stride[1]}:{step.col * spec.stride[1] + spec.kernel[1]}"
        over = "" if spec.in_channels == 1 else self.say(f"ₖ ({spec.in_channels} ch.)", f"ₖ (채널 {spec.in_channels}개)")
        weighted = f"= {format_value(step.weighted_sum, 3)}"
        lines = ([f"Σ {weighted}"] if not over else [f"Σ{over}", f"  {weighted}"]) + [
            f"+ b = {format_value(step.bias, 3)}",
            f"out[{step.row}, {step.col}] = {format_value(step.total, 3)}",
        ]
        total = VGroup(*[Text(line, font=theme.MONO_FONT, font_size=22, color=theme.INK) for line in lines])
        total.arrange(DOWN, aligned_edge=LEFT, buff=0.16).next_to(products, RIGHT, buff=0.3)
        total[-1].set_color(theme.HIGHLIGHT)
        where = f"x[{rows}, {cols}]" if spec.in_channels == 1 else f"x[0, {rows}, {cols}]"
        fit_width(total, 3.9 - total.get_left()[0])  # clear of the output map's scale
        numbers = VGroup(patch, self.label(where, patch, mono=True), products, total)
        window = self.input_map.pixel_rect(step.row * spec.stride[0], step.col * spec.stride[1], *spec.kernel)
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

        def advance(_: Group, alpha: float) -> None:
            done = int(round(alpha * total))
            output_map.reveal(mask=((np.arange(total) < done) | worked).reshape(height, width))
            row, col = divmod(min(done, total - 1), width)
            self.window.move_to(input_map.pixel_rect(row * spec.stride[0], col * spec.stride[1], *spec.kernel))
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

    # -- step 4: ReLU on the convolution's output
    def apply_relu(self) -> None:
        plan, trace = self.plan, self.trace
        before = trace[plan.conv][0, plan.channel].double().numpy()
        after = trace[plan.relu][0, plan.channel].double().numpy()
        row, col = plan.relu_block
        blocks = (before[row : row + 4, col : col + 4], after[row : row + 4, col : col + 4])
        self.shown["relu_block"] = blocks
        if not hasattr(self, "output_map"):  # a still of this step starts here
            self.output_map = self.conv_output_map()
        scale = self.output_map.scale_range
        disappear(self, *[m for m in self.mobjects if m not in (self.title, self.current_caption, self.output_map)], run_time=0.3)
        self.swap_title(f"ReLU after the convolution: {plan.relu}", f"합성곱 다음의 ReLU: {plan.relu}")
        self.narrate("ReLU keeps positive values and turns negative ones into 0.", "ReLU는 양수는 그대로 두고 음수는 0으로 바꿉니다.")
        left = [LEFT_MAP[0], POOL_Y, 0]
        if self.is_still:
            self.add(self.output_map.move_to(left))
        else:
            self.play(self.output_map.animate.move_to(left), run_time=0.6)
        relu_map = FeatureMap(after, height=MAP_HEIGHT, scale=scale).move_to([RIGHT_MAP[0], POOL_Y, 0])
        grids = [NumberGrid(block, cell=RELU_CELL, scale=scale).move_to([x, POOL_Y, 0]) for block, x in zip(blocks, (-1.95, 1.95))]
        where = f"[{row}:{row + 4}, {col}:{col + 4}]"
        figure = Group(
            relu_map,
            self.label(f"ReLU ({plan.relu})", relu_map),
            self.label(self.say("convolution", "합성곱") + f" ({plan.conv})", self.output_map),
            ScaleBar(scale, length=1.8).next_to(self.output_map, DOWN, buff=0.15),
            self.output_map.pixel_rect(row, col, 4, 4),
            relu_map.pixel_rect(row, col, 4, 4),
            grids[0],
            self.label(plan.conv + where, grids[0], mono=True),
            self.symbol("→").move_to([0, POOL_Y + 0.15, 0]),
            Text("ReLU", font=theme.FONT, font_size=18, color=theme.INK).move_to([0, POOL_Y - 0.25, 0]),
            grids[1],
            self.label(plan.relu + where, grids[1], mono=True),
            self.formula("relu(x) = max(0, x)"),
        )
        appear(self, *figure[:6])
        appear(self, *figure[6:])
        self.relu_map = relu_map

    # -- step 5: max-pooling, window by window
    def max_pool(self) -> None:
        plan, trace = self.plan, self.trace
        source_name = input_of(trace, plan.pool)
        source = trace[source_name][0, plan.pool_channel].double().numpy()
        pooled = trace[plan.pool][0, plan.pool_channel].double().numpy()
        row, col = plan.pool_block
        steps = [pool_step(trace, plan.pool, plan.pool_channel, row // 2 + r, col // 2 + c) for r in range(2) for c in range(2)]
        self.shown["pool_steps"] = steps
        # the ReLU map the pooling reads stays on screen and moves into place: no blank frame between parts
        kept = getattr(self, "relu_map", None) if source_name == plan.relu and plan.pool_channel == plan.channel else None
        # the previous part leaves while this one arrives (below): never a blank frame in between
        leaving = [m for m in self.mobjects if m not in (self.title, self.current_caption, kept)]
        shape_in, shape_out = format_shape(trace[source_name].shape[1:]), format_shape(trace[plan.pool].shape[1:])
        self.swap_title(
            f"2×2 max-pooling: {plan.pool} reads {source_name} ({shape_in})",
            f"2×2 최대 풀링: {plan.pool}의 입력은 {source_name} ({shape_in})",
        )
        self.narrate(
            "Each 2×2 window keeps only its largest value (outlined): the map halves in each direction.",
            "2×2 창마다 가장 큰 값(테두리)만 남깁니다. 맵의 가로세로가 절반이 됩니다.",
        )
        if kept is None:
            pool_input = FeatureMap(source, height=MAP_HEIGHT).move_to([LEFT_MAP[0], POOL_Y, 0])
        else:
            pool_input = kept
            if animating(self):
                self.play(kept.animate.move_to([LEFT_MAP[0], POOL_Y, 0]), *([fade_out(*leaving)] if leaving else []), run_time=0.6)
                leaving = []
            kept.move_to([LEFT_MAP[0], POOL_Y, 0])
        self.pool_output = FeatureMap(pooled, height=MAP_HEIGHT / 2, scale=pool_input.scale_range).move_to([RIGHT_MAP[0], POOL_Y, 0])
        computed = np.zeros(pooled.shape, dtype=bool)
        computed[row // 2 : row // 2 + 2, col // 2 : col // 2 + 2] = True
        self.pool_output.reveal(mask=computed)
        digits = distinguishing_digits(steps)
        grid = NumberGrid(source[row : row + 4, col : col + 4], cell=POOL_CELL, scale=pool_input.scale_range, digits=digits)
        grid.move_to([-1.4, POOL_Y, 0])
        result = NumberGrid(
            [[s.value for s in steps[:2]], [s.value for s in steps[2:]]], cell=POOL_CELL, scale=pool_input.scale_range, digits=digits
        ).move_to([2.2, POOL_Y, 0])
        windows, winners = VGroup(), VGroup()
        for step in steps:
            top, left = 2 * (step.row - row // 2), 2 * (step.col - col // 2)
            window = Rectangle(width=2 * POOL_CELL, height=2 * POOL_CELL, stroke_color=theme.MUTED, stroke_width=3)
            windows.add(window.move_to(grid.cell(top, left).get_corner(DOWN + RIGHT)))
            winner = grid.cell(top + step.winner[0], left + step.winner[1])
            winners.add(Rectangle(width=POOL_CELL - 0.08, height=POOL_CELL - 0.08, stroke_color=theme.HIGHLIGHT, stroke_width=5).move_to(winner))
        self.pool_marks = VGroup(pool_input.pixel_rect(row, col, 4, 4), self.pool_output.pixel_rect(row // 2, col // 2, 2, 2))
        arriving = Group(
            *([pool_input] if kept is None else []),
            self.label(f"{source_name}, {self.say('channel', '채널')} {plan.pool_channel}", pool_input),
            ScaleBar(pool_input.scale_range, length=1.8).next_to(pool_input, DOWN, buff=0.15),
            self.pool_output,
            self.label(f"{plan.pool}: {shape_out}", self.pool_output),
            self.formula("out[i, j] = max(x[2i:2i+2, 2j:2j+2])"),
        )
        if animating(self):
            self.play(*([fade_out(*leaving)] if leaving else []), fade_in(*arriving), run_time=0.6)
        else:
            self.add(*arriving)
        self.remove(*leaving)
        appear(self, grid, self.label(f"[{row}:{row + 4}, {col}:{col + 4}]", grid, mono=True), self.pool_marks[0], windows)
        appear(self, winners)
        appear(self, Text("max →", font=theme.MONO_FONT, font_size=22, color=theme.INK).move_to([0.8, POOL_Y, 0]), result, self.pool_marks[1])

    # -- step 6: the whole pooled map
    def sweep_pool(self) -> None:
        pooled, total = self.pool_output, self.pool_output.values.size
        self.narrate(
            "Pooled over the whole map: the strongest responses survive at half the resolution.",
            "맵 전체를 풀링하면 가장 강한 반응만 절반 해상도로 남습니다.",
        )
        disappear(self, *self.pool_marks, run_time=0.2)
        if not self.is_still:
            self.play(UpdateFromAlphaFunc(pooled, lambda m, alpha: m.reveal(int(round(alpha * total)))), run_time=1.5, rate_func=linear)
        pooled.reveal(total)

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
        """Lines of text centred above ``over``."""
        font = theme.MONO_FONT if mono else theme.FONT
        lines = VGroup(*[Text(line, font=font, font_size=18 if mono else 20, color=theme.INK) for line in text.split("\n")])
        return lines.arrange(DOWN, buff=0.08).next_to(over, UP, buff=0.12)

    def formula(self, text: str) -> Text:
        return Text(text, font=theme.MONO_FONT, font_size=20, color=theme.INK).move_to([0, EQUATION_Y, 0])

    def symbol(self, text: str) -> Text:
        return Text(text, font=theme.FONT, font_size=34, color=theme.INK)
