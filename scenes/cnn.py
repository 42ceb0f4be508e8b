"""The CNN pipeline: the input image, every layer's real feature maps, the class scores, the prediction.

    $ explain render cnn-pipeline --still
    $ explain render cnn-pipeline --trace digit.safetensors --channels 0-7 --lang ko

The scene reads the model's input (``@input.0``), each convolution's output after its ReLU and
each pooling's output (the maps the next layer reads), the hidden fully connected layer and the
final scores, in execution order; shapes come from the tensors (28→24→20→10→6→3 for the book's
MNIST CNN). Options: ``channels`` (which channels each grid shows; default 0–15, or all when a
layer has fewer), ``step`` (stop after that step, for stills).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from manim import DOWN, LEFT, RIGHT, UP, Arrow, Group, Text, VGroup, VMobject

from explain.draw import theme
from explain.glossary import term
from explain.draw.base import SceneInputError, TraceScene
from explain.draw.cnn_numbers import INPUT
from explain.draw.cnn_parts import chosen_step, fit_width, set_caption
from explain.draw.fades import appear
from explain.draw.feature_maps import FeatureMap, FeatureMapGrid, format_shape, map_scale
from explain.draw.strip import ScaleBar, ValueStrip, format_value
from explain.trace import Trace
from scenes import SceneSpec
from scenes.conv import is_activation, module_outputs, module_type

SCENES = [
    SceneSpec("cnn-pipeline", "CNNPipelineScene", "Input → real feature maps of every layer → class scores → prediction", "mnist-cnn"),
]

#: channels shown per layer unless the ``channels`` option says otherwise
DEFAULT_CHANNELS = 16
#: at most this many map stages are drawn (deeper nets show their pooling outputs only)
MOST_MAP_STAGES = 8
#: hidden units of a fully connected layer shown in its strip
HIDDEN_UNITS = 12


@dataclass(frozen=True)
class Stage:
    """One column of the pipeline: a recorded tensor, what made it, and its shape without the batch."""

    name: str
    kind: str  # "input", "maps", "hidden" or "scores"
    made_by: list[str]  # module types, e.g. ["Conv2d", "ReLU"]
    shape: tuple[int, ...]


def pipeline_stages(trace: Trace) -> list[Stage]:
    """The pipeline's columns: input, each conv (after its activation) and pool, hidden layers, scores.

    A module whose output has the same shape as the next module's (a conv then its ReLU) is merged
    into that next stage, so each stage is a map the following layer reads.
    """
    if INPUT not in trace:
        raise SceneInputError(f"the trace has no model input {INPUT!r} (record the CNN with explain.record(model, image))")
    outputs = module_outputs(trace)
    if not outputs:
        raise SceneInputError("the trace records no module outputs")
    stages = [Stage(INPUT, "input", [], tuple(trace[INPUT].shape[1:]))]
    pending: list[str] = []
    for index, name in enumerate(outputs):
        pending.append(module_type(trace, name) or "?")
        shape = tuple(trace[name].shape[1:])
        following = outputs[index + 1] if index + 1 < len(outputs) else None
        if following is not None and tuple(trace[following].shape[1:]) == shape and is_activation(trace, following):
            continue
        kind = "maps" if len(shape) == 3 else "hidden"
        stages.append(Stage(name, kind, pending, shape))
        pending = []
    last = stages[-1]
    if last.kind != "hidden" or len(last.shape) != 1:
        raise SceneInputError(f"the model's last layer {last.name!r} gives {format_shape(last.shape)}, not class scores")
    stages[-1] = Stage(last.name, "scores", last.made_by, last.shape)
    maps = [stage for stage in stages if stage.kind == "maps"]
    if len(maps) > MOST_MAP_STAGES:
        keep = {stage.name for stage in maps if "Pool" in "".join(stage.made_by)}
        stages = [stage for stage in stages if stage.kind != "maps" or stage.name in keep]
    if not any(stage.kind == "maps" for stage in stages):
        raise SceneInputError("the trace has no feature maps ([B, C, H, W] outputs): is it a CNN's recording?")
    return stages


def stage_title(stage: Stage, lang: str = "en") -> str:
    """A short name for a stage from its module types ("Conv2d" → "conv"), in ``lang``.

    >>> stage = Stage("layer.1", "maps", ["Conv2d", "ReLU"], (16, 24, 24))
    >>> stage_title(stage), stage_title(stage, "ko")
    ('conv + ReLU', '합성곱 + ReLU')
    """
    short = {"Conv2d": "conv", "MaxPool2d": "max-pool", "AvgPool2d": "avg-pool", "Linear": "linear"}
    return " + ".join(term(short[kind], lang) if kind in short else kind for kind in stage.made_by) or stage.name


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


@dataclass(frozen=True)
class Prediction:
    """The scores of the last layer, their softmax, and the winning class."""

    scores: list[float]
    probabilities: list[float]
    label: int


def prediction(trace: Trace, stages: list[Stage]) -> Prediction:
    """The class the model predicts, from the recorded scores (argmax), with softmax probabilities."""
    scores = trace[stages[-1].name][0].double()
    return Prediction(scores.tolist(), torch.softmax(scores, 0).tolist(), int(scores.argmax()))


# -- the scene ---------------------------------------------------------------------------------

ROW_Y = (1.45, -1.75)
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
        columns = [self.column(stage) for stage in self.stages]
        self.layout(columns)
        title = fit_width(
            self.text(
                "A CNN layer by layer: " + " → ".join(str(stage.shape[-1]) for stage in self.stages if stage.kind != "scores" and len(stage.shape) == 3),
                "층별로 본 CNN: " + " → ".join(str(stage.shape[-1]) for stage in self.stages if stage.kind != "scores" and len(stage.shape) == 3),
                size=28,
            ),
            13.4,
        ).to_edge(UP, buff=0.25)
        self.add(title)
        steps = [(column, stage) for column, stage in zip(columns, self.stages)]
        last = chosen_step(self.options, len(steps))
        for index, (column, stage) in enumerate(steps[:last]):
            pieces = [column]
            if index > 0:
                pieces.append(self.arrow(columns[index - 1], column))
            appear(self, *pieces)
            if not self.is_still or index == last - 1:
                set_caption(self, *self.narration(stage))
            self.pause()

    def column(self, stage: Stage) -> Group:
        """The drawing of one stage, with its name on top and its shape underneath."""
        tensor = self.trace[stage.name][0].double().numpy()
        if stage.kind == "input":
            body = FeatureMap(tensor, height=1.9)
            if tensor.shape[0] != 3:  # an RGB picture is its own legend
                body = Group(body, ScaleBar(body.scale_range, length=1.4).next_to(body, DOWN, buff=0.1))
            self.shown[stage.name] = tensor
            name = self.say("input", "입력")
        elif stage.kind == "maps":
            channels = shown_channels(tensor.shape[0], self.options)
            columns = 4 if len(channels) > 4 else len(channels)
            body = FeatureMapGrid(tensor, channels=channels, columns=columns, map_height=0.42, lang=self.lang, label_size=16, show_shape=False)
            body.add(ScaleBar(body.scale_range, length=1.4).next_to(body, DOWN, buff=0.1))
            self.shown[stage.name] = body.values
            name = stage_title(stage, self.lang)
        elif stage.kind == "hidden":
            units = list(range(min(HIDDEN_UNITS, tensor.shape[0])))
            scale = _range(tensor)
            body = VGroup(ValueStrip(tensor[units], scale=scale, vertical=True, cell=0.2))
            body.add(Text(self.say(f"units 0–{units[-1]} of {tensor.shape[0]}", f"유닛 {tensor.shape[0]}개 중 0–{units[-1]}번"), font=theme.FONT, font_size=14, color=theme.MUTED).next_to(body, DOWN, buff=0.08))
            body.add(ScaleBar(scale, length=1.0).next_to(body, DOWN, buff=0.1))
            self.shown[stage.name] = tensor[units]
            name = stage_title(stage, self.lang)
        else:
            body = self.scores_column()
            self.shown[stage.name] = np.asarray(self.prediction.scores)
            name = self.say("scores", "점수")
        heading = VGroup(
            Text(name, font=theme.FONT, font_size=18, color=theme.INK),
            Text(stage.name if stage.kind != "input" else "@input.0", font=theme.MONO_FONT, font_size=14, color=theme.MUTED),
        ).arrange(DOWN, buff=0.05)
        shape = Text(format_shape(stage.shape), font=theme.MONO_FONT, font_size=16, color=theme.INK)
        return Group(heading, body, shape).arrange(DOWN, buff=0.12)

    def scores_column(self) -> VGroup:
        """The ten scores as a strip labelled by class, the winner outlined, and the prediction."""
        scores = np.asarray(self.prediction.scores)
        strip = ValueStrip(scores, scale=_range(scores), vertical=True, cell=0.24, show_values=False, labels=[str(i) for i in range(len(scores))])
        numbers = VGroup(
            *[
                Text(format_value(value), font=theme.MONO_FONT, font_size=12, color=theme.INK).next_to(cell, RIGHT, buff=0.08)
                for value, cell in zip(scores, strip.cells)
            ]
        )
        winner = strip.cells[self.prediction.label].copy().set_fill(opacity=0).set_stroke(theme.HIGHLIGHT, width=4)
        probability = self.prediction.probabilities[self.prediction.label]
        verdict = Text(
            self.say(f"prediction: {self.prediction.label}  (p = {probability:.2f})", f"예측: {self.prediction.label}  (p = {probability:.2f})"),
            font=theme.FONT,
            font_size=16,
            color=theme.HIGHLIGHT,
        ).next_to(strip, DOWN, buff=0.15)
        bar = ScaleBar(_range(scores), length=1.7).next_to(verdict, DOWN, buff=0.12)
        return VGroup(strip, numbers, winner, verdict, bar)

    def layout(self, columns: list[Group]) -> None:
        """Columns in rows of four (five when that makes two rows), scaled to the frame."""
        per_row = PER_ROW if len(columns) > 5 else len(columns)
        per_row = max(per_row, -(-len(columns) // 2))
        rows = [Group(*columns[i : i + per_row]) for i in range(0, len(columns), per_row)]
        for row in rows:
            row.arrange(RIGHT, buff=0.9, aligned_edge=UP)
        figure = Group(*rows).arrange(DOWN, buff=0.45)
        figure.scale(min(1.0, 13.4 / figure.width, 6.1 / figure.height)).move_to([0, -0.05, 0])

    def arrow(self, source: Group, target: Group) -> VGroup:
        """An arrow from one column to the next; where the row wraps, an elbow down and back to the left."""
        style = dict(stroke_width=3, color=theme.MUTED)
        if target.get_left()[0] > source.get_right()[0]:
            start = source[1].get_right() + RIGHT * 0.12
            end = np.array([target[1].get_left()[0] - 0.12, start[1], 0])
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
        end = Arrow(np.array(corners[-1], dtype=float), target[1].get_left() + LEFT * 0.1, buff=0, max_tip_length_to_length_ratio=0.5, **style)
        return VGroup(path, end)

    def narration(self, stage: Stage) -> tuple[str, str]:
        shape = format_shape(stage.shape)
        if stage.kind == "input":
            return (f"The input image, {shape}: the values the first convolution reads.", f"입력 이미지 {shape}: 첫 합성곱이 읽는 값입니다.")
        if stage.kind == "maps":
            if "Pool" in "".join(stage.made_by):
                return (f"Max-pooling halves each map: {shape}.", f"최대 풀링이 맵의 크기를 절반으로 줄입니다: {shape}.")
            return (
                f"{stage_title(stage)} gives {stage.shape[0]} feature maps of {stage.shape[1]}×{stage.shape[2]}.",
                f"{stage_title(stage, 'ko')}: {stage.shape[1]}×{stage.shape[2]} 특징 맵 {stage.shape[0]}개가 나옵니다.",
            )
        if stage.kind == "hidden":
            return (f"A fully connected layer reads the maps as one vector: {shape} values.", f"완전연결층이 맵 전체를 한 벡터로 읽습니다: 값 {shape}개.")
        label = self.prediction.label
        return (
            f"Ten class scores; the largest, class {label}, is the prediction.",
            f"클래스 점수 {len(self.prediction.scores)}개 중 가장 큰 {label}번 클래스가 예측입니다.",
        )


def _range(values: np.ndarray) -> tuple[float, float]:
    return map_scale(np.asarray(values))
