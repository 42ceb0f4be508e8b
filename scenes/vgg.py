"""VGG, depth vs performance (figure 8): 3×3 blocks, channel doubling, receptive field, parameters.

    explain render vgg --still                      # the stack with its parameter counts
    explain render vgg --stop-after 2 --still       # two 3×3 convs see 5×5 pixels of the input

Steps: (1) the stack of blocks with the real maps and shapes (channels double, resolution
halves); (2) one value after two stacked 3×3 convs sees a 5×5 window of the real input, and two
3×3 convs cost fewer parameters than one 5×5 with the same channels; (3) the parameters of each
block and of the head, computed from the trace's layer configurations; (4) depth vs performance:
held-out accuracy and parameters of VGG-style stacks of 3…15 convolutions, read from the committed
experiment (``python -m explain.models.experiments depth``), not from the trace.
"""

from __future__ import annotations

import textwrap

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, FadeIn, Group, Line, Rectangle, VGroup

from explain.draw import theme
from explain.draw.base import SceneInputError, TraceScene
from explain.draw.cnn_parts import (
    StackedMap,
    fit_width,
    label_under,
    operation_text,
    map_height,
    check_channels,
    chosen_channel,
    chosen_step,
    relative_legend,
    next_step,
    run_steps,
    strongest_channel,
    thousands,
    weights_note,
)
from explain.draw.fades import animating, appear
from explain.draw.feature_maps import FeatureMap, format_shape
from explain.draw.layers import LayerBox
from explain.figures.blocks import Block, conv_blocks, equal_width_pair, plain_stack_problem, stack_versus_single
from explain.figures.errors import names_or_none, refuse_nan
from explain.figures.layers import INPUT, ConvSpec, in_execution_order, kind, ops_inside, parameter_count, receptive_field
from explain.glossary import term
from explain.figures.windows import recorded_input
from explain.trace import Trace
from explain.scenes import SceneSpec

__all__ = ["CARD", "conv_formula", "field_centre", "SCENES", "STEPS", "VGGScene"]

SCENES = [SceneSpec("vgg", "VGGScene", "VGG: stacked 3×3 blocks, receptive field, parameters, measured depth vs accuracy (figure 8)", "vgg16")]

CARD = 1.55
STEPS = ("show_stack", "show_receptive_field", "show_parameters", "show_depth_experiment")


def field_centre(maps: np.ndarray, margin: int) -> tuple[int, int]:
    """Row and column of the strongest value at least ``margin`` cells from every border."""
    inner = np.abs(maps)[margin:-margin, margin:-margin]
    row, col = np.unravel_index(int(inner.argmax()), inner.shape)
    return int(row) + margin, int(col) + margin


def conv_formula(conv: ConvSpec) -> str:
    """A convolution's parameters as the product the slide writes: kh·kw·in·out (+ out biases).

    >>> conv_formula(ConvSpec("c", 32, 64, (3, 3)))
    '3·3·32·64 + 64'
    """
    weights = f"{conv.kernel[0]}·{conv.kernel[1]}·{conv.in_channels // conv.groups}·{conv.out_channels}"
    return weights + (f" + {conv.out_channels}" if conv.bias else "")


class VGGScene(TraceScene):
    """The book's VGG as a stack of 3×3 blocks with its real maps, shapes and parameter counts."""

    OPTIONS = frozenset({"module", "channels", "step"})

    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        refuse_nan(trace)
        chosen_step(options, len(STEPS))
        if INPUT not in trace:
            raise SceneInputError("the vgg scene needs the input image in the trace (record with explain.record(model, image))")
        problem = plain_stack_problem(trace)
        if problem is not None:
            raise SceneInputError(problem)
        blocks = conv_blocks(trace)
        field = cls.field_block(blocks, options)
        needed = [b.output for b in blocks] + [c.name for c in field.convs[:2]]
        missing = [name for name in needed if name not in trace]
        if missing:
            raise SceneInputError(f"the vgg scene needs the feature maps of {names_or_none(missing, 4)} (record without a name filter)")
        recorded_input(trace, field.convs[0].name)
        recorded_input(trace, field.convs[1].name)
        check_channels(options, max(trace[block.output].shape[1] for block in blocks))

    @staticmethod
    def field_block(blocks: list[Block], options: dict) -> Block:
        """The block whose first two convs step 2 draws: ``options["module"]`` or the first with two."""
        stacked = {block.name: block for block in blocks if len(block.convs) >= 2}
        name = options.get("module", next(iter(stacked)))
        if name not in stacked:
            raise SceneInputError(f"module {name!r} is not a block with two stacked convs; choose one of {names_or_none(stacked)}")
        return stacked[name]

    def construct(self):
        self.check(self.trace, self.options)
        self.blocks = conv_blocks(self.trace)
        self.parameters = parameter_count(self.trace)
        self.shown: dict = {}
        self.figure = None
        kernels = sorted({conv.kernel_text for block in self.blocks for conv in block.convs})
        only = ", ".join(kernels)
        self.title = self.text(f"VGG: depth from {only} convolutions only", f"VGG: {only} 합성곱만으로 쌓은 깊은 망", size=30).to_edge(UP, buff=0.3)
        self.add(self.title, *filter(None, [weights_note(self)]))
        run_steps(self, [getattr(self, step) for step in STEPS], still=STEPS.index("show_parameters") + 1)  # the model's own last frame

    # -- step 1: the stack -------------------------------------------------------------------

    def stack(self) -> Group:
        """Input card, one card per block (conv box, pool box, strongest real map, shape), head card."""
        picture = self.trace[INPUT][0].numpy()
        cards = [self._input_card(picture)]
        self.shown["maps"] = {}
        for block in self.blocks:
            cards.append(self._block_card(block))
        cards.append(self._head_card())
        group = Group(*cards).arrange(RIGHT, buff=0.28, aligned_edge=UP)
        fit_width(group, 13.4).next_to(self.title, DOWN, buff=0.35)
        legend = relative_legend(self, diverging=False, length=1.3, width=CARD)
        group[0].add(legend.next_to(group[0], DOWN, buff=0.45))
        return group

    def _input_card(self, picture: np.ndarray) -> Group:
        header = LayerBox(self.term("input"), kind="data", width=CARD, height=0.45, size=18)
        image = FeatureMap(picture, height=map_height(picture.shape[-1]))
        image.next_to(header, DOWN, buff=0.55)
        shape = label_under(image, format_shape(picture.shape))
        return Group(header, image, shape)

    def _block_card(self, block: Block) -> Group:
        kernels = "/".join(dict.fromkeys(conv.kernel_text for conv in block.convs))
        header = LayerBox(f"{kernels} {self.term('conv')} ×{len(block.convs)}", kind="conv", width=CARD, height=0.45, size=18)
        others = " + ".join(operation_text(op, self.lang).split(" (")[0] for op in block.others)
        between = LayerBox(others.replace(" + ", "\n+ ") or self.say("nothing else", "그 밖에 없음"), kind="pointwise", width=CARD, height=0.3 + 0.22 * others.count(" + "), size=16)
        between.next_to(header, DOWN, buff=0.08)
        pooling = operation_text(", ".join(block.pools), self.lang) or self.say("no pooling", "풀링 없음")
        pool = LayerBox(pooling.replace(", ", "\n"), kind="pool", width=CARD, height=0.3 + 0.22 * pooling.count(", "), size=16)
        pool.next_to(between, DOWN, buff=0.08)
        maps = self.trace[block.output][0].numpy()
        card_map = StackedMap(maps, channel=chosen_channel(self.options, maps.shape[0]), height=map_height(maps.shape[-1]))
        card_map.next_to(pool, DOWN, buff=0.15)
        self.shown["maps"][block.name] = (card_map.channel, card_map.values)
        shape = label_under(card_map, format_shape(block.shape_out))
        change = VGroup(
            self.text(f"{block.shape_in[0]}→{block.shape_out[0]} ch", f"{block.shape_in[0]}→{block.shape_out[0]} 채널", size=15, color=theme.MUTED),
            self.text(f"{block.shape_in[1]}→{block.shape_out[1]} px", f"{block.shape_in[1]}→{block.shape_out[1]} 픽셀", size=15, color=theme.MUTED),
        ).arrange(DOWN, buff=0.05)
        change.next_to(shape, DOWN, buff=0.08)
        return Group(header, between, pool, card_map, shape, change)

    def _head_card(self) -> Group:
        linears = self.linears()
        if not linears:
            return Group()
        header = LayerBox(f"{self.term('linear')} ×{len(linears)}", kind="linear", width=CARD, height=0.45, size=18)
        parts = [header]
        others = self.head_operations()
        if others:  # what turns the last block's maps into the first linear layer's input, and what runs between the linears
            width = 8 if self.lang == "ko" else 12  # characters a card line holds (Hangul is wider)
            lines = [textwrap.wrap(operation_text(op, self.lang), width) for op in others]  # "adaptive", "avg-pool to", "2×2"
            text = "\n+ ".join("\n".join(wrapped) for wrapped in lines)
            parts.append(LayerBox(text, kind="pointwise", width=CARD, height=0.3 + 0.22 * text.count("\n"), size=16).next_to(header, DOWN, buff=0.08))
        sizes = [linears[0]["in_features"]] + [d["out_features"] for d in linears]
        chain = VGroup(*[label_under(header, str(s), size=15, color=theme.INK) for s in sizes]).arrange(DOWN, buff=0.08)
        chain.next_to(parts[-1], DOWN, buff=0.25)
        return Group(*parts, chain)

    def head_operations(self) -> list[str]:
        """The recorded operations after the last block other than the linear layers, once each
        ("adaptive avg-pool to 2×2", "flatten", "ReLU", "dropout p=0.5")."""
        ops = ops_inside(self.trace, [""])
        last = self.blocks[-1].ops[-1].module
        after = [op for op in ops[[op.module for op in ops].index(last) + 1 :] if op.kind != "linear"]
        return list(dict.fromkeys(op.text.split(" (")[0] for op in after))

    def linears(self) -> list[dict]:
        """The Linear layers' configs, in execution order."""
        modules = self.trace.meta.get("modules", {})
        return [modules[name] for name in in_execution_order(self.trace, [n for n in modules if kind(self.trace, n) == "linear"])]

    def show_stack(self) -> None:
        figure = self.stack()
        channels = "→".join(str(b.shape_out[0]) for b in self.blocks)
        sizes = "→".join(str(b.shape_out[-1]) for b in self.blocks)
        pools = operation_text(", ".join(dict.fromkeys(p for b in self.blocks for p in b.pools)), self.lang)
        caption = (f"Each block: its convolutions, then {pools}: channels {channels}, size {sizes}", f"블록마다 합성곱 뒤 {pools}: 채널 {channels}, 크기 {sizes}")
        next_step(self, caption, leaving=[self.figure], arriving=[figure[0]])  # the input, then block after block
        for card in figure[1:]:
            if animating(self):
                self.play(FadeIn(card, shift=RIGHT * 0.2), run_time=0.4)
            else:
                self.add(card)
        self.figure = figure

    # -- step 2: receptive field -------------------------------------------------------------

    def show_receptive_field(self) -> None:
        block = self.field_block(self.blocks, self.options)
        first, second = block.convs[:2]
        side = receptive_field([first, second])
        out_maps = self.trace[second.name][0].numpy()
        channel = chosen_channel(self.options, out_maps.shape[0])
        channel = strongest_channel(out_maps) if channel is None else channel
        window = side + 2
        row, col = field_centre(out_maps[channel], margin=window // 2 + 1)
        half = window // 2
        crop = (slice(row - half, row + half + 1), slice(col - half, col + half + 1))
        source = recorded_input(self.trace, first.name)
        picture = self.trace[source][0].numpy()[:, crop[0], crop[1]]
        if picture.shape[0] not in (1, 3):  # a feature map, not a picture: its strongest channel
            source_channel = strongest_channel(picture)
            picture = picture[source_channel : source_channel + 1]
            source = f"{source}, {self.say('ch', '채널')} {source_channel}"
        between = recorded_input(self.trace, second.name)  # what the second conv read (after BatchNorm, ReLU …)
        middle = self.trace[between][0].numpy()
        middle_channel = strongest_channel(middle[:, crop[0], crop[1]])
        self.shown["field"] = {"centre": (row, col), "side": side, "channel": channel, "middle_channel": middle_channel}
        panels = [
            (FeatureMap(picture, height=2.4), side, self.say(f"{source}: {format_shape(picture.shape[1:])} crop", f"{source}: {format_shape(picture.shape[1:])} 부분")),
            (FeatureMap(middle[middle_channel][crop], height=2.4), second.kernel[0], self.say(f"{between}, ch {middle_channel}", f"{between}, 채널 {middle_channel}")),
            (FeatureMap(out_maps[channel][crop], height=2.4), 1, self.say(f"{second.name}, ch {channel}", f"{second.name}, 채널 {channel}")),
        ]
        group = Group(*[Group(fmap, label_under(fmap, label, size=16, font=theme.FONT)) for fmap, _, label in panels])
        group.arrange(RIGHT, buff=1.2).next_to(self.title, DOWN, buff=0.5)
        outlines = [fmap.pixel_rect(half - size // 2, half - size // 2, size, size) for fmap, size, _ in panels]
        links = [
            VGroup(
                Line(left.get_corner(UP + RIGHT), right.get_corner(UP + LEFT), color=theme.HIGHLIGHT, stroke_width=2),
                Line(left.get_corner(DOWN + RIGHT), right.get_corner(DOWN + LEFT), color=theme.HIGHLIGHT, stroke_width=2),
            )
            for left, right in zip(outlines, outlines[1:])
        ]
        maps = [panel[0] for panel in group]
        kernels = [
            self.text(conv.kernel_text, size=18, color=theme.HIGHLIGHT).move_to(
                [(left.get_right()[0] + right.get_left()[0]) / 2, left.get_bottom()[1] + 0.12, 0]
            )
            for conv, left, right in zip((first, second), maps, maps[1:])
        ]
        pair = equal_width_pair(self.blocks)  # two convs of equal width, the parameters compared below
        k = pair[0].kernel_text
        versus = stack_versus_single(pair)
        cheaper = versus.saving > 0
        next_step(
            self,
            (f"Two stacked {k} convs see what one {side}×{side} sees" + (", with fewer parameters" if cheaper else ""),
             f"{k} 두 층은 {side}×{side} 한 층과 같은 영역을" + (" 더 적은 파라미터로 봅니다" if cheaper else " 봅니다")),
            leaving=[self.figure],
            arriving=[group],
        )
        appear(self, outlines[2], run_time=0.3)  # one output value …
        appear(self, outlines[1], links[1], kernels[1], run_time=0.4)  # … sees 3×3 values of the first conv …
        appear(self, outlines[0], links[0], kernels[0], run_time=0.4)  # … which see 5×5 input pixels
        self.shown["pair"] = versus
        stacked = sum(conv.parameters for conv in versus.stack)
        formulas = [conv_formula(conv) for conv in versus.stack]
        both = f"2 × ({formulas[0]})" if formulas[0] == formulas[1] else " + ".join(formulas)  # C→C→C, else each conv's own
        widths = f"{pair[0].in_channels}→{pair[0].out_channels}→{pair[1].out_channels}"
        single, ends = versus.single, f"{versus.single.in_channels}→{versus.single.out_channels}"
        if cheaper:
            verdict = (f"{versus.saving:.0%} fewer with the stack", f"쌓으면 {versus.saving:.0%} 적습니다")
        else:  # the stack widens the channels (1→32→64): here it costs more than the one big conv
            ratio = stacked / single.parameters
            verdict = (f"the stack has {ratio:.1f}× as many (it widens the channels)", f"쌓으면 {ratio:.1f}배 많습니다 (채널이 넓어집니다)")
        extra = self.between(pair)
        more = (self.say(f", and {extra} between them", f", 그리고 사이에 {extra}") if extra else "")
        texts = [
            (
                f"{side}×{side}: one value of {second.name} sees {side}×{side} values of {source} through {first.kernel_text} and {second.kernel_text} convs",
                f"{side}×{side}: {second.name}의 값 하나는 {first.kernel_text}, {second.kernel_text} 합성곱을 거쳐 {source}의 {side}×{side} 값을 봅니다",
            ),
            (
                f"two {k} ({pair[0].name}, {pair[1].name}, {widths}): {both} = {thousands(stacked)} parameters",
                f"{k} 두 개 ({pair[0].name}, {pair[1].name}, {widths}): {both} = {thousands(stacked)}개 파라미터",
            ),
            (
                f"one {side}×{side} ({ends}): {conv_formula(single)} = {thousands(single.parameters)}  →  {verdict[0]}{more}",
                f"{side}×{side} 한 개 ({ends}): {conv_formula(single)} = {thousands(single.parameters)}  →  {verdict[1]}{more}",
            ),
        ]
        self.shown["pair_lines"] = [self.say(*text) for text in texts]
        lines = VGroup(*[self.text(*text, size=20) for text in texts]).arrange(DOWN, aligned_edge=LEFT, buff=0.15)
        fit_width(lines, 13.2).next_to(group, DOWN, buff=0.45)
        appear(self, lines)
        self.figure = Group(group, *outlines, *links, *kernels, lines)

    def between(self, pair) -> str:
        """The operations between two stacked convs of a block ("BatchNorm + ReLU"), from the recorded modules."""
        for block in self.blocks:
            names = [op.module for op in block.ops]
            if pair[0].name in names and pair[1].name in names:
                inner = block.ops[names.index(pair[0].name) + 1 : names.index(pair[1].name)]
                return " + ".join(operation_text(op.text, self.lang).split(" (")[0] for op in inner)
        return ""

    # -- step 3: parameters ------------------------------------------------------------------

    def block_parameters(self) -> list[tuple[str, int]]:
        """(label, parameters) per block and for the linear head, from the layer configs."""
        rows = [(block.name, block.parameters) for block in self.blocks]
        rows.append(("linear", self.parameters.linear))
        return rows

    def show_parameters(self) -> None:
        cards = self.stack()
        next_step(
            self,
            ("Parameters per block and of the linear layers, counted from the model's layers", "블록별, 선형층의 파라미터 (모델의 층 설정에서 계산)"),
            leaving=[self.figure],
            arriving=[cards],
        )
        rows = self.block_parameters()
        self.shown["parameters"] = rows
        largest = max(count for _, count in rows)
        bars = VGroup()
        base = Group(*cards[1:]).get_bottom()[1] - 1.6
        for card, (_, count) in zip(list(cards)[1:], rows):
            height = max(0.03, 1.2 * count / largest)
            bar = Rectangle(width=CARD * 0.5, height=height, stroke_width=0).set_fill(theme.LAYER_STROKE, opacity=0.8)
            bar.move_to([card.get_x(), base + height / 2, 0])
            number = label_under(bar, thousands(count), size=15, color=theme.INK, buff=0.06)
            bars.add(VGroup(bar, number))
        label = self.text(self.term("parameters"), size=16, color=theme.MUTED)
        label.move_to([cards[0].get_x(), base + 0.3, 0])
        counts = self.parameters
        norms = (f" + BatchNorm {thousands(counts.batch_norm)}", f" + {term('batch-norm', 'ko')} {thousands(counts.batch_norm)}") if counts.batch_norm else ("", "")
        total = self.text(
            f"convolutions {thousands(counts.conv)}{norms[0]} + linear {thousands(counts.linear)} = {thousands(counts.total)} parameters",
            f"합성곱 {thousands(counts.conv)}{norms[1]} + 선형 {thousands(counts.linear)} = 파라미터 {thousands(counts.total)}개",
            size=20,
        )
        fit_width(total, 13.2).next_to(bars, DOWN, buff=0.15)
        appear(self, VGroup(bars, label, total))
        self.figure = Group(cards, bars, label, total)

    # -- step 4: depth vs performance, from the committed experiment -------------------------

    def show_depth_experiment(self) -> None:
        """Held-out accuracy and parameters against depth, from ``explain/models/results/depth.safetensors``."""
        from explain.draw.charts import LineChart, Series
        from explain.figures.experiments import depth_results, run_settings

        results = depth_results()
        self.shown["depth"] = results
        depths = results.conv_layers
        accuracy = [100 * a for a in results.test_accuracy]
        low = min(50, 10 * int(min(accuracy) // 10))
        x_ticks = [0, *depths]
        kilo = [p / 1000 for p in results.parameters]
        top = 10 * -(-max(kilo) // 10)
        charts = Group(
            LineChart(
                [Series("accuracy", depths, accuracy, theme.POSITIVE)],
                x_ticks=x_ticks, y_ticks=[low, (low + 100) / 2, 100], width=5.2, height=3.0, dots=True,
                x_label=self.say("3×3 convolutions", "3×3 합성곱 층 수"),
                y_label=self.say("held-out accuracy (%)", "시험 정확도 (%)"),
                value_text=lambda value: f"{value:.1f}", size=18,
            ),
            LineChart(
                [Series("parameters", depths, kilo, theme.LAYER_STROKE)],
                x_ticks=x_ticks, y_ticks=[0, top / 2, top], width=5.2, height=3.0, dots=True,
                x_label=self.say("3×3 convolutions", "3×3 합성곱 층 수"),
                y_label=self.say("parameters (thousands)", "파라미터 (천 개)"),
                value_text=lambda value: f"{value:.1f}k", size=18,
            ),
        ).arrange(RIGHT, buff=1.2)
        charts.next_to(self.title, DOWN, buff=0.45)
        lines = VGroup(
            self.text(
                "each network: 3 stages of k × (3×3 conv → ReLU) → 2×2 max-pool, then one linear layer",
                "각 망: 3단계마다 k × (3×3 합성곱 → ReLU) → 2×2 최대 풀링, 끝에 선형 층 하나",
                size=16, color=theme.MUTED,
            ),
            self.text(*run_settings(results.meta), size=16, color=theme.MUTED),
        ).arrange(DOWN, buff=0.08)
        fit_width(lines, 13.0).next_to(charts, DOWN, buff=0.3)
        best = results.best
        deepest = len(depths) - 1
        if best == deepest:
            english = f"Measured: each deeper stack did better, up to {accuracy[best]:.1f} % with {depths[best]} convolutions"
            korean = f"측정: 깊을수록 좋아졌습니다, 합성곱 {depths[best]}층에서 {accuracy[best]:.1f} %"
        else:
            english = (f"Measured: best at {depths[best]} convolutions ({accuracy[best]:.1f} %); "
                       f"{depths[deepest]} did worse ({accuracy[deepest]:.1f} %) in this short run")
            korean = (f"측정: 합성곱 {depths[best]}층이 가장 좋았고 ({accuracy[best]:.1f} %), "
                      f"{depths[deepest]}층은 이 짧은 학습에서 더 나빴습니다 ({accuracy[deepest]:.1f} %)")
        next_step(self, (english, korean), leaving=[self.figure], arriving=[charts, lines])
        self.figure = Group(charts, lines)
