"""Fades that copy nothing, and helpers that show or hide mobjects only when a video is being made.

    >>> from manim import Square
    >>> from explain.draw.fades import fade_in
    >>> square = Square().set_fill(opacity=0.5)
    >>> animation = fade_in(square)
    >>> animation.interpolate(0.5); round(float(square.get_fill_opacity()), 2)
    0.25
    >>> animation.interpolate(1.0); round(float(square.get_fill_opacity()), 2)
    0.5

``fade_in(*mobjects)`` / ``fade_out(*mobjects)`` are animations for ``scene.play``; ``swap(old, new)``
replaces one text or table by another in the same place (out, then in);
``appear(scene, *mobjects)`` / ``disappear(scene, *mobjects)`` play them, or in a still (or while
manim skips animations) just add or remove the mobjects; ``transition(scene, ...)`` turns one figure
into the next in a single animation (the old one fades out while the new one fades in, a title and
a caption swap in place, a map the next figure reads moves into place), so the screen is never
blank between two figures and a caption never lags its title. Manim's FadeIn/FadeOut deep-copy the whole
mobject twice when they start; for tables and grids with hundreds of glyphs that costs more than
drawing the frames. These fades remember the opacities once and scale them, frame by frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from manim import Animation, AnimationGroup, ImageMobject, MarkupText, Mobject, Succession, Text, VGroup, VMobject

__all__ = ["animating", "appear", "disappear", "fade_in", "fade_out", "swap", "transition"]


class _Fade(Animation):
    """Scale every fill and stroke opacity of a mobject's family by ``alpha`` (or ``1 - alpha``)."""

    def __init__(self, mobject: Mobject, *, out: bool, **kwargs):
        self.out = out
        self.members = [m for m in mobject.get_family() if isinstance(m, VMobject)]
        self.opacities = [
            (np.array(m.fill_rgbas[:, 3]), np.array(m.stroke_rgbas[:, 3]), np.array(m.background_stroke_rgbas[:, 3]))
            for m in self.members
        ]
        # feature maps are pixel images: their alpha channel fades the same way
        self.images = [(m, m.pixel_array[:, :, 3].copy()) for m in mobject.get_family() if isinstance(m, ImageMobject)]
        super().__init__(mobject, remover=out, introducer=not out, **kwargs)

    def create_starting_mobject(self) -> Mobject:
        return Mobject()  # the opacities are kept above; nothing else changes

    def interpolate_mobject(self, alpha: float) -> None:
        share = 1.0 - alpha if self.out else alpha
        for member, (fill, stroke, background) in zip(self.members, self.opacities):
            member.fill_rgbas[:, 3] = fill * share
            member.stroke_rgbas[:, 3] = stroke * share
            member.background_stroke_rgbas[:, 3] = background * share
        for image, alpha_channel in self.images:
            image.pixel_array[:, :, 3] = (alpha_channel * share).astype(image.pixel_array.dtype)

    def clean_up_from_scene(self, scene) -> None:
        super().clean_up_from_scene(scene)
        if self.out:  # leave the mobject as it was, in case it is shown again
            self.interpolate_mobject(0.0)


def fade_in(*mobjects: Mobject, **kwargs) -> Animation:
    """Fade ``mobjects`` in (they are added to the scene) without copying them."""
    return _group([_Fade(m, out=False, **kwargs) for m in mobjects])


def fade_out(*mobjects: Mobject, **kwargs) -> Animation:
    """Fade ``mobjects`` out (they are removed from the scene) without copying them."""
    return _group([_Fade(m, out=True, **kwargs) for m in mobjects])


def swap(old: Mobject, new: Mobject) -> Animation:
    """Fade ``old`` out during the first half, then ``new`` in during the second.

        self.play(swap(self.title, title), run_time=0.3)

    What replaces a caption, a title or a table of numbers in place: cross-fading them shows
    both at once, half transparent, one on top of the other.
    """
    return Succession(fade_out(old), fade_in(new))


def animating(scene) -> bool:
    """False in a still or while manim skips animations: then mobjects are added, not animated."""
    return not (getattr(scene, "is_still", False) or scene.renderer.skip_animations)


def appear(scene, *mobjects: Mobject, run_time: float = 0.5) -> None:
    """Fade ``mobjects`` in; in a still (or when skipping) just add them (no animation to compute)."""
    if animating(scene):
        scene.play(fade_in(*mobjects), run_time=run_time)
    else:
        scene.add(*mobjects)


def disappear(scene, *mobjects: Mobject | None, run_time: float = 0.4) -> None:
    """Fade out whichever of ``mobjects`` are on screen (None and absent ones are skipped)."""
    on_screen = set(scene.mobjects)
    present = [m for m in mobjects if m is not None and any(part in on_screen for part in m.get_family())]
    if present and animating(scene):
        scene.play(fade_out(*present), run_time=run_time)
    scene.remove(*present)


def transition(
    scene,
    *,
    leaving: Sequence[Mobject] = (),
    arriving: Sequence[Mobject] = (),
    replacing: Sequence[tuple[Mobject | None, Mobject]] = (),
    moving: Sequence[tuple[Mobject, np.ndarray]] = (),
    run_time: float = 0.6,
) -> None:
    """Change the screen in one animation: ``leaving`` fades out and ``arriving`` fades in, each
    (old, new) of ``replacing`` swaps in place (old None: new fades in), and each (mobject, point)
    of ``moving`` slides from that point to where the mobject is now. In a still (or when
    skipping) the end state is set at once.

        transition(self, leaving=[old_figure], arriving=[new_figure],
                   replacing=[(self.title, title), (self.caption_line, caption)])

    The figures change like a caption (out, then in) while anything else stays on screen; when
    nothing but lines of text (a title, a caption, a note) would, the next one starts fading in
    when the old one is half gone: fading everything out, then the next figure in, shows a frame
    with no figure between them. Changing the title first and the caption after the figure would show the
    next title over the previous caption; here they change together.
    """
    on_screen = set(scene.get_mobject_family_members())

    def shown(mobject: Mobject | None) -> bool:  # a group whose parts were added one by one counts too
        return mobject is not None and any(part in on_screen for part in mobject.get_family())

    leaving = [m for m in leaving if shown(m)]
    replacing = [(old if shown(old) else None, new) for old, new in replacing]
    if animating(scene):
        going = {part for m in [*leaving, *[old for old, _ in replacing]] if m is not None for part in m.get_family()}
        # what stays: a figure with parts that are not going (a group added whole counts by its parts)
        staying = any(_visible(m) for m in scene.mobjects if not set(m.family_members_with_points()) <= going and not _words(m))
        figures = [fade_out(*leaving)] if leaving else []
        figures += [fade_in(*arriving)] if arriving else []
        if len(figures) == 2:  # out, then in; or half overlapping, so the screen never empties
            animations = [Succession(*figures) if staying else AnimationGroup(*figures, lag_ratio=0.5)]
        else:
            animations = figures
        animations += [fade_in(new) if old is None else swap(old, new) for old, new in replacing]
        for mobject, point in moving:
            target = mobject.get_center()
            animations.append(mobject.move_to(point).animate.move_to(target))
        if animations:
            scene.play(*animations, run_time=run_time)
    gone = [*leaving, *[old for old, _ in replacing if old is not None]]
    scene.remove(*[part for mobject in gone for part in mobject.get_family()])
    scene.add(*arriving, *[new for _, new in replacing])


def _visible(mobject: Mobject) -> bool:
    """True if ``mobject`` draws anything (an emptied group left on screen by an animation does not)."""
    return any(isinstance(m, ImageMobject) or m.has_points() for m in mobject.get_family())


def _words(mobject: Mobject) -> bool:
    """True if ``mobject`` is a line of text or a group of lines (a title, a caption, a note), not a figure."""
    lines = mobject.submobjects if type(mobject) is VGroup else [mobject]
    return bool(lines) and all(isinstance(line, (Text, MarkupText)) for line in lines)


def _group(animations: list[Animation]) -> Animation:
    return animations[0] if len(animations) == 1 else AnimationGroup(*animations)
