"""Figures 1 and 2: the rolled and unrolled RNN; the layered RNN over time and backpropagation through time.

    $ explain render rnn-unroll --still
    $ explain render rnn-unroll --trace char-rnn.safetensors --lang ko --steps 3-7 --units 0-9
    $ explain render rnn-layers --steps 0-2 --units 0-5

Both read the first recurrent module in the trace (nn.RNN, nn.LSTM or nn.GRU, drawn with its own
equation): ``{q}.l{k}.{fwd|bwd}.h`` and the tokens in ``meta["tokens"]`` (characters, words, or
plain time steps when there are none). rnn-unroll draws one layer (``--layer``, default the top
one) and one direction (``--direction``; a bidirectional layer says it has the other) along the chain;
rnn-layers draws the first two layers as hidden 1 and hidden 2 and, when the trace has
``{q}.l{k}.fwd.grad_h`` (``record(..., grads=True)``), the real ||dL/dhₜ|| of backpropagation through
time; targets come from ``meta["targets"]`` (none are drawn when the trace names none) and the loss
from ``meta["loss"]``/``meta["loss_function"]`` (the ``gradients`` recipe writes both). With no
trace, rnn-unroll records the book's char-RNN, rnn-layers the same with the ``gradients`` recipe.
Options: ``layer``, ``direction``, ``steps`` (default "0-4" / "0-2"), ``units`` (default "0-9" / "0-5"), ``batch`` (0).
"""

from __future__ import annotations

import re
from typing import Any

from manim import DOWN, LEFT, RIGHT, UP, Dot, config, FadeIn, FadeOut, GrowArrow, Indicate, LaggedStart, RoundedRectangle, Text, VGroup

from explain.draw import theme
from explain.draw.base import SceneInputError, TraceScene
from explain.draw.captions import fitted_caption, recaption
from explain.draw.chain import ModuleBox, TokenTile, arrow_between, link, self_loop
from explain.names import recurrent_name
from explain.figures.recurrent import (
    MissingValues,
    check_indices,
    describe_indices,
    chosen_direction,
    directions_of,
    find_recurrent,
    grad_norms,
    hidden_states,
    decoded_steps,
    decoder_of,
    encoder_of,
    kind_of,
    layers_of,
    parse_indices,
    step_equation,
    step_labels,
    step_noun,
    steps_of,
    subscript,
)
from explain.draw.graphs import LogBars
from explain.draw.strip import ScaleBar, ValueStrip, show_token
from explain.glossary import term, with_particle
from explain.trace import Trace
from explain.scenes import SceneSpec

__all__ = [
    "COLUMN_X",
    "DIRECTION_WORDS",
    "korean_equation",
    "INITIAL_X",
    "KIND_STATES",
    "KIND_TITLES",
    "LAYER_STEPS",
    "layered_equation",
    "layered_values",
    "layers_captions",
    "loss_text",
    "MAX_STEPS",
    "MAX_UNITS",
    "output_row",
    "RNNLayersScene",
    "RNNUnrollScene",
    "ROW_Y",
    "SCENES",
    "STRETCH_STEPS",
    "unroll_captions",
    "unroll_values",
    "WEIGHT_LABELS",
]

SCENES = [
    SceneSpec("rnn-unroll", "RNNUnrollScene", "Rolled and unrolled RNN with real hidden states (figure 1)", "char-rnn"),
    SceneSpec(
        "rnn-layers", "RNNLayersScene", "Layered RNN over time, shared weights, backpropagation through time (figure 2)", "char-rnn", "gradients"
    ),
]

#: the chain fits this many copies of the module across the frame
MAX_STEPS = 6
MAX_UNITS = 12


def unroll_values(trace: Trace, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the unrolled chain shows: module, layer, steps, units, tokens and h per step.

    >>> import torch
    >>> tr = Trace({"rnn.l0.fwd.h": torch.arange(6.).reshape(3, 1, 2)}, meta={"tokens": list("abc")})
    >>> unroll_values(tr, {"steps": "1-2", "units": "1"})["h"]
    [[3.0], [5.0]]
    """
    options = options or {}
    module = find_recurrent(trace, "h")
    layers = layers_of(trace, module)
    layer = int(options.get("layer", layers[-1]))
    if layer not in layers:
        raise MissingValues(f"layer {layer} is not in the trace; {module or 'the module'} has layers {layers}")
    direction = chosen_direction(trace, module, layer, options.get("direction"))
    batch = int(options.get("batch") or 0)
    total_steps = steps_of(trace, module, layer, direction=direction, batch=batch)  # a packed sequence's own length
    # by default the steps where the direction starts: the first ones forward, the last ones backward
    first_steps = list(range(min(5, total_steps))) if direction == "fwd" else list(range(max(0, total_steps - 5), total_steps))
    steps = parse_indices(options.get("steps"), first_steps, what="steps")
    units_total = int(trace[recurrent_name(module, layer, "h", direction)].shape[-1])
    units = parse_indices(options.get("units"), list(range(min(10, units_total))), what="units")
    if len(steps) > MAX_STEPS:
        raise MissingValues(f"at most {MAX_STEPS} steps fit on screen, got {len(steps)}")
    if len(units) > MAX_UNITS:
        raise MissingValues(f"at most {MAX_UNITS} units fit on screen, got {len(units)}")
    check_indices(total_steps, steps, "time step", f"batch item {batch}")
    h = hidden_states(trace, module, layer, steps=steps, units=units, batch=batch, direction=direction)
    tokens = [step_labels(trace, 1, offset=t)[0] for t in steps]
    return {
        "module": module, "layer": layer, "steps": steps, "total_steps": total_steps, "units": units, "units_total": units_total,
        "tokens": tokens, "h": h,
        "kind": kind_of(trace, module), "equation": step_equation(trace, module, direction), "noun": step_noun(trace),
        "direction": direction, "directions": directions_of(trace, module, layer),
    }


#: the module's name in titles, and the state it passes to itself, by recurrent kind
KIND_TITLES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
DIRECTION_WORDS = {"fwd": ("forward", "순방향"), "bwd": ("backward", "역방향")}
KIND_STATES = {"rnn": ("its state hₜ", "상태 hₜ를"), "lstm": ("its states hₜ and cₜ", "상태 hₜ와 cₜ를"), "gru": ("its state hₜ", "상태 hₜ를")}


def unroll_captions(values: dict[str, Any]) -> list[tuple[str, str]]:
    """The three captions of rnn-unroll, for the module's kind, what a step reads and the direction."""
    state_en, state_ko = KIND_STATES[values["kind"]]
    noun_en, noun_ko = values["noun"]
    read_en = "read" if noun_en != "time step" else ""
    backward = values["direction"] == "bwd"
    order_en = " It runs backward: the state passes from the last step to the first." if backward else ""
    order_ko = " 역방향이므로 상태는 마지막 단계에서 첫 단계로 넘어갑니다." if backward else ""
    return [
        (f"One module A reads xₜ, outputs hₜ and passes {state_en} to itself.",
         f"모듈 A 하나가 xₜ를 읽고 hₜ를 내보내며, {state_ko} 자기 자신에게 넘깁니다."),
        (f"Unrolled: the same A (same weights), one copy per {noun_en} {read_en}".rstrip() + "." + order_en,
         f"펼치면 같은 A(같은 가중치)가 {noun_ko}마다 하나씩 놓입니다." + order_ko),
        (f"Each hₜ is the real hidden state after that {noun_en}.",
         f"각 hₜ는 그 {noun_ko}까지 읽은 뒤의 실제 은닉 상태입니다."),
    ]


class RNNUnrollScene(TraceScene):
    """The rolled module A (xₜ below, hₜ above, a self-loop) = the chain of copies reading characters."""

    OPTIONS = frozenset({"layer", "direction", "batch", "steps", "units"})

    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        try:
            unroll_values(trace, options)
        except MissingValues as error:
            raise SceneInputError(str(error)) from None

    def construct(self) -> None:
        values = unroll_values(self.trace, self.options)
        self.shown = values
        kind = KIND_TITLES[values["kind"]]
        captions = unroll_captions(values)
        if len(values["directions"]) > 1:  # a bidirectional layer: say which half is drawn
            english, korean = DIRECTION_WORDS[values["direction"]]
            title = self.text(f"The {kind}, rolled and unrolled: {english} of 2 directions", f"{kind}: 접힌 모습과 펼친 모습 (양방향 중 {korean})", size=34)
        else:
            title = self.text(f"The {kind}, rolled and unrolled", f"{kind}: 접힌 모습과 펼친 모습", size=34)
        title.to_edge(UP, buff=0.25)
        equation = self.text(values["equation"], korean_equation(values["equation"]), size=22, markup=True).next_to(title, DOWN, buff=0.15)
        if equation.width > 13.4:
            equation.scale_to_fit_width(13.4)
        self.add(title, equation)

        rolled = self._rolled().move_to(LEFT * 5.55 + DOWN * 0.6)
        equals = Text("=", font=theme.FONT, font_size=48, color=theme.INK).move_to(LEFT * 4.1 + DOWN * 0.6)
        chain = self.chain = self._chain(values)  # (kept: what the chain drew)
        legend = self._legend(values).next_to(rolled, DOWN, buff=0.3)
        if self.is_still:
            self.add(rolled, equals, legend, fitted_caption(self, *captions[-1]), *chain.values())
            return

        caption = fitted_caption(self, *captions[0])
        self.play(FadeIn(rolled), FadeIn(caption), run_time=0.6)
        self.pause()
        self.play(
            FadeIn(equals),
            *[FadeIn(VGroup(box, arrow)) for box, arrow in zip(chain["boxes"], chain["inputs"])],
            *[FadeIn(tile) for tile in chain["tiles"]],
            *[GrowArrow(arrow) for arrow in chain["links"]],
            FadeIn(chain["entry"]),
            recaption(self, caption, *captions[1]),
            run_time=0.8,
        )
        self.pause()
        self.play(FadeIn(legend), recaption(self, caption, *captions[2]), run_time=0.5)
        order = list(range(len(values["steps"])))
        if values["direction"] == "bwd":  # the backward direction reads the sequence from its end
            order.reverse()
        for previous, index in zip([None, *order], order):
            if previous is not None:  # the previous state travels along the link into this copy (a dot: nothing covers the boxes)
                link_arrow = chain["links"][min(previous, index)]
                start, end = (link_arrow.get_start(), link_arrow.get_end()) if previous < index else (link_arrow.get_end(), link_arrow.get_start())
                carrier = Dot(start, radius=0.07, color=theme.HIGHLIGHT)
                self.play(carrier.animate.move_to(end),
                          Indicate(chain["tiles"][index][0].glyph, color=theme.HIGHLIGHT, scale_factor=1.4), run_time=0.5)
                self.remove(carrier)
            else:
                self.play(Indicate(chain["tiles"][index][0].glyph, color=theme.HIGHLIGHT, scale_factor=1.4), run_time=0.4)
            self.play(GrowArrow(chain["outputs"][index]), FadeIn(chain["strips"][index], shift=UP * 0.2), run_time=0.4)
        self.pause()

    def _rolled(self) -> VGroup:
        box = ModuleBox("A")
        x_label = Text("xₜ", font=theme.FONT, font_size=30, color=theme.INK).next_to(box, DOWN, buff=0.55)
        h_label = Text("hₜ", font=theme.FONT, font_size=30, color=theme.INK).next_to(box, UP, buff=0.55)
        return VGroup(box, link(x_label, box), link(box, h_label), x_label, h_label, self_loop(box))

    def _chain(self, values: dict[str, Any]) -> dict[str, VGroup]:
        count = len(values["steps"])
        spacing = min(2.0, 9.4 / count)
        left = -2.95 + (9.4 - spacing * count) / 2 + spacing / 2
        parts: dict[str, VGroup] = {key: VGroup() for key in ("boxes", "tiles", "inputs", "links", "outputs", "strips")}
        for index, (step, token, h) in enumerate(zip(values["steps"], values["tokens"], values["h"])):
            box = ModuleBox("A").move_to(RIGHT * (left + index * spacing) + DOWN * 0.6)
            tile = TokenTile(token, max_width=spacing * 0.85).next_to(box, DOWN, buff=0.45)
            x_label = Text(f"x{subscript(step)}", font=theme.FONT, font_size=22, color=theme.MUTED).next_to(tile, DOWN, buff=0.1)
            strip = ValueStrip(h, scale="tanh", cell=0.2, vertical=True)
            strip.next_to(box, UP, buff=0.42)
            h_label = Text(f"h{subscript(step)}", font=theme.FONT, font_size=22, color=theme.INK).next_to(strip, UP, buff=0.08)
            parts["boxes"].add(box)
            parts["tiles"].add(VGroup(tile, x_label))
            parts["inputs"].add(link(tile, box))
            parts["outputs"].add(arrow_between(box.get_top(), strip.get_bottom()))
            parts["strips"].add(VGroup(strip, h_label))
        for before, after in zip(parts["boxes"], parts["boxes"][1:]):
            parts["links"].add(link(before, after) if values["direction"] == "fwd" else link(after, before))
        parts["entry"] = self._entry(values, parts["boxes"])
        return parts

    def _entry(self, values: dict[str, Any], boxes: VGroup) -> VGroup:
        """The state arriving from a step that is not drawn (steps after the direction's start), else nothing."""
        forward = values["direction"] == "fwd"
        entered = values["steps"][0] if forward else values["steps"][-1]
        before = entered - 1 if forward else entered + 1
        if not 0 <= before < values["total_steps"]:
            return VGroup()
        box = boxes[0] if forward else boxes[-1]
        side = box.get_left() if forward else box.get_right()
        arrow = arrow_between(side + (LEFT if forward else RIGHT) * 0.75, side)
        state = f"h{subscript(before)}" + (f", c{subscript(before)}" if values["kind"] == "lstm" else "")
        return VGroup(arrow, Text(state, font=theme.FONT, font_size=20, color=theme.MUTED).next_to(arrow, UP, buff=0.08))

    def _legend(self, values: dict[str, Any]) -> VGroup:
        layer_note = self.say(
            f"layer {values['layer']}, units {describe_indices(values['units'], values['units_total'])}",
            f"층 {values['layer']}, 유닛 {describe_indices(values['units'], values['units_total'], 'ko')}",
        )
        if len(values["steps"]) < values["total_steps"]:
            layer_note += "\n" + self.say(
                f"steps {describe_indices(values['steps'], values['total_steps'])}",
                f"단계 {describe_indices(values['steps'], values['total_steps'], 'ko')}",
            )
        note = Text(layer_note, font=theme.FONT, font_size=18, color=theme.MUTED, line_spacing=0.8)
        bar = ScaleBar("tanh", length=1.8).with_title("hₜ: −1 → 1")
        return VGroup(bar, note).arrange(DOWN, buff=0.12)


def korean_equation(equation: str) -> str:
    """A step equation's words in Korean: "(gates i, f, g, o from xₜ and hₜ₋₁)" → "(게이트 i, f, g, o ← xₜ, hₜ₋₁)".

    >>> korean_equation("h = o ⊙ tanh(c)     (gates i, f, g, o from x and h)")
    'h = o ⊙ tanh(c)     (게이트 i, f, g, o ← x, h)'
    """
    return re.sub(r"\(gates (.*) from (.*) and (.*)\)", lambda m: f"({term('gate', 'ko')} {m[1]} ← {m[2]}, {m[3]})", equation)


def layered_values(trace: Trace, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the layered figure shows: tokens, targets, h of two layers at 3 steps, and ||dL/dhₜ||.

    ``grads`` maps each layer to ||dL/dhₜ|| for every recorded step, or is None when the trace
    has no gradients (the backpropagation step then shows the paths without numbers).
    """
    options = options or {}
    module = find_recurrent(trace, "h")
    layers = layers_of(trace, module)
    if len(layers) < 2:
        raise MissingValues(f"this figure needs a recurrent module with 2 layers; {module or 'the module'} has {len(layers)}")
    lower, upper = layers[:2]
    direction = chosen_direction(trace, module, lower, options.get("direction"))
    if direction == "bwd":
        raise MissingValues("rnn-layers draws the forward direction (its state flows left to right); rnn-unroll draws --direction bwd")
    batch = int(options.get("batch") or 0)
    total_steps = steps_of(trace, module, lower, direction=direction, batch=batch)  # a packed sequence's own length
    steps = parse_indices(options.get("steps"), list(range(min(3, total_steps))), what="steps")
    check_indices(total_steps, steps, "time step", f"batch item {batch}")
    if len(steps) > 3:
        raise MissingValues(f"at most 3 steps fit on screen, got {len(steps)}")
    units_total = int(trace[recurrent_name(module, lower, "h", direction)].shape[-1])
    units = parse_indices(options.get("units"), list(range(min(6, units_total))), what="units")
    if len(units) > 8:
        raise MissingValues(f"at most 8 units fit on screen, got {len(units)}")
    h = {
        layer: hidden_states(trace, module, layer, steps=steps, units=units, batch=batch, direction=direction) for layer in (lower, upper)
    }
    tokens = step_labels(trace, total_steps) if trace.meta.get("tokens") else [f"x{subscript(t)}" for t in range(total_steps)]
    targets = [str(target) for target in trace.meta.get("targets") or []]
    has_grads = all(recurrent_name(module, layer, "grad_h", direction) in trace for layer in (lower, upper))
    decoder = decoder_of(trace, module)
    return {
        "kind": kind_of(trace, module),
        "direction": direction,
        "directions": directions_of(trace, module, lower),
        "noun": step_noun(trace),
        "layer_count": len(layers),
        "decoder": decoder,
        # the steps whose h² the decoder reads (None: every step; a classifier: the last one)
        "outputs": decoded_steps(trace, module, decoder, batch) if decoder and len(layers) == 2 else None,
        # a bidirectional classifier's backward half (cat(h_n[-2], h_n[-1]) reads its first step)
        "outputs_bwd": decoded_steps(trace, module, decoder, batch, "bwd") if decoder and len(layers) == 2 and len(directions_of(trace, module, upper)) > 1 else None,
        # is the decoder's input in the trace (else where it reads from cannot be seen)?
        "decoder_input_seen": bool(decoder) and any(
            isinstance(name, str) and name in trace for name in (trace.meta.get("modules", {}).get(decoder, {}).get("inputs") or [])[:1]
        ),
        "total_steps": total_steps,
        "encoder": encoder_of(trace, module),
        "loss": trace.meta.get("loss"),
        "loss_function": trace.meta.get("loss_function"),
        "has_targets": bool(targets),
        "nonlinearity": trace.meta.get("modules", {}).get(module, {}).get("nonlinearity"),
        "module": module,
        "layers": [lower, upper],
        "steps": steps,
        "units": units,
        "units_total": units_total,
        "tokens": [tokens[t] for t in steps],
        "targets": [targets[t] if t < len(targets) else "" for t in steps],
        "h": h,
        "grads": {layer: grad_norms(trace, module, layer, batch=batch, direction=direction) for layer in (lower, upper)}
        if has_grads
        else None,
        "all_tokens": tokens,
    }


#: vertical positions of the four rows (input at the bottom) and the targets above the outputs
ROW_Y = {"input": -2.3, "hidden1": -0.9, "hidden2": 0.5, "output": 1.85, "target": 2.7}
COLUMN_X = [-2.8, 0.0, 2.8]
INITIAL_X = -4.9
#: where a row label may start (the frame's left edge is −7.1)
LABEL_LEFT = -6.9
#: the stretched chain shows at most this many steps of gradient norms
STRETCH_STEPS = 30


#: one layer's step in the layered equation, by kind: {k} is the layer (¹, ²), {below} what it reads
LAYER_STEPS = {
    "rnn": "h{k}<sub>t</sub> = tanh(W<sub>ih</sub>{k} {below} + W<sub>hh</sub>{k} h{k}<sub>t−1</sub> + b{k})",
    "rnn-relu": "h{k}<sub>t</sub> = relu(W<sub>ih</sub>{k} {below} + W<sub>hh</sub>{k} h{k}<sub>t−1</sub> + b{k})",
    "lstm": "h{k}<sub>t</sub>, c{k}<sub>t</sub> = LSTM{k}({below}, h{k}<sub>t−1</sub>, c{k}<sub>t−1</sub>)",
    "gru": "h{k}<sub>t</sub> = GRU{k}({below}, h{k}<sub>t−1</sub>)",
}


#: the drawn edges' weights as PyTorch names them (layer 1 of the figure is PyTorch's l0)
WEIGHT_LABELS = {"W_ih": "W<sub>ih</sub>¹", "W_11": "W<sub>hh</sub>¹", "W_12": "W<sub>ih</sub>²", "W_22": "W<sub>hh</sub>²"}


def layered_equation(values: dict[str, Any], input_word: str = "input") -> str:
    """The two drawn layers' step equations and the output's (Pango markup), for the module's kind;
    first, when the input row's tokens reach layer 1 through an embedding, what x is
    (``input_word``: the input row's label)."""
    kind = values["kind"] if values.get("nonlinearity") != "relu" else "rnn-relu"
    first = LAYER_STEPS[kind].format(k="¹", below="x<sub>t</sub>")
    below = "[h¹<sub>t</sub>, h¹<sub>t</sub>(bwd)]" if len(values["directions"]) > 1 else "h¹<sub>t</sub>"
    second = LAYER_STEPS[kind].format(k="²", below=below)
    top = "[h²<sub>t</sub>, h²<sub>t</sub>(bwd)]" if len(values["directions"]) > 1 else "h²<sub>t</sub>"
    output = f"y<sub>t</sub> = {values['decoder']}({top})" if values["decoder"] and values["layer_count"] == 2 else ""
    read = values.get("outputs")
    if output and read is not None and len(read) <= 1:  # one output per sequence
        backward = values.get("outputs_bwd") or []
        if len(read) == 1 and len(values["directions"]) > 1:
            top = f"[h²{subscript(read[0])}, " + (f"h²{subscript(backward[0])}(bwd)]" if len(backward) == 1 else "h²(bwd)]")
        elif len(read) == 1:
            top = f"h²{subscript(read[0])}"
        output = f"y = {values['decoder']}({top if read else '…'})"
    embedded = f"x<sub>t</sub> = {values['encoder']}({input_word}<sub>t</sub>)" if values.get("encoder") else ""
    return "     ".join(part for part in (embedded, first, second, output) if part)


def output_row(values: dict[str, Any]) -> tuple[tuple[str, str], str | None]:
    """What the top row is (its label in both languages) and the weight of the edge into it (None: no weight)."""
    if values["layer_count"] > 2:
        return ("layer 2 →", "2층 →"), None
    if values["decoder"]:
        return ("output", "출력"), "W_ho"
    return ("output = h²", "출력 = h²"), None


def has_output(values: dict[str, Any], step: int) -> bool:
    """Is there an output at ``step``: a decoder reading that step's h² (every step's, unless the
    decoder reads one per sequence), or h² itself when no decoder follows?"""
    return values.get("outputs") is None or step in values["outputs"]


def outputs_note(values: dict[str, Any]) -> tuple[str, str] | None:
    """One line on where the outputs are when the decoder reads one per sequence (None otherwise)."""
    read = values.get("outputs")
    if read is None:
        return None
    decoder = values["decoder"]
    if not read and not values.get("decoder_input_seen"):
        return f"{decoder}: one output per\nsequence; its input is\nnot in this trace", f"{with_particle(decoder, '는')} 시퀀스마다\n출력을 하나 냅니다\n(입력은 기록에 없습니다)"
    if not read:
        return f"{decoder} reads a value\ncomputed from h², not\none step's h²", f"{with_particle(decoder, '는')} h²으로 계산한\n값을 읽습니다(어느 한\n단계의 h²이 아닙니다)"
    if len(read) > 2 and read == list(range(read[0], read[-1] + 1)):
        steps = f"{read[0]}–{read[-1]}"
    else:
        steps = ", ".join(map(str, read[:3])) + (", …" if len(read) > 3 else "")
    backward = values.get("outputs_bwd") or []
    both = (f" (bwd: t = {backward[0]})", f" (역방향: t = {backward[0]})") if len(backward) == 1 else ("", "")  # where that direction ends
    return f"{decoder} reads h² at\nt = {steps}{both[0]} only", f"{with_particle(decoder, '는')} t = {steps}{both[1]}의\nh²만 읽습니다"


def loss_text(values: dict[str, Any]) -> tuple[str, tuple[str, str]]:
    """The loss the backward arrows start from, as the trace describes it: (formula, explanation)."""
    what = {"cross-entropy": ("cross-entropy", "교차 엔트로피")}.get(values["loss_function"], ("loss", "손실"))
    if values["grads"] is None:
        return "L", ("(no gradients in this trace:\nrecord with --recipe gradients)", "(이 기록에는 기울기가 없습니다:\n--recipe gradients로 기록하세요)")
    if values["loss"] == "last":
        return "L = L<sub>T</sub>", (f"({what[0]}\nat the last step only)", f"(마지막 단계의\n{what[1]}만)")
    if values["loss"] == "all":
        return "L = L₀ + L₁ + L₂ + …", (f"({what[0]} with\neach target, summed)", f"(각 목표와의\n{what[1]}의 합)")
    return "L", ("(the loss the trace\nwas recorded with)", "(기록할 때 쓴 손실)")


def layers_captions(values: dict[str, Any]) -> list[tuple[str, str]]:
    """The four captions of rnn-layers, true for the trace: targets and weights only as recorded."""
    noun_en, noun_ko = values["noun"]
    top_en, top_ko = output_row(values)[0]
    targets = (f"Targets are the next {noun_en}s; e", f"목표는 다음 {noun_ko}이고, ") if values["has_targets"] else ("E", "")
    first = values["steps"][0]
    second = values["steps"][1] if len(values["steps"]) > 1 else first + 1
    top_en, top_ko = (f" → {top_en}", f" → {top_ko}") if has_output(values, first) else ("", "")
    return [
        (f"At t = {first}: input → hidden 1 → hidden 2{top_en}; " + ("the initial state is 0." if first == 0 else f"the state comes from t = {first - 1}."),
         f"t = {first}에서는 입력 → 은닉 1 → 은닉 2{top_ko} 순서로 계산하고, "
         + ("초기 상태는 0입니다." if first == 0 else f"이전 상태는 t = {first - 1}에서 넘어옵니다.")),
        (f"At t = {second}, hidden 1 combines input(t={second}) and hidden 1(t={second - 1}).",
         f"t = {second}에서 은닉 1은 입력과 이전 은닉 1을 합칩니다(입력: t = {second}, 은닉 1: t = {second - 1})."),
        (f"{targets[0]}very edge of a kind shares one weight.",
         f"{targets[1]}같은 종류의 연결은 모두 같은 가중치를 씁니다."),
        ("Backpropagation through time: ∂L/∂W sums over t; each term reaches back to t = 0.",
         "시간 역전파: ∂L/∂W는 모든 t에 걸친 합이고, 각 항은 t = 0까지 거슬러 올라갑니다."),
    ]


class RNNLayersScene(TraceScene):
    """Input / hidden 1 / hidden 2 / output over t = 0..2 with shared weights, then BPTT."""

    OPTIONS = frozenset({"direction", "batch", "steps", "units"})

    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        try:
            layered_values(trace, options)
        except MissingValues as error:
            raise SceneInputError(str(error)) from None

    def construct(self) -> None:
        values = layered_values(self.trace, self.options)
        self.shown = values
        title = self.text("Layers over time, and backpropagation through time", "시간에 따른 층, 그리고 시간 역전파", size=30)
        self.add(title.to_edge(UP, buff=0.2).to_edge(LEFT, buff=0.4))
        equation = self.text(layered_equation(values, self.term("input")), size=17, markup=True)
        if equation.width > 13.4:
            equation.scale_to_fit_width(13.4)
        self.add(equation.next_to(title, DOWN, buff=0.08).align_to(title, LEFT))
        captions = layers_captions(values)
        rows = self._row_labels(values)
        grid = self.grid = self._grid(values)  # (kept: what each column drew)
        legend = self._legend(values)
        backward = self._backward(grid, values)
        if self.is_still:
            nodes = [node for column in grid["nodes"] for node in column.values()]
            edges = [edge for weight in grid["edges"].values() for edge in weight]
            self.add(rows, grid["initial"], grid["headers"], grid["targets"], grid["weights"], legend, *edges, *nodes,
                     *backward.values(), fitted_caption(self, *captions[-1]))
            return

        caption = fitted_caption(self, *captions[0])
        self.play(FadeIn(rows), FadeIn(grid["initial"]), FadeIn(grid["headers"][0]), FadeIn(caption), run_time=0.5)
        for name in grid["nodes"][0]:  # input, hidden 1, hidden 2 (and the output, where there is one)
            self.play(*[FadeIn(edge) for edge in grid["edges_in"][0][name]], FadeIn(grid["nodes"][0][name]), run_time=0.35)
        self.pause()
        for column in range(1, len(values["steps"])):
            if column == 1:
                self.play(recaption(self, caption, *captions[1]), run_time=0.3)
            self.play(FadeIn(grid["headers"][column]), run_time=0.2)
            for name in grid["nodes"][column]:
                self.play(*[FadeIn(edge) for edge in grid["edges_in"][column][name]], FadeIn(grid["nodes"][column][name]),
                          run_time=0.3 if column == 1 else 0.15)
            self.pause()
        self.play(FadeIn(grid["targets"]), FadeIn(grid["weights"]), FadeIn(legend),
                  recaption(self, caption, *captions[2]), run_time=0.6)
        self.pause()
        self.play(FadeIn(backward["loss"]), recaption(self, caption, *captions[3]), run_time=0.4)
        # the gradient flows from the losses at the top right back to t = 0 at the bottom left
        order = sorted(backward["arrows"], key=lambda arrow: (-arrow.get_center()[0], -arrow.get_center()[1]))
        self.play(LaggedStart(*[GrowArrow(arrow) for arrow in order], lag_ratio=0.15), run_time=1.6)
        self.play(FadeIn(backward["norms"]), run_time=0.4)
        self.pause()
        if values["grads"] is not None:
            self._stretch(values, caption)

    def _row_labels(self, values: dict[str, Any]) -> VGroup:
        names = {
            "output": self.say(*output_row(values)[0]),
            "hidden2": f"{self.term('hidden')} 2",
            "hidden1": f"{self.term('hidden')} 1",
            "input": self.term("input"),
        }
        labels = VGroup(*[self.text(names[row], size=22).move_to(RIGHT * -6.35 + UP * ROW_Y[row]) for row in names])
        for label in labels:  # a long one ("output = h²") starts at the frame's margin instead of beyond it
            label.shift(RIGHT * max(0.0, LABEL_LEFT - label.get_left()[0]))
        return labels

    def _grid(self, values: dict[str, Any]) -> dict[str, Any]:
        lower, upper = values["layers"]
        output_weight = output_row(values)[1]
        before = values["steps"][0] - 1  # the state the first drawn step reads: zeros at t = 0, else the step before's
        initial = {
            row: ModuleBox("0" if before < 0 else f"h{mark}{subscript(before)}", width=0.6 if before < 0 else 0.8, height=0.5, size=22,
                           fill=theme.BACKGROUND).move_to(RIGHT * INITIAL_X + UP * ROW_Y[row])
            for row, mark in (("hidden1", "¹"), ("hidden2", "²"))
        }
        start = self.text("h = 0", "h = 0", size=18, color=theme.MUTED) if before < 0 else self.text(f"t = {before}", f"t = {before}", size=18, color=theme.MUTED)
        grid: dict[str, Any] = {"initial": VGroup(*initial.values(), start.next_to(initial["hidden1"], DOWN, buff=0.15)),
                                "nodes": [], "edges_in": [], "headers": VGroup(), "targets": VGroup(), "weights": VGroup(),
                                "edges": {"W_ih": [], "W_11": [], "W_12": [], "W_22": [], "W_ho": []}}
        previous = dict(initial)
        for column, (step, token, target) in enumerate(zip(values["steps"], values["tokens"], values["targets"])):
            x = COLUMN_X[column]
            nodes = {
                "input": TokenTile(token, side=0.55).move_to(RIGHT * x + UP * ROW_Y["input"]),
                "hidden1": self._state_node(values["h"][lower][column]).move_to(RIGHT * x + UP * ROW_Y["hidden1"]),
                "hidden2": self._state_node(values["h"][upper][column]).move_to(RIGHT * x + UP * ROW_Y["hidden2"]),
            }
            edges = {
                "input": [],
                "hidden1": [("W_ih", link(nodes["input"], nodes["hidden1"])), ("W_11", link(previous["hidden1"], nodes["hidden1"]))],
                "hidden2": [("W_12", link(nodes["hidden1"], nodes["hidden2"])), ("W_22", link(previous["hidden2"], nodes["hidden2"]))],
            }
            if has_output(values, step):
                nodes["output"] = ModuleBox(f"{'y' if output_weight else 'h²'}{subscript(step)}", width=0.8, height=0.5, size=22,
                                            fill=theme.LAYER_FILL).move_to(RIGHT * x + UP * ROW_Y["output"])
                edges["output"] = [("W_ho", link(nodes["hidden2"], nodes["output"]))]
            for row_edges in edges.values():
                for weight, arrow in row_edges:
                    grid["edges"][weight].append(arrow)
                    if weight != "W_ho" or output_weight:
                        grid["weights"].add(self._weight_label(WEIGHT_LABELS.get(weight, values["decoder"]), arrow))
            grid["nodes"].append(nodes)
            grid["edges_in"].append({row: [arrow for _, arrow in row_edges] for row, row_edges in edges.items()})
            grid["headers"].add(self.text(f"t = {step}", f"t = {step}", size=20, color=theme.MUTED)
                                .next_to(nodes["input"], DOWN, buff=0.12))
            if values["has_targets"]:
                target_text = Text(show_token(target) if target else "–", font=theme.MONO_FONT, font_size=22, color=theme.INK)
                target_label = self.text(self.term("target"), size=16, color=theme.MUTED)
                grid["targets"].add(VGroup(target_label, target_text).arrange(RIGHT, buff=0.1).move_to(RIGHT * x + UP * ROW_Y["target"]))
            previous = nodes
        return grid

    def _state_node(self, values: list[float]) -> VGroup:
        strip = ValueStrip(values, scale="tanh", cell=0.17)
        frame = RoundedRectangle(width=strip.width + 0.22, height=0.45, corner_radius=0.1, stroke_color=theme.INK, stroke_width=2)
        frame.set_fill(theme.MODULE_FILL, opacity=1)
        strip.move_to(frame)
        node = VGroup(frame, strip)
        node.strip = strip
        return node

    def _weight_label(self, weight: str, arrow) -> Text:
        label = self.text(weight, size=16, color=theme.LAYER_STROKE, markup=True)
        horizontal = abs(arrow.get_end()[0] - arrow.get_start()[0]) > abs(arrow.get_end()[1] - arrow.get_start()[1])
        return label.next_to(arrow, UP if horizontal else LEFT, buff=0.05)

    def _legend(self, values: dict[str, Any]) -> VGroup:
        lower, upper = values["layers"]
        note = self.say(
            f"hidden 1 = layer {lower}\nhidden 2 = layer {upper}\nunits {describe_indices(values['units'], values['units_total'])}",
            f"은닉 1 = 층 {lower}\n은닉 2 = 층 {upper}\n유닛 {describe_indices(values['units'], values['units_total'], 'ko')}",
        )
        if values["layer_count"] > 2:
            note += self.say(f"\n(of {values['layer_count']} layers)", f"\n(전체 {values['layer_count']}층 중)")
        if len(values["directions"]) > 1:
            english, korean = DIRECTION_WORDS[values["direction"]]
            note += self.say(f"\n{english} of 2 directions", f"\n양방향 중 {korean}")
        where_read = outputs_note(values)
        if where_read:
            note += "\n" + self.say(*where_read)
        text = Text(note, font=theme.FONT, font_size=16, color=theme.MUTED, line_spacing=0.8)
        bar = ScaleBar("tanh", length=1.6).with_title("hₜ: −1 → 1")
        legend = VGroup(bar, text).arrange(DOWN, buff=0.15).move_to(RIGHT * 6.05 + DOWN * 1.9)
        right = config.frame_width / 2 - 0.25  # a longer note (a bidirectional layer's) stays inside the frame
        return legend.shift(LEFT * max(0.0, legend.get_right()[0] - right))

    def _backward(self, grid: dict[str, Any], values: dict[str, Any]) -> dict[str, VGroup]:
        lower, upper = values["layers"]
        arrows = VGroup()
        for weight, edges in grid["edges"].items():
            for arrow in edges:
                start, end = arrow.get_start(), arrow.get_end()
                horizontal = abs(end[0] - start[0]) > abs(end[1] - start[1])
                offset = DOWN * 0.24 if horizontal else RIGHT * 0.24  # clear of the forward arrow
                arrows.add(arrow_between(end + offset, start + offset, color=theme.GRADIENT, stroke=2.5, buff=0.02))
        formula, explanation = loss_text(values)
        loss = VGroup(
            self.text(formula, size=22, color=theme.GRADIENT, markup=True),
            self.text(*explanation, size=15, color=theme.MUTED),
        ).arrange(DOWN, buff=0.08)
        loss.to_edge(RIGHT, buff=0.3).set_y(ROW_Y["output"] + 0.1)  # beside the outputs, clear of the title
        norms = VGroup()
        if values["grads"] is not None:
            for column, step in enumerate(values["steps"]):
                for layer, row in ((lower, "hidden1"), (upper, "hidden2")):
                    node = grid["nodes"][column][row]
                    norm, value = f"‖∂L/∂h{subscript(step)}‖", f"={values['grads'][layer][step]:.3g}"
                    # the number on a second line, always: one line runs into the next column's W_ih when it is long
                    text = Text(f"{norm}\n{value}", font=theme.FONT, font_size=16, color=theme.GRADIENT, line_spacing=0.8)
                    # below the backward arrow between the nodes, right of the one that runs down from this node
                    norms.add(text.next_to(node, DOWN, buff=0.16).align_to(node.get_center() + RIGHT * 0.32, LEFT))
        return {"arrows": arrows, "loss": loss, "norms": norms}

    def _stretch(self, values: dict[str, Any], caption: Text) -> None:
        lower, upper = values["layers"]
        tokens = values["all_tokens"][:STRETCH_STEPS]
        chart = LogBars(
            [(f"{self.term('hidden')} 1", values["grads"][lower][: len(tokens)], theme.GRADIENT),
             (f"{self.term('hidden')} 2", values["grads"][upper][: len(tokens)], theme.HIGHLIGHT)],
            labels=tokens, width=10.5, height=3.6,
        ).move_to(DOWN * 0.3 + RIGHT * 0.4)
        heading = self.text(f"‖∂L/∂hₜ‖ for t = 0 … {len(tokens) - 1}", f"t = 0 … {len(tokens) - 1}의 ‖∂L/∂hₜ‖", size=24)
        heading.next_to(chart, UP, buff=0.3)
        keep = {caption} | set(self.mobjects[:1])
        self.play(*[FadeOut(mobject) for mobject in self.mobjects if mobject not in keep], run_time=0.5)
        self.play(FadeIn(chart), FadeIn(heading),
                  recaption(self, caption, f"Stretched to t = {len(tokens) - 1}: why does training get worse as the chain grows?",
                                  f"t = {len(tokens) - 1}까지 늘이면: 사슬이 길수록 학습이 왜 나빠질까요?"),
                  run_time=0.8)
        self.pause()
