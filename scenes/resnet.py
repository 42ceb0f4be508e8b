"""ResNet (figure 10): the residual idea, the book's bottleneck block with real maps, the stages.

    explain render resnet --still                               # stages, bottleneck, the book's quirks
    explain render resnet --module layer_3.1 --channels 7 --stop-after 2 --still

Steps: (1) the idea: deeper plain stacks trained worse, so a block learns F(x) and adds x back;
(2) a block of the book's ResNet-50 (``options["module"]``, default the first) with the real x,
F(x), shortcut and sum maps and one pixel's addition in numbers; (3) the first block whose
stride 2 changes the shape, its 1×1 projection shortcut drawn dotted; (4) the stages, with the
downsampling block at the END of each stage, and the bottleneck's 1×1 → 3×3 → 1×1 channels.
The book's quirks are drawn as its code runs: ReLU inside F before the addition and none after,
and a 1×1 projection on every shortcut. (5) Degradation measured: training-loss curves of plain and
residual networks of 8, 20 and 44 layers, read from the committed experiment
(``python -m explain.models.experiments degradation``), not from the trace; the caption says
whether the deeper plain network trained worse in this run.
"""

from __future__ import annotations

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, Arrow, Circle, DashedLine, Group, Line, Rectangle, RoundedRectangle, Text, VGroup

from explain.draw import theme
from explain.draw.base import SceneInputError, TraceScene
from explain.draw.cnn_numbers import Residual, residual, residual_modules, stages
from explain.draw.cnn_parts import (
    chosen_module,
    StackedMap,
    chosen_channel,
    chosen_step,
    fit_width,
    label_under,
    relative_legend,
    run_steps,
    set_caption,
    untrained_note,
)
from explain.draw.fades import appear, disappear
from explain.draw.feature_maps import format_shape
from explain.draw.layers import LayerBox
from explain.draw.strip import format_value
from explain.trace import Trace
from scenes import SceneSpec

STEPS = ("show_idea", "show_block", "show_downsampling", "show_stages", "show_degradation")

SCENES = [SceneSpec("resnet", "ResNetScene", "ResNet: residual blocks with real x, F(x), shortcut and sum; measured plain vs residual training (figure 10)", "resnet50")]


def addition_at(trace: Trace, block: str, channel: int | None = None) -> dict:
    """One value of the block's addition: channel, pixel, F(x), shortcut and their recorded sum.

    The channel is the given one, else the one where the sum is strongest; the pixel, that
    channel's largest |sum|.
    """
    total = trace[f"{block}@sum"][0]
    if channel is None:
        channel = int(total.abs().mean(dim=(1, 2)).argmax())
    row, col = np.unravel_index(int(total[channel].abs().argmax()), total.shape[1:])
    at = (channel, int(row), int(col))
    return {
        "channel": channel,
        "pixel": (int(row), int(col)),
        "fx": float(trace[f"{block}@fx"][0][at]),
        "shortcut": float(trace[f"{block}@shortcut"][0][at]),
        "sum": float(total[at]),
    }


def first_downsampling(trace: Trace) -> str | None:
    """The first block whose stride (2) changes the map's size, if any."""
    for name in residual_modules(trace):
        if residual(trace, name).stride > 1:
            return name
    return None


def is_bottleneck(convs) -> bool:
    """1×1 that narrows the channels → 3×3 → 1×1 that widens them again."""
    kernels = [c.kernel for c in convs]
    return kernels == [(1, 1), (3, 3), (1, 1)] and convs[0].out_channels < convs[-1].out_channels


def downsampling_place(grouped: dict[str, list[Residual]]) -> str:
    """ "end" if every stage's stride-2 blocks are its last, "start" if its first, else "mixed"."""
    places = set()
    for blocks in grouped.values():
        for index, block in enumerate(blocks):
            if block.stride > 1:
                places.add("end" if index == len(blocks) - 1 else "start" if index == 0 else "middle")
    return places.pop() if len(places) == 1 and places != {"middle"} else "mixed"


def observed_quirks(trace: Trace, grouped: dict[str, list[Residual]]) -> list[tuple[str, str]]:
    """What this model does that the paper's/torchvision's ResNet does not, read from the trace."""
    blocks = [block for stage in grouped.values() for block in stage]
    quirks = []
    if all(b.body_convs and b.relu_after.get(b.body_convs[-1].name) for b in blocks) and all(b.acts_after_add is False for b in blocks):
        quirks.append(("ReLU comes before the addition, none after it", "ReLU는 더하기 전에만 있고, 더한 뒤에는 없습니다"))
    same_shape = [b for b in blocks if b.stride == 1 and b.shapes["x"] == b.shapes["fx"]]
    if same_shape and all(b.projection for b in same_shape):
        english = f"a 1×1 projection even where x already has F(x)'s shape ({same_shape[0].name} …)"
        korean = f"x가 이미 F(x)와 같은 모양이어도 1×1 투영을 씁니다 ({same_shape[0].name} …)"
        if trace.meta.get("model") == "ResNet":
            english += ": the book's check `x.size() is not out.size()` is always true"
            korean += ": 책의 검사 `x.size() is not out.size()`가 늘 참이기 때문입니다"
        quirks.append((english, korean))
    types = {str(d.get("type", "")) for d in trace.meta.get("modules", {}).values()}
    if not any("BatchNorm" in t for t in types):
        quirks.append(("no batch-norm", "배치 정규화 없음"))
    return quirks


class ResNetScene(TraceScene):
    """The book's ResNet-50 blocks with their real parts; ``options["module"]`` picks the block."""


    @classmethod
    def chosen_block(cls, trace: Trace, options: dict) -> str:
        return chosen_module(options, residual_modules(trace), scene="resnet", kind="residual blocks", example="layer_2.0@sum")

    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        chosen_step(options, len(STEPS))
        name = cls.chosen_block(trace, options)
        try:
            residual(trace, name)
        except (ValueError, KeyError) as error:
            raise SceneInputError(f"the resnet scene cannot read {name!r}: {error}") from None

    def construct(self):
        self.check(self.trace, self.options)
        self.block = residual(self.trace, self.chosen_block(self.trace, self.options))
        self.shown: dict = {}
        self.figure = None
        self.title = self.text("ResNet: learn F(x), add x back", "ResNet: F(x)를 배우고 x를 다시 더합니다", size=30).to_edge(UP, buff=0.3)
        self.add(self.title, *filter(None, [untrained_note(self)]))
        run_steps(self, [getattr(self, step) for step in STEPS])

    # -- step 1: the idea ---------------------------------------------------------------------

    def show_idea(self) -> None:
        disappear(self, self.figure)
        lines = VGroup(
            self.text(
                "Deeper plain stacks of layers trained WORSE than shallower ones (degradation),",
                "층을 더 쌓은 평범한 망이 얕은 망보다 오히려 학습이 잘 되지 않았습니다(성능 저하).",
                size=24,
            ),
            self.text(
                "not from overfitting: even the training error grew (He et al., 2015).",
                "과적합 때문이 아닙니다. 학습 오차부터 커졌습니다(He 외, 2015).",
                size=24,
            ),
            self.text(
                "A residual block learns only the change F(x) and adds its input back: F(x) + x.",
                "잔차 블록은 변화분 F(x)만 배우고 입력을 다시 더합니다: F(x) + x.",
                size=24,
            ),
            self.text(
                "If x is already right, F(x) → 0 is easy; gradients flow back through the +.",
                "x가 이미 맞다면 F(x) → 0이면 되고, 기울기는 +를 지나 그대로 흐릅니다.",
                size=24,
            ),
        ).arrange(DOWN, aligned_edge=LEFT, buff=0.22)
        fit_width(lines, 13).next_to(self.title, DOWN, buff=0.5)
        schema = self.idea_schema().next_to(lines, DOWN, buff=0.5)
        self.figure = Group(lines, schema)
        appear(self, lines)
        appear(self, schema)
        set_caption(self, "The idea behind the residual block", "잔차 블록의 아이디어")

    def idea_schema(self) -> VGroup:
        """x → layer → ReLU → layer → (+) → ReLU, with x carried around the layers (the paper's form)."""
        names = [self.term("layer"), "ReLU", self.term("layer")]
        boxes = VGroup(
            *[LayerBox(n, kind="pointwise" if n == "ReLU" else "conv", width=1.3, height=0.45, size=18) for n in names]
        ).arrange(RIGHT, buff=0.5)
        x = self.text("x", size=26).next_to(boxes, LEFT, buff=0.6)
        plus = _plus().next_to(boxes, RIGHT, buff=0.5)
        relu = LayerBox("ReLU", kind="pointwise", width=1.3, height=0.45, size=18).next_to(plus, RIGHT, buff=0.5)
        out = self.text("ReLU(F(x) + x)", size=22).next_to(relu, RIGHT, buff=0.5)
        arrows = VGroup(*[_arrow(a, b) for a, b in zip([x, *boxes, plus, relu], [*boxes, plus, relu, out])])
        top = boxes.get_top()[1] + 0.45
        around = VGroup(
            Line(x.get_top() + UP * 0.05, [x.get_x(), top, 0], color=theme.INK, stroke_width=2.5),
            Line([x.get_x(), top, 0], [plus.get_x(), top, 0], color=theme.INK, stroke_width=2.5),
            Arrow([plus.get_x(), top, 0], plus.get_top(), buff=0, color=theme.INK, stroke_width=2.5, tip_length=0.14),
        )
        label = self.text("x", size=20, color=theme.MUTED).next_to(around[1], UP, buff=0.06)
        f_brace = self.text("F(x)", size=20, color=theme.MUTED).next_to(boxes, DOWN, buff=0.12)
        heading = self.text("the paper's block", "논문의 블록", size=20, color=theme.MUTED)
        group = VGroup(boxes, x, plus, relu, out, arrows, around, label, f_brace)
        return VGroup(heading.next_to(group, UP, buff=0.25), group)

    # -- steps 2 and 3: a block with its real maps --------------------------------------------

    def show_block(self) -> None:
        self.show_residual(self.block)
        block = self.block
        relu_last = bool(block.body_convs) and block.relu_after.get(block.body_convs[-1].name, False)
        english = ["F(x) ends with a ReLU, before the add" if relu_last else "F(x) is the body's output"]
        korean = ["F(x)는 더하기 전에 ReLU로 끝납니다" if relu_last else "F(x)는 본체의 출력입니다"]
        if block.projection:
            english.append(f"the shortcut is a {block.shortcut_conv.kernel_text} conv")
            korean.append(f"지름길은 {block.shortcut_conv.kernel_text} 합성곱입니다")
        else:
            english.append("the shortcut is x itself")
            korean.append("지름길은 x 그대로입니다")
        set_caption(self, f"{block.name}: " + "; ".join(english), f"{block.name}: " + ". ".join(korean))

    def show_downsampling(self) -> None:
        name = first_downsampling(self.trace)
        if name is None:
            set_caption(self, "No block of this trace changes the map size", "이 기록에는 맵 크기를 바꾸는 블록이 없습니다")
            return
        block = residual(self.trace, name)
        self.show_residual(block)
        set_caption(
            self,
            f"{name}: stride 2 halves the map, so the shortcut is a strided 1×1 projection (dotted)",
            f"{name}: 스트라이드 2로 맵이 절반이 되므로 지름길도 스트라이드 2인 1×1 투영입니다(점선)",
        )

    def show_residual(self, block: Residual) -> None:
        disappear(self, self.figure)
        figure = self.block_figure(block)
        self.figure = figure
        appear(self, figure)

    def body_boxes(self, block: Residual) -> VGroup:
        boxes = VGroup()
        for conv in block.body_convs:
            stride = f", /{conv.stride[0]}" if conv.stride[0] > 1 else ""
            relu = "\n+ ReLU" if block.relu_after.get(conv.name) else ""
            boxes.add(
                LayerBox(f"{conv.kernel_text} {conv.in_channels}→{conv.out_channels}{stride}{relu}", kind="conv", width=1.75, height=0.75, size=17)
            )
        return boxes.arrange(RIGHT, buff=0.35)

    def block_figure(self, block: Residual) -> Group:
        values = addition_at(self.trace, block.name, chosen_channel(self.options, block.shapes["sum"][0]))
        self.shown[block.name] = values
        channel = values["channel"]
        height = 1.35
        x_map = StackedMap(self.trace[f"{block.name}@x"][0].numpy(), height=height)
        parts = {
            part: StackedMap(self.trace[f"{block.name}@{part}"][0].numpy(), channel=channel, height=height)
            for part in ("fx", "shortcut", "sum")
        }
        body = self.body_boxes(block)
        plus = _plus()
        top = Group(x_map, body, parts["fx"], plus, parts["sum"]).arrange(RIGHT, buff=0.45)
        fit_width(top, 13.2).next_to(self.title, DOWN, buff=0.55)
        dotted = block.stride > 1
        conv = block.shortcut_conv
        name = block.shortcut.rpartition(".")[2] if block.shortcut else self.term("identity")
        if conv is not None:
            stride = f", /{conv.stride[0]}" if conv.stride[0] > 1 else ""
            text = f"{conv.kernel_text} {conv.in_channels}→{conv.out_channels}{stride}\n{name}"
        else:
            text = name
        shortcut_box = LayerBox(text, kind="conv" if conv is not None else "data", width=2.2, height=0.75, size=17)
        shortcut_box.move_to([body.get_x(), top.get_bottom()[1] - 1.2, 0])
        parts["shortcut"].move_to([parts["fx"].get_x(), shortcut_box.get_y(), 0])
        labels = VGroup(
            label_under(x_map, f"x {format_shape(block.shapes['x'])}", size=15),
            label_under(parts["fx"], f"F(x) {format_shape(block.shapes['fx'])}", size=15),
            label_under(parts["sum"], f"F(x) + s(x) {format_shape(block.shapes['sum'])}", size=15),
            label_under(parts["shortcut"], f"s(x) {format_shape(block.shapes['shortcut'])}", size=15),
        )
        line = DashedLine if dotted else Line
        style = {"color": theme.HIGHLIGHT if dotted else theme.INK, "stroke_width": 3}
        corner = [x_map.get_x(), shortcut_box.get_y(), 0]
        wires = VGroup(
            *[_arrow(a, b) for a, b in zip([x_map, *body], [*body, parts["fx"]])],
            _arrow(parts["fx"], plus),
            _arrow(plus, parts["sum"]),
            line([x_map.get_x(), labels[0].get_bottom()[1] - 0.05, 0], corner, **style),
            line(corner, shortcut_box.get_left(), **style),
            line(shortcut_box.get_right(), parts["shortcut"].get_left(), **style),
            line(parts["shortcut"].get_right(), [plus.get_x(), shortcut_box.get_y(), 0], **style),
            Arrow([plus.get_x(), shortcut_box.get_y(), 0], plus.get_bottom(), buff=0, tip_length=0.14, **style),
        )
        row, col = values["pixel"]
        body_call = f"{block.body.rpartition('.')[2]}(x)" if block.body else "F(x)"
        shortcut_call = f"{block.shortcut.rpartition('.')[2]}(x)" if block.shortcut else "x"
        code = f"out = {body_call} + {shortcut_call}"
        code = f"out = act({body_call} + {shortcut_call})" if block.acts_after_add else code
        equation = Text(code, font=theme.MONO_FONT, font_size=20, color=theme.INK)
        after = {
            False: ("  — the block returns the sum: no ReLU after the add", "  — 블록은 합을 그대로 내보냅니다. 더한 뒤에는 ReLU가 없습니다"),
            True: ("  — the block applies an activation after the add", "  — 블록은 더한 뒤 활성화 함수를 적용합니다"),
            None: ("", ""),
        }[block.acts_after_add]
        sum_text = self.text(
            f"{block.name}, channel {channel}, pixel ({row}, {col}):  F(x) {format_value(values['fx'], 3)} + s(x) {format_value(values['shortcut'], 3)}"
            f" = {format_value(values['sum'], 3)}{after[0]}",
            f"{block.name}, 채널 {channel}, 픽셀 ({row}, {col}):  F(x) {format_value(values['fx'], 3)} + s(x) {format_value(values['shortcut'], 3)}"
            f" = {format_value(values['sum'], 3)}{after[1]}",
            size=19,
        )
        equation.next_to(Group(parts["shortcut"], labels), DOWN, buff=0.3)
        fit_width(sum_text, 13.2).next_to(equation, DOWN, buff=0.2)
        marks = VGroup(*[parts[p].front.pixel_rect(row, col) for p in ("fx", "shortcut", "sum")])
        legend = relative_legend(self).move_to([parts["sum"].get_x(), shortcut_box.get_y(), 0])
        return Group(wires, top, shortcut_box, parts["shortcut"], labels, marks, equation, sum_text, legend)

    # -- step 4: stages and the bottleneck ----------------------------------------------------

    def bottleneck_example(self, grouped: dict[str, list[Residual]]) -> Residual:
        """The chosen block, or by default the first that keeps its width (in = out) around a bottleneck."""
        if "module" in self.options:
            return self.block
        blocks = [block for stage in grouped.values() for block in stage]
        keeping = [b for b in blocks if b.shapes["x"][0] == b.shapes["sum"][0] and is_bottleneck(b.body_convs)]
        return (keeping or [self.block])[0]

    def channel_widths(self, block: Residual) -> VGroup:
        """The body's channel counts as bars (in → after each conv), the convs between them."""
        body = block.body_convs
        if not body:
            return VGroup()
        counts = [body[0].in_channels] + [conv.out_channels for conv in body]
        tallest = max(counts)
        bars, items = VGroup(), []
        for count in counts:
            bar = Rectangle(width=0.34, height=max(0.05, 0.8 * count / tallest), stroke_width=0)
            bars.add(VGroup(bar.set_fill(theme.POSITIVE, opacity=0.75), label_under(bar, str(count), size=15, color=theme.INK, buff=0.05)))
        for index, conv in enumerate(body):
            items += [bars[index], Text(conv.kernel_text, font=theme.FONT, font_size=17, color=theme.LAYER_STROKE)]
        items.append(bars[-1])
        row = VGroup(*items).arrange(RIGHT, buff=0.35, aligned_edge=DOWN)
        for text in row[1::2]:
            text.set_y(row[0][0].get_bottom()[1] + 0.25)
        title = self.text(f"{block.name}: channels", f"{block.name}: 채널 수", size=16, color=theme.MUTED)
        return VGroup(title.next_to(row, LEFT, buff=0.4), row)

    def show_stages(self) -> None:
        disappear(self, self.figure)
        grouped = stages(self.trace)
        self.shown["stages"] = {name: [b.name for b in blocks] for name, blocks in grouped.items()}
        columns = Group()
        for name, blocks in grouped.items():
            squares = VGroup()
            for block in blocks:
                down = block.stride > 1
                square = RoundedRectangle(corner_radius=0.06, width=0.55, height=0.55, stroke_width=2)
                square.set_stroke(theme.HIGHLIGHT if down else theme.LAYER_STROKE)
                square.set_fill(theme.HIGHLIGHT if down else theme.LAYER_FILL, opacity=0.9 if down else 1)
                squares.add(square)
            squares.arrange(RIGHT, buff=0.08)
            heading = Text(name, font=theme.MONO_FONT, font_size=22, color=theme.INK).next_to(squares, UP, buff=0.12)
            first, last = blocks[0], blocks[-1]
            shape = label_under(squares, f"{format_shape(first.shapes['x'])}\n→ {format_shape(last.shapes['sum'])}", size=18)
            columns.add(Group(heading, squares, shape))
        columns.arrange(RIGHT, buff=0.6, aligned_edge=UP)
        fit_width(columns, 13.2).next_to(self.title, DOWN, buff=0.45)
        where = downsampling_place(grouped)
        place = {
            "end": ("the model downsamples at the END of each stage (torchvision: at the start)", "이 모델은 각 단계의 끝에서 크기를 줄입니다(torchvision은 처음에서)"),
            "start": ("the model downsamples at the start of a stage", "이 모델은 단계의 처음에서 크기를 줄입니다"),
            "mixed": ("where the model downsamples", "모델이 크기를 줄이는 곳"),
        }[where]
        legend = VGroup(
            _legend_square(theme.HIGHLIGHT),
            self.text(f"stride-2 block: {place[0]}", f"스트라이드 2 블록: {place[1]}", size=18),
        ).arrange(RIGHT, buff=0.15)
        fit_width(legend, 13).next_to(columns, DOWN, buff=0.35)
        example = self.bottleneck_example(grouped)
        body = example.body_convs
        bottleneck = self.text(
            f"{example.name} F(x): "
            + "  →  ".join(f"{c.kernel_text} {c.in_channels}→{c.out_channels}" for c in body)
            + (self.say("   (bottleneck: compress, 3×3, expand)", f"   ({self.term('bottleneck')}: 압축, 3×3, 확장)") if is_bottleneck(body) else ""),
            size=21,
        )
        quirks = VGroup(*[self.text(f"• {en}", f"• {ko}", size=19) for en, ko in observed_quirks(self.trace, grouped)])
        quirks.arrange(DOWN, aligned_edge=LEFT, buff=0.12)
        notes = VGroup(bottleneck, quirks).arrange(DOWN, aligned_edge=LEFT, buff=0.3)
        fit_width(notes, 13).next_to(legend, DOWN, buff=0.5)
        widths = self.channel_widths(example).next_to(notes, DOWN, buff=0.3)
        self.figure = Group(columns, legend, notes, widths)
        appear(self, columns, legend)
        appear(self, notes)
        appear(self, widths)
        set_caption(
            self,
            f"{sum(len(b) for b in grouped.values())} residual blocks in {len(grouped)} stages, as the model runs them",
            f"단계 {len(grouped)}개에 걸친 잔차 블록 {sum(len(b) for b in grouped.values())}개를 모델이 실행하는 그대로 보여 줍니다",
        )

    # -- step 5: degradation, from the committed experiment ---------------------------------

    def show_degradation(self) -> None:
        """Training loss of plain vs residual nets of each depth, from ``explain/models/results/degradation.safetensors``."""
        from explain.draw.charts import LineChart, Series
        from explain.figures.experiments import degradation_results

        disappear(self, self.figure)
        runs = degradation_results()
        self.shown["degradation"] = runs
        colors = [theme.POSITIVE, theme.HIGHLIGHT, theme.GRADIENT]
        top = 0.5 * -(-max(max(c) for c in runs.plain + runs.residual) // 0.5)
        last = 100 * -(-runs.step[-1] // 100)
        charts = Group()
        for kind, curves, heading in (("plain", runs.plain, self.say("plain", "평범한 망")), ("residual", runs.residual, self.say("residual", "잔차 망"))):
            series = [Series(self.say(f"{layers} layers", f"{layers}층"), runs.step, curve, color) for layers, curve, color in zip(runs.layers, curves, colors)]
            chart = LineChart(
                series, x_ticks=[0, last // 2, last], y_ticks=[0, top / 2, top], width=5.2, height=2.9,
                x_label=self.say("training step", "학습 단계"), y_label=self.say(f"{heading}: training loss", f"{heading}: 학습 손실"),
            )
            charts.add(chart)
        charts.arrange(RIGHT, buff=1.2).next_to(self.title, DOWN, buff=0.4)
        finals = VGroup(
            *[
                self.text(
                    f"{name}: final loss " + ", ".join(f"{layers}: {loss:.3f}" for layers, loss in zip(runs.layers, losses))
                    + "   held-out accuracy " + ", ".join(f"{100 * a:.1f} %" for a in accuracy),
                    f"{name_ko}: 마지막 손실 " + ", ".join(f"{layers}층 {loss:.3f}" for layers, loss in zip(runs.layers, losses))
                    + "   시험 정확도 " + ", ".join(f"{100 * a:.1f} %" for a in accuracy),
                    size=17,
                )
                for name, name_ko, losses, accuracy in (
                    ("plain", "평범한 망", runs.plain_final, runs.plain_accuracy),
                    ("residual", "잔차 망", runs.residual_final, runs.residual_accuracy),
                )
            ],
            self.text(f"{runs.meta['network']}", size=15, color=theme.MUTED),
            self.text(f"{runs.meta['data']}; {runs.meta['optimizer']}; {runs.meta['seconds']:.0f} s", size=15, color=theme.MUTED),
        ).arrange(DOWN, aligned_edge=LEFT, buff=0.08)
        fit_width(finals, 13.0).next_to(charts, DOWN, buff=0.3)
        appear(self, charts, finals)
        self.figure = Group(charts, finals)
        deep, shallow = runs.layers[-1], runs.layers[0]
        if runs.degrades:
            english = f"Measured: the {deep}-layer plain net ends with a higher training loss than the {shallow}-layer one; with shortcuts it does not"
            korean = f"측정: {deep}층 평범한 망은 {shallow}층보다 학습 손실이 높게 끝나지만, 지름길이 있으면 그렇지 않다"
            if runs.residual_final[-1] > runs.residual_final[0]:
                english = f"Measured: the {deep}-layer nets end with a higher training loss than the {shallow}-layer ones, plain and residual"
                korean = f"측정: {deep}층 망이 {shallow}층보다 학습 손실이 높게 끝난다, 평범한 망도 잔차 망도"
        else:
            english = f"Measured: no degradation at this scale: the {deep}-layer plain net trains as well as the {shallow}-layer one in this short run"
            korean = f"측정: 이 규모에서는 성능 저하가 없다: 짧은 학습에서 {deep}층 평범한 망도 {shallow}층만큼 학습된다"
        set_caption(self, english, korean)


def _plus() -> VGroup:
    circle = Circle(radius=0.24, stroke_color=theme.POINTWISE_STROKE, stroke_width=2).set_fill(theme.POINTWISE_FILL, opacity=1)
    return VGroup(circle, Text("+", font=theme.FONT, font_size=30, color=theme.INK).move_to(circle))


def _arrow(start, end) -> Arrow:
    return Arrow(start.get_right(), end.get_left(), buff=0.1, color=theme.MUTED, stroke_width=2.5, tip_length=0.14)


def _legend_square(color) -> RoundedRectangle:
    return RoundedRectangle(corner_radius=0.05, width=0.3, height=0.3, stroke_color=color, stroke_width=2).set_fill(color, opacity=0.9)


