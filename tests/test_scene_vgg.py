"""vgg (figure 8): shapes, receptive field and parameter counts on screen equal the model's."""

from __future__ import annotations

import pytest
import torch

from explain import Trace, models
from explain.figures.blocks import conv_blocks, equal_width_pair, stack_versus_single
from explain.figures.layers import parameter_count, receptive_field
from scene_checks import assert_matches_reference, play_through, render_still


@pytest.fixture(scope="module")
def vgg() -> tuple[torch.nn.Module, Trace]:
    # untrained (seeded) at the book's 224×224: the references stay valid if the trained weights change
    example = models.load("vgg16", trained=False, image_size=224)
    return example.model, example.record()


def test_blocks_double_channels_and_halve_resolution(vgg):
    model, trace = vgg
    blocks = conv_blocks(trace)
    assert [b.name for b in blocks] == [f"feature.{i}" for i in range(5)]
    assert [b.shape_out for b in blocks] == [(16, 112, 112), (32, 56, 56), (64, 28, 28), (128, 14, 14), (128, 7, 7)]
    assert [len(b.convs) for b in blocks] == [2, 2, 3, 3, 3]
    assert all(b.pools == ["max-pool 2×2, stride 2"] and b.others == ["ReLU"] for b in blocks)
    assert blocks[0].shape_in == (3, 224, 224)
    assert all(conv.kernel == (3, 3) and conv.stride == (1, 1) for b in blocks for conv in b.convs)


def test_parameter_counts_equal_the_models(vgg):
    model, trace = vgg
    for index, block in enumerate(conv_blocks(trace)):
        assert block.parameters == sum(p.numel() for p in model.feature[index].parameters())
    counts = parameter_count(trace)
    assert counts.conv == sum(p.numel() for p in model.feature.parameters())
    assert counts.linear == sum(p.numel() for p in model.fc_layer.parameters())
    assert counts.total == sum(p.numel() for p in model.parameters()) == 1_550_314


def test_two_stacked_3x3_convs_see_5x5_input_pixels(vgg):
    model, trace = vgg
    first, second = conv_blocks(trace)[0].convs[:2]
    assert receptive_field([first, second]) == 5
    # the same by autograd: which input pixels move one output value of the two real convs
    x = torch.randn(1, 3, 15, 15, requires_grad=True)
    out = model.feature[0][2](model.feature[0][0](x))
    out[0, 0, 7, 7].backward()
    rows, cols = torch.nonzero(x.grad[0].abs().sum(0), as_tuple=True)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (5, 5)


def test_the_scene_shows_the_traces_maps_and_counts(vgg, tmp_path):
    model, trace = vgg
    scene = play_through("vgg", trace, tmp_path)
    for block, (channel, values) in scene.shown["maps"].items():
        assert values == pytest.approx(trace[block][0, channel].numpy())
    assert scene.shown["parameters"][-1] == ("linear", sum(p.numel() for p in model.fc_layer.parameters()))
    pair = equal_width_pair(conv_blocks(trace))
    assert [c.name for c in pair] == ["feature.2.2", "feature.2.4"]
    versus = stack_versus_single(pair)
    assert sum(c.parameters for c in versus.stack) == 2 * (9 * 64 * 64 + 64) == 73_856
    assert versus.single.parameters == 25 * 64 * 64 + 64 == 102_464
    assert scene.shown["pair"] == versus
    field = scene.shown["field"]
    row, col = field["centre"]
    assert field["side"] == 5 and 4 <= row < 220 and 4 <= col < 220


def test_bad_trace_is_one_clear_error():
    from explain.draw.base import SceneInputError
    from explain.scenes.vgg import VGGScene

    with pytest.raises(SceneInputError, match="needs the input image"):
        VGGScene.check(Trace({"x": torch.zeros(1)}), {})
    with pytest.raises(SceneInputError, match="records no convolution"):
        VGGScene.check(Trace({"@input.0": torch.zeros(1)}), {})


def test_options_choose_the_block_and_channel(vgg, tmp_path):
    from explain.draw.base import SceneInputError
    from explain.scenes.vgg import VGGScene

    trace = vgg[1]
    scene = play_through("vgg", trace, tmp_path, options={"module": "feature.3", "channels": [5], "step": 2})
    field = scene.shown["field"]
    assert field["channel"] == 5 and field["side"] == 5
    assert all(channel == 5 for channel, _ in scene.shown["maps"].values())
    assert "parameters" not in scene.shown  # stopped after step 2
    with pytest.raises(SceneInputError, match="choose one of feature.0"):
        VGGScene.check(trace, {"module": "fc_layer"})
    with pytest.raises(SceneInputError, match="from 1 to 4"):
        VGGScene.check(trace, {"step": 5})


@pytest.mark.render
def test_still_matches_reference(vgg, tmp_path):
    png = render_still("vgg", vgg[1], tmp_path, options={"step": 3})
    assert_matches_reference(png, "vgg")


@pytest.mark.render
def test_korean_receptive_field_still_matches_reference(vgg, tmp_path):
    png = render_still("vgg", vgg[1], tmp_path, lang="ko", options={"step": 2})
    assert_matches_reference(png, "vgg-ko-step2")


def test_docstring_examples_of_the_cnn_figure_helpers():
    import doctest

    from explain.draw import cnn_parts
    from explain.figures import blocks, errors, layers

    for module in (blocks, errors, layers, cnn_parts):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0


def test_the_depth_step_shows_the_committed_experiment(vgg, tmp_path):
    from explain.figures.experiments import depth_results

    scene = play_through("vgg", vgg[1], tmp_path, options={"step": 4})
    results = depth_results()
    assert scene.shown["depth"] == results
    best = results.best
    assert f"{100 * results.test_accuracy[best]:.1f} %" in scene.current_caption.original_text


@pytest.mark.render
def test_the_depth_step_renders_in_korean(vgg, tmp_path):
    png = render_still("vgg", vgg[1], tmp_path, lang="ko", options={"step": 4})
    assert png.is_file() and png.stat().st_size > 10_000
