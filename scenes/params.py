"""Parameter arithmetic (figure 11): filters, parameters and memory of any recorded CNN layer.

    $ explain render parameters --still
    $ explain render parameters --module layer.5 --lang ko
    $ explain render parameters --trace vgg.safetensors --layer 3     # the 4th conv/linear layer

For the chosen layer (option ``module``, a qualified name, or ``layer``, the index among the
layers with parameters; default the first convolution) the scene builds the slide's arithmetic:
one filter's weights and bias, all filters' parameters, parameter memory and feature-map memory at
4 bytes per float, and the multiply-adds of one image. Configurations come from the trace's
``meta["modules"]`` and shapes from its recorded outputs. Then the slide's own example beside the
layer (an 11×11×3 filter has 364 parameters with its bias, 96 of them 34,944; memory in bytes,
see :func:`explain.figures.params.book_example`), and a table of every layer, each memory column
in one unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from manim import DOWN, LEFT, RIGHT, UP, Group, Line, Rectangle, Text, VGroup

from explain.draw import theme
from explain.draw.base import SceneInputError, TraceScene
from explain.draw.cnn_parts import chosen_step, fit_width, next_step, operation_text, thousands
from explain.draw.feature_maps import FeatureMap, format_shape
from explain.draw.strip import ScaleBar
from explain.figures.layers import POOLS, conv_spec, description, is_function, kind, leaf_outputs, operation
from explain.glossary import term, with_particle
from explain.figures.params import (
    ARITHMETIC_ROWS,
    BOOK_EXAMPLE,
    BYTES_PER_FLOAT,
    LayerArithmetic,
    arithmetic_cells,
    book_example,
    bytes_text,
    memory_column,
)
from explain.trace import Trace
from explain.scenes import SceneSpec

__all__ = [
    "arithmetic_lines",
    "chosen_layer",
    "conv_shares",
    "layer_arithmetic",
    "layer_table",
    "parameter_layers",
    "ParametersScene",
    "SCENES",
    "share_text",
    "STEPS",
    "TABLE_ROWS",
    "TOTAL_LINES",
    "UNLISTED",
    "unlisted_steps",
]

SCENES = [
    SceneSpec("parameters", "ParametersScene", "Parameter arithmetic of a CNN layer: filters, parameters, memory (figure 11)", "mnist-cnn"),
]

#: the scene's steps in order (``--stop-after N`` plays the first N)
STEPS = ("show_filter", "count_parameters", "count_memory", "beside_the_book", "show_table")
#: the lines that give a total (parameters, feature-map memory) are highlighted
TOTAL_LINES = (1, 4)
#: kinds the layer table leaves out: their output has as many values as their input
UNLISTED = ("activation", "dropout", "identity", "flatten", "softmax")
#: rows of the layer table before the rest is summarised in one line
TABLE_ROWS = 12


def layer_arithmetic(trace: Trace, name: str) -> LayerArithmetic:
    """The arithmetic of layer ``name`` from ``meta["modules"]`` and its recorded output.

    >>> import torch
    >>> tr = Trace({"c": torch.zeros(1, 96, 55, 55)}, meta={"modules": {"c": {
    ...     "type": "Conv2d", "kind": "conv2d", "in_channels": 3, "out_channels": 96, "kernel": [11, 11], "stride": [4, 4], "bias": True}}})
    >>> a = layer_arithmetic(tr, "c")
    >>> a.per_filter, a.parameters, a.parameter_bytes
    (364, 34944, 139776)
    """
    facts = description(trace, name)
    if name not in trace or not facts:
        raise SceneInputError(f"{name!r} is not a recorded, described module or function of this trace")
    output_shape = tuple(int(size) for size in trace[name].shape[1:])
    # a function a forward called (F.max_pool2d) is named as it is called
    type_ = f"F.{facts['op']}" if is_function(name) else str(facts.get("type", "?"))
    if kind(trace, name) == "conv2d":
        spec = conv_spec(trace, name)
        filter_shape = (spec.kernel[0], spec.kernel[1], spec.in_channels // spec.groups)
        arithmetic = LayerArithmetic(name, type_, filter_shape, spec.bias, spec.out_channels, output_shape)
    elif kind(trace, name) == "linear":
        bias = bool(facts.get("bias", True))
        arithmetic = LayerArithmetic(name, type_, (int(facts["in_features"]),), bias, int(facts["out_features"]), output_shape)
    else:
        arithmetic = LayerArithmetic(name, type_, (), False, 0, output_shape)
    _check_against_weights(trace, arithmetic)
    return arithmetic


def _check_against_weights(trace: Trace, arithmetic: LayerArithmetic) -> None:
    """Where the kernel was recorded, its size must be what the configuration says."""
    weight = f"{arithmetic.name}@weight"
    if weight in trace and trace[weight].numel() != arithmetic.filters * arithmetic.weights_per_filter:
        raise SceneInputError(
            f"{arithmetic.name}: the recorded kernel has {trace[weight].numel()} weights, its configuration says "
            f"{arithmetic.filters * arithmetic.weights_per_filter}"
        )


def parameter_layers(trace: Trace) -> list[str]:
    """Recorded layers with parameters (convolutions and linear layers), in execution order."""
    return [name for name in leaf_outputs(trace) if kind(trace, name) in ("conv2d", "linear")]


def chosen_layer(trace: Trace, options: Mapping[str, Any]) -> str:
    """The layer the options name: ``module`` (qualified name) or ``layer`` (index among parameter layers)."""
    layers = parameter_layers(trace)
    if not any(kind(trace, name) == "conv2d" for name in layers):
        modules = trace.meta.get("modules", {})
        leaves = sorted(name for name in modules if name and not any(other.startswith(name + ".") for other in modules))
        found = ", ".join(f"{name} ({modules[name].get('type')})" for name in leaves) or "no described module"
        raise SceneInputError(f"the parameters figure counts a CNN's layers and this trace has no Conv2d; it has {found}")
    if options.get("module") is not None:
        name = str(options["module"])
        if name not in layers:
            raise SceneInputError(f"{name!r} is not a conv or linear layer of this trace; choose one of: {', '.join(layers)}")
        return name
    index = int(options.get("layer", 0))
    if not -len(layers) <= index < len(layers):
        raise SceneInputError(f"layer {index} does not exist: the trace has {len(layers)} conv/linear layers (0–{len(layers) - 1})")
    return layers[index]


def layer_table(trace: Trace) -> tuple[list[LayerArithmetic], list[str]]:
    """Convolutions, linear layers and poolings in execution order, and the other types left out.

    Activations are left out silently (their maps have the size of the layer before); any other
    type (e.g. BatchNorm2d, whose parameters this table does not count) is named in the second list.
    """
    modules = trace.meta.get("modules", {})
    rows, uncounted = [], []
    for name in leaf_outputs(trace):
        facts = modules.get(name, {})
        if kind(trace, name) in ("conv2d", "linear", *POOLS):
            rows.append(layer_arithmetic(trace, name))
        elif name in modules and kind(trace, name) not in UNLISTED and facts.get("type") not in uncounted:
            uncounted.append(str(facts.get("type")))
    return rows, uncounted


def unlisted_steps(trace: Trace) -> list[str]:
    """The steps the table leaves out because they keep their input's size, each named once.

    >>> import torch, explain
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.GELU(), torch.nn.Dropout(), torch.nn.Flatten())
    >>> unlisted_steps(explain.record(net.eval(), torch.zeros(1, 1, 5, 5)))
    ['GELU', 'dropout', 'flatten']
    """
    names = [operation(trace, name) for name in leaf_outputs(trace) if kind(trace, name) in UNLISTED]
    return list(dict.fromkeys(text.split(" p=")[0] for text in names))


def conv_shares(rows: list[LayerArithmetic]) -> tuple[float, float]:
    """The convolutions' share of all parameters and of all listed feature-map memory.

    >>> rows = [LayerArithmetic("c", "Conv2d", (3, 3, 1), True, 2, (2, 4, 4)), LayerArithmetic("f", "Linear", (32,), True, 1, (1,))]
    >>> [round(share, 2) for share in conv_shares(rows)]           # 20 of 53 parameters, 128 of 132 bytes
    [0.38, 0.97]
    """
    convs = [r for r in rows if r.is_convolution]
    parameters = sum(r.parameters for r in rows)
    maps = sum(r.output_bytes for r in rows)
    return (
        sum(r.parameters for r in convs) / parameters if parameters else 0.0,
        sum(r.output_bytes for r in convs) / maps if maps else 0.0,
    )


def share_text(share: float) -> str:
    """A share in whole percent, with one decimal where whole percent would round a part to 0% or 100%.

    >>> share_text(0.38), share_text(0.9963), share_text(1.0), share_text(0.004)
    ('38%', '99.6%', '100%', '0.4%')
    """
    whole = f"{share:.0%}"
    return f"{share:.1%}" if whole in ("0%", "100%") and 0 < share < 1 else whole


def arithmetic_lines(a: LayerArithmetic, lang: str = "en") -> list[str]:
    """The slide's lines for layer ``a``, in order, in English or Korean.

    >>> a = LayerArithmetic("c", "Conv2d", (11, 11, 3), True, 96, (96, 55, 55))
    >>> arithmetic_lines(a)[:2]
    ['one filter: 11×11×3 = 363 weights + 1 bias = 364', '96 filters × 364 = 34,944 parameters']
    """
    ko = lang == "ko"
    if not a.filters:
        return [
            f"{a.type}: 학습되는 파라미터 0개" if ko else f"{a.type}: no parameters to learn",
            _map_line(a, ko),
            _map_memory_line(a, ko),
        ]
    # a conv filter's size is a product worth writing out (5×5×16 = 400); a unit's is its input count
    shape = "×".join(map(str, a.filter_shape)) + " = " if len(a.filter_shape) > 1 else ""
    bias = (" + 편향 1" if ko else " + 1 bias") if a.bias else ""
    unit = term("filter" if a.is_convolution else "unit", lang)
    lines = [
        f"{unit} 하나: {shape}가중치 {thousands(a.weights_per_filter)}{bias} = {thousands(a.per_filter)}"
        if ko
        else f"one {unit}: {shape}{thousands(a.weights_per_filter)} weights{bias} = {thousands(a.per_filter)}",
        f"{unit} {a.filters}개 × {thousands(a.per_filter)} = 파라미터 {thousands(a.parameters)}개"
        if ko
        else f"{a.filters} {unit}s × {thousands(a.per_filter)} = {thousands(a.parameters)} parameters",
        f"파라미터 메모리: {thousands(a.parameters)} × 4 B = {bytes_text(a.parameter_bytes)}"
        if ko
        else f"parameter memory: {thousands(a.parameters)} × 4 B = {bytes_text(a.parameter_bytes)}",
        _map_line(a, ko),
        _map_memory_line(a, ko),
        f"곱셈-덧셈: {thousands(a.output_values)} × {thousands(a.weights_per_filter)} = {thousands(a.multiply_adds)}"
        if ko
        else f"multiply-adds: {thousands(a.output_values)} × {thousands(a.weights_per_filter)} = {thousands(a.multiply_adds)}",
    ]
    return lines


def _map_line(a: LayerArithmetic, ko: bool) -> str:
    shape = " × ".join(map(str, a.output_shape)) + " = " if len(a.output_shape) > 1 else ""
    return f"출력: {shape}값 {thousands(a.output_values)}개" if ko else f"output: {shape}{thousands(a.output_values)} values"


def _map_memory_line(a: LayerArithmetic, ko: bool) -> str:
    memory = bytes_text(a.output_bytes)
    if ko:
        what = "특징 맵 메모리" if len(a.output_shape) == 3 else "출력 메모리"
        return f"{what}: {thousands(a.output_values)} × 4 B = {memory} (이미지 한 장당)"
    what = "feature-map memory" if len(a.output_shape) == 3 else "output memory"
    return f"{what}: {thousands(a.output_values)} × 4 B = {memory} per image"


# -- the scene ---------------------------------------------------------------------------------


class ParametersScene(TraceScene):
    """Figure 11's arithmetic for one layer, then every layer in a table (issue 5, scene 6).

    ``self.shown`` holds the chosen layer's :class:`LayerArithmetic`, its lines, the slide's example
    and the comparison's rows, the table rows and its memory columns (one unit each).
    """

    OPTIONS = frozenset({"module", "layer", "step"})

    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        layer_arithmetic(trace, chosen_layer(trace, options))
        chosen_step(options, len(STEPS))

    def construct(self) -> None:
        name = chosen_layer(self.trace, self.options)
        self.shown: dict[str, Any] = {"layer": layer_arithmetic(self.trace, name)}
        self.title = None
        steps = [getattr(self, step) for step in STEPS]
        last = chosen_step(self.options, len(steps))
        first = last - 1 if self.is_still and last >= 4 else 0  # the comparison and the table stand alone
        for step in steps[first:last]:
            step()
            self.pause()

    # -- step 1: the layer and one filter
    def show_filter(self) -> None:
        a = self.shown["layer"]
        self.filter_picture = self.picture(a).move_to([-4.6, 0.5, 0])
        self.lines = VGroup()
        self.shown["lines"] = arithmetic_lines(a, self.lang)
        caption = self.filter_caption(a) if a.filters else ("Pooling and activations have nothing to learn.", "풀링과 활성화 함수에는 학습할 값이 없습니다.")
        next_step(self, caption, title=self.title_line(self.layer_title(a)), arriving=[self.filter_picture, *self.more_lines(1)])

    # -- step 2: all filters
    def count_parameters(self) -> None:
        a = self.shown["layer"]
        caption = ("Each filter has its own weights and bias; 4 bytes per float32.", "필터마다 가중치와 편향이 따로 있고, float32 하나는 4바이트입니다.")
        next_step(self, caption, arriving=self.more_lines(3 if a.filters else 1))

    # -- step 3: memory and compute
    def count_memory(self) -> None:
        a = self.shown["layer"]
        caption = ("Outputs cost memory for every image; the parameters are stored once.", "출력은 이미지마다 메모리를 쓰고, 파라미터는 한 번만 저장됩니다.")
        next_step(self, caption if a.filters else None, arriving=self.more_lines(len(self.shown["lines"])))

    # -- step 4: the slide's example beside the recorded layer
    def beside_the_book(self) -> None:
        a, book = self.shown["layer"], book_example()
        self.shown["book"] = book
        title = self.title_line(self.say(f"{a.name} beside the slide's example", f"슬라이드의 예와 비교: {a.name}"))
        names = {
            "filter": ("one filter (+ bias)", "필터 하나 (+ 편향)"),
            "parameters": ("filters × per filter", "필터 수 × 필터당"),
            "parameter_bytes": ("parameter memory", "파라미터 메모리"),
            "output": ("output values", "출력 값"),
            "output_bytes": ("feature-map memory (one image)", "특징 맵 메모리 (이미지 한 장당)"),
        }
        header = [self.say("4 bytes per float", "float32 하나에 4바이트"), f"{a.name} ({a.type})",
                  self.say(f"the slide: {book.filters} filters", f"슬라이드: 필터 {book.filters}개")]
        rows = [[self.say(*names[key]), arithmetic_cells(a)[key], arithmetic_cells(book)[key]] for key in ARITHMETIC_ROWS]
        self.shown["comparison"] = rows
        grid = self.grid(header, rows)
        image, stride, side = BOOK_EXAMPLE["image"], BOOK_EXAMPLE["stride"], book.output_shape[1]
        note = self.text(
            f"AlexNet's first layer: a {side}×{side} output from a {image}×{image} image at stride {stride}",
            f"AlexNet의 첫 층: {image}×{image} 이미지에 {term('stride', 'ko')} {stride}로 {side}×{side} 출력",
            size=18, color=theme.MUTED,
        ).next_to(grid, DOWN, buff=0.35)
        caption = (
            f"The slide's example: {book.filters} filters × {book.per_filter} = {book.parameters:,} parameters, "
            f"{bytes_text(book.parameter_bytes)} at 4 bytes each.",
            f"슬라이드의 예: 필터 {book.filters}개 × {book.per_filter} = 파라미터 {book.parameters:,}개, "
            f"4바이트씩 {bytes_text(book.parameter_bytes)}입니다.",
        )
        next_step(self, caption, title=title, leaving=self.figures(), arriving=[grid, note])

    def grid(self, header: list[str], rows: list[list[str]]) -> VGroup:
        """Rows of cells under a header: names left-aligned, arithmetic right-aligned; totals highlighted."""
        cells = [[Text(text, font=theme.FONT, font_size=20, color=theme.MUTED) for text in header]]
        cells += [[Text(row[0], font=theme.FONT, font_size=20, color=theme.INK)]
                  + [Text(text, font=theme.MONO_FONT, font_size=20, color=theme.INK) for text in row[1:]] for row in rows]
        widths = [max(row[c].width for row in cells) for c in range(len(header))]
        grid, x = VGroup(), 0.0
        for c, width in enumerate(widths):
            for r, row in enumerate(cells):
                cell = row[c]
                cell.move_to([x, -0.62 * r, 0], aligned_edge=LEFT if c == 0 else RIGHT).shift(RIGHT * (0 if c == 0 else width))
                if r and ARITHMETIC_ROWS[r - 1] in ("parameters", "output_bytes") and c:
                    cell.set_color(theme.HIGHLIGHT)
                grid.add(cell)
            x += width + 0.6
        grid.add(Line([-0.1, -0.31, 0], [x - 0.5, -0.31, 0], stroke_width=1.5, color=theme.MUTED))
        return fit_width(grid, 13.2).move_to([0, 0.4, 0])

    # -- step 5: every layer
    def show_table(self) -> None:
        a = self.shown["layer"]
        rows, uncounted = layer_table(self.trace)
        self.shown["table"] = rows
        title = self.title_line(self.say("Every layer of the model", "모델의 모든 층") + f" ({self.trace.meta.get('model', '')})")
        total_parameters = sum(r.parameters for r in rows)
        total_maps = sum(r.output_bytes for r in rows)
        # one unit per memory column, chosen by its largest entry (the total)
        parameter_unit, parameter_memory = memory_column([r.parameter_bytes for r in rows] + [total_parameters * BYTES_PER_FLOAT])
        map_unit, map_memory = memory_column([r.output_bytes for r in rows] + [total_maps])
        self.shown["memory_columns"] = {"parameters": (parameter_unit, parameter_memory), "maps": (map_unit, map_memory)}
        header = [self.term("layer"), self.say("type", "종류"), self.term("output"), self.term("parameters"),
                  self.say(f"param. memory ({parameter_unit})", f"파라미터 메모리 ({parameter_unit})"),
                  self.say(f"map memory ({map_unit})", f"맵 메모리 ({map_unit})")]
        body = [[r.name, r.type, format_shape(r.output_shape), thousands(r.parameters), parameter_memory[i], map_memory[i]]
                for i, r in enumerate(rows)]
        if len(body) > TABLE_ROWS:
            hidden = len(body) - TABLE_ROWS + 1
            body = body[: TABLE_ROWS - 1] + [[self.say(f"… {hidden} more", f"… {hidden}개 더"), "", "", "", "", ""]]
        footer = [self.say("total", "합계"), "", "", thousands(total_parameters), parameter_memory[-1], map_memory[-1]]
        self.shown["totals"] = (total_parameters, total_maps)
        table = self.table(header, body, footer, uncounted, unlisted_steps(self.trace), highlight=next((i for i, r in enumerate(body) if r[0] == a.name), None))
        conv_parameters, conv_maps = (share_text(share) for share in conv_shares(rows))
        caption = (
            f"Convolutions hold {conv_parameters} of the parameters and make {conv_maps} of the map memory.",
            f"합성곱층이 파라미터의 {conv_parameters}, 맵 메모리의 {with_particle(conv_maps, '를')} 차지합니다.",
        )
        next_step(self, caption, title=title, leaving=self.figures(), arriving=[table])

    # -- drawing helpers
    def layer_title(self, a: LayerArithmetic) -> str:
        if a.is_convolution:
            kh, kw, cin = a.filter_shape
            return self.say(f"Parameters of {a.name}: Conv2d({cin} → {a.filters}, {kh}×{kw})", f"{a.name}의 파라미터: Conv2d({cin} → {a.filters}, {kh}×{kw})")
        if a.filters:
            return self.say(f"Parameters of {a.name}: Linear({a.filter_shape[0]} → {a.filters})", f"{a.name}의 파라미터: Linear({a.filter_shape[0]} → {a.filters})")
        return self.say(f"Parameters of {a.name}: {a.type}", f"{a.name}의 파라미터: {a.type}")

    def filter_caption(self, a: LayerArithmetic) -> tuple[str, str]:
        if len(a.filter_shape) == 1:
            inputs = thousands(a.filter_shape[0])
            return (
                f"Each of the {a.filters} units weighs all {inputs} inputs, plus one bias.",
                f"유닛 {a.filters}개가 각각 입력 {inputs}개 모두에 가중치를 두고, 편향을 하나씩 더합니다.",
            )
        shape = "×".join(map(str, a.filter_shape))
        return (
            f"One filter spans {shape}: its kernel over every input channel, plus one bias.",
            f"필터 하나는 {shape} 크기입니다. 모든 입력 채널에 걸친 커널에 편향 1개가 더해집니다.",
        )

    def picture(self, a: LayerArithmetic) -> Group:
        """One filter: the real kernel of filter 0 (if recorded) in front of sheets for its input channels."""
        if not a.filters:
            return Group(Text(a.type, font=theme.FONT, font_size=28, color=theme.INK))
        if not a.is_convolution:
            sheet = Rectangle(width=0.35, height=3.0, stroke_color=theme.LAYER_STROKE, stroke_width=2).set_fill(theme.LAYER_FILL, opacity=1)
            label = Text(f"{a.filter_shape[0]} {self.term('weights')}", font=theme.FONT, font_size=18, color=theme.INK)
            bias = Text(self.say("+ 1 bias", "+ 편향 1") if a.bias else "", font=theme.FONT, font_size=18, color=theme.MUTED)
            times = Text(self.say(f"× {a.filters} units", f"× 유닛 {a.filters}개"), font=theme.FONT, font_size=22, color=theme.HIGHLIGHT)
            label.next_to(sheet, DOWN, buff=0.15)
            return Group(sheet, label, bias.next_to(label, DOWN, buff=0.1), times.next_to(sheet, RIGHT, buff=0.25))
        kh, kw, cin = a.filter_shape
        side = 2.4
        sheets = Group()
        for index in reversed(range(min(cin, 6))):
            sheet = Rectangle(width=side * kw / max(kh, kw), height=side * kh / max(kh, kw), stroke_color=theme.LAYER_STROKE, stroke_width=2)
            sheets.add(sheet.set_fill(theme.LAYER_FILL, opacity=1).shift((UP + RIGHT) * 0.12 * index))
        weight = f"{a.name}@weight"
        legend = Group()
        if weight in self.trace:
            front = FeatureMap(self.trace[weight][0, 0].double().numpy(), height=sheets[-1].height).move_to(sheets[-1])
            sheets.add(front)
            legend = ScaleBar(front.scale_range, length=1.6).with_title(self.say("filter 0, input channel 0", "필터 0, 입력 채널 0"))
            legend.next_to(sheets, UP, buff=0.2)
        shape = Text(f"{kh}×{kw}×{cin}", font=theme.MONO_FONT, font_size=22, color=theme.INK).next_to(sheets, DOWN, buff=0.2)
        bias = Text(self.say("+ 1 bias", "+ 편향 1") if a.bias else "", font=theme.FONT, font_size=18, color=theme.MUTED).next_to(shape, DOWN, buff=0.1)
        times = Text(self.say(f"× {a.filters} filters", f"× 필터 {a.filters}개"), font=theme.FONT, font_size=22, color=theme.HIGHLIGHT)
        times.next_to(sheets, RIGHT, buff=0.25)
        return Group(sheets, shape, bias, times, legend)

    def more_lines(self, count: int) -> list[Text]:
        """The arithmetic lines up to the ``count``-th that are not yet on screen, placed under the others."""
        lines = self.shown["lines"]
        new = VGroup(
            *[Text(line, font=theme.FONT, font_size=24, color=theme.INK) for line in lines[len(self.lines) : count]]
        )
        for line in new:
            previous = self.lines[-1] if len(self.lines) else None
            if previous is None:
                line.move_to([0, 2.1, 0], aligned_edge=LEFT).set_x(-2.0, direction=LEFT)
            else:
                line.next_to(previous, DOWN, aligned_edge=LEFT, buff=0.32)
            fit_width(line, 7.0 - line.get_left()[0])
            self.lines.add(line)
        for index, line in enumerate(new, start=len(self.lines) - len(new)):
            if index in TOTAL_LINES:
                line.set_color(theme.HIGHLIGHT)
        return list(new)

    def table(
        self, header: list[str], body: list[list[str]], footer: list[str], uncounted: list[str], unlisted: list[str], *, highlight: int | None
    ) -> VGroup:
        """Rows of cells in columns (left-aligned names, right-aligned numbers); ``highlight`` marks a body row."""
        rows = [header, *body, footer]
        cells = [[Text(text or " ", font=theme.FONT if i == 0 else theme.MONO_FONT, font_size=18, color=theme.INK) for text in row] for i, row in enumerate(rows)]
        widths = [max(row[c].width for row in cells) for c in range(len(header))]
        row_height, gap = 0.36, 0.35
        table = VGroup()
        x_edges = [sum(widths[:c]) + gap * c for c in range(len(widths))]
        for r, row in enumerate(cells):
            y = -r * row_height
            for c, cell in enumerate(row):
                if c < 3:
                    cell.move_to([x_edges[c], y, 0], aligned_edge=LEFT)
                else:
                    cell.move_to([x_edges[c] + widths[c], y, 0], aligned_edge=RIGHT)
                if r == 0:
                    cell.set_color(theme.MUTED)
                table.add(cell)
        total_width = x_edges[-1] + widths[-1]
        if highlight is not None:
            band = Rectangle(width=total_width + 0.3, height=row_height, stroke_width=0).set_fill(theme.LAYER_FILL, opacity=1)
            table.add_to_back(band.move_to([total_width / 2, -(highlight + 1) * row_height, 0]))
        for r in (1, len(rows) - 1):
            y = -(r - 0.5) * row_height
            table.add(Line([-0.15, y, 0], [total_width + 0.15, y, 0], stroke_width=1.5, color=theme.MUTED))
        left_out = "" if not uncounted else self.say(f" Not counted: {', '.join(uncounted)}.", f" 계산에서 뺀 층: {', '.join(uncounted)}.")
        steps = ", ".join(operation_text(step, self.lang) for step in unlisted)
        not_listed = (
            self.say(f"Not listed, their output has the size of their input: {steps}. ", f"출력 크기가 입력과 같아 표에서 뺀 연산: {steps}. ")
            if unlisted
            else ""
        )
        note = Text(
            not_listed + self.say("Totals are of the listed layers.", "합계는 표에 있는 층의 합입니다.") + left_out,
            font=theme.FONT,
            font_size=16,
            color=theme.MUTED,
        )
        table.scale(min(12.6 / table.width, 5.4 / table.height))
        fit_width(note, 13.0).next_to(table, DOWN, buff=0.3)
        return VGroup(table, note).move_to([0, 0.1, 0])

    def title_line(self, text: str) -> Text:
        """A title at the top of the frame (:func:`explain.draw.cnn_parts.next_step` puts it up)."""
        return fit_width(Text(text, font=theme.FONT, font_size=28, color=theme.INK), 13.4).to_edge(UP, buff=0.25)

    def figures(self) -> list:
        """Everything on screen but the title and the caption: what the next figure replaces."""
        return [m for m in self.mobjects if m is not self.title and m is not getattr(self, "current_caption", None)]
