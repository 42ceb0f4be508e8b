"""cnn-pipeline: every stage's maps, the hidden units, the scores and the prediction come from the trace."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import explain
from explain import Trace, models
from explain.errors import UsageError
from explain.figures.errors import FigureError as SceneInputError
from explain.figures.pipeline import pipeline_stages, prediction
from explain.render import render_scene
from scene_checks import assert_matches_reference, play_through, render_still
from explain.scenes.cnn import shown_channels, stage_title


@pytest.fixture(scope="module")
def mnist() -> tuple[torch.nn.Module, Trace]:
    example = models.load("mnist-cnn")
    return example.model, example.record()


def test_stages_follow_the_books_shapes(mnist):
    _, trace = mnist
    stages = pipeline_stages(trace)
    assert [s.name for s in stages] == ["@input.0", "layer.1", "layer.3", "layer.4", "layer.6", "layer.7", "fc_layer.1", "fc_layer.2"]
    assert [s.shape[-1] for s in stages if len(s.shape) == 3] == [28, 24, 20, 10, 6, 3]
    assert [s.kind for s in stages] == ["input"] + ["maps"] * 5 + ["hidden", "scores"]
    assert stage_title(stages[1]) == "conv 5×5 + ReLU" and stage_title(stages[3]) == "max-pool 2×2, stride 2"


def test_prediction_is_the_models(mnist):
    model, trace = mnist
    with torch.no_grad():
        scores = model(trace["@input.0"])[0]
    found = prediction(trace, pipeline_stages(trace))
    assert found.label == int(scores.argmax())
    assert found.scores == pytest.approx(scores.tolist(), abs=1e-6)
    assert sum(found.probabilities) == pytest.approx(1.0)
    assert found.probabilities == pytest.approx(torch.softmax(scores.double(), 0).tolist(), abs=1e-6)


def test_an_output_the_trace_does_not_explain_is_said_in_a_note(mnist):
    _, recorded = mnist
    trace = Trace(dict(recorded.items()), recorded.meta, recorded.output * 2)  # as if forward doubled the scores unrecorded
    found = prediction(trace, pipeline_stages(trace))
    assert found.scores == pytest.approx(recorded["fc_layer.2"][0].tolist())  # the recorded scores, not the output
    assert "fc_layer.2's scores into its output" in found.note.en


def test_a_trace_holding_nan_is_refused_in_one_line_naming_where(tmp_path):
    model = models.load("mnist-cnn").model
    image = torch.rand(1, 1, 28, 28)
    image[0, 0, 3, 4] = float("nan")
    path = tmp_path / "nan.safetensors"
    explain.record(model, image).save(path)
    with pytest.raises(UsageError, match=r"holds NaN, first in @input\.0 at \[0, 0, 3, 4\] \(and in \d+ more: layer\.0"):
        render_scene("cnn-pipeline", path, still=True, out_dir=tmp_path)


def test_channel_choice():
    assert shown_channels(8, {}) == list(range(8))
    assert shown_channels(64, {"channels": [3, 70]}) == [3]


def test_a_trace_that_is_not_a_cnn_is_a_clear_error():
    lstm = explain.record(torch.nn.LSTM(3, 4), torch.randn(2, 1, 3))
    with pytest.raises(SceneInputError, match="no model input|no feature maps|not class scores"):
        pipeline_stages(lstm)
    mlp = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    with pytest.raises(SceneInputError, match="no feature maps"):
        pipeline_stages(explain.record(mlp, torch.randn(1, 4)))


@pytest.mark.render
def test_the_scene_shows_the_traces_maps(mnist, tmp_path):
    _, trace = mnist
    scene = play_through("cnn-pipeline", trace, tmp_path, options={"channels": [0, 5, 9]})
    for stage in scene.stages:
        shown = np.asarray(scene.shown[stage.name])
        recorded = trace[stage.name][0].double().numpy()
        if stage.kind == "maps":
            np.testing.assert_array_equal(shown, recorded[[0, 5, 9]])
        elif stage.kind == "hidden":
            np.testing.assert_array_equal(shown, recorded[: len(shown)])
        elif stage.kind == "input":
            np.testing.assert_array_equal(shown, recorded)
        else:  # the largest scores, ranked
            np.testing.assert_array_equal(shown, recorded[scene.shown["classes"]])
            assert list(shown) == sorted(recorded, reverse=True)[: len(shown)]
    assert scene.shown["prediction"].label == int(trace["fc_layer.2"][0].argmax())


def test_scores_are_named_as_the_trace_names_its_classes(mnist):
    from explain.models import shapes

    shapes_trace = models.load("cifar-cnn").record()  # trained on the ten shapes: its meta names them
    stages = pipeline_stages(shapes_trace)
    assert prediction(shapes_trace, stages).labels == list(shapes.CLASSES)
    assert prediction(shapes_trace, stages, "ko").labels == list(shapes.CLASSES_KO)
    _, digits = mnist
    found = prediction(digits, pipeline_stages(digits))
    assert not found.named and found.labels == [str(i) for i in range(10)]


@pytest.mark.render
@pytest.mark.slow
def test_a_named_prediction_is_said_by_name(tmp_path):
    from explain.models import shapes

    trace = models.load("cifar-cnn").record()
    scene = play_through("cnn-pipeline", trace, tmp_path, lang="ko")
    name = shapes.CLASSES_KO[scene.prediction.label]
    assert name in scene.caption_on_screen() and "번" not in scene.caption_on_screen()


@pytest.mark.render
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_still_matches_reference(mnist, tmp_path, lang):
    _, trace = mnist
    png = render_still("cnn-pipeline", trace, tmp_path, lang=lang)
    assert_matches_reference(png, "cnn-pipeline" + ("" if lang == "en" else f"-{lang}"))


def test_docstring_examples_hold():
    import explain.scenes.cnn as module
    from explain.figures import pipeline

    for found in (module, pipeline):
        result = doctest.testmod(found)
        assert result.attempted > 0 and result.failed == 0


def test_a_wrapped_stage_title_keeps_the_plus_between_its_operations():
    """basic-resnet's stem: "conv 7×7, stride 2, padding 3 + BatchNorm" then "ReLU" read as "BatchNorm ReLU"."""
    from explain.scenes.cnn import _lines

    lines = [line.text for line in _lines(["conv 7×7, stride 2, padding 3", "BatchNorm", "ReLU"], 2.6)]  # manim drops the spaces
    assert lines == ["conv7×7,stride2,", "padding3+BatchNorm", "+ReLU"]


def test_a_one_dimensional_cnn_is_told_that_only_2d_convolutions_are_drawn():
    from explain.figures.convolution import convolution_plan

    net = torch.nn.Sequential(torch.nn.Conv1d(2, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 8, 3))
    trace = explain.record(net, torch.randn(1, 2, 10))
    expected = r"only 2-D convolutions \(nn.Conv2d over \[B, C, H, W\]\) are drawn, and this trace has 0 \(Conv1d, output of 3 dimensions\)"
    for figure in (pipeline_stages, convolution_plan):
        with pytest.raises(SceneInputError, match=expected):
            figure(trace)
    unbatched = explain.record(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU()), torch.randn(1, 6, 6))
    for figure in (pipeline_stages, convolution_plan):  # convolution_plan raised IndexError
        with pytest.raises(SceneInputError, match=r"0 was called without a batch dimension \(C×H×W\): record the model on image.unsqueeze\(0\)"):
            figure(unbatched)


def test_a_batch_says_which_image_the_maps_are(tmp_path):
    model = models.load("mnist-cnn").model
    scene = play_through("cnn-pipeline", explain.record(model, torch.rand(3, 1, 28, 28)), tmp_path)
    assert [note.en for note in scene.shown["notes"]] == ["image 0 of the batch of 3"]
    single = play_through("cnn-pipeline", explain.record(model, torch.rand(1, 1, 28, 28)), tmp_path)
    assert single.shown["notes"] == []
