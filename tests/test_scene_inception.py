"""inception (figure 9): branches, concatenation, costs and the 1×1 pixel vectors equal the model's."""

from __future__ import annotations

import pytest
import torch

from explain import Trace, models
from explain.figures.inception import concat_modules, inception
from explain.models.googlenet import TABLE
from scene_checks import assert_matches_reference, play_through, render_still


@pytest.fixture(scope="module")
def googlenet() -> tuple[torch.nn.Module, Trace]:
    # untrained (seeded) at the book's 224×224: the references stay valid if the trained weights change
    example = models.load("googlenet", trained=False, image_size=224)
    return example.model, example.record()


def measured_multiply_adds(module: torch.nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds of every Conv2d in ``module`` on ``x``, counted from the real outputs by hooks."""
    total = 0

    def count(conv, inputs, output):
        nonlocal total
        total += output[0].numel() * conv.weight[0].numel()

    handles = [m.register_forward_hook(count) for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    module(x)
    for handle in handles:
        handle.remove()
    return total


def test_branches_concatenate_to_the_module_output(googlenet):
    model, trace = googlenet
    assert concat_modules(trace)[:2] == ["layer_2.0", "layer_2.1"]
    found = inception(trace, "layer_2.0")
    assert [b.module for b in found.branches] == [f"layer_2.0.{n}" for n in ("conv_1", "conv_1_3", "conv_1_5", "max_3_1")]
    assert [b.pooled for b in found.branches] == [False, False, False, True]
    joined = torch.cat([trace[f"layer_2.0@branch{i}"] for i in range(4)], dim=1)
    assert torch.equal(joined, trace["layer_2.0@concat"])
    assert found.shape_in == (48, 28, 28) and found.shape_out == (64, 28, 28)


def test_costs_equal_the_real_modules(googlenet):
    model, trace = googlenet
    found = inception(trace, "layer_2.0")
    module = model.layer_2[0]
    assert found.compressed.parameters == sum(p.numel() for p in module.parameters())
    x = torch.zeros(1, *found.shape_in)
    with torch.no_grad():
        assert found.compressed.multiply_adds == measured_multiply_adds(module, x)
    # the naive module: each branch's conv straight on the 48 input channels (scaled 3a: 16, 32, 8)
    c, hw = 48, 28 * 28
    out1, out3, out5 = (round(v / 4) for v in (TABLE["3a"][0], TABLE["3a"][2], TABLE["3a"][4]))
    assert found.naive.multiply_adds == c * hw * (out1 + 9 * out3 + 25 * out5)
    assert found.naive.parameters == c * (out1 + 9 * out3 + 25 * out5) + out1 + out3 + out5
    assert found.naive_channels() == out1 + out3 + out5 + c
    assert found.compressed.multiply_adds < found.naive.multiply_adds


def test_a_1x1_conv_is_the_same_linear_map_at_every_pixel(googlenet):
    from explain.scenes.inception import UNITS, pixel_vectors

    model, trace = googlenet
    found = inception(trace, "layer_2.0")
    assert found.source == "layer_1"
    values = pixel_vectors(trace, found, "layer_1")
    row, col = values["pixel"]
    assert values["x"] == pytest.approx(trace["layer_1"][0, :UNITS, row, col].tolist())
    conv = model.layer_2[0].conv_1[0]
    weight = conv.weight[:, :, 0, 0]
    y = weight @ trace["layer_1"][0, :, row, col] + conv.bias
    assert values["y"] == pytest.approx(y[:UNITS].tolist(), abs=1e-5)


def test_the_scene_shows_the_traces_branches(googlenet, tmp_path):
    model, trace = googlenet
    scene = play_through("inception", trace, tmp_path, options={"module": "layer_3.0", "channels": 2})
    assert scene.module.name == "layer_3.0"
    assert scene.shown["pixel"]["conv"] == "layer_3.0.conv_1.0"
    for index, shown in enumerate(scene.shown["branches"]):
        maps = trace[f"layer_3.0@branch{index}"][0].numpy()
        assert len(shown) == 2
        assert any(pytest.approx(shown[0]) == maps[c] for c in range(maps.shape[0]))


def test_branch_channels_are_a_count_or_a_list():
    from explain.scenes.inception import branch_channels

    maps = torch.zeros(8, 2, 2).numpy()
    maps[5] += 2.0
    maps[1] += 1.0
    assert branch_channels(maps, 2) == [1, 5]
    assert branch_channels(maps, [0, 7, 12]) == [0, 7]
    assert branch_channels(maps, [12]) == [5]


def test_wrong_options_are_one_clear_error(googlenet):
    from explain.draw.base import SceneInputError
    from explain.scenes.inception import InceptionScene

    trace = googlenet[1]
    with pytest.raises(SceneInputError, match="choose one of layer_2.0"):
        InceptionScene.check(trace, {"module": "layer_9"})
    with pytest.raises(SceneInputError, match="channels"):
        InceptionScene.check(trace, {"channels": 0})
    with pytest.raises(SceneInputError, match="channels"):
        InceptionScene.check(trace, {"channels": list(range(9))})
    with pytest.raises(SceneInputError, match="inception modules"):
        InceptionScene.check(Trace({"x": torch.zeros(1)}), {})


@pytest.mark.render
def test_still_matches_reference(googlenet, tmp_path):
    png = render_still("inception", googlenet[1], tmp_path)
    assert_matches_reference(png, "inception")


@pytest.mark.render
def test_korean_compressed_module_still_matches_reference(googlenet, tmp_path):
    png = render_still("inception", googlenet[1], tmp_path, lang="ko", options={"step": 3})
    assert_matches_reference(png, "inception-ko-step3")


def test_a_saved_trace_gives_the_same_numbers(googlenet, tmp_path):
    import explain

    trace = googlenet[1]
    loaded = explain.load(trace.save(tmp_path / "googlenet.safetensors"))
    assert inception(loaded, "layer_3.2") == inception(trace, "layer_3.2")
    from explain.draw.base import SceneInputError
    from explain.scenes.inception import InceptionScene

    InceptionScene.check(loaded, {"module": "layer_3.2"})
    with pytest.raises(SceneInputError, match="record without a name filter"):
        InceptionScene.check(trace.select("*@*"), {})


@pytest.mark.render
def test_a_long_module_name_under_a_map_does_not_reach_the_next_column(tmp_path):
    """inception-bn (tests/gallery.py): "inception3a.branch1.conv 16×8×8" ran under the y strip beside its map."""
    from gallery import record

    scene = play_through("inception", record("inception-bn")[1], tmp_path, options={"step": 1})
    parts, labels = scene.figure[0], scene.figure[2]
    y_strip = parts[3]
    assert labels[3].get_left()[0] > y_strip.get_right()[0] + 0.1
    assert labels[0].get_right()[0] < parts[1].get_left()[0] - 0.1
