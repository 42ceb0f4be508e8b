"""The CNN pipeline: the input, each stage's real feature maps, the class scores, the prediction.

    $ explain render cnn-pipeline --still
    $ explain render cnn-pipeline --trace digit.safetensors --channels 0-7 --lang ko

The stages come from :mod:`explain.figures.pipeline`: the recorded modules at one depth of the
model (a deep net shows its stages, not a hundred maps), each with the operations that made it and
its shape (28→24→20→10→6→3 for the book's MNIST CNN). A stage that read a value the trace does not
hold (a function called inside ``forward``) is reached by a dashed arrow, and one line says so. A
head with many classes shows its top ten scores with their class indices (or the trace's labels).
Options: ``channels`` (which channels each grid shows; default 0–15, or all when a layer has
fewer), ``step`` (stop after that step, for stills).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, Arrow, DashedLine, DashedVMobject, Group, Text, VGroup, VMobject

from explain.draw import theme
from explain.draw.base import TraceScene
from explain.draw.cnn_parts import chosen_step, fit_width, operation_text, set_caption
from explain.draw.fades import appear
from explain.draw.feature_maps import FeatureMap, FeatureMapGrid, format_shape, map_scale
from explain.draw.strip import ScaleBar, ValueStrip, format_value
from explain.figures.pipeline import Stage, gaps_line, pipeline_stages, prediction, sizes_text
from explain.trace import Trace
from explain.scenes import SceneSpec

__all__ = [
    "CNNPipelineScene",
    "DEFAULT_CHANNELS",
    "HIDDEN_UNITS",
    "PER_ROW",
    "SCENES",
    "shown_channels",
    "stage_title",
    "TOP_CLASSES",
]

SCENES = [
    SceneSpec("cnn-pipeline", "CNNPipelineScene", "Input → real feature maps of every stage → class scores → prediction", "mnist-cnn"),
]

#: channels shown per layer unless the ``channels`` option says otherwise
DEFAULT_CHANNELS = 16
#: hidden units of a fully connected layer shown in its strip
HIDDEN_UNITS = 12
#: classes shown by a head with more than this many
TOP_CLASSES = 10


def shown_channels(total: int, options: dict[str, Any]) -> list[int]:
    """Channels a grid shows: the ``channels`` option (those that exist), else the first 16.

    >>> shown_channels(32, {}), shown_channels(8, {"channels": [0, 9]})
    ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], [0])
    """
    wanted = options.get("channels")
    if wanted is None:
        return list(range(min(total, DEFAULT_CHANNELS)))
    chosen = [int(c) for c in (wanted if isinstance(wanted, Sequence) else [wanted]) if 0 <= int(c) < total]
    return chosen or [0]


def stage_title(stage: Stage, lang: str = "en") -> str:
    """The operations that made a stage, in a few words, in ``lang``.

    >>> stage = Stage("layer.1", "maps", ["conv 5×5", "ReLU"], (16, 24, 24))
    >>> stage_title(stage), stage_title(stage, "ko")
    ('conv 5×5 + ReLU', '합성곱 5×5 + ReLU')
    """
    short = [op.replace(" (eval: running statistics)", "").replace(" (eval: identity)", "") for op in stage.ops]
    return operation_text(" + ".join(short), lang) or stage.name


# -- the scene ---------------------------------------------------------------------------------

PER_ROW = 4


class CNNPipelineScene(TraceScene):
    """Input → feature maps → scores → prediction, every map from the trace (issue 5, scene 2).

    ``self.shown`` maps each stage name to the values drawn (the shown channels, hidden units or
    scores), and holds the prediction.
    """


    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        chosen_step(options, len(pipeline_stages(trace)))  # a step per stage

    def construct(self) -> None:
        self.stages = pipeline_stages(self.trace)
        self.shown: dict[str, Any] = {}
        self.prediction = prediction(self.trace, self.stages)
        self.shown["prediction"] = self.prediction
        sizes = sizes_text(self.stages)
        title = fit_width(self.text(f"A CNN stage by stage: {sizes}", f"단계별로 본 CNN: {sizes}", size=28), 13.4).to_edge(UP, buff=0.25)
        notes = [line for line in (gaps_line(self.stages), self.prediction.note) if line]
        self.shown["notes"] = notes
        note_lines = VGroup(*[fit_width(Text(line.text(self.lang), font=theme.FONT, font_size=16, color=theme.MUTED), 13.2) for line in notes])
        note_lines.arrange(DOWN, buff=0.06).next_to(title, DOWN, buff=0.1)
        columns = [self.column(stage) for stage in self.stages]
        self.layout(columns, top=(note_lines if notes else title).get_bottom()[1] - 0.2)
        self.add(title, note_lines)
        steps = [(column, stage) for column, stage in zip(columns, self.stages)]
        last = chosen_step(self.options, len(steps))
        for index, (column, stage) in enumerate(steps[:last]):
            pieces = [column]
            if index > 0:
                pieces.append(self.arrow(columns[index - 1], column, dashed=stage.gap is not None))
            appear(self, *pieces)
            if not self.is_still or index == last - 1:
                set_caption(self, *self.narration(stage, self.stages[index - 1] if index else None))
            self.pause()

    def column(self, stage: Stage) -> Group:
        """The drawing of one stage, with its name on top and its shape underneath."""
        tensor = self.trace[stage.name][0].double().numpy()
        if stage.kind == "input":
            body = FeatureMap(tensor, height=1.9)
            if tensor.shape[0] != 3:  # an RGB picture is its own legend
                body = Group(body, ScaleBar(body.scale_range, length=1.4).next_to(body, DOWN, buff=0.1))
            self.shown[stage.name] = tensor
            name = self.term("input")
        elif stage.kind == "maps":
            channels = shown_channels(tensor.shape[0], self.options)
            columns = 4 if len(channels) > 4 else len(channels)
            body = FeatureMapGrid(tensor, channels=channels, columns=columns, map_height=0.42, lang=self.lang, label_size=16, show_shape=False)
            body.add(ScaleBar(body.scale_range, length=1.4).next_to(body, DOWN, buff=0.1))
            self.shown[stage.name] = body.values
            name = "\n".join(stage_title(Stage(stage.name, stage.kind, [op], stage.shape), self.lang) for op in stage.ops[:3])
        elif stage.kind == "hidden":
            units = list(range(min(HIDDEN_UNITS, tensor.shape[0])))
            scale = _range(tensor)
            body = VGroup(ValueStrip(tensor[units], scale=scale, vertical=True, cell=0.2))
            body.add(Text(self.say(f"units 0–{units[-1]} of {tensor.shape[0]}", f"유닛 {tensor.shape[0]}개 중 0–{units[-1]}번"), font=theme.FONT, font_size=14, color=theme.MUTED).next_to(body, DOWN, buff=0.08))
            body.add(ScaleBar(scale, length=1.0).next_to(body, DOWN, buff=0.1))
            self.shown[stage.name] = tensor[units]
            name = "\n".join(stage_title(Stage(stage.name, stage.kind, [op], stage.shape), self.lang) for op in stage.ops[:3])
        else:
            body = self.scores_column()
            self.shown[stage.name] = np.asarray(self.prediction.scores)
            name = "\n".join([self.term("scores"), *(stage_title(Stage(stage.name, stage.kind, [op], stage.shape), self.lang) for op in stage.ops[:2])])
        width = max(body.width, 1.6)
        heading = VGroup(
            *[fit_width(Text(line, font=theme.FONT, font_size=16, color=theme.INK), width) for line in name.split("\n")],
            fit_width(Text(stage.name, font=theme.MONO_FONT, font_size=14, color=theme.MUTED), width),
        ).arrange(DOWN, buff=0.05)
        shape = Text(format_shape(stage.shape), font=theme.MONO_FONT, font_size=16, color=theme.INK)
        return Group(heading, body, shape).arrange(DOWN, buff=0.12)

    def scores_column(self) -> VGroup:
        """The scores as a strip labelled by class (the top ten of a larger head), the winner outlined, the prediction."""
        found = self.prediction
        classes = list(range(len(found.scores))) if len(found.scores) <= TOP_CLASSES else found.top(TOP_CLASSES)
        self.shown["classes"] = classes
        scores = np.asarray([found.scores[c] for c in classes])
        strip = ValueStrip(scores, scale=_range(scores), vertical=True, cell=0.24, show_values=False, labels=[found.labels[c] for c in classes])
        numbers = VGroup(
            *[
                Text(format_value(value), font=theme.MONO_FONT, font_size=12, color=theme.INK).next_to(cell, RIGHT, buff=0.08)
                for value, cell in zip(scores, strip.cells)
            ]
        )
        winner = strip.cells[classes.index(found.label)].copy().set_fill(opacity=0).set_stroke(theme.HIGHLIGHT, width=4)
        probability = found.probabilities[found.label]
        p = f"{probability:.2f}" if probability >= 0.01 else f"{probability:.1e}"
        name = found.labels[found.label]
        verdict = Text(
            self.say(f"prediction: {name}  (p = {p})", f"예측: {name}  (p = {p})"),
            font=theme.FONT,
            font_size=16,
            color=theme.HIGHLIGHT,
        ).next_to(strip, DOWN, buff=0.15)
        parts = [strip, numbers, winner, verdict]
        if len(classes) < len(found.scores):
            top = self.say(f"top {len(classes)} of {len(found.scores)} classes", f"클래스 {len(found.scores)}개 중 상위 {len(classes)}개")
            parts.append(Text(top, font=theme.FONT, font_size=14, color=theme.MUTED).next_to(verdict, DOWN, buff=0.08))
        parts.append(ScaleBar(_range(scores), length=1.7).next_to(parts[-1], DOWN, buff=0.12))
        return VGroup(*parts)

    def layout(self, columns: list[Group], top: float) -> None:
        """Columns in rows of four (five when that makes two rows), scaled to the frame below ``top``."""
        per_row = PER_ROW if len(columns) > 5 else len(columns)
        per_row = max(per_row, -(-len(columns) // 2))
        rows = [Group(*columns[i : i + per_row]) for i in range(0, len(columns), per_row)]
        for row in rows:
            row.arrange(RIGHT, buff=0.9, aligned_edge=UP)
        figure = Group(*rows).arrange(DOWN, buff=0.45)
        bottom = -3.15  # above the caption
        figure.scale(min(1.0, 13.4 / figure.width, (top - bottom) / figure.height)).move_to([0, (top + bottom) / 2, 0])

    def arrow(self, source: Group, target: Group, *, dashed: bool = False) -> VGroup:
        """An arrow from one column to the next (dashed where the value between them is not in the
        trace); where the row wraps, an elbow down and back to the left."""
        style = dict(stroke_width=3, color=theme.MUTED)
        if target.get_left()[0] > source.get_right()[0]:
            start = source[1].get_right() + RIGHT * 0.12
            end = np.array([target[1].get_left()[0] - 0.12, start[1], 0])
            if dashed:
                line = DashedLine(start, end - RIGHT * 0.15, dash_length=0.08, **style)
                return VGroup(line, Arrow(end - RIGHT * 0.2, end, buff=0, max_tip_length_to_length_ratio=0.9, **style))
            return VGroup(Arrow(start, end, buff=0, max_tip_length_to_length_ratio=0.2, **style))
        gap = (source.get_bottom()[1] + target.get_top()[1]) / 2
        right = source.get_right()[0] + 0.2
        corners = [
            source[1].get_right() + RIGHT * 0.05,
            [right, source[1].get_y(), 0],
            [right, gap, 0],
            [target.get_left()[0] - 0.3, gap, 0],
            [target.get_left()[0] - 0.3, target[1].get_y(), 0],
        ]
        path = VMobject(**style).set_points_as_corners([np.array(c, dtype=float) for c in corners])
        if dashed:
            path = DashedVMobject(path, num_dashes=24)
        end = Arrow(np.array(corners[-1], dtype=float), target[1].get_left() + LEFT * 0.1, buff=0, max_tip_length_to_length_ratio=0.5, **style)
        return VGroup(path, end)

    def narration(self, stage: Stage, before: Stage | None) -> tuple[str, str]:
        shape = format_shape(stage.shape)
        if stage.kind == "input":
            return (f"The input, {shape}: the values the first stage reads.", f"입력 {shape}: 첫 단계가 읽는 값입니다.")
        title, korean = stage_title(stage), stage_title(stage, "ko")
        if stage.kind == "maps":
            change = f"{format_shape(before.shape)} → {shape}" if before is not None else shape
            return (f"{stage.name}: {title}, {change}.", f"{stage.name}: {korean}, {change}입니다.")
        if stage.kind == "hidden":
            return (f"{stage.name}: {title} gives {shape} values.", f"{stage.name}: {korean}, 값 {shape}개가 나옵니다.")
        found = self.prediction
        count, label = len(found.scores), found.labels[found.label]
        shown = "" if count <= TOP_CLASSES else self.say(f" (the top {TOP_CLASSES} are shown)", f" (상위 {TOP_CLASSES}개 표시)")
        return (
            f"{count} class scores; the largest, class {label}, is the prediction{shown}.",
            f"클래스 점수 {count}개 중 가장 큰 {label}번이 예측입니다{shown}.",
        )


def _range(values: np.ndarray) -> tuple[float, float]:
    return map_scale(np.asarray(values))
