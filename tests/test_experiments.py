"""The committed depth and degradation results (figures 8 and 10): files load with their documented shapes."""

from __future__ import annotations

import pytest
import torch

from explain import Trace
from explain.figures import experiments as figures
from explain.models import experiments


def test_depth_results_have_the_documented_shapes():
    trace = figures.results_trace("depth")
    count = len(experiments.DEPTH_STAGES)
    assert set(trace.names()) == set(experiments.CONTENTS["depth"])
    assert trace["conv_layers"].tolist() == [3 * k for k in experiments.DEPTH_STAGES]
    assert trace["test_accuracy"].shape == (count,) and ((0 <= trace["test_accuracy"]) & (trace["test_accuracy"] <= 1)).all()
    assert trace["train_loss"].shape[0] == count and trace["train_loss"].shape[1] > 10
    counts = [sum(p.numel() for p in experiments.vgg_stack(k).parameters()) for k in experiments.DEPTH_STAGES]
    assert trace["parameters"].tolist() == counts
    assert trace.meta["command"] == "python -m explain.models.experiments depth" and trace.meta["seconds"] > 0


def test_degradation_results_have_the_documented_shapes():
    trace = figures.results_trace("degradation")
    assert set(trace.names()) == set(experiments.CONTENTS["degradation"])
    assert trace["layers"].tolist() == list(experiments.PLAIN_DEPTHS)
    points = trace["step"].shape[0]
    for kind in ("plain", "residual"):
        assert trace[f"{kind}.train_loss"].shape == (3, points)
        assert trace[f"{kind}.test_accuracy"].shape == (3,)
        counts = [sum(p.numel() for p in experiments.plain_or_residual(n, kind == "residual").parameters()) for n in experiments.PLAIN_DEPTHS]
        assert trace[f"{kind}.parameters"].tolist() == counts
    assert trace["step"].tolist() == [experiments.LOG_EVERY * (i + 1) for i in range(points)]


def test_readers_summarise_the_files():
    depth = figures.depth_results()
    assert 0 <= depth.best < len(depth.conv_layers)
    assert depth.test_accuracy[depth.best] == max(depth.test_accuracy)
    runs = figures.degradation_results()
    assert runs.plain_final[0] == pytest.approx(sum(runs.plain[0][-figures.FINAL_WINDOWS :]) / figures.FINAL_WINDOWS)
    assert runs.degrades == (runs.plain_final[-1] > runs.plain_final[0])


def runs_ending_at(plain: list[float], residual: list[float]) -> figures.DegradationResults:
    """Results whose curves end at the given final losses (deepest last)."""
    def curve(final: float) -> list[float]:
        return [3.0] * 5 + [final] * figures.FINAL_WINDOWS

    meta = {"epochs": 2, "train_images": 3000}
    return figures.DegradationResults([8, 20, 44], list(range(8)), [curve(f) for f in plain], [curve(f) for f in residual], [0.1] * 3, [0.1] * 3, meta)


@pytest.mark.parametrize(
    "plain, residual, caption",
    [
        ([2.0, 2.1, 2.30], [2.1, 2.0, 2.11], "Measured: the 44-layer plain net stayed at chance; with shortcuts, 44 layers end level with 8"),
        ([1.5, 1.7, 1.9], [1.5, 1.4, 1.3], "Measured: the 44-layer plain net ends above the 8-layer one; with shortcuts, 44 layers end below 8"),
        ([1.5, 1.7, 1.9], [1.5, 1.6, 1.8], "Measured: the 44-layer plain net ends above the 8-layer one; with shortcuts too, 44 layers end above 8"),
        ([1.9, 1.7, 1.5], [1.5, 1.4, 1.3],
         "Measured: no degradation in runs this small: the 44-layer plain net ends at or below the 8-layer one; with shortcuts, 44 layers end below 8"),
    ],
)
def test_the_degradation_caption_says_what_the_runs_show(plain, residual, caption):
    said, why = figures.degradation_verdict(runs_ending_at(plain, residual))
    assert said.en == caption and said.ko.startswith("측정: ")
    assert why.en.startswith("a short run: 94 steps (He et al.: 64,000)")  # 2 epochs of 47 mini-batches of 64


def test_a_wrong_file_is_one_clear_error(tmp_path):
    path = Trace({"x": torch.zeros(1)}, meta={"experiment": "depth"}).save(tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="is not the depth experiment's results .*missing conv_layers"):
        figures.depth_results(path)
    with pytest.raises(FileNotFoundError, match="run: python -m explain.models.experiments degradation"):
        figures.degradation_results(tmp_path / "absent.safetensors")
    with pytest.raises(ValueError, match="unknown experiment 'width'"):
        figures.results_trace("width")


def test_networks_have_the_documented_depths():
    for layers in experiments.PLAIN_DEPTHS:
        for residual in (False, True):
            net = experiments.plain_or_residual(layers, residual)
            convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
            assert len(convs) + 1 == layers
            assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="layers must be 6n \\+ 2"):
        experiments.plain_or_residual(10, True)
    stack = experiments.vgg_stack(3)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in stack) == 9
