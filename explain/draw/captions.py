"""Captions that fit the frame and change from step to step.

    caption = fitted_caption(self, "Forget gate", "망각 게이트")
    self.play(FadeIn(caption))
    self.play(recaption(self, caption, "Input gate", "입력 게이트"))
"""

from __future__ import annotations

from manim import Animation, Text, config
from manim.mobject.mobject import Mobject

__all__ = ["fitted_caption", "Recaption", "recaption", "WIDTH_SHARE"]

#: captions wider than this share of the frame are scaled down to fit
WIDTH_SHARE = 0.94


def fitted_caption(scene, english: str, korean: str) -> Text:
    """``scene.caption(...)`` scaled down, if needed, to fit the frame's width."""
    caption = scene.caption(english, korean)
    limit = config.frame_width * WIDTH_SHARE
    if caption.width > limit:
        caption.scale_to_fit_width(limit)
    return caption


def recaption(scene, caption: Text, english: str, korean: str) -> Animation:
    """An animation that turns ``caption`` into the next step's caption, in place."""
    return Recaption(caption, fitted_caption(scene, english, korean))


class Recaption(Animation):
    """Fade ``caption`` out, then the ``following`` text in at its place; ``caption`` becomes it.

    Morphing one sentence into another (``become`` animated) garbles the letters halfway.
    """

    def __init__(self, caption: Mobject, following: Mobject, **kwargs):
        super().__init__(caption, **kwargs)
        self.following = following

    def begin(self) -> None:
        self.previous = self.mobject.copy()
        super().begin()

    def interpolate_mobject(self, alpha: float) -> None:
        source, opacity = (self.previous, 1 - 2 * alpha) if alpha < 0.5 else (self.following, 2 * alpha - 1)
        self.mobject.become(source).set_opacity(opacity)
        # ``become`` copies the outlines only: the caption now reads the following text
        self.mobject.original_text = source.original_text
