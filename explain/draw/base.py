"""TraceScene: the base of every scene; it reads a Trace and never runs a model it was not handed.

    class LSTMCellScene(TraceScene):
        def construct(self):
            f = self.trace["l2.fwd.f"]        # real values
            self.add(self.caption("Forget gate", "망각 게이트"))
            self.pause()                      # a step; a slide boundary with --slides

``pause()`` holds each step long enough to read what it showed (explain.draw.reading: a base hold
plus time per new word and number, times the scene's ``pace``); the last frame is held at least
3 s; each step is recorded in ``scene.steps`` with its hold and its speaker notes.

Options reach a scene as keyword arguments (``explain render`` passes them, with the trace it
loaded or made with the scene's recipe: see ``scenes.SceneSpec``); a scene never runs a model.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

from manim import DOWN, MarkupText, Scene, Text, config

from explain import glossary
from explain.draw import theme
from explain.draw.reading import LAST_HOLD, count_reading, hold_seconds, readings, tokens
from explain.figures.errors import FigureError
from explain.figures.recurrent import layered_view
from explain.trace import Trace

__all__ = ["as_slides", "SceneInputError", "SLIDE_HOLD", "Step", "TraceScene"]

#: seconds a step is held in slides, where the lecturer moves on by hand
SLIDE_HOLD = 0.3


@dataclass(frozen=True)
class Step:
    """One step of a scene as it was paced: what it showed new, how long it was held, its notes."""

    words: int
    values: int
    hold: float
    notes: str


#: A trace or option a scene cannot use; its message is one line the user can act on. The figure
#: readers (:mod:`explain.figures`) raise the same error, so a scene passes theirs on unchanged.
SceneInputError = FigureError


class TraceScene(Scene):
    """A Manim scene driven by one Trace; :func:`as_slides` turns it into a manim-slides Slide."""

    #: the scene options it reads (``explain render`` refuses others: a lecturer's option is never ignored)
    OPTIONS: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        *args: Any,
        trace: Trace | None = None,
        lang: str = "en",
        options: dict | None = None,
        pace: float = 1.0,
        **kwargs: Any,
    ):
        if lang not in ("en", "ko"):
            raise ValueError(f"lang must be 'en' or 'ko', got {lang!r}")
        if not pace > 0:
            raise ValueError(f"pace must be a number above 0 (1.5 slower, 0.7 faster), got {pace!r}")
        self._trace = None if trace is None else layered_view(trace)
        self.lang = lang
        self.options = dict(options or {})
        self.pace = float(pace)
        #: every step so far, as :meth:`pause` paced it
        self.steps: list[Step] = []
        self._read: Counter = Counter()
        self._time_paused = 0.0
        super().__init__(*args, **kwargs)
        self.camera.background_color = theme.BACKGROUND

    @classmethod
    def check(cls, trace: Trace, options: dict) -> None:
        """Raise a ValueError (e.g. :class:`SceneInputError`) if ``trace`` or ``options`` cannot drive this scene.

        ``explain render`` calls it before rendering, so a wrong trace file costs one clear line,
        not a traceback from the middle of an animation. Scenes override it.
        """

    @property
    def is_still(self) -> bool:
        """True when only the last frame is kept: scenes then stop at their most informative frame."""
        return bool(config.save_last_frame and not config.write_to_movie)

    @property
    def trace(self) -> Trace:
        """The scene's Trace, as given (``explain render`` makes the default one with the scene's recipe)."""
        if self._trace is None:
            raise SceneInputError(f"{type(self).__name__} draws a trace: pass trace= (render it with: explain render SCENE)")
        return self._trace

    def say(self, english: str, korean: str) -> str:
        """The caption in the scene's language."""
        return korean if self.lang == "ko" else english

    def term(self, english: str) -> str:
        """A technical term in the scene's language, from :mod:`explain.glossary` ("max-pool" → "최대 풀링")."""
        return glossary.term(english, self.lang)

    def text(
        self, english: str, korean: str | None = None, *, size: float = 28, color=theme.INK, markup: bool = False, **kwargs: Any
    ) -> Text | MarkupText:
        """A Pango Text in the theme's font, in the scene's language.

        With ``markup=True`` the text is Pango markup (``C<sub>t</sub>``); accented letters such as
        C̃ are then set in a font that draws the accent right (see :func:`theme.accents_markup`).
        """
        content = english if korean is None else self.say(english, korean)
        if markup:
            return theme.markup_text(content, size=size, color=color, **kwargs)
        return Text(content, font=theme.FONT, font_size=size, color=color, **kwargs)

    def caption(self, english: str, korean: str, *, size: float = 26, markup: bool = False) -> Text | MarkupText:
        """A caption line at the bottom of the frame, shrunk to fit the frame's width if needed."""
        line = self.text(english, korean, size=size, markup=markup)
        if line.width > config.frame_width - 0.6:
            line.scale_to_fit_width(config.frame_width - 0.6)
        line.is_caption = True
        return line.to_edge(DOWN, buff=0.3)

    @property
    def in_slides(self) -> bool:
        """True when rendered as manim-slides slides (each :meth:`pause` ends one)."""
        return hasattr(self, "next_slide")

    def pause(self, notes: str = "") -> None:
        """End a step: hold it long enough to read what it showed, and end a slide in presentations.

        The hold is :func:`explain.draw.reading.hold_seconds` of the words and numbers that appeared
        since the previous step, scaled by the scene's ``pace``. ``notes`` are the speaker notes of
        the slide that ends here (default: the caption on screen).
        """
        if self.is_still:  # only the last frame is kept, and it is drawn when the scene ends
            return
        on_screen = tokens({text for _, text in readings(self.mobjects)})
        words, values = count_reading(on_screen - self._read)
        self._read = on_screen
        hold = SLIDE_HOLD if self.in_slides else hold_seconds(words=words, values=values, pace=self.pace)
        notes = notes or self.caption_on_screen()
        self.steps.append(Step(words, values, hold, notes))
        self.wait(hold)
        self._time_paused = self.renderer.time
        if self.in_slides:
            self._base_slide_config.notes = notes  # manim-slides gives next_slide's notes to the slide after
            self.next_slide()

    def caption_on_screen(self) -> str:
        """The text of the caption(s) now on screen (see :meth:`caption`), or ""."""
        captions = [m for m in self.mobjects if getattr(m, "is_caption", False)]
        return " ".join(text for _, text in readings(captions))

    def tear_down(self) -> None:
        """Hold the last frame: a step if anything moved since the last one, at least LAST_HOLD s."""
        super().tear_down()
        if self.is_still:
            return
        if self.in_slides:  # manim-slides closes the last slide itself: give it its notes
            if self.renderer.time > self._time_paused:
                self._base_slide_config.notes = self.caption_on_screen()
            return
        if self.renderer.time > self._time_paused:
            self.pause()
        last = self.steps[-1].hold if self.steps else 0.0
        if last < LAST_HOLD:
            self.wait(LAST_HOLD - last)


def as_slides(scene_class: type[TraceScene]) -> type[TraceScene]:
    """The same scene as a manim-slides ``Slide``: each :meth:`TraceScene.pause` becomes a slide.

    >>> from explain.scenes.lstm import LSTMCellScene          # doctest: +SKIP
    >>> as_slides(LSTMCellScene)().render()            # doctest: +SKIP
    """
    from manim_slides import Slide

    return type(scene_class.__name__, (Slide, scene_class), {"__module__": scene_class.__module__})
