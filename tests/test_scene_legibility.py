"""Every scene is readable in a lecture hall: at the default quality (720p) every number and label
is at least 14 px tall, nothing comes within 1% of the frame's edge and no name is written as code
(``W_ih``, backticks) — checked on every step of the video and on the still, from the mobjects on
screen (explain.draw.reading.legibility_problems). Also: steps are held long enough to read.
"""

from __future__ import annotations

import pytest
from manim import RIGHT, Text, VGroup

from explain.draw.reading import LAST_HOLD, MIN_TEXT_PX, count_reading, hold_seconds, legibility_problems, text_height_px
from explain.scenes import catalogue

SCENES = list(catalogue())


def _pixel_height() -> int:
    from manim.constants import QUALITIES as MANIM_QUALITIES

    from explain.render import DEFAULT_QUALITY, QUALITIES

    return MANIM_QUALITIES[QUALITIES[DEFAULT_QUALITY]]["pixel_height"]


def _problems(mobjects) -> list[str]:
    from manim import config

    return legibility_problems(mobjects, pixel_height=_pixel_height(), frame_width=config.frame_width, frame_height=config.frame_height)


def test_the_default_quality_is_at_least_720p():
    assert _pixel_height() >= 720


def test_a_label_too_small_for_the_hall_is_found():
    small, fine = Text("W 0.25", font_size=12), Text("W 0.25", font_size=18)
    assert len(_problems([VGroup(small, fine)])) == 1
    assert text_height_px(fine, "W 0.25", 90) >= MIN_TEXT_PX


def test_text_at_the_frame_edge_and_code_names_are_found():
    edge = Text("output", font_size=24).to_edge(RIGHT, buff=0.02)
    assert any("margin" in problem for problem in _problems([edge]))
    assert any("as code" in problem for problem in _problems([Text("W_ih x", font_size=24)]))
    assert any("as code" in problem for problem in _problems([Text("x W_hhᵀ", font_size=24)]))
    assert not _problems([Text("layer_2.0", font_size=24)])  # a module's name is not a subscript
    assert any("as code" in problem for problem in _problems([Text("`nn.Conv2d`", font_size=24)]))


def test_a_step_is_held_by_what_it_shows():
    assert count_reading(["Forget gate: fₜ near 0 erases", "0.93 -0.12 −1"]) == (5, 4)  # "0" is a value too
    assert count_reading(["A", "x₀", "→"]) == (0, 2)  # one-letter labels are glanced at, arrows are free
    quick, dense = hold_seconds(words=2, values=0), hold_seconds(words=30, values=80)
    assert 1.0 < quick < 2.0 and dense > 10.0
    assert hold_seconds(words=10, values=4, pace=1.5) == pytest.approx(1.5 * hold_seconds(words=10, values=4))
    assert LAST_HOLD >= 3.0


def _checked(name: str):
    """The scene's class with a pause() that first checks the screen; problems go to ``.problems``."""
    from explain.render import scene_spec

    base = scene_spec(name).load()

    class Checked(base):
        problems: list[str] = []

        def pause(self, notes: str = "") -> None:
            self.problems.extend(f"step {len(self.steps) + 1}: {problem}" for problem in _problems(self.mobjects))
            super().pause(notes)

    Checked.__name__ = base.__name__
    return Checked


def _run(name: str, tmp_path, *, still: bool, lang: str = "en", trace=None, options: dict | None = None):
    from manim import tempconfig

    from explain.render import resolve_trace, scene_spec

    scene_class = _checked(name)
    trace = resolve_trace(scene_spec(name), None) if trace is None else trace
    settings = {"dry_run": True, "write_to_movie": False, "save_last_frame": still, "disable_caching": True}
    settings.update(media_dir=str(tmp_path / "media"), text_dir=str(tmp_path / ".text-cache"), progress_bar="none")
    with tempconfig(settings):
        scene = scene_class(trace=trace, lang=lang, options=options, skip_animations=True)
        scene.problems = []
        scene.render()
        scene.problems.extend(f"{'still' if still else 'last frame'}: {problem}" for problem in _problems(scene.mobjects))
    return scene


@pytest.mark.render
@pytest.mark.slow
@pytest.mark.parametrize("name", SCENES)
def test_every_step_and_the_still_can_be_read_in_a_hall(name, tmp_path):
    video = _run(name, tmp_path, still=False)
    still = _run(name, tmp_path, still=True)
    problems = video.problems + still.problems
    assert not problems, f"{name}: {len(problems)} problems:\n" + "\n".join(dict.fromkeys(problems))
    assert video.steps, f"{name} has no steps"
    silent = [number for number, step in enumerate(video.steps, 1) if not step.notes.strip()]
    assert not silent, f"{name}: steps {silent} have no speaker notes (a slide shows them to the lecturer)"


@pytest.mark.render
@pytest.mark.slow  # about 6 s
def test_a_7x7_kernel_can_be_read_in_a_hall(tmp_path):
    """A ResNet stem's 7×7 kernel (tests/gallery.py's basic-resnet): its weights, the window under
    it and their products were drawn 8.7 px tall in the convolution scene; the steps that draw
    them (input and kernel, multiply, add up) must be readable like every other step."""
    from gallery import record

    _, trace = record("basic-resnet")
    scene = _run("convolution", tmp_path, still=False, trace=trace, options={"step": 3})
    assert scene.plan.conv == "conv1" and scene.kernel_grid.values.shape == (7, 7)
    assert not scene.problems, "\n".join(dict.fromkeys(scene.problems))
    grid, unit = scene.kernel_grid, 10.0**scene.kernel_grid.exponent  # whole numbers of one power of ten …
    weights = trace["conv1@weight"][scene.plan.channel, 0].flatten().tolist()
    assert all(abs(int(text) * unit - weight) <= unit / 2 + 1e-12 for text, weight in zip(grid.texts, weights))  # … the trace's, rounded
    assert all(step.total == pytest.approx(step.recorded, abs=1e-5) for step in scene.shown["conv_steps"])  # the sums are still the trace's


@pytest.mark.render
@pytest.mark.slow  # about 6 s
def test_a_bidirectional_layers_figure_can_be_read_in_a_hall(tmp_path):
    """tests/recurrent_gallery.py: a bidirectional layer's longer legend note pushed rnn-layers' colour key off the frame."""
    from recurrent_gallery import record_gallery

    problems = _run("rnn-layers", tmp_path, still=False, trace=record_gallery("bidirectional-lstm")).problems
    assert not problems, "\n".join(dict.fromkeys(problems))


@pytest.mark.render
@pytest.mark.slow  # about 5 s
def test_a_padded_windows_label_keeps_its_size(tmp_path):
    """vgg-bn (tests/gallery.py): the label over the products of a window hanging over the edge,
    'x[0, 14:17, −1:2] ⊙ w[5]', was shrunk to 13 px to fit over its grid; it takes two lines instead."""
    from gallery import record

    scene = _run("convolution", tmp_path, still=False, trace=record("vgg-bn")[1], options={"step": 4})
    assert any(step.cols[0] < 0 for step in scene.shown["conv_steps"])  # a window over the padding is worked out
    assert not scene.problems, "\n".join(dict.fromkeys(scene.problems))


@pytest.mark.render
@pytest.mark.slow  # about 5 s
def test_a_users_rnn_with_gradients_and_no_decoder_can_be_read_in_a_hall(tmp_path):
    """A user's 2-layer nn.RNN recorded with the gradients recipe: its row label 'output = h²' ran
    past the frame's left edge, and norms like '‖∂L/∂h₀‖=0.00959' ran under the next column's W_ih."""
    import torch
    from manim import Text

    from explain.models import Example
    from explain.models.recipes import run

    torch.manual_seed(0)
    rnn = torch.nn.RNN(3, 8, num_layers=2)
    example = Example("mine", rnn, (torch.randn(12, 1, 3),), None, "a user RNN", False, loss=lambda out: out[0][-1].pow(2).sum())
    scene = _run("rnn-layers", tmp_path, still=True, trace=run("gradients", example))
    assert not scene.problems, "\n".join(dict.fromkeys(scene.problems))
    texts = [m for m in scene.mobjects if isinstance(m, Text)] + [m for group in scene.mobjects for m in group.get_family() if isinstance(m, Text)]
    norms = [t for t in dict.fromkeys(texts) if "‖∂L" in t.text]
    others = [t for t in dict.fromkeys(texts) if "‖∂L" not in t.text and t.text.strip()]
    assert len(norms) == 6
    for norm in norms:
        for other in others:
            apart = (norm.get_right()[0] <= other.get_left()[0] or other.get_right()[0] <= norm.get_left()[0]
                     or norm.get_top()[1] <= other.get_bottom()[1] or other.get_top()[1] <= norm.get_bottom()[1])
            assert apart, f"{norm.text!r} overlaps {other.text!r}"
