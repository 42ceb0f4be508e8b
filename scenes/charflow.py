"""Figure 7: characters → one-hot → embedding → RNN → decoder; teacher forcing, then generation.

    $ explain render char-flow --still
    $ explain render char-flow --trace char-flow.safetensors --lang ko --option steps=0-3

The scene reads what a char model did, recorded by the ``char-flow`` recipe (``explain.models.recipes.char_flow``) (the
default): ``teacher.input``, ``teacher.target`` [T] and ``teacher.logits`` [T, V] of a teacher-forced
pass, ``free.input``, ``free.output`` [G] and ``free.logits`` [G, V] of a free-running generation
(indices into ``meta["vocab"]``), and the states ``{q}.l{k}.fwd.h`` of the teacher-forced pass.
Options: ``steps`` (teacher-forced steps, default "0-4"), ``generated`` (how many generated steps,
default 5).
"""

from __future__ import annotations

from typing import Any

import torch
from manim import DOWN, LEFT, RIGHT, UP, Create, FadeIn, FadeOut, Text, VGroup, VMobject

from explain.draw import theme
from explain.draw.base import SceneInputError, TraceScene
from explain.draw.captions import fitted_caption, recaption
from explain.draw.chain import ModuleBox, TokenTile, arrow_between, link, readable
from explain.names import recurrent_name
from explain.figures.recurrent import (
    MissingValues,
    describe_indices,
    find_recurrent,
    hidden_states,
    kind_of,
    layers_of,
    parse_indices,
)
from explain.draw.strip import ScaleBar, ValueStrip, show_token
from explain.trace import Trace
from explain.scenes import SceneSpec

__all__ = ["CAPTIONS", "CharFlowScene", "flow_values", "MAX_COLUMNS", "NEEDED", "ROW_Y", "SCENES", "STATE_UNITS"]

SCENES = [
    SceneSpec("char-flow", "CharFlowScene", "Char-level data flow: one-hot, teacher forcing, generation (figure 7)", "char-lstm", "char-flow"),
]

NEEDED = ("teacher.input", "teacher.target", "teacher.logits", "free.input", "free.output", "free.logits")
MAX_COLUMNS = 6
STATE_UNITS = 6


def flow_values(trace: Trace, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything char-flow shows, from the trace: characters, one-hot rows, predictions, states.

    ``teacher`` / ``free`` hold per-step ``inputs``, ``outputs`` (the most likely next character),
    ``probabilities`` (its softmax probability) and, for teacher forcing, ``targets``.
    """
    options = options or {}
    missing = [name for name in NEEDED if name not in trace]
    vocab = trace.meta.get("vocab")
    if missing or not vocab:
        what = ", ".join(missing) if missing else "meta['vocab']"
        raise MissingValues(f"this scene needs {what}: record it with: explain record --recipe char-flow char-lstm -o FILE (explain render char-flow does by default)")
    teacher_total = int(trace["teacher.input"].shape[0])
    steps = parse_indices(options.get("steps"), list(range(min(5, teacher_total))), what="steps")
    generated = int(options.get("generated", min(5, int(trace["free.input"].shape[0]))))
    if len(steps) > MAX_COLUMNS or not 1 <= generated <= MAX_COLUMNS:
        raise MissingValues(f"1 to {MAX_COLUMNS} steps of each kind fit on screen")
    bad = [t for t in steps if not 0 <= t < teacher_total]
    if bad or generated > trace["free.input"].shape[0]:
        raise MissingValues(f"the trace has {teacher_total} teacher-forced and {trace['free.input'].shape[0]} generated steps")
    teacher = _steps(trace, "teacher", steps, vocab)
    teacher["targets"] = [vocab[int(trace["teacher.target"][t])] for t in steps]
    free = _steps(trace, "free", list(range(generated)), vocab)
    rows = sorted({vocab.index(ch) for ch in teacher["inputs"]})
    free_rows = sorted({vocab.index(ch) for ch in free["inputs"]})
    module = find_recurrent(trace, "h")
    layer = layers_of(trace, module)[-1]
    units = list(range(min(STATE_UNITS, int(trace[recurrent_name(module, layer, "h")].shape[-1]))))
    return {
        "steps": steps,
        "teacher": teacher,
        "free": free,
        "prime": str(trace.meta.get("prime", "")),
        "vocab_size": len(vocab),
        "one_hot_rows": [vocab[i] for i in rows],
        "one_hot": [[1.0 if vocab[i] == ch else 0.0 for i in rows] for ch in teacher["inputs"]],
        "free_one_hot_rows": [vocab[i] for i in free_rows],
        "free_one_hot": [[1.0 if vocab[i] == ch else 0.0 for i in free_rows] for ch in free["inputs"]],
        "kind": kind_of(trace, module).upper(),
        "layers": len(layers_of(trace, module)),
        "state_layer": layer,
        "state_units": units,
        "state_units_total": int(trace[recurrent_name(module, layer, "h")].shape[-1]),
        "states": hidden_states(trace, module, layer, steps=steps, units=units),
        "free_states": _free_states(trace, module, layer, generated, units),
    }


def _free_states(trace: Trace, module: str, layer: int, generated: int, units: list[int]) -> list[list[float]] | None:
    """The generated steps' states (``free.{module}.l{k}.fwd.h``), or None if the trace lacks them."""
    free_module = f"free.{module}" if module else "free"
    if recurrent_name(free_module, layer, "h") not in trace:
        return None
    return hidden_states(trace, free_module, layer, steps=list(range(generated)), units=units)


def _steps(trace: Trace, prefix: str, steps: list[int], vocab: str) -> dict[str, list]:
    logits = trace[f"{prefix}.logits"].detach().float()[steps]
    probabilities = torch.softmax(logits, dim=-1)
    best = probabilities.argmax(dim=-1)
    return {
        "inputs": [vocab[int(trace[f"{prefix}.input"][t])] for t in steps],
        "outputs": [vocab[int(i)] for i in best],
        "probabilities": [float(probabilities[row, int(i)]) for row, i in enumerate(best)],
    }


# vertical layout of one column: input tile, embedding, RNN, decoder, output, target
ROW_Y = {"input": -2.45, "embedding": -1.45, "rnn": -0.3, "decoder": 0.85, "output": 1.8, "target": 2.55}


CAPTIONS = [
    ("Each character becomes a one-hot vector: a single 1 in its row of the vocabulary.",
     "글자 하나는 원-핫 벡터가 됩니다. 어휘에서 그 글자의 자리에만 1이 있습니다."),
    ("Teacher forcing: every step reads the TRUE previous character; the target is the next one.",
     "교사 강요: 매 단계 실제 이전 글자(정답)를 읽고, 목표는 다음 글자입니다."),
    ("Generation: the most likely character is fed back as the next input.",
     "생성: 가장 가능성이 높은 글자를 다음 입력으로 다시 넣습니다."),
]


class CharFlowScene(TraceScene):
    """One-hot characters, a teacher-forced pass with the model's predictions, then generation."""

    OPTIONS = frozenset({"steps", "generated"})

    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        try:
            flow_values(trace, options)
        except MissingValues as error:
            raise SceneInputError(str(error)) from None

    def construct(self) -> None:
        values = flow_values(self.trace, self.options)
        self.shown = values
        title = self.text("Characters in, characters out", "글자가 들어가고, 글자가 나옵니다", size=32).to_edge(UP, buff=0.2)
        tail = "   →   h<sub>t</sub> = RNN(x<sub>t</sub>, h<sub>t−1</sub>)   →   p = softmax(h<sub>t</sub> W<sub>dec</sub><sup>T</sup> + b<sub>dec</sub>)"
        flow = self.text(
            "x<sub>t</sub> = E[char<sub>t</sub>] (one-hot · E)" + tail,
            "x<sub>t</sub> = E[글자<sub>t</sub>] (원-핫 · E)" + tail,
            size=20, markup=True,
        ).next_to(title, DOWN, buff=0.1)
        self.add(title, flow)
        one_hot = self._one_hot(values["teacher"]["inputs"], values["one_hot_rows"], values["one_hot"])
        free_one_hot = self._one_hot(values["free"]["inputs"], values["free_one_hot_rows"], values["free_one_hot"])
        legend = self._legend(values).move_to(LEFT * 5.25 + DOWN * 2.2)
        free = self._columns(values, values["free"], teacher=False)
        if self.is_still:
            self.add(free_one_hot, legend, *free.values(), fitted_caption(self, *CAPTIONS[-1]))
            return
        caption = fitted_caption(self, *CAPTIONS[0])
        self.play(FadeIn(one_hot), FadeIn(caption), FadeIn(legend), run_time=0.6)
        self.pause()
        teacher = self._columns(values, values["teacher"], teacher=True)
        self.play(FadeIn(teacher["frame"]), FadeIn(teacher["data"]), recaption(self, caption, *CAPTIONS[1]), run_time=0.8)
        self.play(FadeIn(teacher["results"]), run_time=0.6)
        self.pause()
        same_frame = len(values["teacher"]["inputs"]) == len(values["free"]["inputs"])
        leaving = [teacher["data"], teacher["results"]] + ([] if same_frame else [teacher["frame"]])
        self.play(*[FadeOut(group) for group in leaving + [one_hot]], run_time=0.4)
        arriving = [free["data"], free["results"], free_one_hot] + ([] if same_frame else [free["frame"]])
        self.play(*[FadeIn(group) for group in arriving], recaption(self, caption, *CAPTIONS[2]), run_time=0.8)
        self.play(*[Create(path) for path in free["feedback"]], run_time=0.6)
        self.pause()

    def _one_hot(self, inputs: list[str], rows: list[str], one_hot: list[list[float]]) -> VGroup:
        """The one-hot columns of ``inputs`` over the vocabulary ``rows`` they use, left of the pipeline."""
        columns = VGroup()
        for index, (char, row) in enumerate(zip(inputs, one_hot)):
            strip = ValueStrip(row, scale="sigmoid", cell=0.4, vertical=True, show_values=True, digits=0,
                               labels=rows if index == 0 else None)
            head = TokenTile(char, side=0.4)
            columns.add(VGroup(head, strip).arrange(DOWN, buff=0.12, aligned_edge=RIGHT))
        columns.arrange(RIGHT, buff=0.12, aligned_edge=DOWN)
        size = self.shown["vocab_size"]
        note = self.text(
            f"rows {', '.join(show_token(c) for c in rows)} of {size}",
            f"어휘 {size}개 중 {', '.join(show_token(c) for c in rows)} 행",
            size=16, color=theme.MUTED,
        )
        heading = self.text(self.term("one-hot"), size=22)
        return VGroup(heading, columns, note).arrange(DOWN, buff=0.18).move_to(LEFT * 5.25 + UP * 0.55)

    def _columns(self, values: dict[str, Any], run: dict[str, list], *, teacher: bool) -> dict[str, VGroup]:
        """The pipeline per step: ``frame`` (boxes and arrows, the same for both runs of equal length),
        ``data`` (inputs, states, targets), ``results`` (predictions) and, generating, ``feedback``."""
        count = len(run["inputs"])
        spacing = min(1.75, 8.6 / count)
        left = -2.6 + spacing / 2
        frame, data, results, feedback = VGroup(), VGroup(), VGroup(), VGroup()
        frame.add(*[
            self.text(en, ko, size=16, color=theme.MUTED).move_to(RIGHT * (left - spacing / 2 - 0.35) + UP * ROW_Y[row])
            for row, en, ko in (("input", "input", self.term("input")), ("embedding", "embed", self.term("embedding")),
                                ("rnn", values["kind"], values["kind"]), ("decoder", "decode", self.term("decoder")),
                                ("output", "next (p)", "다음 (확률)"))
        ])
        states = values["states"] if teacher else values["free_states"]
        rnn_boxes, output_tiles, input_tiles = [], [], []
        for index in range(count):
            x = left + index * spacing
            tile = TokenTile(run["inputs"][index], side=0.5).move_to(RIGHT * x + UP * ROW_Y["input"])
            embedding = ModuleBox("Embedding", width=1.3, height=0.45, size=16, fill=theme.LAYER_FILL).move_to(RIGHT * x + UP * ROW_Y["embedding"])
            rnn = ModuleBox(f"{values['kind']} ×{values['layers']}", width=1.3, height=0.75, size=16).move_to(RIGHT * x + UP * ROW_Y["rnn"])
            rnn.label.shift(UP * 0.14)
            decoder = ModuleBox("Linear", width=1.3, height=0.45, size=16, fill=theme.LAYER_FILL).move_to(RIGHT * x + UP * ROW_Y["decoder"])
            frame.add(embedding, rnn, decoder, link(tile, embedding), link(embedding, rnn), link(rnn, decoder))
            data.add(tile)
            if states:
                data.add(ValueStrip(states[index], scale="tanh", cell=0.17).next_to(rnn.label, DOWN, buff=0.08))
            output = self._prediction(run["outputs"][index], run["probabilities"][index],
                                      run["targets"][index] if teacher else None)
            output.shift(RIGHT * x + UP * ROW_Y["output"] - output[0].get_center())
            results.add(output, link(decoder, output[0]))
            if teacher:
                target = VGroup(self.text(self.term("target"), size=16, color=theme.MUTED),
                                Text(show_token(run["targets"][index]), font=theme.MONO_FONT, font_size=22, color=theme.INK))
                data.add(target.arrange(RIGHT, buff=0.08).move_to(RIGHT * x + UP * ROW_Y["target"]))
            rnn_boxes.append(rnn)
            output_tiles.append(output[0])
            input_tiles.append(tile)
        for before, after in zip(rnn_boxes, rnn_boxes[1:]):
            frame.add(link(before, after))
        if not teacher:
            for output, tile in zip(output_tiles, input_tiles[1:]):
                feedback.add(_elbow(output, tile))
            prime_text, generated = readable(values["prime"]), readable("".join(run["outputs"]))
            prime = self.text(f"prime “{prime_text}” → generated “{generated}”", f"시작 문자열 “{prime_text}” → 생성한 글자 “{generated}”", size=20)
            data.add(prime.move_to(DOWN * 3.0 + RIGHT * 1.6))
        return {"frame": frame, "data": data, "results": results, "feedback": feedback}

    def _legend(self, values: dict[str, Any]) -> VGroup:
        units = describe_indices(values["state_units"], values["state_units_total"], self.lang)
        note = self.text(f"layer {values['state_layer']}, units {units}", f"층 {values['state_layer']}, 유닛 {units}", size=16, color=theme.MUTED)
        return VGroup(ScaleBar("tanh", length=1.8).with_title(f"{values['kind']} hₜ: −1 → 1"), note).arrange(DOWN, buff=0.1)

    def _prediction(self, char: str, probability: float, target: str | None) -> VGroup:
        right = target is None or char == target
        fill = theme.BACKGROUND if target is None else (theme.value_color(0.6, "sigmoid") if right else theme.POINTWISE_FILL)
        tile = TokenTile(char, side=0.5, fill=fill)
        note = Text(f"{probability:.2f}", font=theme.MONO_FONT, font_size=16, color=theme.MUTED).next_to(tile, RIGHT, buff=0.06)
        return VGroup(tile, note)


def _elbow(output: VGroup, tile: VGroup) -> VGroup:
    """The feedback path from an output tile, over the top and down between columns, into the next input."""
    middle_x = (output.get_center()[0] + tile.get_center()[0]) / 2
    start = output.get_top()
    top = start[1] + 0.2
    corners = [start, [start[0], top, 0], [middle_x, top, 0], [middle_x, tile.get_y(), 0]]
    path = VMobject(stroke_color=theme.HIGHLIGHT, stroke_width=2.5).set_points_as_corners(corners)
    return VGroup(path, arrow_between(corners[-1], tile.get_left(), color=theme.HIGHLIGHT, stroke=2.5, buff=0.02))
