"""The CNN figures on a gallery of models nobody here wrote for them (tests/gallery.py).

Every number a figure shows is checked against the trace and the model without rendering (windows,
sums, winners, parameter counts, the operation named at each step); every CNN scene that fits a
gallery model renders a still, and one that does not fit says why in one line naming what it found.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explain.figures.blocks import conv_blocks, plain_stack_problem
from explain.figures.convolution import convolution_plan
from explain.figures.errors import FigureError
from explain.figures.inception import concat_modules, inception
from explain.figures.layers import conv_spec, operation, parameter_count
from explain.figures.pipeline import pipeline_stages, prediction, sizes_text
from explain.figures.residual import downsampling_place, residual, residual_modules, stages
from explain.figures.windows import conv_step, pool_step
from gallery import GALLERY, record

#: scene → gallery models it draws (the others must refuse with a one-line reason)
FITS = {
    "convolution": set(GALLERY),
    "cnn-pipeline": set(GALLERY),
    "vgg": {"vgg-bn", "mnist-net"},
    "inception": {"inception-bn"},
    "resnet": {"basic-resnet", "bottleneck-resnet"},
    "parameters": set(GALLERY),  # mnist-net's F.max_pool2d crashed its table
}


@pytest.fixture(scope="module")
def recorded():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield {name: record(name) for name in GALLERY}
    finally:
        torch.set_num_threads(threads)


def modules_of(model: nn.Module) -> dict[str, nn.Module]:
    return dict(model.named_modules())


# -- convolution windows, steps and pooling winners --------------------------------------------


@pytest.mark.parametrize("name", sorted(GALLERY))
def test_every_worked_window_is_the_models_own_convolution(recorded, name):
    model, trace = recorded[name]
    plan = convolution_plan(trace)
    conv = modules_of(model)[plan.conv]
    source = trace[conv_input_name(trace, plan.conv)]
    expected = F.conv2d(source, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)[0]
    for row, col in [*plan.positions, (0, 0), (expected.shape[1] - 1, expected.shape[2] - 1)]:
        step = conv_step(trace, plan.conv, plan.channel, row, col)
        assert step.total == pytest.approx(float(expected[plan.channel, row, col]), abs=1e-4)
        top, left = row * conv.stride[0] - conv.padding[0], col * conv.stride[1] - conv.padding[1]
        assert step.rows == (top, top + conv.kernel_size[0]) and step.cols == (left, left + conv.kernel_size[1])
        inside = source[0, :, max(top, 0) : top + conv.kernel_size[0], max(left, 0) : left + conv.kernel_size[1]]
        assert step.padded.sum() == conv.kernel_size[0] * conv.kernel_size[1] - inside.shape[1] * inside.shape[2]
        assert float(abs(step.patch).sum()) == pytest.approx(float(inside.abs().sum()), rel=1e-5)


def conv_input_name(trace, conv: str) -> str:
    from explain.figures.windows import conv_input

    return conv_input(trace, conv)


#: the operations between each gallery model's first convolution and the next shape change
STEPS_AFTER_FIRST_CONV = {
    "basic-resnet": ["BatchNorm (eval: running statistics)", "ReLU"],
    "bottleneck-resnet": ["BatchNorm (eval: running statistics)", "ReLU"],
    "inception-bn": ["BatchNorm (eval: running statistics)", "relu"],
    "mnist-net": ["relu"],
    "vgg-bn": ["BatchNorm (eval: running statistics)", "ReLU"],
    "many-classes": ["ReLU"],
}


@pytest.mark.parametrize("name", sorted(GALLERY))
def test_every_step_after_the_convolution_is_named_and_recomputed(recorded, name):
    model, trace = recorded[name]
    plan = convolution_plan(trace)
    assert [step.operation for step in plan.chain.steps] == STEPS_AFTER_FIRST_CONV[name]
    for step in plan.chain.steps:
        step.check(trace, plan.channel)  # the formula on the recorded input gives the recorded output
        if step.kind == "batch_norm":
            bn = modules_of(model)[step.module]
            numbers = step.normalisation(trace, plan.channel)
            assert numbers["mean"] == pytest.approx(float(bn.running_mean[plan.channel]))
            assert numbers["gamma"] == pytest.approx(float(bn.weight[plan.channel]))


#: each gallery model's first pooling after its first convolution, as its module or function sets it
FIRST_POOL = {
    "basic-resnet": ("maxpool", "max-pool 3×3, stride 2, padding 1"),
    "bottleneck-resnet": ("maxpool", "max-pool 3×3, stride 2, padding 1"),
    "inception-bn": ("maxpool1", "max-pool 3×3, stride 2, ceil mode"),
    "mnist-net": (":max_pool2d", "max-pool 2×2, stride 2"),
    "vgg-bn": ("features.6", "max-pool 2×2, stride 2"),
    "many-classes": ("features.2", "max-pool 2×2, stride 2"),
}


@pytest.mark.parametrize("name", sorted(GALLERY))
def test_pooling_winners_use_the_real_kernel_stride_and_padding(recorded, name):
    _, trace = recorded[name]
    plan = convolution_plan(trace)
    assert (plan.pool, operation(trace, plan.pool)) == FIRST_POOL[name]
    pooled = trace[plan.pool][0, plan.pool_channel]
    for step in plan.pool_steps:
        assert step.value == step.recorded == float(pooled[step.row, step.col])
        real = step.window[~step.padded]
        assert step.window[step.winner] == real.max()  # the winner is the maximum of its drawn window
    winners = {(s.rows[0] + s.winner[0], s.cols[0] + s.winner[1]) for s in plan.pool_steps}
    assert len(winners) == len(plan.pool_steps) == 4  # overlapping windows are shown where each has its own winner
    corner = pool_step(trace, plan.pool, plan.pool_channel, pooled.shape[0] - 1, pooled.shape[1] - 1)
    assert corner.value == float(pooled[-1, -1])


def test_a_convolution_read_through_functions_is_worked_out(recorded):
    _, trace = recorded["mnist-net"]
    plan = convolution_plan(trace, {"module": "conv2"})  # conv2 reads F.relu(conv1(x)), recorded as :relu
    assert conv_input_name(trace, "conv2") == ":relu"
    assert [step.operation for step in plan.chain.steps] == ["relu"] and plan.pool == ":max_pool2d"


# -- residual blocks ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["basic-resnet", "bottleneck-resnet"])
def test_inline_residual_bodies_are_read_from_the_data_flow(recorded, name):
    model, trace = recorded[name]
    blocks = residual_modules(trace)
    assert blocks == [n for n, m in model.named_modules() if type(m).__name__ in ("BasicBlock", "Bottleneck")]
    for block_name in blocks:
        block = residual(trace, block_name)
        module = modules_of(model)[block_name]
        convs = [f"{block_name}.conv{i}" for i in (1, 2, 3) if hasattr(module, f"conv{i}")]
        assert [c.name for c in block.body_convs] == convs
        assert sum(c.parameters for c in block.body_convs) == sum(modules_of(model)[c].weight.numel() for c in convs)
        kinds = [op.kind for op in block.body]
        assert kinds[-1] == "batch_norm" and kinds.count("batch_norm") == len(convs)  # conv-bn(-relu) … conv-bn
        assert [op.text for op in block.after_add] == ["ReLU"]
        assert block.projection == (module.downsample is not None)
        if module.downsample is not None:
            assert [op.module for op in block.shortcut] == [f"{block_name}.downsample.0", f"{block_name}.downsample.1"]
            assert block.shortcut_conv.stride == module.downsample[0].stride
        fx, shortcut, total = (trace[f"{block_name}@{part}"] for part in ("fx", "shortcut", "sum"))
        assert torch.allclose(fx + shortcut, total)
        assert torch.equal(trace[block_name], torch.relu(total))  # the block's output: ReLU after the add
    assert downsampling_place(stages(trace)) == "start"


# -- inception --------------------------------------------------------------------------------


def test_inception_branches_of_wrapper_modules(recorded):
    model, trace = recorded["inception-bn"]
    assert concat_modules(trace) == ["inception3a", "inception3b"]
    found = inception(trace, "inception3a")
    module = model.inception3a
    assert [b.module for b in found.branches] == [f"inception3a.branch{i}" for i in (1, 2, 3, 4)]
    assert [b.pooled for b in found.branches] == [False, False, False, True]
    assert found.branches[3].pool.text == "max-pool 3×3, padding 1, ceil mode"
    assert found.compressed.parameters == sum(p.numel() for n, p in module.named_parameters() if ".conv." in n)
    assert found.source == "maxpool2" and found.shape_in == (48, 8, 8)
    assert found.first_one_by_one().name == "inception3a.branch1.conv"  # BasicConv2d itself is no convolution
    assert "BatchNorm (eval: running statistics)" in found.not_drawn() and "relu" in found.not_drawn()


# -- VGG stacks ----------------------------------------------------------------------------------


def test_functional_pooling_closes_a_block(recorded):
    _, trace = recorded["mnist-net"]  # conv1, F.relu, conv2, F.relu, F.max_pool2d: a VGG-style block
    assert plain_stack_problem(trace) is None
    block = conv_blocks(trace)[0]
    assert [c.name for c in block.convs] == ["conv1", "conv2"] and block.pools == ["max-pool 2×2, stride 2"]
    assert block.others == ["relu"] and block.output == ":max_pool2d"


def test_a_flat_vgg_with_batchnorm_splits_into_blocks_at_its_pools(recorded):
    model, trace = recorded["vgg-bn"]
    blocks = conv_blocks(trace)
    assert [len(b.convs) for b in blocks] == [2, 2, 3]
    assert [b.shape_out for b in blocks] == [(8, 16, 16), (16, 8, 8), (32, 4, 4)]
    assert all(b.others == ["BatchNorm (eval: running statistics)", "ReLU"] for b in blocks)
    # a block's parameters are its convolutions' and its BatchNorms' γ and β: every parameter of features
    assert sum(b.parameters for b in blocks) == sum(p.numel() for p in model.features.parameters())
    counts = parameter_count(trace)
    assert counts.linear == sum(p.numel() for p in model.classifier.parameters())
    assert counts.batch_norm == sum(p.numel() for m in model.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters()) == 288
    assert counts.total == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("basic-resnet", "this model has residual blocks (layer1.0, layer1.1"),
        ("inception-bn", "this model has inception modules (inception3a, inception3b)"),
        ("many-classes", "blocks here: features.0–2 (1 conv), features.3–5 (1 conv)"),
    ],
)
def test_the_vgg_figure_says_why_it_does_not_apply(recorded, name, reason):
    assert reason in plain_stack_problem(recorded[name][1])


# -- the pipeline and the head -----------------------------------------------------------------


def test_a_deep_net_is_drawn_by_stage_with_true_sizes(recorded):
    model, trace = recorded["basic-resnet"]
    found = pipeline_stages(trace)
    assert [s.name for s in found] == ["@input.0", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
    assert sizes_text(found) == "64 → 32 → 16 → 8 → 4 → 2 → 1"
    assert found[1].ops == ["conv 7×7, stride 2, padding 3", "BatchNorm (eval: running statistics)", "ReLU"]
    assert all(stage.gap is None for stage in found)


def test_functional_steps_of_the_mnist_net_are_stages(recorded):
    _, trace = recorded["mnist-net"]
    found = pipeline_stages(trace)
    assert [(s.name, s.ops) for s in found][1:4] == [
        (":relu", ["conv 3×3", "relu"]),
        (":relu#1", ["conv 3×3", "relu"]),
        ("dropout1", ["max-pool 2×2, stride 2", "dropout p=0.25 (eval: identity)", "flatten"]),
    ]
    assert sizes_text(found) == "28 → 26 → 24 → 12"


def test_a_many_class_head_is_ranked_with_its_indices(recorded):
    model, trace = recorded["many-classes"]
    found = prediction(trace, pipeline_stages(trace))
    with torch.no_grad():
        scores = model(trace["@input.0"])[0]
    assert len(found.scores) == 1000
    assert found.top(10) == torch.argsort(scores, descending=True, stable=True)[:10].tolist()
    assert found.labels[found.label] == str(int(scores.argmax()))


def test_errors_name_what_was_found_and_what_would_work(recorded):
    _, trace = recorded["mnist-net"]
    with pytest.raises(FigureError, match=r"'fc1' is not a convolution whose kernel and input this trace holds; choose one of conv1, conv2"):
        convolution_plan(trace, {"module": "fc1"})
    with pytest.raises(FigureError, match=r"'dropout1' is a Dropout, not a 2-d convolution; convolutions here: conv1, conv2"):
        conv_spec(trace, "dropout1")
    with pytest.raises(FigureError, match=r"'layer9' is not a residual block with recorded parts; residual blocks here: none"):
        residual(trace, "layer9")


# -- every scene that fits renders; the others say why ------------------------------------------


@pytest.mark.render
@pytest.mark.slow
@pytest.mark.parametrize("scene", sorted(FITS))
def test_every_scene_renders_the_gallery_models_it_fits(recorded, scene, tmp_path):
    from PIL import Image

    from explain.errors import UsageError
    from scene_checks import render_still

    for name, (_, trace) in recorded.items():
        if name in FITS[scene]:
            png = render_still(scene, trace, tmp_path / name)
            with Image.open(png) as image:
                assert image.getbbox() is not None
        else:
            with pytest.raises(UsageError) as refused:
                render_still(scene, trace, tmp_path / name)
            message = str(refused.value)
            assert "\n" not in message and "  (" not in message and not message.rstrip().endswith("of")


@pytest.mark.render
def test_the_vgg_head_names_what_runs_between_the_last_block_and_the_linear_layers(recorded, tmp_path):
    """vgg-bn's 32×4×4 maps reach its first Linear(128, 64) through an adaptive average pool to 2×2:
    the head card said only "linear ×3: 128 64 64 10"."""
    from scene_checks import play_through

    scene = play_through("vgg", recorded["vgg-bn"][1], tmp_path, options={"step": 1})
    assert scene.head_operations() == ["adaptive avg-pool to 2×2", "flatten", "ReLU", "dropout p=0.5"]
    scene = play_through("vgg", recorded["mnist-net"][1], tmp_path, options={"step": 1})
    assert scene.head_operations() == ["dropout p=0.25", "flatten", "relu", "dropout p=0.5", "log_softmax"]


@pytest.mark.render
def test_a_stack_that_widens_its_channels_is_not_said_to_save_parameters(recorded, tmp_path):
    """mnist-net's conv1 (1→32) and conv2 (32→64) were written "1→1→1: 2 × (3·3·1·1 + 1) = 18,816" and
    "−1031% fewer with the stack"; each conv's own product, and the honest comparison, are shown now."""
    from scene_checks import play_through

    scene = play_through("vgg", recorded["mnist-net"][1], tmp_path, options={"step": 2})
    stacked, single = scene.shown["pair_lines"][1:]
    assert stacked == "two 3×3 (conv1, conv2, 1→32→64): 3·3·1·32 + 32 + 3·3·32·64 + 64 = 18,816 parameters"
    assert single.startswith("one 5×5 (1→64): 5·5·1·64 + 64 = 1,664  →  the stack has 11.3× as many")
    assert "fewer" not in scene.current_caption.text


@pytest.mark.parametrize(
    ("scene", "name", "found"),
    [
        ("resnet", "vgg-bn", "this trace has convolutions features.0, features.3, features.7 … (7 in all), and no residual addition or concatenation"),
        ("resnet", "inception-bn", "this trace has concatenated branches inception3a, inception3b (see the inception figure)"),
        ("inception", "basic-resnet", "this trace has residual blocks layer1.0, layer1.1, layer2.0 … (8 in all) (see the resnet figure)"),
    ],
)
def test_a_figure_that_does_not_apply_says_what_the_trace_has(recorded, scene, name, found):
    from explain.draw.base import SceneInputError
    from explain.render import scene_spec

    with pytest.raises(SceneInputError) as refused:
        scene_spec(scene).load().check(recorded[name][1], {})
    assert str(refused.value).endswith(found) and "\n" not in str(refused.value)


def test_a_saved_trace_keeps_the_execution_order_of_its_layers(recorded, tmp_path):
    """A trace file kept its metadata sorted by name: vgg-bn's convolutions came back as features.0,
    features.10, features.14, … and a head's Linear layers could come back out of order. Files keep
    the recorded order now; figures still order by execution for files saved before."""
    import explain
    from explain.figures.layers import convolutions

    model, trace = recorded["vgg-bn"]
    trace.save(tmp_path / "vgg.safetensors")
    loaded = explain.load(tmp_path / "vgg.safetensors")
    expected = [f"features.{i}" for i, m in enumerate(model.features) if isinstance(m, nn.Conv2d)]
    assert convolutions(loaded) == convolutions(trace) == expected
    second = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Sequential())
    second[2].add_module("zeta", nn.Linear(18, 4))
    second[2].add_module("alpha", nn.Linear(4, 2))
    second_trace = explain.record(second, torch.zeros(1, 1, 5, 5))
    second_trace.save(tmp_path / "two.safetensors")
    from explain.figures.layers import in_execution_order, kind

    loaded = explain.load(tmp_path / "two.safetensors")
    linears = [n for n in loaded.meta["modules"] if kind(loaded, n) == "linear"]
    assert in_execution_order(loaded, linears) == ["2.zeta", "2.alpha"]
    assert list(loaded.meta["modules"]) == list(second_trace.meta["modules"])  # the file keeps the recorded order
