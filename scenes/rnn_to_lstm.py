"""Figure 4: from RNN to LSTM, with the recorded hidden and cell states on their lines.

    $ explain render rnn-to-lstm --still                 # the cell turned so time runs left to right
    $ explain render rnn-to-lstm --stop-after 2 --still  # the chain with both lines
    $ explain render rnn-to-lstm --steps 4-6 --units 0-7 --lang ko --slides

Build order: (1) the chain of copies handing on one line, the hidden state hₜ; (2) a second line
above it across the same steps, the cell state Cₜ; (3) one step reduced to one cell with four
ports (Cₜ₋₁ and hₜ₋₁ in, Cₜ and hₜ out), drawn as figure 1 draws a module: what comes in enters from
below, what goes out leaves upward; (4) the cell turned a quarter so time runs left to right, the
layout of the LSTM cell figure that follows. Every strip holds the trace's ``{q}.l{k}.fwd.h`` /
``.c`` (see :func:`explain.figures.cell_state.line_values`); ``self.drawn`` keeps what each strip shows.
Options: ``steps`` (default 1–3), ``units`` (default 0–7), ``layer``, ``batch``, ``step`` (--stop-after).
"""

from __future__ import annotations

from typing import Any

from manim import DOWN, LEFT, PI, RIGHT, UP, Rotate, VGroup, np

from explain.draw import theme
from explain.draw.base import SceneInputError, TraceScene
from explain.draw.captions import fitted_caption, recaption
from explain.draw.cell import symbol, wire
from explain.draw.chain import ModuleBox, TokenTile, link
from explain.draw.cnn_parts import chosen_step
from explain.draw.fades import fade_in, fade_out
from explain.figures.recurrent import MissingValues, subscript
from explain.draw.strip import ScaleBar, ValueStrip, show_token
from explain.figures.cell_state import line_values
from explain.trace import Trace
from explain.scenes import SceneSpec

__all__ = ["CAPTIONS", "CELL_CENTER", "center_of", "CHAIN_CELL", "RNNToLSTMScene", "SCENES", "tile_label", "turn"]

SCENES = [SceneSpec("rnn-to-lstm", "RNNToLSTMScene", "From RNN to LSTM: the cell state line beside h, one cell, four ports (figure 4)", "hello-lstm")]

# The chain: copies of the cell across the frame, the cell state line above the hidden state line.
CHAIN_Y, C_Y, H_Y = -0.35, 0.25, -0.95
BOX_WIDTH, BOX_HEIGHT, SPACING = 1.3, 1.9, 3.9
LINE_LEFT, LINE_RIGHT = -6.9, 6.9
CHAIN_CELL = 0.3
# The single cell: its centre, half its side, where the ports' wires end, and its strips' cells.
CELL_CENTER = np.array([0.0, -0.35, 0.0])
HALF, PORT, PORT_OFFSET, PORT_CELL = 0.9, 1.0, 0.62, 0.72

CAPTIONS = [
    ("An RNN hands one line from step to step: the hidden state hₜ.",
     "RNN은 한 줄의 값, 은닉 상태 hₜ를 다음 단계로 넘깁니다."),
    ("The LSTM adds a second line above it across the same steps: the cell state Cₜ.",
     "LSTM은 그 위에 같은 단계들을 가로지르는 두 번째 줄, 셀 상태 Cₜ를 더합니다."),
    ("One step is one cell with four ports: Cₜ₋₁ and hₜ₋₁ come in, Cₜ and hₜ go out.",
     "한 단계는 포트가 네 개인 셀 하나입니다. Cₜ₋₁과 hₜ₋₁이 들어오고 Cₜ와 hₜ가 나갑니다."),
    ("Turned a quarter, time runs left to right: Cₜ on top, hₜ below, xₜ from below.",
     "4분의 1 바퀴 돌리면 시간이 왼쪽에서 오른쪽으로 흐릅니다. 위에 Cₜ, 아래에 hₜ, 아래에서 xₜ가 들어옵니다."),
]


def tile_label(token: str | None, step: int) -> str:
    """What an input tile says: the token the step read, or its time step where the trace names none (a series).

    >>> tile_label("h", 0), tile_label(None, 3)
    ('h', 't=3')
    """
    return token if token is not None else f"t={step}"


class RNNToLSTMScene(TraceScene):
    """The chain with h, then with C above it, then one cell with four ports, turned so time runs right."""

    OPTIONS = frozenset({"layer", "direction", "batch", "steps", "units", "step"})

    default_model = "hello-lstm"

    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        try:
            line_values(trace, options)
        except MissingValues as error:
            raise SceneInputError(str(error)) from None
        chosen_step(options, len(CAPTIONS))

    def construct(self) -> None:
        values = line_values(self.trace, self.options)
        self.shown = values
        self.drawn: dict[str, list[float]] = {}
        last = chosen_step(self.options, len(CAPTIONS))
        title = self.text("From RNN to LSTM", "RNN에서 LSTM으로", size=34).to_edge(UP, buff=0.25)
        self.add(title, self._legend(values))
        chain = self._chain(values)
        cell = self._cell(values)
        if self.is_still:
            parts = [chain["h"], chain["c"], *chain["common"]] if last == 2 else [chain["h"], *chain["common"]]
            if last >= 3:
                parts = [cell["body"], *cell["upright"]]
                if last == 4:
                    cell["body"].rotate(-PI / 2, about_point=CELL_CENTER)
                    parts = [cell["body"], *cell["turned"]]
            self.add(*parts, fitted_caption(self, *CAPTIONS[last - 1]))
            return
        caption = fitted_caption(self, *CAPTIONS[0])
        self.play(fade_in(*chain["common"], chain["h"], caption), run_time=0.8)
        self.pause(self.say("An RNN passes the hidden state along the chain.", "RNN은 은닉 상태를 사슬을 따라 넘깁니다."))
        if last >= 2:
            self.play(fade_in(chain["c"]), recaption(self, caption, *CAPTIONS[1]), run_time=0.8)
            self.pause(self.say("The LSTM adds the cell state, a second line above the hidden state.",
                                "LSTM은 은닉 상태 위에 두 번째 줄인 셀 상태를 더합니다."))
        if last >= 3:
            self.play(fade_out(*chain["common"], chain["h"], chain["c"]), run_time=0.5)
            self.play(fade_in(cell["body"], *cell["upright"]), recaption(self, caption, *CAPTIONS[2]), run_time=0.8)
            self.pause(self.say("One step of the chain is one cell with four ports.", "사슬의 한 단계는 포트가 네 개인 셀 하나입니다."))
        if last >= 4:
            self._turn(cell, caption)
            self.pause(self.say("Turned a quarter, time runs left to right: the layout of the LSTM cell figure.",
                                "4분의 1 바퀴 돌리면 시간이 왼쪽에서 오른쪽으로 흐르는, LSTM 셀 그림의 배치가 됩니다."))

    def _turn(self, cell: dict[str, Any], caption) -> None:
        """The strips and names fade, the box and its wires turn a quarter, the strips return at the turned ports.

        (Strips travelling across the turning cell would pass over one another; text stays level to be read.)
        """
        self.play(fade_out(*cell["upright"]), recaption(self, caption, *CAPTIONS[3]), run_time=0.4)
        self.play(Rotate(cell["body"], -PI / 2, about_point=CELL_CENTER), run_time=1.2)
        self.play(fade_in(*cell["turned"]), run_time=0.5)

    # -- pieces
    def _strip(self, key: str, values: list[float], scale, cell: float, show_values: bool = False) -> ValueStrip:
        strip = ValueStrip(values, scale=scale, cell=cell, show_values=show_values)
        self.drawn[key] = strip.values
        return strip

    def _legend(self, values: dict[str, Any]) -> VGroup:
        low, high = values["c_range"]
        layer, units = values["layer"], values["view"].units_text(self.lang)
        source = self.trace.meta.get("example") or self.trace.meta.get("model") or ""
        chosen = self.say(" (largest |h|, |C| here)", " (|h|, |C|가 가장 큰 유닛)") if values["chosen_units"] else ""
        model = f"‘{source}’ " if source else ""
        both_ways = self.trace.meta.get("modules", {}).get(values["module"], {}).get("bidirectional")
        direction = self.say(", forward direction", " 순방향") if both_ways else ""
        note = self.say(f"{model}layer {layer}{direction},\n{units}{chosen}", f"{model}{layer}층{direction},\n{units}{chosen}")
        bars = VGroup(
            ScaleBar("tanh", length=1.6).with_title("h: −1 → 1"),
            ScaleBar((low, high), length=1.6).with_title(f"C: {low:g} → {high:g}"),
        ).arrange(RIGHT, buff=0.5)
        return VGroup(self.text(note, size=18, color=theme.MUTED), bars).arrange(RIGHT, buff=0.6).move_to(UP * 2.55)

    def _chain(self, values: dict[str, Any]) -> dict[str, Any]:
        steps, tokens = values["steps"], values["tokens"]
        xs = [SPACING * (index - (len(steps) - 1) / 2) for index in range(len(steps))]
        common = VGroup()
        self.shown["tiles"] = [tile_label(token, t) for t, token in zip(steps, tokens)]
        for x, t, label in zip(xs, steps, self.shown["tiles"]):
            box = ModuleBox("A", width=BOX_WIDTH, height=BOX_HEIGHT, size=30).move_to([x, CHAIN_Y, 0])
            tile = TokenTile(label).move_to([x, CHAIN_Y - BOX_HEIGHT / 2 - 0.75, 0])
            x_label = self.text(f"x{subscript(t)}", size=20, color=theme.MUTED).next_to(tile, RIGHT, buff=0.12)
            common.add(box, tile, x_label, link(tile, box))
        lines = {}
        for key, y, scale, name in (("h", H_Y, "tanh", "h"), ("c", C_Y, values["c_range"], "C")):
            group = VGroup()
            ends = [LINE_LEFT, *[e for x in xs for e in (x - BOX_WIDTH / 2, x + BOX_WIDTH / 2)], LINE_RIGHT]
            for (start, end), t in zip(zip(ends[::2], ends[1::2]), [steps[0] - 1, *steps]):
                group.add(wire([start, y], [end, y], arrow=end < LINE_RIGHT, color=theme.CELL_LINE))
                strip = self._strip(f"{name}{t}", values[key][t], scale, CHAIN_CELL).move_to([(start + end) / 2, y, 0])
                strip.shift((DOWN if key == "h" else UP) * (CHAIN_CELL / 2 + 0.08))
                label = symbol(name, str(t), size=20)
                if start == LINE_LEFT:  # the line's name before its first state
                    title = self.text(*(("hidden state", "은닉 상태") if key == "h" else ("cell state", "셀 상태")), size=18,
                                      color=theme.MUTED)
                    label = VGroup(title, label).arrange(RIGHT, buff=0.12)
                if key == "h":  # the units' names under the hidden state, the state's name under them
                    units = VGroup(*[self.text(show_token(unit), size=16, color=theme.MUTED).next_to(square, DOWN, buff=0.05)
                                     for unit, square in zip(values["labels"], strip.cells)])
                    group.add(units)
                    label.next_to(units, DOWN, buff=0.04)
                else:
                    label.next_to(strip, UP, buff=0.06)
                group.add(strip, label)
            lines[key] = group
        return {"common": common, **lines}

    def _cell(self, values: dict[str, Any]) -> dict[str, Any]:
        """The one cell: ``body`` (box and wires, which turn) and the strips and labels placed for the
        upright drawing and for the turned one (they move, but stay level to be read)."""
        t, view = values["cell"], values["view"]
        box = ModuleBox(self.say("LSTM cell", "LSTM 셀"), width=2 * HALF, height=2 * HALF, size=24).move_to(CELL_CENTER)
        name = box.label
        box.remove(name)
        # ports of the upright cell (time runs upward): in at the bottom, out at the top; C left, h right
        wires = {
            "c_in": (np.array([-PORT_OFFSET, -HALF - PORT]), np.array([-PORT_OFFSET, -HALF])),
            "h_in": (np.array([PORT_OFFSET, -HALF - PORT]), np.array([PORT_OFFSET, -HALF])),
            "c_out": (np.array([-PORT_OFFSET, HALF]), np.array([-PORT_OFFSET, HALF + PORT])),
            "h_out": (np.array([PORT_OFFSET, HALF]), np.array([PORT_OFFSET, HALF + PORT])),
            "x": (np.array([HALF + PORT * 0.8, 0.0]), np.array([HALF, 0.0])),
            "h_up": (np.array([-HALF, 0.0]), np.array([-HALF - PORT * 0.8, 0.0])),
        }
        center = CELL_CENTER[:2]
        body = VGroup(box, *[wire(center + start, center + end) for start, end in wires.values()])
        strips = {
            "c_in": (symbol("C", str(t - 1)), values["c"][t - 1], values["c_range"]),
            "h_in": (symbol("h", str(t - 1)), values["h"][t - 1], "tanh"),
            "c_out": (symbol("C", str(t)), values["c"][t], values["c_range"]),
            "h_out": (symbol("h", str(t)), values["h"][t], "tanh"),
        }
        ports, others = [], [(name, name.copy())]  # (upright, turned) pairs
        for key, (label, row, scale) in strips.items():
            strip = self._strip(f"port {key}", row, scale, PORT_CELL, show_values=True)
            units = VGroup(*[self.text(show_token(unit), size=16, color=theme.MUTED) for unit in view.labels])
            for unit, square in zip(units, strip.cells):
                unit.next_to(square, DOWN, buff=0.05)
            end = wires[key][0] if key.endswith("in") else wires[key][1]
            # the state's name on the outer side of its strip, in either drawing
            placed = []
            for side, point in (("left" if key.startswith("c") else "right", end), ("left" if key.endswith("in") else "right", turn(end))):
                group = VGroup(strip.copy(), units.copy(), label.copy())
                group[2].next_to(group[0], LEFT if side == "left" else RIGHT, buff=0.12)
                placed.append(group.move_to(center_of(group, point, side, CELL_CENTER)))
            ports.append(tuple(placed))
        token = tile_label(values["tokens"][-1], t)
        for key, group in (("x", VGroup(TokenTile(token), self.text(f"x{subscript(t)}", size=20, color=theme.MUTED))),
                           ("h_up", VGroup(symbol("h", str(t), size=22)))):
            group.arrange(RIGHT, buff=0.1)
            end = wires[key][0] if key == "x" else wires[key][1]
            side = "right" if key == "x" else "left"
            group.move_to(center_of(group, end, side, CELL_CENTER))
            others.append((group, group.copy().move_to(center_of(group, turn(end), "below" if key == "x" else "above", CELL_CENTER))))
        pairs = ports + others
        return {"body": body, "upright": [up for up, _ in pairs], "turned": [down for _, down in pairs]}


def turn(point: np.ndarray) -> np.ndarray:
    """Where a point (relative to the cell's centre) goes when the cell turns a quarter clockwise.

    >>> turn(np.array([-1.0, -2.0])).tolist()
    [-2.0, 1.0]
    """
    return np.array([point[1], -point[0]])


def center_of(group: VGroup, end: np.ndarray, side: str, origin: np.ndarray, gap: float = 0.15) -> np.ndarray:
    """Where ``group``'s centre goes so that it sits at the wire end ``end`` (relative to ``origin``):
    beside it (``left``/``right``) or under or over it (``below``/``above``)."""
    width, height = group.width, group.height
    offsets = {
        "left": [-(width / 2 + gap), 0.0],
        "right": [width / 2 + gap, 0.0],
        "below": [0.0, -(height / 2 + gap)],
        "above": [0.0, height / 2 + gap],
    }
    x, y = np.array(end) + np.array(offsets[side])
    return np.array([origin[0] + x, origin[1] + y, 0.0])
