"""Figures 1 and 2: the rolled and unrolled RNN; the layered RNN over time and backpropagation through time.

    $ explain render rnn-unroll --still
    $ explain render rnn-unroll --trace char-rnn.safetensors --lang ko --steps 3-7 --units 0-9
    $ explain render rnn-layers --steps 0-2 --units 0-5

Both read the first recurrent module in the trace: ``{q}.l{k}.fwd.h`` and the characters in
``meta["tokens"]``. rnn-unroll draws one layer (``--layer``, default the top one) along the chain;
rnn-layers draws the first two layers as hidden 1 and hidden 2 and, when the trace has
``{q}.l{k}.fwd.grad_h`` (``record(..., grads=True)``), the real ||dL/dhₜ|| of backpropagation through
time; targets come from ``meta["targets"]`` (else the next token). With no trace, rnn-unroll records
the book's char-RNN, rnn-layers the same with gradients of the summed next-character loss.
Options: ``layer``, ``steps`` (default "0-4" / "0-2"), ``units`` (default "0-9" / "0-5"), ``batch`` (0).
"""

from __future__ import annotations

from typing import Any

from manim import DOWN, LEFT, RIGHT, UP, Dot, FadeIn, FadeOut, GrowArrow, Indicate, LaggedStart, RoundedRectangle, Text, VGroup

from explain.draw import theme
from explain.draw.base import SceneInputError, TraceScene
from explain.draw.captions import fitted_caption, recaption
from explain.draw.chain import ModuleBox, TokenTile, arrow_between, link, self_loop
from explain.draw.recurrent_values import (
    MissingValues,
    describe_indices,
    find_recurrent,
    grad_norms,
    hidden_states,
    layers_of,
    parse_indices,
    recurrent_name,
    step_labels,
    steps_of,
    subscript,
)
from explain.draw.graphs import LogBars
from explain.draw.strip import ScaleBar, ValueStrip, show_token
from explain.trace import Trace
from scenes import SceneSpec

SCENES = [
    SceneSpec("rnn-unroll", "RNNUnrollScene", "Rolled and unrolled RNN with real hidden states (figure 1)", "char-rnn"),
    SceneSpec("rnn-layers", "RNNLayersScene", "Layered RNN over time, shared weights, backpropagation through time (figure 2)", "char-rnn"),
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
    total_steps = steps_of(trace, module, layer)
    steps = parse_indices(options.get("steps"), list(range(min(5, total_steps))), what="steps")
    units_total = int(trace[recurrent_name(module, layer, "h")].shape[-1])
    units = parse_indices(options.get("units"), list(range(min(10, units_total))), what="units")
    if len(steps) > MAX_STEPS:
        raise MissingValues(f"at most {MAX_STEPS} steps fit on screen, got {len(steps)}")
    if len(units) > MAX_UNITS:
        raise MissingValues(f"at most {MAX_UNITS} units fit on screen, got {len(units)}")
    h = hidden_states(trace, module, layer, steps=steps, units=units, batch=int(options.get("batch") or 0))
    tokens = [step_labels(trace, 1, offset=t)[0] for t in steps]
    return {"module": module, "layer": layer, "steps": steps, "units": units, "units_total": units_total, "tokens": tokens, "h": h}


UNROLL_CAPTIONS = [
    ("One module A reads xₜ, outputs hₜ and passes its state to itself.",
     "모듈 A 하나가 xₜ를 읽고 hₜ를 내보내며, 상태를 자기 자신에게 넘긴다."),
    ("Unrolled: the same A (same weights), one copy per character read.",
     "펼치면: 같은 A(같은 가중치)가 읽는 글자마다 하나씩."),
    ("Each hₜ is the real hidden state after reading that character.",
     "각 hₜ는 그 글자를 읽은 뒤의 실제 은닉 상태다."),
]


class RNNUnrollScene(TraceScene):
    """The rolled module A (xₜ below, hₜ above, a self-loop) = the chain of copies reading characters."""

    default_model = "char-rnn"

    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        try:
            unroll_values(trace, options)
        except MissingValues as error:
            raise SceneInputError(str(error)) from None

    def construct(self) -> None:
        values = unroll_values(self.trace, self.options)
        self.shown = values
        title = self.text("An RNN, rolled and unrolled", "RNN: 접힌 모습과 펼친 모습", size=34).to_edge(UP, buff=0.25)
        equation = self.text(
            "h<sub>t</sub> = tanh(x<sub>t</sub> W<sub>ih</sub><sup>T</sup> + b<sub>ih</sub>"
            " + h<sub>t−1</sub> W<sub>hh</sub><sup>T</sup> + b<sub>hh</sub>)",
            size=24, markup=True,
        ).next_to(title, DOWN, buff=0.15)
        self.add(title, equation)

        rolled = self._rolled().move_to(LEFT * 5.55 + DOWN * 0.6)
        equals = Text("=", font=theme.FONT, font_size=48, color=theme.INK).move_to(LEFT * 4.1 + DOWN * 0.6)
        chain = self._chain(values)
        legend = self._legend(values).move_to(LEFT * 5.4 + DOWN * 2.7)
        if self.is_still:
            self.add(rolled, equals, legend, fitted_caption(self, *UNROLL_CAPTIONS[-1]), *chain.values())
            return

        caption = fitted_caption(self, *UNROLL_CAPTIONS[0])
        self.play(FadeIn(rolled), FadeIn(caption), run_time=0.6)
        self.pause()
        self.play(
            FadeIn(equals),
            *[FadeIn(VGroup(box, arrow)) for box, arrow in zip(chain["boxes"], chain["inputs"])],
            *[FadeIn(tile) for tile in chain["tiles"]],
            *[GrowArrow(arrow) for arrow in chain["links"]],
            recaption(self, caption, *UNROLL_CAPTIONS[1]),
            run_time=0.8,
        )
        self.pause()
        self.play(FadeIn(legend), recaption(self, caption, *UNROLL_CAPTIONS[2]), run_time=0.5)
        for index in range(len(values["steps"])):
            if index > 0:  # the previous state travels along the link into this copy (a dot: nothing covers the boxes)
                link_arrow = chain["links"][index - 1]
                carrier = Dot(link_arrow.get_start(), radius=0.07, color=theme.HIGHLIGHT)
                self.play(carrier.animate.move_to(link_arrow.get_end()),
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
            tile = TokenTile(token).next_to(box, DOWN, buff=0.45)
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
            parts["links"].add(link(before, after))
        return parts

    def _legend(self, values: dict[str, Any]) -> VGroup:
        layer_note = self.say(
            f"layer {values['layer']}, units {describe_indices(values['units'], values['units_total'])}",
            f"{values['layer']}층, 유닛 {describe_indices(values['units'], values['units_total'], 'ko')}",
        )
        note = Text(layer_note, font=theme.FONT, font_size=18, color=theme.MUTED)
        bar = ScaleBar("tanh", length=1.8).with_title("hₜ: −1 → 1")
        return VGroup(bar, note).arrange(DOWN, buff=0.12)


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
    total_steps = steps_of(trace, module, lower)
    steps = parse_indices(options.get("steps"), list(range(min(3, total_steps))), what="steps")
    if len(steps) > 3:
        raise MissingValues(f"at most 3 steps fit on screen, got {len(steps)}")
    units_total = int(trace[recurrent_name(module, lower, "h")].shape[-1])
    units = parse_indices(options.get("units"), list(range(min(6, units_total))), what="units")
    if len(units) > 8:
        raise MissingValues(f"at most 8 units fit on screen, got {len(units)}")
    batch = int(options.get("batch") or 0)
    h = {layer: hidden_states(trace, module, layer, steps=steps, units=units, batch=batch) for layer in (lower, upper)}
    tokens = step_labels(trace, total_steps)
    targets = list(trace.meta.get("targets") or tokens[1:])
    has_grads = all(recurrent_name(module, layer, "grad_h") in trace for layer in (lower, upper))
    return {
        "module": module,
        "layers": [lower, upper],
        "steps": steps,
        "units": units,
        "units_total": units_total,
        "tokens": [tokens[t] for t in steps],
        "targets": [targets[t] if t < len(targets) else "" for t in steps],
        "h": h,
        "grads": {layer: grad_norms(trace, module, layer, batch=batch) for layer in (lower, upper)} if has_grads else None,
        "all_tokens": tokens,
    }


#: vertical positions of the four rows (input at the bottom) and the targets above the outputs
ROW_Y = {"input": -2.3, "hidden1": -0.9, "hidden2": 0.5, "output": 1.85, "target": 2.7}
COLUMN_X = [-2.8, 0.0, 2.8]
INITIAL_X = -4.9
#: the stretched chain shows at most this many steps of gradient norms
STRETCH_STEPS = 30


LAYERS_CAPTIONS = [
    ("At t = 0: input → hidden 1 → hidden 2 → output; the initial state is 0.",
     "t = 0: 입력 → 은닉 1 → 은닉 2 → 출력; 초기 상태는 0."),
    ("At t = 1, hidden 1 combines input(t=1) and hidden 1(t=0).",
     "t = 1: 은닉 1은 입력(t=1)과 은닉 1(t=0)을 합친다."),
    ("Targets are the next characters; every edge of a kind shares one weight.",
     "목표는 다음 글자; 같은 종류의 연결은 모두 같은 가중치를 쓴다."),
    ("Backpropagation through time: ∂L/∂W sums over t; each term reaches back to t = 0.",
     "시간 역전파: ∂L/∂W는 모든 t의 합, 각 항은 t = 0까지 거슬러 간다."),
]


class RNNLayersScene(TraceScene):
    """Input / hidden 1 / hidden 2 / output over t = 0..2 with shared weights, then BPTT."""

    default_model = "char-rnn"

    @classmethod
    def default_trace(cls) -> Trace:
        from scenes._recordings import gradient_trace

        return gradient_trace("char-rnn", loss_at="all")

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
        equation = self.text(
            "h<sup>1</sup><sub>t</sub> = tanh(x<sub>t</sub> W<sub>ih</sub><sup>T</sup> + h<sup>1</sup><sub>t−1</sub> W<sub>11</sub><sup>T</sup> + b<sup>1</sup>)"
            "   h<sup>2</sup><sub>t</sub> = tanh(h<sup>1</sup><sub>t</sub> W<sub>12</sub><sup>T</sup> + h<sup>2</sup><sub>t−1</sub> W<sub>22</sub><sup>T</sup> + b<sup>2</sup>)"
            "   y<sub>t</sub> = h<sup>2</sup><sub>t</sub> W<sub>ho</sub><sup>T</sup> + b",
            size=20, markup=True,
        )
        if equation.width > 13.4:
            equation.scale_to_fit_width(13.4)
        self.add(equation.next_to(title, DOWN, buff=0.08).align_to(title, LEFT))
        self.equation = equation
        rows = self._row_labels()
        grid = self._grid(values)
        legend = self._legend(values)
        backward = self._backward(grid, values)
        if self.is_still:
            nodes = [node for column in grid["nodes"] for node in column.values()]
            edges = [edge for weight in grid["edges"].values() for edge in weight]
            self.add(rows, grid["initial"], grid["headers"], grid["targets"], grid["weights"], legend, *edges, *nodes,
                     *backward.values(), fitted_caption(self, *LAYERS_CAPTIONS[-1]))
            return

        caption = fitted_caption(self, *LAYERS_CAPTIONS[0])
        self.play(FadeIn(rows), FadeIn(grid["initial"]), FadeIn(grid["headers"][0]), FadeIn(caption), run_time=0.5)
        for name in ("input", "hidden1", "hidden2", "output"):
            self.play(*[FadeIn(edge) for edge in grid["edges_in"][0][name]], FadeIn(grid["nodes"][0][name]), run_time=0.35)
        self.pause()
        for column in range(1, len(values["steps"])):
            if column == 1:
                self.play(recaption(self, caption, *LAYERS_CAPTIONS[1]), run_time=0.3)
            self.play(FadeIn(grid["headers"][column]), run_time=0.2)
            for name in ("input", "hidden1", "hidden2", "output"):
                self.play(*[FadeIn(edge) for edge in grid["edges_in"][column][name]], FadeIn(grid["nodes"][column][name]),
                          run_time=0.3 if column == 1 else 0.15)
            self.pause()
        self.play(FadeIn(grid["targets"]), FadeIn(grid["weights"]), FadeIn(legend),
                  recaption(self, caption, *LAYERS_CAPTIONS[2]), run_time=0.6)
        self.pause()
        self.play(FadeIn(backward["loss"]), recaption(self, caption, *LAYERS_CAPTIONS[3]), run_time=0.4)
        # the gradient flows from the losses at the top right back to t = 0 at the bottom left
        order = sorted(backward["arrows"], key=lambda arrow: (-arrow.get_center()[0], -arrow.get_center()[1]))
        self.play(LaggedStart(*[GrowArrow(arrow) for arrow in order], lag_ratio=0.15), run_time=1.6)
        self.play(FadeIn(backward["norms"]), run_time=0.4)
        self.pause()
        if values["grads"] is not None:
            self._stretch(values, caption)

    def _row_labels(self) -> VGroup:
        names = {
            "output": ("output", "출력"),
            "hidden2": ("hidden 2", "은닉 2"),
            "hidden1": ("hidden 1", "은닉 1"),
            "input": ("input", "입력"),
        }
        return VGroup(*[self.text(*names[row], size=22).move_to(RIGHT * -6.35 + UP * ROW_Y[row]) for row in names])

    def _grid(self, values: dict[str, Any]) -> dict[str, Any]:
        lower, upper = values["layers"]
        initial = {
            row: ModuleBox("0", width=0.6, height=0.5, size=22, fill=theme.BACKGROUND).move_to(RIGHT * INITIAL_X + UP * ROW_Y[row])
            for row in ("hidden1", "hidden2")
        }
        grid: dict[str, Any] = {"initial": VGroup(*initial.values(), self.text("h = 0", "h = 0", size=18, color=theme.MUTED)
                                                  .next_to(initial["hidden1"], DOWN, buff=0.15)),
                                "nodes": [], "edges_in": [], "headers": VGroup(), "targets": VGroup(), "weights": VGroup(),
                                "edges": {"W_ih": [], "W_11": [], "W_12": [], "W_22": [], "W_ho": []}}
        previous = dict(initial)
        for column, (step, token, target) in enumerate(zip(values["steps"], values["tokens"], values["targets"])):
            x = COLUMN_X[column]
            nodes = {
                "input": TokenTile(token, side=0.55).move_to(RIGHT * x + UP * ROW_Y["input"]),
                "hidden1": self._state_node(values["h"][lower][column]).move_to(RIGHT * x + UP * ROW_Y["hidden1"]),
                "hidden2": self._state_node(values["h"][upper][column]).move_to(RIGHT * x + UP * ROW_Y["hidden2"]),
                "output": ModuleBox(f"y{subscript(step)}", width=0.8, height=0.5, size=22, fill=theme.LAYER_FILL)
                .move_to(RIGHT * x + UP * ROW_Y["output"]),
            }
            edges = {
                "input": [],
                "hidden1": [("W_ih", link(nodes["input"], nodes["hidden1"])), ("W_11", link(previous["hidden1"], nodes["hidden1"]))],
                "hidden2": [("W_12", link(nodes["hidden1"], nodes["hidden2"])), ("W_22", link(previous["hidden2"], nodes["hidden2"]))],
                "output": [("W_ho", link(nodes["hidden2"], nodes["output"]))],
            }
            for row_edges in edges.values():
                for weight, arrow in row_edges:
                    grid["edges"][weight].append(arrow)
                    grid["weights"].add(self._weight_label(weight, arrow))
            grid["nodes"].append(nodes)
            grid["edges_in"].append({row: [arrow for _, arrow in row_edges] for row, row_edges in edges.items()})
            grid["headers"].add(self.text(f"t = {step}", f"t = {step}", size=20, color=theme.MUTED)
                                .next_to(nodes["input"], DOWN, buff=0.12))
            target_text = Text(show_token(target) if target else "–", font=theme.MONO_FONT, font_size=22, color=theme.INK)
            target_label = self.text("target", "목표", size=16, color=theme.MUTED)
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
        name, _, sub = weight.partition("_")
        label = theme.markup_text(f"{name}<sub>{sub}</sub>", size=20, color=theme.LAYER_STROKE)
        horizontal = abs(arrow.get_end()[0] - arrow.get_start()[0]) > abs(arrow.get_end()[1] - arrow.get_start()[1])
        return label.next_to(arrow, UP if horizontal else LEFT, buff=0.05)

    def _legend(self, values: dict[str, Any]) -> VGroup:
        lower, upper = values["layers"]
        note = self.say(
            f"hidden 1 = layer {lower}\nhidden 2 = layer {upper}\nunits {describe_indices(values['units'], values['units_total'])}",
            f"은닉 1 = {lower}층\n은닉 2 = {upper}층\n유닛 {describe_indices(values['units'], values['units_total'], 'ko')}",
        )
        text = Text(note, font=theme.FONT, font_size=16, color=theme.MUTED, line_spacing=0.8)
        bar = ScaleBar("tanh", length=1.6).with_title("hₜ: −1 → 1")
        return VGroup(bar, text).arrange(DOWN, buff=0.15).move_to(RIGHT * 6.05 + DOWN * 1.9)

    def _backward(self, grid: dict[str, Any], values: dict[str, Any]) -> dict[str, VGroup]:
        lower, upper = values["layers"]
        arrows = VGroup()
        for weight, edges in grid["edges"].items():
            for arrow in edges:
                start, end = arrow.get_start(), arrow.get_end()
                horizontal = abs(end[0] - start[0]) > abs(end[1] - start[1])
                offset = DOWN * 0.24 if horizontal else RIGHT * 0.24  # clear of the forward arrow
                arrows.add(arrow_between(end + offset, start + offset, color=theme.GRADIENT, stroke=2.5, buff=0.02))
        loss = VGroup(
            Text("L = L₀ + L₁ + L₂ + …", font=theme.FONT, font_size=22, color=theme.GRADIENT),
            self.text("(cross-entropy with each target)", "(각 목표와의 교차 엔트로피)", size=15, color=theme.MUTED),
        ).arrange(DOWN, buff=0.08).to_edge(RIGHT, buff=0.25)
        loss.next_to(self.equation, DOWN, buff=0.2).to_edge(RIGHT, buff=0.25)  # below the equation, clear of it
        norms = VGroup()
        if values["grads"] is not None:
            for column, step in enumerate(values["steps"]):
                for layer, row in ((lower, "hidden1"), (upper, "hidden2")):
                    node = grid["nodes"][column][row]
                    text = Text(f"‖∂L/∂h{subscript(step)}‖={values['grads'][layer][step]:.3g}", font=theme.FONT, font_size=16,
                                color=theme.GRADIENT)
                    # right of the backward arrow that runs down from the node
                    norms.add(text.next_to(node, DOWN, buff=0.16).align_to(node.get_center() + RIGHT * 0.32, LEFT))
        return {"arrows": arrows, "loss": loss, "norms": norms}

    def _stretch(self, values: dict[str, Any], caption: Text) -> None:
        lower, upper = values["layers"]
        tokens = values["all_tokens"][:STRETCH_STEPS]
        chart = LogBars(
            [(self.say("hidden 1", "은닉 1"), values["grads"][lower][: len(tokens)], theme.GRADIENT),
             (self.say("hidden 2", "은닉 2"), values["grads"][upper][: len(tokens)], theme.HIGHLIGHT)],
            labels=tokens, width=10.5, height=3.6,
        ).move_to(DOWN * 0.3 + RIGHT * 0.4)
        heading = self.text(f"‖∂L/∂hₜ‖ for t = 0 … {len(tokens) - 1}", f"t = 0 … {len(tokens) - 1}의 ‖∂L/∂hₜ‖", size=24)
        heading.next_to(chart, UP, buff=0.3)
        keep = {caption} | set(self.mobjects[:1])
        self.play(*[FadeOut(mobject) for mobject in self.mobjects if mobject not in keep], run_time=0.5)
        self.play(FadeIn(chart), FadeIn(heading),
                  recaption(self, caption, f"Stretched to t = {len(tokens) - 1}: why does training get worse as the chain grows?",
                                  f"t = {len(tokens) - 1}까지 늘이면: 사슬이 길수록 왜 학습이 나빠질까?"),
                  run_time=0.8)
        self.pause()
