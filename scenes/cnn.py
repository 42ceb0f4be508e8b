"""The CNN pipeline: the input, each stage's real feature maps, the class scores, the prediction.

    $ explain render cnn-pipeline --still
    $ explain render cnn-pipeline --trace digit.safetensors --channels 0-7 --lang ko

The stages come from :mod:`explain.figures.pipeline`: the recorded modules at one depth of the
model (a deep net shows its stages, not a hundred maps), each with the operations that made it and
its shape (28→24→20→10→6→3 for the book's MNIST CNN). A stage that read a value the trace does not
hold (a function called inside ``forward``) is reached by a dashed arrow, and one line says so.

Every label is set at :data:`TEXT_SIZE` and never shrunk, so it can be read in a lecture hall: the
stages are laid out in pages of at most two rows of :data:`PER_ROW` (a longer pipeline turns the
page, and the next page starts with the stage the last one ended on), and the maps are as large as
the room left under the labels allows. The scores are ranked, as many as fit (the rest are
counted), named as the trace's ``meta["labels"]`` names its classes, else by index.
Options: ``channels`` (which channels each grid shows; default the first eight), ``step`` (stop
after that step, for stills).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, Arrow, DashedLine, DashedVMobject, Group, Text, VGroup, VMobject

from explain.draw import theme
from explain.draw.base import TraceScene
from explain.draw.cnn_parts import check_channels, chosen_step, fit_width, next_step, operation_text
from explain.draw.fades import transition
from explain.draw.feature_maps import FeatureMap, FeatureMapGrid, format_shape, map_scale
from explain.draw.strip import ScaleBar, ValueStrip, format_value
from explain.figures.notes import batch_note
from explain.figures.pipeline import Stage, gaps_line, pipeline_stages, prediction, sizes_text
from explain.figures.errors import refuse_nan
from explain.glossary import with_particle
from explain.trace import Trace
from explain.scenes import SceneSpec

__all__ = [
    "CNNPipelineScene",
    "DEFAULT_CHANNELS",
    "HIDDEN_UNITS",
    "pages",
    "PER_ROW",
    "SCENES",
    "shown_channels",
    "stage_title",
    "TEXT_SIZE",
    "TOP_CLASSES",
]

SCENES = [
    SceneSpec("cnn-pipeline", "CNNPipelineScene", "Input → real feature maps of every stage → class scores → prediction", "mnist-cnn"),
]

#: channels shown per layer unless the ``channels`` option says otherwise
DEFAULT_CHANNELS = 8
#: hidden units of a fully connected layer shown in its strip
HIDDEN_UNITS = 12
#: the most classes a scores column ranks (fewer where they do not fit; the others are counted)
TOP_CLASSES = 10
#: columns in a row of the figure, and rows on a page
PER_ROW, ROWS = 4, 2
#: the font size of every label: at least 14 px tall at 720p
TEXT_SIZE = 16
#: the width the columns may fill (the arrow that turns a row goes round them), the room for an
#: arrow between two columns and between two rows
WIDTH, COLUMN_GAP, ROW_GAP = 13.2, 0.6, 0.4
#: the bottom of the figure (the caption is under it)
BOTTOM = -3.2
#: the largest side of a map in a grid, and of the input picture
LARGEST_MAP, LARGEST_INPUT = 0.8, 2.2


def shown_channels(total: int, options: dict[str, Any]) -> list[int]:
    """Channels a grid shows: the ``channels`` option (those that exist), else the first eight.

    >>> shown_channels(32, {}), shown_channels(8, {"channels": [0, 9]})
    ([0, 1, 2, 3, 4, 5, 6, 7], [0])
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


def pages(count: int, per_page: int = PER_ROW * ROWS) -> list[list[int]]:
    """The stages each page shows: at most ``per_page``; a later page starts with the stage the one
    before ended on, so the flow can be followed across the turn.

    >>> pages(8), pages(12)
    ([[0, 1, 2, 3, 4, 5, 6, 7]], [[0, 1, 2, 3, 4, 5, 6, 7], [7, 8, 9, 10, 11]])
    """
    found = [list(range(min(count, per_page)))]
    while found[-1][-1] < count - 1:
        start = found[-1][-1]
        found.append(list(range(start, min(count, start + per_page))))
    return found


def _lines(parts: list[str], width: float, *, joint: str = " + ", font: str = theme.FONT, color=theme.INK) -> VGroup:
    """``parts`` joined by ``joint`` into lines at most ``width`` wide (a part too wide alone is
    broken after its commas), centred under each other, at :data:`TEXT_SIZE`."""

    def fits(text: str) -> bool:
        return Text(text, font=font, font_size=TEXT_SIZE).width <= width

    pieces = []
    for part in parts:
        words = part.split(", ")
        line = words[0]
        for word in words[1:]:
            if fits(f"{line}, {word}"):
                line = f"{line}, {word}"
            else:
                pieces.append(line + ",")
                line = word
        pieces.append(line)
    lines: list[str] = []
    for piece in pieces:
        if lines and not lines[-1].endswith(",") and fits(f"{lines[-1]}{joint}{piece}"):
            lines[-1] = f"{lines[-1]}{joint}{piece}"
        elif lines and not lines[-1].endswith(","):  # the next part on a line of its own keeps its joint: "+ ReLU"
            lines.append(f"{joint.lstrip()}{piece}")
        else:
            lines.append(piece)
    return VGroup(*[Text(line, font=font, font_size=TEXT_SIZE, color=color) for line in lines]).arrange(DOWN, buff=0.07)


def _scale_line(scale: tuple[float, float], length: float = 1.2) -> ScaleBar:
    """The colour key of a column on one line: low ▭▭▭ high."""
    bar = ScaleBar(scale, length=length, beside=True)
    for label in bar.tick_labels:
        label.scale(TEXT_SIZE / 18)
    bar.tick_labels[0].next_to(bar.bar, LEFT, buff=0.08)
    bar.tick_labels[-1].next_to(bar.bar, RIGHT, buff=0.08)
    return bar


def _on_baseline(text: Text, content: str, baseline: float) -> Text:
    """Move ``text`` (of ``content``) up or down so its letters stand on ``baseline``: a glyph without
    a descender is put on it ("square" would otherwise be centred on its q and sit high)."""
    glyphs = [g for g, ch in zip(text.submobjects, content.replace(" ", "")) if ch.isalnum() and ch not in "gjpqy"]
    if glyphs and len(text.submobjects) == len(content.replace(" ", "")):
        text.shift(UP * (baseline - min(g.get_bottom()[1] for g in glyphs)))
    return text


# -- the scene ---------------------------------------------------------------------------------


class CNNPipelineScene(TraceScene):
    """Input → feature maps → scores → prediction, every map from the trace (issue 5, scene 2).

    ``self.shown`` maps each stage name to the values drawn (the shown channels, hidden units or
    scores), and holds the prediction, the classes the scores column ranks and the pages.
    """

    OPTIONS = frozenset({"channels", "step"})

    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        refuse_nan(trace)
        stages = pipeline_stages(trace)
        chosen_step(options, len(stages))  # a step per stage
        check_channels(options, max((stage.shape[0] for stage in stages if stage.kind == "maps"), default=1))

    def construct(self) -> None:
        self.stages = pipeline_stages(self.trace)
        self.shown: dict[str, Any] = {}
        self.prediction = prediction(self.trace, self.stages, self.lang)
        self.shown["prediction"] = self.prediction
        sizes = sizes_text(self.stages)
        title = fit_width(self.text(f"A CNN stage by stage: {sizes}", f"단계별로 본 CNN: {sizes}", size=28), 13.4).to_edge(UP, buff=0.25)
        notes = [line for line in (gaps_line(self.stages), self.prediction.note, batch_note(self.trace)) if line]
        self.shown["notes"] = notes
        note_lines = VGroup(*[fit_width(Text(line.text(self.lang), font=theme.FONT, font_size=TEXT_SIZE, color=theme.MUTED), 13.2) for line in notes])
        note_lines.arrange(DOWN, buff=0.06).next_to(title, DOWN, buff=0.1)
        self.top = (note_lines if notes else title).get_bottom()[1] - 0.2
        self.add(title, note_lines)
        book = pages(len(self.stages))
        self.shown["pages"] = book
        last = chosen_step(self.options, len(self.stages))
        played = [n for n, page in enumerate(book) if page[1 if n else 0] < last]  # pages with a stage to show
        shown: list = []  # what the page on screen drew (its columns and arrows)
        for number in played[-1:] if self.is_still else played:
            page = book[number]
            columns = self.page(page)
            arrows = [self.arrow(columns[a], columns[b], dashed=self.stages[b].gap is not None) for a, b in zip(page, page[1:])]
            for position, index in enumerate(page):
                if index >= last:
                    break
                if number and position == 0:  # where the page before ended: it replaces that page
                    transition(self, leaving=shown, arriving=[columns[index]])
                    continue
                told = not self.is_still or index == last - 1
                caption = self.narration(self.stages[index], self.stages[index - 1] if index else None) if told else None
                next_step(self, caption, arriving=[columns[index], *([arrows[position - 1]] if position else [])])
                self.pause()
            shown = [*columns.values(), *arrows]

    # -- layout ----------------------------------------------------------------------------------

    def page(self, page: list[int]) -> dict[int, Group]:
        """The columns of one page, by stage index (not yet shown): rows that fill the width, each
        column's values as large as its row's room allows, the rows centred under the title."""
        rows = 1 if len(page) <= PER_ROW else ROWS
        per_row = math.ceil(len(page) / rows)
        width = (WIDTH - (per_row - 1) * COLUMN_GAP) / per_row
        height = (self.top - BOTTOM - (rows - 1) * ROW_GAP) / rows
        built = []
        for row in range(rows):
            indices = page[row * per_row : (row + 1) * per_row]
            headings = [self.heading(self.stages[i], width) for i in indices]
            above = max(h.height for h in headings) + 0.12
            below = max(self.footer(self.stages[i]).height for i in indices) + 0.12
            bodies = [self.body(self.stages[i], width, height - above - below) for i in indices]
            built.append((indices, headings, bodies, above, max(b.height for b in bodies), below))
        total = sum(above + used + below for *_, above, used, below in built) + (rows - 1) * ROW_GAP
        top = (self.top + BOTTOM + total) / 2
        columns: dict[int, Group] = {}
        for indices, headings, bodies, above, used, below in built:
            for slot, (index, heading, body) in enumerate(zip(indices, headings, bodies)):
                x = -WIDTH / 2 + width / 2 + slot * (width + COLUMN_GAP)
                heading.move_to([x, top - above + 0.12 + heading.height / 2, 0])  # the names on one line
                body.move_to([x, top - above - used / 2, 0])
                footer = self.footer(self.stages[index]).next_to(body, DOWN, buff=0.12).set_x(x)  # the scores' counts what is ranked
                columns[index] = Group(heading, body, footer)
            top -= above + used + below + ROW_GAP
        return columns

    def heading(self, stage: Stage, width: float) -> VGroup:
        """What made the stage (its operations, wrapped) and the module's name."""
        words = [stage_title(Stage(stage.name, stage.kind, [op], stage.shape), self.lang) for op in stage.ops]
        lines = _lines([self.term("input")] if stage.kind == "input" else words, width)
        if stage.kind == "scores":
            lines = VGroup(Text(self.term("scores"), font=theme.FONT, font_size=TEXT_SIZE, color=theme.INK), *lines)
        name = Text(stage.name, font=theme.MONO_FONT, font_size=TEXT_SIZE, color=theme.MUTED)
        return VGroup(*lines, fit_width(name, width)).arrange(DOWN, buff=0.07)

    def footer(self, stage: Stage) -> Text:
        """The stage's shape; for the scores, how many are ranked above (once the body is built)."""
        if stage.kind == "scores" and "classes" in self.shown:
            count, shown = len(self.prediction.scores), len(self.shown["classes"])
            text = self.say(f"top {shown} of {count} classes", f"클래스 {count}개 중 상위 {shown}개") if shown < count else self.say(f"all {count} classes", f"클래스 {count}개 전체")
            return Text(text, font=theme.FONT, font_size=TEXT_SIZE, color=theme.MUTED)
        return Text(format_shape(stage.shape), font=theme.MONO_FONT, font_size=TEXT_SIZE, color=theme.INK)

    def body(self, stage: Stage, width: float, height: float) -> Group:
        """The values of a stage drawn in a ``width`` × ``height`` box."""
        tensor = self.trace[stage.name][0].double().numpy()
        if stage.kind == "input":
            self.shown[stage.name] = tensor
            if tensor.shape[0] == 3:  # an RGB picture is its own legend
                return Group(FeatureMap(tensor, height=min(height, width, LARGEST_INPUT)))
            picture = FeatureMap(tensor, height=min(height - 0.35, width, LARGEST_INPUT))
            return Group(picture, _scale_line(picture.scale_range).next_to(picture, DOWN, buff=0.15))
        if stage.kind == "maps":
            return self.grid(tensor, self.shown_for(stage, shown_channels(tensor.shape[0], self.options)), width, height)
        if stage.kind == "hidden":
            units = self.shown_for(stage, list(range(min(HIDDEN_UNITS, tensor.shape[0]))))
            scale = _range(tensor)
            strip = ValueStrip(tensor[units], scale=scale, cell=min(0.3, width / len(units)))
            label = Text(
                self.say(f"units 0–{units[-1]} of {tensor.shape[0]}", f"유닛 {tensor.shape[0]}개 중 0–{units[-1]}번"),
                font=theme.FONT, font_size=TEXT_SIZE, color=theme.MUTED,
            )
            return Group(VGroup(strip, label.next_to(strip, DOWN, buff=0.1), _scale_line(scale).next_to(label, DOWN, buff=0.15)))
        return self.scores(width, height)

    def shown_for(self, stage: Stage, chosen: list[int]) -> list[int]:
        """Note the channels or units ``chosen`` for ``stage`` in ``self.shown`` (as their values) and return them."""
        self.shown[stage.name] = self.trace[stage.name][0].double().numpy()[chosen]
        return chosen

    def grid(self, tensor: np.ndarray, channels: list[int], width: float, height: float) -> Group:
        """The chosen channels as large as the box allows (in as many columns as make them largest), the channels
        named under them and the colour key under that."""
        gap = 0.06
        below = 0.08 + 0.25 + 0.15 + 0.22  # the channels line and the colour key
        best = (0.0, 1)
        for columns in range(1, len(channels) + 1):
            rows = math.ceil(len(channels) / columns)
            side = min((width - (columns - 1) * gap) / columns, (height - below - (rows - 1) * gap) / rows, LARGEST_MAP)
            best = max(best, (side, -columns))
        side, columns = best[0], -best[1]
        grid = FeatureMapGrid(tensor, channels=channels, columns=columns, map_height=side, gap=gap, lang=self.lang, label_size=TEXT_SIZE, show_shape=False)
        return Group(grid, _scale_line(grid.scale_range).next_to(grid, DOWN, buff=0.15))

    def scores(self, width: float, height: float) -> VGroup:
        """The largest scores ranked (as many as fit, in two columns where one is too short and two
        fit the width), named, on one colour scale, the winner outlined; then the prediction."""
        found = self.prediction
        count = len(found.scores)
        probability = found.probabilities[found.label]
        p = f"{probability:.2f}" if probability >= 0.01 else f"{probability:.1e}"
        verdict = _lines([self.say(f"prediction: {found.labels[found.label]}", f"예측: {found.labels[found.label]}"), f"(p = {p})"], width, joint=" ", color=theme.HIGHLIGHT)
        row = 0.28
        rows = max(3, int((height - verdict.height - 0.15) // row))
        wanted = min(count, TOP_CLASSES)
        single = found.top(min(wanted, rows))
        parts = [self.score_rows(single, _range(np.asarray([found.scores[c] for c in single])), row)]
        table = parts[0]
        if wanted > rows:  # a second column, read after the first, where it fits beside it
            ranked = found.top(wanted)
            scale = _range(np.asarray([found.scores[c] for c in ranked]))
            halves = [self.score_rows(half, scale, row) for half in (ranked[: -(-wanted // 2)], ranked[-(-wanted // 2) :])]
            pair = VGroup(*halves).arrange(RIGHT, buff=0.35, aligned_edge=UP)
            if len(halves[0].classes) <= rows and pair.width <= width:
                parts, table = halves, pair
        classes = [c for part in parts for c in part.classes]
        self.shown["classes"] = classes
        self.shown[self.stages[-1].name] = np.asarray([found.scores[c] for c in classes])
        return VGroup(table, verdict.next_to(table, DOWN, buff=0.15))

    def score_rows(self, classes: list[int], scale: tuple[float, float], row: float) -> VGroup:
        """One row per class: its name (or index), its score's cell (the first outlined when it is the winner), its value."""
        found = self.prediction
        scores = [found.scores[c] for c in classes]
        strip = ValueStrip(scores, scale=scale, vertical=True, cell=0.26, cell_height=row)
        names = VGroup(*[Text(found.labels[c], font=theme.FONT if found.named else theme.MONO_FONT, font_size=TEXT_SIZE, color=theme.MUTED) for c in classes])
        numbers = VGroup(*[Text(format_value(value), font=theme.MONO_FONT, font_size=TEXT_SIZE, color=theme.INK) for value in scores])
        for name, number, cell, label in zip(names, numbers, strip.cells, (found.labels[c] for c in classes)):
            number.next_to(cell, RIGHT, buff=0.1)
            name.next_to(cell, LEFT, buff=0.1)
            _on_baseline(name, label, number.get_bottom()[1])  # digits stand on the baseline
        rows = VGroup(names, strip, numbers)
        if classes[0] == found.label:
            rows.add(strip.cells[0].copy().set_fill(opacity=0).set_stroke(theme.HIGHLIGHT, width=4))
        rows.classes = classes
        return rows

    def arrow(self, source: Group, target: Group, *, dashed: bool = False) -> VGroup:
        """An arrow from one column to the next (dashed where the value between them is not in the
        trace); where the row wraps, an elbow down and back to the left."""
        style = dict(stroke_width=3, color=theme.MUTED)
        if target.get_left()[0] > source.get_right()[0]:
            start = source[1].get_right() + RIGHT * 0.1
            end = np.array([target[1].get_left()[0] - 0.1, start[1], 0])
            if dashed:
                line = DashedLine(start, end - RIGHT * 0.15, dash_length=0.08, **style)
                return VGroup(line, Arrow(end - RIGHT * 0.2, end, buff=0, max_tip_length_to_length_ratio=0.9, **style))
            return VGroup(Arrow(start, end, buff=0, max_tip_length_to_length_ratio=0.2 / max(end[0] - start[0], 0.2), **style))
        gap = (source.get_bottom()[1] + target.get_top()[1]) / 2
        right = min(source.get_right()[0] + 0.2, WIDTH / 2 + 0.2)
        left = max(target.get_left()[0] - 0.3, -WIDTH / 2 - 0.2)
        corners = [
            source[1].get_right() + RIGHT * 0.05,
            [right, source[1].get_y(), 0],
            [right, gap, 0],
            [left, gap, 0],
            [left, target[1].get_y(), 0],
        ]
        path = VMobject(**style).set_points_as_corners([np.array(c, dtype=float) for c in corners])
        if dashed:
            path = DashedVMobject(path, num_dashes=24)
        end = Arrow(np.array(corners[-1], dtype=float), target[1].get_left() + LEFT * 0.05, buff=0, max_tip_length_to_length_ratio=0.5, **style)
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
        shown = len(self.shown.get("classes", found.scores))
        rest = "" if shown == count else self.say(f" (the top {shown} are shown)", f" (상위 {shown}개 표시)")
        english = label if found.named else f"class {label}"
        korean_name = label if found.named else f"{label}번"
        return (
            f"{count} class scores; the largest, {english}, is the prediction{rest}.",
            f"클래스 점수 {count}개 중 가장 큰 {with_particle(korean_name, '이')} 예측입니다{rest}.",
        )


def _range(values: np.ndarray) -> tuple[float, float]:
    return map_scale(np.asarray(values))
