"""Changing text in place: the old one fades out, then the new one fades in; letters never morph."""

from __future__ import annotations

import pytest

manim = pytest.importorskip("manim")

from explain.draw.captions import Recaption  # noqa: E402


def test_recaption_fades_the_old_text_out_then_the_new_one_in():
    caption, following = manim.Text("Forget gate"), manim.Text("Input gate, a longer sentence")
    animation = Recaption(caption, following)
    animation.begin()
    old_points = animation.previous.get_all_points().copy()

    animation.interpolate_mobject(0.25)  # first half: the old sentence, half faded
    assert caption.get_all_points() == pytest.approx(old_points)
    assert caption.get_fill_opacity() == pytest.approx(0.5)

    animation.interpolate_mobject(0.75)  # second half: the new sentence, half there
    assert caption.get_all_points() == pytest.approx(following.get_all_points())
    assert caption.get_fill_opacity() == pytest.approx(0.5)

    animation.interpolate_mobject(1.0)
    assert caption.get_fill_opacity() == pytest.approx(1.0)
    assert following.get_fill_opacity() == pytest.approx(1.0)  # the target itself is left alone


def test_swap_shows_one_of_the_two_at_a_time():
    from explain.draw.fades import swap

    old, new = manim.Text("t = 0"), manim.Text("t = 1")
    scene = manim.Scene()
    scene.add(old)
    animation = swap(old, new)
    animation._setup_scene(scene)  # what Scene.play does first
    animation.begin()
    animation.interpolate(0.25)
    assert old.get_fill_opacity() == pytest.approx(0.5) and new not in scene.mobjects
    animation.interpolate(0.75)
    assert old.get_fill_opacity() == pytest.approx(0.0) or old not in scene.mobjects
    assert new in scene.mobjects and new.get_fill_opacity() == pytest.approx(0.5)


@pytest.mark.parametrize("kept", [False, True])
def test_one_figure_replaces_another_without_an_empty_frame_unless_a_figure_stays(kept):
    """Under a title and a caption (words, not a figure) the old figure, added part by part, is
    still fading out when the new one fades in; a map that stays keeps the screen from emptying,
    and then the figures change one after the other, never drawn over each other."""
    from explain.draw.fades import transition

    scene = manim.Scene()
    old_parts = [manim.Square().set_fill(opacity=1), manim.Circle().set_fill(opacity=1)]
    new = manim.Triangle().set_fill(opacity=1)
    scene.add(manim.Text("Title"), manim.Text("a caption"), *old_parts, *([manim.Square().shift(3 * manim.LEFT)] if kept else []))
    played = []
    scene.play = lambda *animations, **_: played.extend(animations)
    transition(scene, leaving=[manim.VGroup(*old_parts)], arriving=[new])
    (animation,) = played
    animation._setup_scene(scene)
    animation.begin()
    animation.interpolate(0.5)
    shown = max(part.get_fill_opacity() for part in [*old_parts, new])
    assert shown == pytest.approx(0.0 if kept else 0.25)
