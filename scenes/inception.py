"""Inception (figure 9): 1×1 convs, the naive module's cost, 1×1 compression, the real branches.

    explain render inception --still                              # branches and concatenation
    explain render inception --module layer_3.0 --stop-after 3 --still   # the compressed module's cost

Steps: (1) a 1×1 conv is a fully connected layer applied to every pixel's channel vector (the
real vectors of one pixel); (2) the naive module (1×1, 3×3, 5×5 and pooling side by side) and
what it costs; (3) the book's module with 1×1 compression before the 3×3/5×5 and after the pool,
and the saving; (4) the four branches' real feature maps and their concatenation. Every count
comes from the trace's layer configs and shapes (see :mod:`explain.figures.inception`).
"""

from __future__ import annotations

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, Arrow, Group, Rectangle, VGroup

from explain.draw import theme
from explain.draw.base import SceneInputError, TraceScene
from explain.draw.cnn_parts import (
    check_channels,
    chosen_module,
    StackedMap,
    chosen_step,
    fit_width,
    label_under,
    millions,
    next_step,
    operation_text,
    relative_legend,
    run_steps,
    weights_note,
    thousands,
)
from explain.draw.fades import appear
from explain.draw.feature_maps import FeatureMapGrid, channels_label, format_shape
from explain.draw.layers import LayerBox
from explain.draw.strip import ValueStrip
from explain.figures.errors import names_or_none, refuse_nan
from explain.glossary import with_particle
from explain.figures.layers import POOLS, recorded_structure
from explain.figures.inception import Inception, concat_modules, inception, unrecorded_in
from explain.trace import Trace
from explain.scenes import SceneSpec

__all__ = [
    "branch_channels",
    "branch_color",
    "BRANCH_COLORS",
    "DEFAULT_CHANNELS",
    "InceptionScene",
    "MAX_CHANNELS",
    "pixel_vectors",
    "SCENES",
    "STEPS",
    "strongest_channels",
    "UNITS",
]

SCENES = [SceneSpec("inception", "InceptionScene", "Inception: 1×1 convs, naive vs compressed cost, real branches (figure 9)", "googlenet")]

BRANCH_COLORS = ["#1F5FA8", "#B7950B", "#C0392B", "#6C3483", "#117864", "#7B7D7D"]


def branch_color(index: int) -> str:
    """The colour of branch ``index`` (they repeat after six)."""
    return BRANCH_COLORS[index % len(BRANCH_COLORS)]
UNITS = 10
MAX_CHANNELS = 8
DEFAULT_CHANNELS = 4
STEPS = ("show_one_by_one", "show_naive", "show_compressed", "show_branches")


def strongest_channels(maps: np.ndarray, count: int) -> list[int]:
    """The ``count`` channels with the largest mean |value|, in channel order (dead ReLU maps left out)."""
    strength = np.abs(maps).reshape(maps.shape[0], -1).mean(axis=1)
    return sorted(int(c) for c in np.argsort(-strength, kind="stable")[: min(count, maps.shape[0])])


def branch_channels(maps: np.ndarray, wanted: int | list[int]) -> list[int]:
    """Channels of one branch to show: a count picks the strongest, a list those the branch has.

    A list none of whose channels the branch has falls back to its strongest channels.
    """
    if isinstance(wanted, int):
        return strongest_channels(maps, wanted)
    present = [int(c) for c in wanted if int(c) < maps.shape[0]]
    return present or strongest_channels(maps, len(list(wanted)))


def pixel_vectors(trace: Trace, module: Inception, source: str, units: int = UNITS) -> dict:
    """One pixel's channel vector before and after the first branch's 1×1 conv (the strongest output pixel)."""
    conv = module.first_one_by_one()
    out = trace[conv.name][0]
    row, col = np.unravel_index(int(out.abs().sum(0).argmax()), out.shape[1:])
    x = trace[source][0][:, row, col]
    return {
        "pixel": (int(row), int(col)),
        "x": x[:units].tolist(),
        "y": out[:units, row, col].tolist(),
        "in_channels": x.shape[0],
        "out_channels": out.shape[0],
        "conv": conv.name,
    }


class InceptionScene(TraceScene):
    """The book's inception module (``options["module"]``, default the first) with real numbers and maps."""

    OPTIONS = frozenset({"module", "channels", "step"})

    @classmethod
    def chosen_module(cls, trace: Trace, options: dict) -> str:
        return chosen_module(options, concat_modules(trace), scene="inception", kind="inception modules", example="layer_2.0@concat", found=recorded_structure(trace))

    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        refuse_nan(trace)
        wanted = options.get("channels", DEFAULT_CHANNELS)
        count = wanted if isinstance(wanted, int) else len(list(wanted))
        if not 1 <= count <= MAX_CHANNELS or (not isinstance(wanted, int) and min(wanted) < 0):
            raise SceneInputError(
                f"option channels is a count (1 to {MAX_CHANNELS}) or up to {MAX_CHANNELS} channel numbers, got {wanted!r}"
            )
        chosen_step(options, len(STEPS))
        name = cls.chosen_module(trace, options)
        try:
            found = inception(trace, name)
        except (ValueError, KeyError) as error:
            raise SceneInputError(f"the inception scene cannot read {name!r}: {error}") from None
        if not isinstance(wanted, int):  # channel numbers: each branch shows those it has
            check_channels(options, max(branch.shape[-3] for branch in found.branches))
        if found.source not in trace:
            raise SceneInputError(f"{name!r} read {found.source!r}, which this trace does not hold (record without a name filter)")
        first = found.first_one_by_one()
        if first is None:
            convs = [f"{c.name} ({c.kernel_text})" for b in found.branches for c in b.convs]
            raise SceneInputError(f"{name!r} has no 1×1 conv that reads its input; its convs: {names_or_none(convs, 4)}")
        if first.name not in trace:
            raise SceneInputError(f"{name!r}: the trace lacks {first.name}'s output (record without a name filter)")

    def construct(self):
        self.check(self.trace, self.options)
        self.module = inception(self.trace, self.chosen_module(self.trace, self.options))
        self.wanted_channels = self.options.get("channels", DEFAULT_CHANNELS)
        self.shown: dict = {"module": self.module}
        self.figure = None
        self.title = self.text(
            f"Inception module {self.module.name}", f"인셉션 모듈 {self.module.name}", size=30
        ).to_edge(UP, buff=0.3)
        self.add(self.title, *filter(None, [weights_note(self)]))
        run_steps(self, [getattr(self, step) for step in STEPS])

    # -- step 1: a 1×1 conv is a per-pixel fully connected layer ------------------------------

    def show_one_by_one(self) -> None:
        source = self.module.source
        values = pixel_vectors(self.trace, self.module, source)
        self.shown["pixel"] = values
        row, col = values["pixel"]
        before = StackedMap(self.trace[source][0].numpy(), height=2.2)
        after = StackedMap(self.trace[values["conv"]][0].numpy(), channel=0, height=2.2)
        marks = [m.front.pixel_rect(row, col) for m in (before, after)]
        x_strip = ValueStrip(values["x"], scale=_range(values["x"]), vertical=True, cell=0.8, cell_height=0.44, show_values=True, digits=2)
        y_strip = ValueStrip(values["y"], scale=_range(values["y"]), vertical=True, cell=0.8, cell_height=0.44, show_values=True, digits=2)
        n_in, n_out = values["in_channels"], values["out_channels"]
        bias = " + b" if self.module.first_one_by_one().bias else ""
        box = LayerBox(f"1×1 {self.term('conv')}\n{n_in}→{n_out}", kind="conv", width=2.0, height=1.0, size=20)
        parts = Group(Group(before, marks[0]), x_strip, box, y_strip, Group(after, marks[1])).arrange(RIGHT, buff=0.8)
        parts.next_to(self.title, DOWN, buff=0.6)
        arrows = VGroup(*[_arrow(a, b) for a, b in zip(parts, parts[1:])])
        labels = VGroup(
            label_under(before, f"{source} {format_shape(self.trace[source].shape[1:])}", size=15, width=before.width + 0.6),
            label_under(x_strip, f"x[:, {row}, {col}]", size=15),
            label_under(y_strip, f"y[:, {row}, {col}]", size=15),
            label_under(after, f"{values['conv']} {format_shape(self.trace[values['conv']].shape[1:])}", size=15, width=after.width + 0.6),
        )
        notes = VGroup(
            self.text(channels_label(range(len(values["x"])), n_in, self.lang), size=14, color=theme.MUTED).next_to(labels[1], DOWN, buff=0.05),
            self.text(channels_label(range(len(values["y"])), n_out, self.lang), size=14, color=theme.MUTED).next_to(labels[2], DOWN, buff=0.05),
        )
        equation = self.text(
            f"y[:, i, j] = W · x[:, i, j]{bias}     W: {n_out}×{n_in}, the same for every pixel (i, j)",
            f"y[:, i, j] = W · x[:, i, j]{bias}     W: {n_out}×{n_in}, 모든 픽셀 (i, j)에 같은 W",
            size=22,
        )
        fit_width(equation, 13).next_to(VGroup(labels, notes), DOWN, buff=0.35)
        fit_width(parts, 13.4)
        figure = Group(parts, arrows, labels, notes, equation)
        next_step(
            self,
            ("A 1×1 convolution is a fully connected layer across channels, applied at every pixel", "1×1 합성곱은 픽셀마다 채널 방향으로 적용하는 완전연결층입니다"),
            leaving=[self.figure],
            arriving=[figure],
        )
        self.figure = figure

    # -- steps 2 and 3: naive and compressed modules with their costs -------------------------

    def diagram(self, compressed: bool) -> Group:
        """Input → four branch rows → concatenation; the book's module, or the naive one."""
        module, c = self.module, self.module.shape_in[0]
        size = f"{module.shape_in[1]}×{module.shape_in[2]}"
        source = LayerBox(f"{self.term('input')} {c}×{size}", kind="data", width=2.3, height=0.5, size=18)
        rows = []
        naive = {conv.name: conv for conv in module.naive_convs()}
        for branch in module.branches:
            cells: list = [None, None]
            if branch.pooled:
                pool = LayerBox(operation_text(branch.pool.text, self.lang).replace(", ", "\n", 1), kind="pool", width=2.1, height=0.62, size=16)
                cells = [pool, self.conv_box(branch.convs[-1])] if compressed else [None, pool]
            elif compressed:
                if len(branch.convs) > 1:
                    cells[0] = self.conv_box(branch.convs[0])
                cells[1] = self.conv_box(branch.convs[-1])
            else:
                cells[1] = self.conv_box(naive[branch.convs[-1].name])
            rows.append(cells)
        channels = module.shape_out[0] if compressed else module.naive_channels()
        target = LayerBox(f"{self.term('concatenate')} {channels}×{size}", kind="data", width=3.1, height=0.5, size=18)
        grid = Group()
        for index, cells in enumerate(rows):
            for column, cell in enumerate(cells):
                if cell is not None:
                    cell.move_to([-2.2 + 2.7 * column, 1.9 - 0.85 * index, 0])
                    grid.add(cell)
        source.move_to([-5.4, 1.9 - 0.85 * 1.5, 0])
        target.move_to([4.6, source.get_y(), 0])
        arrows = VGroup()
        for cells in rows:
            present = [cell for cell in cells if cell is not None]
            chain = [source, *present, target]
            for start, end in zip(chain, chain[1:]):
                arrows.add(_arrow(start.box, end.box, buff=0.08))
        figure = Group(arrows, source, grid, target)
        return figure.next_to(self.title, DOWN, buff=0.45)

    def conv_box(self, conv) -> LayerBox:
        """A conv of the diagram, its multiply-adds at the module's size written under it."""
        cost = millions(conv.multiply_adds(conv.out_size or self.module.size), self.lang)
        return LayerBox(
            f"{conv.kernel_text} {self.term('conv')}, {conv.out_channels}", self.say(f"{cost} mult-adds", f"곱셈-덧셈 {cost}"), kind="conv", width=2.1, height=0.5, size=19
        )

    def cost_lines(self, compressed: bool) -> VGroup:
        module = self.module
        naive, real = module.naive, module.compressed
        if not compressed:
            c = module.shape_in[0]
            widths = " + ".join(str(c if b.pooled else b.shape[0]) for b in module.branches)
            lines = [
                self.text(
                    f"naive: {millions(naive.multiply_adds)} multiply-adds, {thousands(naive.parameters)} parameters",
                    f"단순한 모듈: 곱셈-덧셈 {millions(naive.multiply_adds, 'ko')} 번, 파라미터 {thousands(naive.parameters)}개",
                    size=22,
                ),
                self.text(
                    f"output channels {widths} = {module.naive_channels()}: pooling keeps all {c} input channels",
                    f"출력 채널 {widths} = {module.naive_channels()}: 풀링이 입력 채널 {c}개를 모두 남깁니다",
                    size=22,
                ),
            ]
        else:
            lines = [
                self.text(
                    f"with 1×1 compression: {millions(real.multiply_adds)} multiply-adds, {thousands(real.parameters)} parameters, {module.shape_out[0]} channels",
                    f"1×1 압축: 곱셈-덧셈 {millions(real.multiply_adds, 'ko')} 번, 파라미터 {thousands(real.parameters)}개, 채널 {module.shape_out[0]}개",
                    size=22,
                ),
                self.text(
                    f"naive: {millions(naive.multiply_adds)} multiply-adds, {thousands(naive.parameters)} parameters, {module.naive_channels()} channels"
                    f"  →  saves {1 - real.multiply_adds / naive.multiply_adds:.0%} of the multiply-adds, {1 - real.parameters / naive.parameters:.0%} of the parameters",
                    f"단순한 모듈: 곱셈-덧셈 {millions(naive.multiply_adds, 'ko')} 번, 파라미터 {thousands(naive.parameters)}개, 채널 {module.naive_channels()}개"
                    f"  →  곱셈-덧셈 {1 - real.multiply_adds / naive.multiply_adds:.0%}, 파라미터 {1 - real.parameters / naive.parameters:.0%} 절약",
                    size=22,
                ),
            ]
        group = VGroup(*lines).arrange(DOWN, aligned_edge=LEFT, buff=0.15)
        return fit_width(group, 13.2)

    def show_naive(self) -> None:
        self.show_module(
            compressed=False,
            caption=(
                f"Naive module: {self.naive_parts()} side by side on the full input is expensive",
                f"단순한 모듈: 전체 입력에 {self.naive_parts()}을(를) 나란히 적용하면 계산량이 큽니다",
            ),
        )

    def show_compressed(self) -> None:
        self.show_module(
            compressed=True,
            caption=(
                f"1×1 convs compress the channels before the {self.compressed_kernels()}" + (" and after the pooling" if self.pooled() else ""),
                "1×1 합성곱이 " + f"{self.compressed_kernels()} 앞" + ("과 풀링 뒤" if self.pooled() else "") + "에서 채널 수를 줄입니다",
            ),
        )

    def show_module(self, compressed: bool, caption: tuple[str, str]) -> None:
        """The naive or the compressed module's diagram, then its costs, under ``caption``."""
        diagram = self.diagram(compressed)
        costs = self.cost_lines(compressed).next_to(diagram, DOWN, buff=0.6)
        note = self.not_drawn_line() if compressed else None
        if note is not None:
            costs.add(note.next_to(costs, DOWN, buff=0.2, aligned_edge=LEFT))
        next_step(self, caption, leaving=[self.figure], arriving=[diagram])
        appear(self, costs)
        self.figure = Group(diagram, costs)

    def naive_parts(self) -> str:
        """ "1×1, 3×3, 5×5 and pooling": what the naive module puts side by side."""
        kernels = ", ".join(dict.fromkeys(conv.kernel_text for conv in self.module.naive_convs()))
        return kernels + (self.say(" and pooling", ", 풀링") if self.pooled() else "")

    def compressed_kernels(self) -> str:
        """ "3×3 and 5×5": the last convs of branches that start with a 1×1."""
        kernels = [b.convs[-1].kernel_text for b in self.module.branches if len(b.convs) > 1 and b.convs[0].kernel == (1, 1)]
        joiner = ", " if self.lang == "ko" else " and "
        return joiner.join(dict.fromkeys(kernels)) or self.say("other convs", "다른 합성곱")

    def pooled(self) -> bool:
        return any(b.pooled for b in self.module.branches)

    def not_drawn_line(self):
        """One line naming the module's steps the boxes leave out (BatchNorm, ReLU, unrecorded work), or None."""
        ops = list(dict.fromkeys(operation_text(text, self.lang).split(" (")[0] for text in self.module.not_drawn()))
        wrappers = unrecorded_in(self.trace, self.module.name)
        self.shown["not_drawn"] = (ops, wrappers)
        if not ops and not wrappers:
            return None
        parts_en, parts_ko = [], []
        if ops:
            parts_en.append("not drawn between the boxes: " + ", ".join(ops))
            parts_ko.append("상자 사이에 그리지 않은 것: " + ", ".join(ops))
        if wrappers:
            names = ", ".join(f"{w}.forward" for w in wrappers)
            parts_en.append(f"{names} also computes steps this trace does not record")
            parts_ko.append(f"{names}에는 이 기록에 없는 단계도 있습니다")
        line = self.text("; ".join(parts_en), "; ".join(parts_ko), size=18, color=theme.MUTED)
        return fit_width(line, 12.6)

    # -- step 4: the real branches and their concatenation ------------------------------------

    def show_branches(self) -> None:
        module = self.module
        grids = Group()
        self.shown["branches"] = []
        for branch in module.branches:
            maps = self.trace[f"{module.name}@branch{branch.index}"][0].numpy()
            shown = branch_channels(maps, self.wanted_channels)
            rows = -(-len(shown) // 2)
            grid = FeatureMapGrid(maps, channels=shown, columns=2, map_height=min(0.85, 2.0 / rows), lang=self.lang, label_size=16)
            kind = " → ".join(op.spec.kernel_text if op.spec else operation_text(op.text, self.lang).split(",")[0] for op in branch.ops if op.spec or op.kind in POOLS)
            heading = self.text(f"{self.term('branch')} {branch.index}: {kind}", size=18, color=branch_color(branch.index))
            heading.next_to(grid, UP, buff=0.12)
            grids.add(Group(heading, grid))
            self.shown["branches"].append(grid.values)
        grids.arrange(RIGHT, buff=0.55, aligned_edge=UP).next_to(self.title, DOWN, buff=0.35)
        top = max(grid.get_top()[1] for _, grid in grids)  # headings differ in height: the maps share one top
        for heading, grid in grids:
            grid.shift(UP * (top - grid.get_top()[1]))
            heading.next_to(grid, UP, buff=0.12)
        fit_width(grids, 13.2)
        bar = self.concat_bar().next_to(grids, DOWN, buff=0.4)
        scale = relative_legend(self, diverging=False)
        scale.next_to(bar, DOWN, buff=0.25)
        costs = self.cost_lines(compressed=True).next_to(scale, DOWN, buff=0.3)
        next_step(
            self,
            (
                f"The {len(module.branches)} branches, concatenated along channels into {module.name}'s {format_shape(module.shape_out)} output",
                f"분기 {len(module.branches)}개를 채널 방향으로 이어 붙이면 {module.name}의 출력 {with_particle(format_shape(module.shape_out), '이')} 됩니다",
            ),
            leaving=[self.figure],
            arriving=[grids],
        )
        appear(self, bar, scale, costs)
        self.figure = Group(grids, bar, scale, costs)

    def concat_bar(self) -> VGroup:
        """The concatenation as one bar of channels, a coloured segment per branch, with its code."""
        total = self.module.shape_out[0]
        length = 11.0
        segments, labels, start = VGroup(), VGroup(), 0.0
        for branch in self.module.branches:
            width = length * branch.shape[0] / total
            segment = Rectangle(width=width, height=0.35, stroke_color=theme.BACKGROUND, stroke_width=2)
            segment.set_fill(branch_color(branch.index), opacity=0.85)
            segment.move_to(RIGHT * (start + width / 2))
            labels.add(self.text(f"{branch.shape[0]}", size=16, color=theme.BACKGROUND).move_to(segment))
            segments.add(segment)
            start += width
        widths = " + ".join(str(b.shape[0]) for b in self.module.branches)
        indices = ", ".join(str(b.index) for b in self.module.branches)
        title = self.text(
            f"torch.cat([branch {indices}], dim=1): {widths} = {total} channels",
            f"torch.cat([분기 {indices}], dim=1): {widths} = 채널 {total}개",
            size=18,
        )
        group = VGroup(segments, labels)
        return VGroup(title.next_to(group, UP, buff=0.1), group)




def _arrow(start, end, buff: float = 0.12) -> Arrow:
    return Arrow(
        start.get_right(), end.get_left(), buff=buff, color=theme.MUTED, stroke_width=2.5, max_tip_length_to_length_ratio=0.2, tip_length=0.14
    )


def _range(values) -> tuple[float, float]:
    largest = max(abs(v) for v in values) or 1.0
    return (-largest, largest) if min(values) < 0 else (0.0, largest)
