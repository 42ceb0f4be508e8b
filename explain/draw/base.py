"""TraceScene: the base of every scene; it reads a Trace and never runs a model it was not handed.

    class LSTMCellScene(TraceScene):
        def construct(self):
            f = self.trace["l2.fwd.f"]        # real values
            self.add(self.caption("Forget gate", "망각 게이트"))
            self.pause()                      # a step; a slide boundary with --slides

Options reach a scene as keyword arguments (``explain render`` passes them, with the trace it
loaded or made with the scene's recipe: see ``scenes.SceneSpec``); a scene never runs a model.
"""

from __future__ import annotations

from typing import Any

from manim import DOWN, MarkupText, Scene, Text, config

from explain import glossary
from explain.draw import theme
from explain.figures.errors import FigureError
from explain.trace import Trace


#: A trace or option a scene cannot use; its message is one line the user can act on. The figure
#: readers (:mod:`explain.figures`) raise the same error, so a scene passes theirs on unchanged.
SceneInputError = FigureError


class TraceScene(Scene):
    """A Manim scene driven by one Trace; :func:`as_slides` turns it into a manim-slides Slide."""

    def __init__(self, *args: Any, trace: Trace | None = None, lang: str = "en", options: dict | None = None, **kwargs: Any):
        if lang not in ("en", "ko"):
            raise ValueError(f"lang must be 'en' or 'ko', got {lang!r}")
        self._trace = trace
        self.lang = lang
        self.options = dict(options or {})
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
        return line.to_edge(DOWN, buff=0.3)

    def pause(self, notes: str = "") -> None:
        """End a step: a short wait in videos, and a slide boundary in presentations."""
        if self.is_still:  # only the last frame is kept, and it is drawn when the scene ends
            return
        self.wait(0.5)
        next_slide = getattr(self, "next_slide", None)
        if next_slide is not None:
            next_slide(notes=notes)


def as_slides(scene_class: type[TraceScene]) -> type[TraceScene]:
    """The same scene as a manim-slides ``Slide``: each :meth:`TraceScene.pause` becomes a slide.

    >>> from scenes.lstm import LSTMCellScene          # doctest: +SKIP
    >>> as_slides(LSTMCellScene)().render()            # doctest: +SKIP
    """
    from manim_slides import Slide

    return type(scene_class.__name__, (Slide, scene_class), {"__module__": scene_class.__module__})
