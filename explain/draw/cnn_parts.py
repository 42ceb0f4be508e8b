"""Pieces shared by the VGG, Inception and ResNet scenes: steps, map thumbnails, channel stacks.

    >>> import numpy as np
    >>> from explain.draw.cnn_parts import StackedMap, strongest_channel
    >>> maps = np.zeros((4, 8, 8)); maps[2] += 1.0
    >>> strongest_channel(maps)
    2
    >>> card = StackedMap(maps, channel=2, height=1.0, sheets=3)
    >>> card.channel, len(card.sheets)
    (2, 3)

A :class:`StackedMap` is one real channel of a C×H×W tensor drawn in front of a few offset
"sheets" that stand for the other channels (more sheets, more channels), the usual picture of a
CNN layer. :func:`run_steps` plays a scene's steps in order and stops after ``options["step"]``
(so a still of any step can be rendered and looked at).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from manim import DOWN, RIGHT, UP, Group, Rectangle, Text, VGroup

from explain.draw import theme
from explain.draw.base import SceneInputError
from explain.draw.feature_maps import FeatureMap
from explain.figures.errors import names_or_none
from explain.figures.notes import batch_note
from explain.figures.notes import weights_note as weights_lines
from explain.glossary import term

__all__ = [
    "caption_line",
    "check_channels",
    "chosen_channel",
    "chosen_module",
    "chosen_step",
    "fit_width",
    "label_under",
    "map_height",
    "millions",
    "next_step",
    "operation_text",
    "OPERATION_WORDS",
    "relative_legend",
    "run_steps",
    "sheets_for",
    "StackedMap",
    "strongest_channel",
    "thousands",
    "weights_note",
]


def strongest_channel(maps: np.ndarray) -> int:
    """The channel with the largest mean absolute value (the one with most to show)."""
    maps = np.asarray(maps, dtype=np.float64)
    return int(np.abs(maps).reshape(maps.shape[0], -1).mean(axis=1).argmax())


def chosen_channel(options: dict, channels: int) -> int | None:
    """The first of ``options["channels"]`` that a map with ``channels`` channels has, else None.

    >>> chosen_channel({"channels": [40, 3]}, 16), chosen_channel({}, 16)
    (3, None)
    """
    return next((c for c in _wanted_channels(options) if 0 <= c < channels), None)


def sheets_for(channels: int, smallest: int = 8, most: int = 6) -> int:
    """How many sheets stand for ``channels``: one more each time the channels double.

    >>> sheets_for(16), sheets_for(32), sheets_for(512)
    (1, 2, 6)
    """
    return max(0, min(most, round(math.log2(max(channels, 1) / smallest))))


def map_height(size: int, largest: int = 224, tallest: float = 1.5, shortest: float = 0.5) -> float:
    """Drawn height of an H×H map: shrinks by a fixed step each time the resolution halves.

    >>> map_height(224), map_height(7)
    (1.5, 0.5)
    """
    halvings = math.log2(max(largest, 1) / max(size, 1))
    return max(shortest, tallest - halvings * (tallest - shortest) / 5)


class StackedMap(Group):
    """One channel of a C×H×W tensor, with ``sheets`` offset outlines behind it for the others."""

    def __init__(self, maps, *, channel: int | None = None, height: float = 1.0, sheets: int | None = None, offset: float = 0.07):
        super().__init__()
        self.tensor = np.asarray(maps, dtype=np.float64)
        if self.tensor.ndim == 4:
            self.tensor = self.tensor[0]
        if self.tensor.ndim != 3:
            raise ValueError(f"a stacked map needs C×H×W, got shape {self.tensor.shape}")
        picture = self.tensor.shape[0] == 3 and channel is None and sheets == 0
        self.channel = None if picture else (strongest_channel(self.tensor) if channel is None else int(channel))
        self.front = FeatureMap(self.tensor if picture else self.tensor[self.channel], height=height)
        count = sheets_for(self.tensor.shape[0]) if sheets is None else sheets
        self.sheets = VGroup(
            *[
                Rectangle(width=self.front.width, height=height, stroke_color=theme.MUTED, stroke_width=1)
                .set_fill(theme.MODULE_FILL, opacity=1)
                .move_to(self.front)
                .shift((UP + RIGHT) * offset * (count - index))
                for index in range(count)
            ]
        )
        self.add(self.sheets, self.front)

    @property
    def values(self) -> np.ndarray:
        """The channel shown in front (or the picture)."""
        return self.front.values


#: the words of an operation's description (see explain.figures.layers.operation) and their Korean
OPERATION_WORDS = (
    ("BatchNorm (eval: running statistics)", f"{term('batch-norm', 'ko')} (평가: 저장된 통계)"),
    ("BatchNorm (train: batch statistics)", f"{term('batch-norm', 'ko')} (학습: 배치 통계)"),
    ("BatchNorm", term("batch-norm", "ko")),
    ("(eval: identity)", f"(평가: {term('identity', 'ko')} 함수)"),
    ("(train: random mask)", "(학습: 무작위 마스크)"),
    ("dropout", "드롭아웃"),
    ("adaptive ", "적응형 "),
    ("max-pool", term("max-pool", "ko")),
    ("avg-pool", term("avg-pool", "ko")),
    ("conv ", f"{term('conv', 'ko')} "),
    ("stride", term("stride", "ko")),
    ("padding", "패딩"),
    ("dilation", "팽창"),
    ("ceil mode", "올림 모드"),
    ("linear", term("linear", "ko")),
    ("flatten", "펼치기"),
    (" to ", " → "),
    ("identity", term("identity", "ko")),
)


def operation_text(text: str, lang: str) -> str:
    """An operation's description in ``lang``.

    >>> operation_text("max-pool 3×3, stride 2, padding 1", "ko")
    '최대 풀링 3×3, 스트라이드 2, 패딩 1'
    """
    if lang != "ko":
        return text
    for english, korean in OPERATION_WORDS:
        text = text.replace(english, korean)
    return text


def label_under(
    mobject, text: str, *, size: float = 16, color=theme.MUTED, font: str = theme.MONO_FONT, buff: float = 0.1, width: float | None = None
):
    """A small label centred under ``mobject``; one wider than ``width`` is broken at its last space
    ("inception3a.branch1.conv" over "16×8×8"), so it does not reach into its neighbours."""
    label = Text(text, font=font, font_size=size, color=color)
    if width is not None and label.width > width and " " in text:
        label = VGroup(*[Text(line, font=font, font_size=size, color=color) for line in text.rsplit(" ", 1)]).arrange(DOWN, buff=0.05)
    return label.next_to(mobject, DOWN, buff=buff)


def fit_width(mobject, width: float):
    """Scale ``mobject`` down (never up) so it is at most ``width`` wide."""
    if mobject.width > width:
        mobject.scale_to_fit_width(width)
    return mobject


def thousands(value: int) -> str:
    """ "1,550,314": counts with thousands separators.

    >>> thousands(34944)
    '34,944'
    """
    return f"{int(value):,}"


def millions(value: int, lang: str = "en") -> str:
    """A large count rounded the way each language counts: "303.5 M", "3억 346만"; below a million, all digits.

    >>> millions(303464448), millions(303464448, "ko"), millions(8028160, "ko"), millions(4640, "ko")
    ('303.5 M', '3억 346만', '803만', '4,640')
    """
    if value < 1_000_000:
        return thousands(value)
    if lang != "ko":
        return f"{value / 1e6:.1f} M"
    eok, man = divmod(round(value / 10_000), 10_000)  # 억 = 10⁸, 만 = 10⁴
    return f"{man:,}만" if not eok else f"{eok:,}억" + (f" {man:,}만" if man else "")


def _wanted_channels(options: dict) -> list[int]:
    """``options["channels"]`` as a list of channel numbers (one number, a list, or none)."""
    wanted = options.get("channels")
    return [int(c) for c in ([wanted] if isinstance(wanted, int) else list(wanted or []))]


def check_channels(options: dict, most: int) -> None:
    """Refuse channel numbers that no map the scene can show has (``most``: the most channels of
    those maps); a channel some maps lack is shown where it exists.

    >>> check_channels({"channels": [0, 40]}, 64), check_channels({}, 8)
    (None, None)
    >>> check_channels({"channels": [3, 99]}, 64)
    Traceback (most recent call last):
    ...
    explain.figures.errors.FigureError: channel 99 is in none of the maps this scene shows (they have at most 64 channels, 0–63)
    """
    bad = [c for c in _wanted_channels(options) if not 0 <= c < most]
    if bad:
        raise SceneInputError(f"channel {bad[0]} is in none of the maps this scene shows (they have at most {most} channels, 0–{most - 1})")


def chosen_step(options: dict, count: int, default: int | None = None) -> int:
    """The 1-based step ``options["step"]`` asks for (else ``default``, else the last), checked against ``count``.

    >>> chosen_step({}, 3), chosen_step({"step": "2"}, 3), chosen_step({}, 3, default=2)
    (3, 2, 2)
    """
    value = options.get("step", default or count)
    try:
        step = int(value)
    except (TypeError, ValueError):
        step = 0
    if not 1 <= step <= count:
        raise SceneInputError(f"option step (--stop-after) must be a whole number from 1 to {count}, got {value!r}")
    return step


def run_steps(scene, steps: Sequence[Callable[[], None]], *, still: int | None = None) -> None:
    """Play ``steps`` in order with a pause after each, up to step ``options["step"]`` (1-based).

    Each step clears the previous step's figure itself, so a still (``scene.is_still``) runs only
    the chosen step: its last frame is the same, without building the frames before it. ``still``
    is the step a still shows when none is chosen (default: the last), e.g. the last step that
    draws the trace's model rather than a committed experiment.
    """
    last = chosen_step(scene.options, len(steps), default=still if scene.is_still else None)
    for step in steps[last - 1 : last] if scene.is_still else steps[:last]:
        step()
        scene.pause()


def chosen_module(options: dict, modules: list[str], *, scene: str, kind: str, example: str, found: str = "") -> str:
    """The module ``options["module"]`` names among ``modules`` (default: the first), or one clear error
    that says what the trace has instead (``found``).

    >>> chosen_module({}, ["layer_2.0", "layer_2.1"], scene="resnet", kind="residual blocks", example="layer_2.0@sum")
    'layer_2.0'
    """
    if not modules:
        has = f"; this trace has {found}" if found else ""
        raise SceneInputError(f"the {scene} scene needs a trace with {kind} (names like '{example}'){has}")
    name = str(options.get("module", modules[0]))
    if name not in modules:
        raise SceneInputError(f"module {name!r} is not one of this trace's {kind}; choose one of {names_or_none(modules)}")
    return name


def weights_note(scene) -> VGroup | None:
    """A small note in the top-right corner about the recorded model's weights (:func:`explain.figures.notes.weights_note`):
    untrained, or the held-out accuracy the trained weights reached beside chance; and which image
    of a batch the maps are (:func:`explain.figures.notes.batch_note`)."""
    lines = [*weights_lines(scene.trace.meta), *filter(None, [batch_note(scene.trace)])]
    if not lines:
        return None
    note = VGroup(*[Text(line.text(scene.lang), font=theme.FONT, font_size=16, color=theme.MUTED) for line in lines])
    return note.arrange(DOWN, aligned_edge=RIGHT, buff=0.06).to_corner(UP + RIGHT, buff=0.2)


def caption_line(scene, english: str, korean: str) -> Text:
    """The caption line at the bottom of a CNN scene, in the scene's language, fitted to the frame."""
    return fit_width(scene.caption(english, korean, size=24), 13.4)


def next_step(
    scene,
    caption: tuple[str, str] | None,
    *,
    title=None,
    leaving=(),
    arriving=(),
    replacing=(),
    moving=(),
) -> None:
    """Start a step: its caption line (``(english, korean)``, kept as ``scene.current_caption``)
    and, for a new part, its ``title`` mobject (kept as ``scene.title``) replace the previous ones
    in the same animation in which ``leaving`` fades out and ``arriving`` fades in (see
    :func:`explain.draw.fades.transition` for ``replacing`` and ``moving``). A caption that
    changed after its figure, or a title before its caption, would show one step's words over
    another step's figure."""
    from explain.draw.fades import transition

    new_caption = None if caption is None else caption_line(scene, *caption)
    texts = [(getattr(scene, "current_caption", None), new_caption), (getattr(scene, "title", None), title)]
    changed = [(old, new) for old, new in texts if new is not None]
    transition(scene, leaving=leaving, arriving=arriving, replacing=[*changed, *replacing], moving=moving)
    if new_caption is not None:
        scene.current_caption = new_caption
    if title is not None:
        scene.title = title


def relative_legend(scene, *, diverging: bool = True, length: float = 1.8, width: float | None = None) -> VGroup:
    """The colour key of maps drawn each on its own scale: −max → 0 → max (or 0 → max); its title
    is set on two lines where one would be wider than ``width``."""
    from explain.draw.strip import ScaleBar

    bar = ScaleBar((-1.0, 1.0) if diverging else (0.0, 1.0), length=length)
    bar.remove(bar.tick_labels)
    largest = scene.term("max")
    ends = [f"−{largest}", "0", largest] if diverging else ["0", largest]
    ticks = VGroup(*[Text(t, font=theme.MONO_FONT, font_size=16, color=theme.MUTED) for t in ends])
    for tick, x in zip(ticks, np.linspace(bar.get_left()[0], bar.get_right()[0], len(ends))):
        tick.next_to(bar, DOWN, buff=0.05).set_x(x)
    words = scene.say("each map on its own scale", "맵마다 따로 맞춘 눈금")
    title = Text(words, font=theme.FONT, font_size=16, color=theme.MUTED)
    if width is not None and title.width > width:
        spaces = [i for i, ch in enumerate(words) if ch == " "]
        middle = min(spaces, key=lambda i: abs(i - len(words) / 2))
        title = VGroup(*[Text(line, font=theme.FONT, font_size=16, color=theme.MUTED) for line in (words[:middle], words[middle + 1 :])])
        title.arrange(DOWN, buff=0.06)
    return VGroup(title.next_to(bar, UP, buff=0.06), bar, ticks)
