"""Captions that fit the frame and change from step to step.

    caption = fitted_caption(self, "Forget gate", "망각 게이트")
    self.play(FadeIn(caption))
    self.play(recaption(self, caption, "Input gate", "입력 게이트"))
"""

from __future__ import annotations

from manim import Animation, Text, config

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
    return caption.animate.become(fitted_caption(scene, english, korean))
