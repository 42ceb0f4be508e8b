"""convolution: every multiply-and-sum, ReLU block and max-pool winner on screen equals the trace."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import explain
from explain import Trace, models
from explain.figures.convolution import convolution_plan
from explain.figures.errors import FigureError as SceneInputError
from explain.figures.windows import (
    PoolStep,
    busiest_block,
    conv_step,
    distinguishing_digits,
    informative_positions,
    mixed_channel,
    pool_step,
    recorded_input,
)
from scene_checks import assert_matches_reference, play_through, render_still


@pytest.fixture(scope="module")
def mnist() -> tuple[torch.nn.Module, Trace]:
    example = models.load("mnist-cnn")
    return example.model, example.record()


def test_the_recording_keeps_a_copy_of_each_kernel(mnist):
    model, trace = mnist
    for name in ("layer.0", "layer.2", "layer.5"):
        module = dict(model.named_modules())[name]
        assert torch.equal(trace[f"{name}@weight"], module.weight) and torch.equal(trace[f"{name}@bias"], module.bias)
        assert trace[f"{name}@weight"].data_ptr() != module.weight.data_ptr()  # training on would not change it


def test_every_output_cell_is_the_kernel_times_the_patch_plus_bias(mnist):
    model, trace = mnist
    conv = model.layer[0]
    image = trace["@input.0"]
    expected = F.conv2d(image, conv.weight, conv.bias)[0].detach()
    for channel, row, col in [(0, 0, 0), (3, 0, 1), (15, 23, 23), (7, 11, 5)]:
        step = conv_step(trace, "layer.0", channel, row, col)
        manual = ((image[0, :, row : row + 5, col : col + 5] * conv.weight[channel]).sum() + conv.bias[channel]).detach()
        assert step.total == pytest.approx(float(manual), abs=1e-5)
        assert step.total == pytest.approx(float(expected[channel, row, col]), abs=1e-5)
        assert step.recorded == float(trace["layer.0"][0, channel, row, col])
        np.testing.assert_allclose(step.products, step.patch * step.kernel)


def test_a_strided_padded_multichannel_conv_is_recomputed_exactly():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, stride=2, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2))
    trace = explain.record(net, torch.randn(1, 2, 9, 9))
    out = trace["0"][0]
    for channel in range(3):
        for row in range(out.shape[1]):
            for col in range(out.shape[2]):
                assert conv_step(trace, "0", channel, row, col).total == pytest.approx(float(out[channel, row, col]), abs=1e-5)
    pooled = trace["2"][0]
    for channel in range(3):
        step = pool_step(trace, "2", channel, 1, 0)
        assert step.value == float(pooled[channel, 1, 0])
        assert step.window.max() == step.value


def test_a_wrong_input_cannot_pass_as_the_convolutions(mnist):
    model, trace = mnist
    forged = Trace(dict(trace.items()), meta=trace.meta)
    forged["@input.0"] = trace["@input.0"] + 0.5
    with pytest.raises(SceneInputError, match="recomputing cell"):
        conv_step(forged, "layer.0", 0, 0, 0)


def test_max_pool_winners_are_the_traces(mnist):
    _, trace = mnist
    assert recorded_input(trace, "layer.4") == "layer.3"
    source, pooled = trace["layer.3"][0], trace["layer.4"][0]
    for channel, row, col in [(0, 0, 0), (5, 4, 9), (31, 9, 3)]:
        step = pool_step(trace, "layer.4", channel, row, col)
        window = source[channel, 2 * row : 2 * row + 2, 2 * col : 2 * col + 2]
        assert step.recorded == float(pooled[channel, row, col]) == step.value
        assert float(window[step.winner]) == float(window.max())


def test_plan_chooses_from_the_trace_and_rejects_bad_options(mnist):
    _, trace = mnist
    plan = convolution_plan(trace)
    assert (plan.conv, [s.module for s in plan.chain.steps], plan.pool) == ("layer.0", ["layer.1"], "layer.4")
    assert plan.channel == mixed_channel(trace["layer.0"][0].numpy())
    assert convolution_plan(trace, {"channels": [3]}).channel == 3
    with pytest.raises(SceneInputError, match="channel 16 is not in layer.0"):
        convolution_plan(trace, {"channels": [16]})
    with pytest.raises(SceneInputError, match="'layer.1' is not a convolution whose kernel and input this trace holds; choose one of layer.0, layer.2, layer.5"):
        convolution_plan(trace, {"module": "layer.1"})


def test_worked_positions_sit_on_the_strongest_row_of_the_input():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3))
    image = torch.zeros(1, 1, 8, 8)
    image[0, 0, 5, 4:7] = 1.0  # a short stroke on row 5
    trace = explain.record(net, image)
    positions = informative_positions(trace, "0", 2)
    assert positions == [(3, 2), (3, 3)]  # the first row of windows over the stroke, from its first column


def test_choices_of_channel_block_and_digits():
    maps = np.array([[[1.0, 2.0], [3.0, 4.0]], [[1.0, -1.0], [2.0, -2.0]]])
    assert mixed_channel(maps) == 1
    values = np.zeros((4, 4))
    values[2:, 2:] = [[1, -1], [-1, 1]]
    assert busiest_block(values, 2, mixed=True) == (2, 2)
    assert busiest_block(values + np.eye(4) * 5, 2, mixed=False) == (0, 0)
    close = pool_step_like(np.array([[0.3301, 0.3304], [0.1, 0.2]]))
    assert distinguishing_digits([close]) == 4


def pool_step_like(window: np.ndarray):
    return PoolStep("max_pool", 0, 0, 0, (0, window.shape[0]), (0, window.shape[1]), window, np.zeros(window.shape, bool), 1, float(window.max()))


def test_trace_without_kernels_is_a_clear_error():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU())
    trace = explain.record(net, torch.randn(1, 1, 6, 6), names=["[0-9]", "@input.*"])  # outputs only
    with pytest.raises(SceneInputError, match="no convolution with its kernel"):
        convolution_plan(trace)


@pytest.mark.render
def test_the_scene_shows_the_traces_numbers(mnist, tmp_path):
    _, trace = mnist
    scene = play_through("convolution", trace, tmp_path, options={"positions": 2})
    plan = scene.plan
    assert [(s.row, s.col) for s in scene.shown["conv_steps"]] == plan.positions == informative_positions(trace, "layer.0", 2)
    assert all(np.abs(s.patch).sum() > 0 for s in scene.shown["conv_steps"])  # worked examples are not blank
    for step in scene.shown["conv_steps"]:
        assert step.total == pytest.approx(step.recorded, abs=1e-5)
        assert step.recorded == float(trace[plan.conv][0, plan.channel, step.row, step.col])
    before, after = scene.shown["steps"]["layer.1"]
    row, col = plan.block
    np.testing.assert_array_equal(after, trace["layer.1"][0, plan.channel, row : row + 4, col : col + 4].double().numpy())
    np.testing.assert_array_equal(np.maximum(before, 0), after)
    assert [s.recorded for s in scene.shown["pool_steps"]] == [s.value for s in scene.shown["pool_steps"]]


@pytest.mark.render
@pytest.mark.parametrize("lang, step", [("en", None), ("ko", 2)])
def test_still_matches_reference(mnist, tmp_path, lang, step):
    _, trace = mnist
    options = {} if step is None else {"step": step}
    png = render_still("convolution", trace, tmp_path, lang=lang, options=options)
    name = "convolution" + ("" if lang == "en" else f"-{lang}") + ("" if step is None else f"-step{step}")
    assert_matches_reference(png, name)


def test_docstring_examples_hold():
    from explain.figures import convolution, windows

    for module in (convolution, windows):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0


@pytest.mark.render
@pytest.mark.slow
def test_captions_change_with_their_titles_and_the_screen_never_empties(mnist, tmp_path):
    """Issue 14: the previous part's caption stayed under the next part's title, and the video
    faded through a blank frame between parts; here every frame of the video is looked at."""
    from scene_checks import late_captions, watch_frames

    _, trace = mnist
    frames = watch_frames("convolution", trace, tmp_path)
    assert not late_captions(frames), "a new figure was shown under another step's caption"
    titles_under = {}
    for frame in frames:
        if frame.caption is not None and frame.title is not None:
            titles_under.setdefault(frame.caption, set()).add(frame.title)
    assert len({frame.title for frame in frames} - {None}) == 3  # the parts: convolution, ReLU, pooling
    assert all(len(titles) == 1 for titles in titles_under.values()), "a caption stayed on screen under the next part's title"
    first = next(i for i, frame in enumerate(frames) if frame.figure)
    blank = [i for i, frame in enumerate(frames[first:], first) if not frame.figure]
    assert not blank, f"frames {blank} show no figure (of {len(frames)})"
