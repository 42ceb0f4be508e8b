"""resnet (figure 10): blocks, shortcuts, stages and the addition on screen equal the model's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explain import Trace, models
from explain.figures.residual import residual, residual_modules, stages
from scene_checks import assert_matches_reference, play_through, render_still


@pytest.fixture(scope="module")
def resnet() -> tuple[torch.nn.Module, Trace]:
    # untrained (seeded) at the book's 224×224: the references stay valid if the trained weights change
    example = models.load("resnet50", trained=False, image_size=224, base_dim=16)
    return example.model, example.record()


def test_stages_downsample_at_their_end(resnet):
    model, trace = resnet
    grouped = stages(trace)
    assert list(grouped) == ["layer_2", "layer_3", "layer_4", "layer_5"]
    assert [len(blocks) for blocks in grouped.values()] == [3, 4, 6, 3]
    strides = {name: [b.stride for b in blocks] for name, blocks in grouped.items()}
    assert strides == {"layer_2": [1, 1, 2], "layer_3": [1, 1, 1, 2], "layer_4": [1] * 5 + [2], "layer_5": [1, 1, 1]}
    assert residual(trace, "layer_2.2").shapes["sum"] == (64, 28, 28)


def test_every_shortcut_is_the_books_1x1_projection(resnet):
    model, trace = resnet
    for name in residual_modules(trace):
        block = residual(trace, name)
        module = model.get_submodule(name)
        expected = "downsample" if module.down else "dim_equalizer"
        parts = trace.meta["structure"][name]
        assert parts["shortcut"] == f"{name}.{expected}" and block.projection
        assert [op.module for op in block.shortcut] == [f"{name}.{expected}"]
        assert block.shortcut_conv.kernel == (1, 1) and block.shortcut_conv.stride == ((2, 2) if module.down else (1, 1))
        assert parts["body"] == f"{name}.layer"
        assert [op.text for op in block.body] == ["conv 1×1" + (", stride 2" if module.down else ""), "ReLU", "conv 3×3, padding 1", "ReLU", "conv 1×1", "ReLU"]
        assert sum(c.parameters for c in block.body_convs) == sum(p.numel() for p in module.layer.parameters())


def test_bottleneck_compresses_then_expands(resnet):
    model, trace = resnet
    body = residual(trace, "layer_3.0").body_convs
    assert [(c.kernel, c.in_channels, c.out_channels) for c in body] == [((1, 1), 64, 32), ((3, 3), 32, 32), ((1, 1), 32, 128)]


def test_the_addition_on_screen_is_the_recorded_one(resnet, tmp_path):
    from explain.figures.residual import addition_at, downsampling_place, first_downsampling, observed_quirks

    model, trace = resnet
    values = addition_at(trace, "layer_2.0")
    channel, (row, col) = values["channel"], values["pixel"]
    assert values["sum"] == pytest.approx(float(trace["layer_2.0@sum"][0, channel, row, col]))
    assert values["fx"] + values["shortcut"] == pytest.approx(values["sum"], abs=1e-5)
    # the book's quirk: ReLU is the body's last op, so F(x) is never negative; the sum may be
    assert float(trace["layer_2.0@fx"].min()) >= 0
    assert first_downsampling(trace) == "layer_2.2"
    assert downsampling_place(stages(trace)) == "end"
    assert [en for en, _ in observed_quirks(trace, stages(trace))] == [
        "ReLU comes before the addition, none after it",
        "a 1×1 projection even where x already has F(x)'s shape (layer_2.1 …): the book's check <tt>x.size() is not out.size()</tt> is always true",
        "no batch-norm",
    ]
    scene = play_through("resnet", trace, tmp_path, options={"module": "layer_3.1", "channels": [7]})
    assert scene.block.name == "layer_3.1"
    assert scene.shown["layer_3.1"] == addition_at(trace, "layer_3.1", channel=7)
    assert scene.shown["layer_2.2"] == addition_at(trace, "layer_2.2", channel=7)
    assert scene.shown["stages"]["layer_4"] == [f"layer_4.{i}" for i in range(6)]


class _Block(torch.nn.Module):
    """A torchvision-like block: identity or strided projection shortcut, ReLU after the add."""

    def __init__(self, channels: int, down: bool = False):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(channels, channels, 3, 2 if down else 1, 1), torch.nn.ReLU(), torch.nn.Conv2d(channels, channels, 3, 1, 1)
        )
        self.proj = torch.nn.Conv2d(channels, channels, 1, 2) if down else None

    def forward(self, x):
        return torch.relu(self.body(x) + (x if self.proj is None else self.proj(x)))


def test_another_resnet_is_described_as_it_runs(tmp_path):
    import explain
    from explain.figures.residual import downsampling_place, observed_quirks

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 1, 1), torch.nn.Sequential(_Block(8, down=True), _Block(8)))
    trace = explain.record(model.eval(), torch.randn(1, 3, 16, 16))
    first, second = residual(trace, "1.0"), residual(trace, "1.1")
    assert (first.stride, first.projection, [op.module for op in first.shortcut]) == (2, True, ["1.0.proj"])
    assert (second.stride, second.projection, second.shortcut) == (1, False, [])
    assert [op.text for op in first.body] == ["conv 3×3, stride 2, padding 1", "ReLU", "conv 3×3, padding 1"]
    assert [op.module for op in first.after_add] == ["1.0:relu"] and first.unrecorded_after_add is None  # torch.relu in forward
    grouped = stages(trace)
    assert downsampling_place(grouped) == "start"
    assert observed_quirks(trace, grouped) == [("no batch-norm", "배치 정규화가 없습니다")]
    scene = play_through("resnet", trace, tmp_path)
    assert scene.shown["1.0"]["fx"] + scene.shown["1.0"]["shortcut"] == pytest.approx(scene.shown["1.0"]["sum"], abs=1e-5)


def test_x_is_drawn_at_the_channel_of_the_sum_when_the_shortcut_is_identity(tmp_path):
    import explain
    from explain.draw.cnn_parts import StackedMap

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 1, 1), torch.nn.Sequential(_Block(8, down=True), _Block(8)))
    trace = explain.record(model.eval(), torch.randn(1, 3, 16, 16))
    scene = play_through("resnet", trace, tmp_path, options={"module": "1.1", "channels": [3], "step": 2})
    maps = [part for part in scene.figure.get_family() if isinstance(part, StackedMap)]
    drawn = {name: next(m.channel for m in maps if np.array_equal(m.tensor, trace[f"1.1@{name}"][0].numpy())) for name in ("x", "fx", "sum")}
    assert drawn == {"x": 3, "fx": 3, "sum": 3}  # s(x) = x: the channel added is the one shown


def test_wrong_module_is_one_clear_error(resnet):
    from explain.draw.base import SceneInputError
    from explain.scenes.resnet import ResNetScene

    with pytest.raises(SceneInputError, match="choose one of layer_2.0"):
        ResNetScene.check(resnet[1], {"module": "layer_1"})
    with pytest.raises(SceneInputError, match="residual blocks"):
        ResNetScene.check(Trace({"x": torch.zeros(1)}), {})


@pytest.mark.render
def test_still_matches_reference(resnet, tmp_path):
    png = render_still("resnet", resnet[1], tmp_path, options={"step": 4})
    assert_matches_reference(png, "resnet")


@pytest.mark.render
def test_korean_downsampling_block_still_matches_reference(resnet, tmp_path):
    png = render_still("resnet", resnet[1], tmp_path, lang="ko", options={"step": 3})
    assert_matches_reference(png, "resnet-ko-step3")


def test_the_degradation_step_shows_the_committed_runs(resnet, tmp_path):
    from explain.figures.experiments import degradation_results, degradation_verdict

    scene = play_through("resnet", resnet[1], tmp_path, options={"step": 5})
    assert scene.shown["degradation"] == degradation_results()
    caption = scene.current_caption.original_text
    assert caption == degradation_verdict(degradation_results())[0].en
    assert caption == "Measured: the 44-layer plain net stayed at chance; with shortcuts, 44 layers end level with 8"


@pytest.mark.render
def test_the_degradation_step_renders_in_korean(resnet, tmp_path):
    png = render_still("resnet", resnet[1], tmp_path, lang="ko", options={"step": 5})
    assert png.is_file() and png.stat().st_size > 10_000


def test_a_still_without_a_step_shows_the_models_own_last_step():
    """The experiment steps (committed results, not the trace) come last in videos, but a still of a
    user's model shows its own figure: run_steps(still=…) picks that step when none is asked for."""
    from explain.draw.cnn_parts import run_steps

    class Still:
        is_still, options = True, {}

        def pause(self):
            pass

    ran: list[int] = []
    steps = [lambda k=k: ran.append(k) for k in (1, 2, 3)]
    run_steps(Still(), steps, still=2)
    Still.options = {"step": 3}
    run_steps(Still(), steps, still=2)
    assert ran == [2, 3]


@pytest.mark.render
@pytest.mark.parametrize("step", [2, 3])
def test_the_colour_key_stays_clear_of_the_shortcut_arrow(tmp_path, step):
    """basic-resnet (tests/gallery.py): the key's title ran into the arrow that brings s(x) up to the ⊕."""
    from manim import config

    from gallery import record

    scene = play_through("resnet", record("basic-resnet")[1], tmp_path, options={"step": step})
    top, legend = scene.figure[1], scene.figure[-1]
    plus = top[3]
    assert legend.get_left()[0] > plus.get_right()[0]  # right of the arrow up into ⊕, which runs at the ⊕'s x
    assert legend.get_right()[0] < config.frame_width / 2 - 0.1
