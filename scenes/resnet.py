"""ResNet (figure 10): the residual idea, the book's bottleneck block with real maps, the stages.

    explain render resnet --still                               # stages, bottleneck, the book's quirks
    explain render resnet --module layer_3.1 --channels 7 --stop-after 2 --still

Steps: (1) the idea: deeper plain stacks trained worse, so a block learns F(x) and adds x back;
(2) a block (``options["module"]``, default the first) with the real x, F(x), shortcut and sum
maps, every operation of its body and shortcut (convs with the BatchNorm and activations after
them), and one pixel's addition in numbers; (3) the first block whose stride changes the shape, its
projection shortcut drawn dotted; (4) the stages, where each downsamples, and the bottleneck's
channels. Blocks are read by :mod:`explain.figures.residual` from the recorded data flow, so a
body written inline (torchvision's BasicBlock) and the book's quirks (ReLU before the addition and
none after, a 1×1 projection on every shortcut, downsampling at the END of a stage) are drawn as
the code runs. (5) Degradation measured: training-loss
curves of plain and residual networks of 8, 20 and 44 layers, read from the committed experiment
(``python -m explain.models.experiments degradation``), not from the trace; the caption says
what the runs show, deepest against shallowest, plain and residual, and a line under the charts
why a short run's "worse" can mean "not started" (:func:`explain.figures.experiments.degradation_verdict`).
"""

from __future__ import annotations

from manim import DOWN, LEFT, RIGHT, UP, Arrow, Circle, DashedLine, Group, Line, Rectangle, RoundedRectangle, Text, VGroup

from explain.draw import theme
from explain.draw.base import SceneInputError, TraceScene
from explain.draw.cnn_parts import (
    chosen_module,
    StackedMap,
    check_channels,
    chosen_channel,
    chosen_step,
    fit_width,
    label_under,
    operation_text,
    relative_legend,
    next_step,
    run_steps,
    weights_note,
)
from explain.draw.fades import appear
from explain.draw.feature_maps import format_shape
from explain.draw.layers import LayerBox
from explain.draw.strip import format_value
from explain.glossary import term, with_particle
from explain.figures.layers import recorded_structure
from explain.figures.errors import refuse_nan
from explain.figures.residual import (
    Residual,
    addition_at,
    downsampling_place,
    first_downsampling,
    is_bottleneck,
    observed_quirks,
    residual,
    residual_modules,
    stages,
)
from explain.trace import Trace
from explain.scenes import SceneSpec

__all__ = ["conv_boxes", "ResNetScene", "SCENES", "short", "STEPS"]

STEPS = ("show_idea", "show_block", "show_downsampling", "show_stages", "show_degradation")

SCENES = [SceneSpec("resnet", "ResNetScene", "ResNet: residual blocks with real x, F(x), shortcut and sum; measured plain vs residual training (figure 10)", "resnet50")]


def short(op, lang: str = "en") -> str:
    """An operation in a box: "BN", "ReLU", "dropout", "max-pool 3×3" (a conv is written by its numbers)."""
    if op.kind == "batch_norm":
        return "BN" if lang != "ko" else term("batch-norm", "ko")
    if op.kind == "dropout":
        return operation_text("dropout", lang)
    return operation_text(op.text, lang).split(",")[0]


def conv_boxes(ops, lang: str = "en") -> list[str]:
    """One label per conv with the operations after it ("3×3 64→64, /2\n+ BN + ReLU"); operations
    before the first conv get their own label."""
    labels: list[list[str]] = []
    for op in ops:
        if op.spec is not None:
            conv = op.spec
            stride = f", /{conv.stride[0]}" if conv.stride[0] > 1 else ""
            labels.append([f"{conv.kernel_text} {conv.in_channels}→{conv.out_channels}{stride}"])
        elif labels:
            labels[-1].append(short(op, lang))
        else:
            labels.append([short(op, lang)])
    return [label[0] + ("\n+ " + " + ".join(label[1:]) if len(label) > 1 else "") for label in labels]


class ResNetScene(TraceScene):
    """The book's ResNet-50 blocks with their real parts; ``options["module"]`` picks the block."""

    OPTIONS = frozenset({"module", "channels", "step"})

    @classmethod
    def chosen_block(cls, trace: Trace, options: dict) -> str:
        return chosen_module(options, residual_modules(trace), scene="resnet", kind="residual blocks", example="layer_2.0@sum", found=recorded_structure(trace))

    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        refuse_nan(trace)
        chosen_step(options, len(STEPS))
        name = cls.chosen_block(trace, options)
        try:
            block = residual(trace, name)
        except (ValueError, KeyError) as error:
            raise SceneInputError(f"the resnet scene cannot read {name!r}: {error}") from None
        check_channels(options, block.shapes["sum"][0])

    def construct(self):
        self.check(self.trace, self.options)
        self.block = residual(self.trace, self.chosen_block(self.trace, self.options))
        self.shown: dict = {}
        self.figure = None
        self.title = self.text("ResNet: learn F(x), add x back", "ResNet: F(x)를 배우고 x를 다시 더합니다", size=30).to_edge(UP, buff=0.3)
        self.add(self.title, *filter(None, [weights_note(self)]))
        run_steps(self, [getattr(self, step) for step in STEPS], still=STEPS.index("show_stages") + 1)  # the model's own last frame

    # -- step 1: the idea ---------------------------------------------------------------------

    def show_idea(self) -> None:
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
        next_step(self, ("The idea behind the residual block", "잔차 블록의 아이디어"), leaving=[self.figure], arriving=[lines])
        appear(self, schema)
        self.figure = Group(lines, schema)

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
        block = self.block
        last = short(block.body[-1]) if block.body else "F"
        english = [f"F(x) ends with {last}, before the add"]
        korean = [f"F(x)는 더하기 전에 {with_particle(short(block.body[-1], 'ko') if block.body else 'F', '로')} 끝납니다"]
        if block.projection:
            english.append(f"the shortcut is a {block.shortcut_conv.kernel_text} conv")
            korean.append(f"지름길은 {block.shortcut_conv.kernel_text} 합성곱입니다")
        else:
            english.append("the shortcut is x itself")
            korean.append("지름길은 x 그대로입니다")
        self.show_residual(block, (f"{block.name}: " + "; ".join(english), f"{block.name}: " + ". ".join(korean)))

    def show_downsampling(self) -> None:
        name = first_downsampling(self.trace)
        if name is None:
            next_step(self, ("No block of this trace changes the map size", "이 기록에는 맵 크기를 바꾸는 블록이 없습니다"))
            return
        block = residual(self.trace, name)
        conv = block.shortcut_conv
        what = f"a {conv.kernel_text} projection with stride {conv.stride[0]}" if conv is not None else " + ".join(short(op) for op in block.shortcut)
        what_ko = f"스트라이드 {conv.stride[0]}인 {conv.kernel_text} 투영" if conv is not None else " + ".join(short(op, "ko") for op in block.shortcut)
        self.show_residual(
            block,
            (
                f"{name}: stride {block.stride} shrinks the map {format_shape(block.shapes['x'])} → {format_shape(block.shapes['sum'])}, so the shortcut is {what} (dotted)",
                f"{name}: 스트라이드 {with_particle(str(block.stride), '로')} 맵이 {format_shape(block.shapes['x'])} → "
                f"{with_particle(format_shape(block.shapes['sum']), '이')} 되므로 지름길은 {what_ko}입니다(점선)",
            ),
        )

    def show_residual(self, block: Residual, caption: tuple[str, str]) -> None:
        """The figure of ``block`` replaces the previous one, with its caption."""
        figure = self.block_figure(block)
        next_step(self, caption, leaving=[self.figure], arriving=[figure])
        self.figure = figure

    def body_boxes(self, block: Residual) -> VGroup:
        boxes = VGroup(*[LayerBox(label, kind="conv", width=1.75, height=0.75, size=17) for label in conv_boxes(block.body, self.lang)])
        return boxes.arrange(RIGHT, buff=0.35)

    def block_figure(self, block: Residual) -> Group:
        values = addition_at(self.trace, block.name, chosen_channel(self.options, block.shapes["sum"][0]))
        self.shown[block.name] = values
        channel = values["channel"]
        height = 1.35
        # an identity shortcut adds x itself: x shows the channel the sum does; a projection mixes
        # x's channels, so x shows its strongest one, named under it
        x_map = StackedMap(self.trace[f"{block.name}@x"][0].numpy(), channel=None if block.shortcut else channel, height=height)
        parts = {
            part: StackedMap(self.trace[f"{block.name}@{part}"][0].numpy(), channel=channel, height=height)
            for part in ("fx", "shortcut", "sum")
        }
        body = self.body_boxes(block)
        plus = _plus()
        top = Group(x_map, body, parts["fx"], plus, parts["sum"]).arrange(RIGHT, buff=0.45)
        fit_width(top, 13.2).next_to(self.title, DOWN, buff=0.55)
        dotted = block.stride > 1
        shortcut = self.trace.meta["structure"][block.name].get("shortcut")
        name = shortcut.rpartition(".")[2] if shortcut else "identity"
        text = "\n".join([*conv_boxes(block.shortcut, self.lang), name]) if block.shortcut else name
        shortcut_box = LayerBox(text, kind="conv" if block.shortcut else "data", width=2.2, height=0.75 + 0.25 * bool(block.shortcut), size=17)
        shortcut_box.move_to([body.get_x(), top.get_bottom()[1] - 1.2, 0])
        parts["shortcut"].move_to([parts["fx"].get_x(), shortcut_box.get_y(), 0])
        labels = VGroup(
            label_under(x_map, f"x {format_shape(block.shapes['x'])}" + (self.say(f"\nchannel {x_map.channel}", f"\n채널 {x_map.channel}") if block.shortcut else ""), size=15),
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
        shortcut_call = f"{name}(x)" if shortcut else "x"
        code = f"out = F(x) + {shortcut_call}"
        for op in block.after_add:
            code = f"out = {short(op)}(F(x) + {shortcut_call})" if op is block.after_add[0] else code.replace("out = ", f"out = {short(op)}(", 1) + ")"
        equation = Text(code, font=theme.MONO_FONT, font_size=20, color=theme.INK)
        if block.unrecorded_after_add:
            after = (f"  — {block.unrecorded_after_add.en}", f"  — {block.unrecorded_after_add.ko}")
        elif block.after_add:
            then = " + ".join(short(op) for op in block.after_add)
            after = (f"  — then {then} after the add", f"  — 더한 뒤에 {' + '.join(short(op, 'ko') for op in block.after_add)}")
        else:
            after = ("  — the block returns the sum: nothing after the add", "  — 블록은 합을 그대로 내보냅니다. 더한 뒤에는 아무것도 없습니다")
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
        # right of the arrow that brings s(x) up into ⊕, under the sum
        legend = relative_legend(self, length=1.4, width=1.6)
        legend.move_to([parts["sum"].get_x(), shortcut_box.get_y(), 0]).shift(RIGHT * max(0.0, plus.get_right()[0] + 0.15 - legend.get_left()[0]))
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
            + (self.say("   (bottleneck: compress, 3×3, expand)", "   (병목: 압축, 3×3, 확장)") if is_bottleneck(body) else ""),
            size=21,
        )
        quirks = VGroup(  # Pango markup: code in <tt>
            *[self.text(f"• {en}", f"• {ko}", size=19, markup=True) for en, ko in observed_quirks(self.trace, grouped)]
        )
        quirks.arrange(DOWN, aligned_edge=LEFT, buff=0.12)
        notes = VGroup(bottleneck, quirks).arrange(DOWN, aligned_edge=LEFT, buff=0.3)
        fit_width(notes, 13).next_to(legend, DOWN, buff=0.5)
        widths = self.channel_widths(example).next_to(notes, DOWN, buff=0.3)
        count = sum(len(b) for b in grouped.values())
        next_step(
            self,
            (
                f"{count} residual blocks in {len(grouped)} stages, as the model runs them",
                f"단계 {len(grouped)}개에 걸친 잔차 블록 {count}개를 모델이 실행하는 그대로 보여 줍니다",
            ),
            leaving=[self.figure],
            arriving=[columns, legend],
        )
        appear(self, notes)
        appear(self, widths)
        self.figure = Group(columns, legend, notes, widths)

    # -- step 5: degradation, from the committed experiment ---------------------------------

    def show_degradation(self) -> None:
        """Training loss of plain vs residual nets of each depth, from ``explain/models/results/degradation.safetensors``."""
        from explain.draw.charts import LineChart, Series
        from explain.figures.experiments import degradation_results, degradation_verdict, run_settings

        runs = degradation_results()
        caption, why = degradation_verdict(runs)
        self.shown["degradation"] = runs
        colors = [theme.POSITIVE, theme.HIGHLIGHT, theme.GRADIENT]
        top = 0.5 * -(-max(max(c) for c in runs.plain + runs.residual) // 0.5)
        low = 0.5 * (min(min(c) for c in runs.plain + runs.residual) // 0.5)
        last = 100 * -(-runs.step[-1] // 100)
        charts = Group()
        for kind, curves, heading in (("plain", runs.plain, self.say("plain", "평범한 망")), ("residual", runs.residual, self.say("residual", "잔차 망"))):
            series = [Series(self.say(f"{layers} layers", f"{layers}층"), runs.step, curve, color) for layers, curve, color in zip(runs.layers, curves, colors)]
            chart = LineChart(
                series, x_ticks=[0, last // 2, last], y_ticks=[low, (low + top) / 2, top], width=5.2, height=2.9,
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
            self.text(
                "6n+2 layers, 8/16/32 channels, batch-norm; residual: + the block's input (1×1 projection where the shape changes)",
                "6n+2층, 8/16/32 채널, 배치 정규화; 잔차 망: 블록의 입력을 더함 (모양이 바뀌면 1×1 투영)",
                size=15, color=theme.MUTED,
            ),
            self.text(*run_settings(runs.meta), size=15, color=theme.MUTED),
            self.text(why.en, why.ko, size=15, color=theme.MUTED),
        ).arrange(DOWN, aligned_edge=LEFT, buff=0.08)
        fit_width(finals, 13.0).next_to(charts, DOWN, buff=0.3)
        next_step(self, (caption.en, caption.ko), leaving=[self.figure], arriving=[charts, finals])
        self.figure = Group(charts, finals)


def _plus() -> VGroup:
    circle = Circle(radius=0.24, stroke_color=theme.POINTWISE_STROKE, stroke_width=2).set_fill(theme.POINTWISE_FILL, opacity=1)
    return VGroup(circle, Text("+", font=theme.FONT, font_size=30, color=theme.INK).move_to(circle))


def _arrow(start, end) -> Arrow:
    return Arrow(start.get_right(), end.get_left(), buff=0.1, color=theme.MUTED, stroke_width=2.5, tip_length=0.14)


def _legend_square(color) -> RoundedRectangle:
    return RoundedRectangle(corner_radius=0.05, width=0.3, height=0.3, stroke_color=color, stroke_width=2).set_fill(color, opacity=0.9)


