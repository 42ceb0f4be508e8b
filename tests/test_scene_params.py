"""parameters (figure 11): every count and byte on screen equals the model's own parameters and the trace's shapes."""

from __future__ import annotations

import doctest

import pytest
import torch

import explain
from explain import Trace, models
from explain.draw.base import SceneInputError
from scene_checks import assert_matches_reference, play_through, render_still
from explain.figures.params import BYTES_PER_FLOAT, LayerArithmetic, arithmetic_cells, book_example
from explain.scenes.params import (
    STEPS,
    ParametersScene,
    arithmetic_lines,
    chosen_layer,
    conv_shares,
    layer_arithmetic,
    layer_table,
    parameter_layers,
    share_text,
    unlisted_steps,
)


@pytest.fixture(scope="module")
def mnist() -> tuple[torch.nn.Module, Trace]:
    example = models.load("mnist-cnn")
    return example.model, example.record()


def test_the_books_example_11x11x3_filters():
    alexnet_conv1 = torch.nn.Conv2d(3, 96, 11, stride=4)
    trace = explain.record(torch.nn.Sequential(alexnet_conv1), torch.zeros(1, 3, 227, 227))
    a = layer_arithmetic(trace, "0")
    assert (a.weights_per_filter, a.per_filter, a.filters, a.parameters) == (363, 364, 96, 34_944)
    assert a.parameters == sum(p.numel() for p in alexnet_conv1.parameters())
    assert a.output_shape == (96, 55, 55) and a.output_bytes == 96 * 55 * 55 * 4
    assert arithmetic_lines(a)[1] == "96 filters × 364 = 34,944 parameters"


def test_every_layer_matches_the_models_parameters_and_outputs(mnist):
    model, trace = mnist
    modules = dict(model.named_modules())
    rows, uncounted = layer_table(trace)
    assert uncounted == [] and [r.name for r in rows] == ["layer.0", "layer.2", "layer.4", "layer.5", "layer.7", "fc_layer.0", "fc_layer.2"]
    for row in rows:
        assert row.parameters == sum(p.numel() for p in modules[row.name].parameters())
        assert row.parameter_bytes == row.parameters * BYTES_PER_FLOAT
        assert row.output_bytes == trace[row.name][0].numel() * BYTES_PER_FLOAT
    assert sum(r.parameters for r in rows) == sum(p.numel() for p in model.parameters())
    conv2 = layer_arithmetic(trace, "layer.2")
    assert conv2.filter_shape == (5, 5, 16) and conv2.multiply_adds == 32 * 20 * 20 * 5 * 5 * 16


def test_layer_choice(mnist):
    _, trace = mnist
    assert parameter_layers(trace) == ["layer.0", "layer.2", "layer.5", "fc_layer.0", "fc_layer.2"]
    assert chosen_layer(trace, {}) == "layer.0"
    assert chosen_layer(trace, {"layer": 3}) == "fc_layer.0"
    assert chosen_layer(trace, {"module": "layer.5"}) == "layer.5"
    with pytest.raises(SceneInputError, match="choose one of: layer.0"):
        chosen_layer(trace, {"module": "layer.1"})
    with pytest.raises(SceneInputError, match="has 5 conv/linear layers"):
        chosen_layer(trace, {"layer": 5})


def test_a_layer_type_the_table_cannot_count_is_named():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.ReLU())
    rows, uncounted = layer_table(explain.record(net.eval(), torch.randn(1, 1, 5, 5)))
    assert [r.name for r in rows] == ["0"] and uncounted == ["BatchNorm2d"]


def test_layers_without_parameters_say_so():
    pool = LayerArithmetic("p", "MaxPool2d", (), False, 0, (32, 10, 10))
    assert pool.parameters == pool.multiply_adds == 0
    assert arithmetic_lines(pool)[0] == "MaxPool2d: no parameters to learn"
    assert "3,200" in arithmetic_lines(pool, "ko")[1]


def test_a_kernel_that_contradicts_the_configuration_is_refused(mnist):
    _, trace = mnist
    forged = Trace(dict(trace.items()), meta=trace.meta)
    forged["layer.0@weight"] = torch.zeros(16, 1, 3, 3)
    with pytest.raises(SceneInputError, match="recorded kernel has 144 weights"):
        layer_arithmetic(forged, "layer.0")


def test_every_step_can_be_stopped_after(mnist):
    _, trace = mnist
    for step in range(1, len(STEPS) + 1):  # --stop-after 5 (the table) was refused when the check counted 4
        ParametersScene.check(trace, {"step": step})
    with pytest.raises(SceneInputError, match=f"from 1 to {len(STEPS)}, got {len(STEPS) + 1}"):
        ParametersScene.check(trace, {"step": len(STEPS) + 1})


@pytest.mark.render
def test_the_scene_shows_the_models_numbers(mnist, tmp_path):
    model, trace = mnist
    scene = play_through("parameters", trace, tmp_path, options={"module": "fc_layer.0"})
    shown = scene.shown["layer"]
    assert shown.parameters == sum(p.numel() for p in model.fc_layer[0].parameters()) == 57_700
    assert scene.shown["lines"] == arithmetic_lines(shown)
    assert scene.shown["totals"][0] == sum(p.numel() for p in model.parameters())
    for unit, cells in scene.shown["memory_columns"].values():  # one unit per column, named in its header
        assert unit == "KB" and all(cell.replace(".", "").replace(",", "").isdigit() for cell in cells)
    book = book_example()
    assert scene.shown["book"] == book and book.parameters == 34_944
    assert [row[1:] for row in scene.shown["comparison"]] == [
        [arithmetic_cells(shown)[key], arithmetic_cells(book)[key]] for key in ("filter", "parameters", "parameter_bytes", "output", "output_bytes")
    ]


@pytest.mark.render
@pytest.mark.parametrize("lang, step", [("en", 3), ("en", 4), ("ko", None)])
def test_still_matches_reference(mnist, tmp_path, lang, step):
    _, trace = mnist
    options = {} if step is None else {"step": step}
    png = render_still("parameters", trace, tmp_path, lang=lang, options=options)
    assert_matches_reference(png, "parameters" + ("" if lang == "en" else f"-{lang}") + ("" if step is None else f"-step{step}"))


def test_docstring_examples_hold():
    import explain.scenes.params as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_a_functional_pooling_is_a_row_of_the_table():
    """pytorch/examples' MNIST Net pools with F.max_pool2d: the table lists it, it does not crash."""
    from gallery import record

    model, trace = record("mnist-net")
    rows, uncounted = layer_table(trace)
    assert [(r.name, r.type) for r in rows] == [
        ("conv1", "Conv2d"), ("conv2", "Conv2d"), (":max_pool2d", "F.max_pool2d"), ("fc1", "Linear"), ("fc2", "Linear")
    ]
    assert rows[2].parameters == 0 and rows[2].output_shape == (64, 12, 12)
    assert sum(r.parameters for r in rows) == sum(p.numel() for p in model.parameters()) and uncounted == []
    ParametersScene.check(trace, {"step": 5})  # the fifth step, the table, can be asked for


def test_a_convolution_is_known_by_its_kind_not_its_class_name():
    class Standardised(torch.nn.Conv2d):
        pass

    trace = explain.record(torch.nn.Sequential(Standardised(2, 4, 3), torch.nn.Flatten(), torch.nn.Linear(16, 3)), torch.zeros(1, 2, 4, 4))
    rows, _ = layer_table(trace)
    assert rows[0].type == "Standardised" and rows[0].is_convolution and not rows[1].is_convolution
    assert conv_shares(rows)[0] == pytest.approx(76 / (76 + 51))
    assert arithmetic_lines(rows[0])[0] == "one filter: 3×3×2 = 18 weights + 1 bias = 19"


def test_the_table_names_the_steps_it_leaves_out_and_never_rounds_a_part_to_all():
    from gallery import record

    _, trace = record("basic-resnet")  # the 10-class fc holds 0.4% of the parameters
    rows, uncounted = layer_table(trace)
    assert share_text(conv_shares(rows)[0]) == "99.6%" and uncounted == ["BatchNorm2d"]
    assert unlisted_steps(trace) == ["ReLU", "flatten"]
    assert unlisted_steps(record("mnist-net")[1]) == ["relu", "dropout", "flatten", "log_softmax"]


def test_a_model_without_convolutions_is_refused_in_one_line_naming_its_layers():
    from recurrent_gallery import record_gallery

    with pytest.raises(SceneInputError) as refused:
        ParametersScene.check(record_gallery("word-lstm"), {})
    assert str(refused.value) == (
        "the parameters figure counts a CNN's layers and this trace has no Conv2d; "
        "it has decoder (Linear), encoder (Embedding), lstm (LSTM)"
    )
