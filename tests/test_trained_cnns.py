"""The chapter-5 CNNs trained on the ten shapes: committed weights reach the accuracy the catalogue states."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from explain import models
from explain.figures.notes import weights_note
from explain.models import shapes, train, weights

CNNS = ("cifar-cnn", "vgg16", "googlenet", "resnet50")
README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("name", CNNS)
def test_committed_weights_reach_their_held_out_accuracy(name):
    example = models.load(name)
    info = example.info
    assert example.trained and info["precision"] == "float16"
    size = info["image_size"]
    assert example.inputs[0].shape == (1, 3, size, size)
    images, labels = shapes.tensors(train.CHECK_IMAGES, size, held_out=True)
    right = train.correct(example.model, images, labels)
    # the same first held-out images the trainer measured: another CPU may flip a near tie
    assert right.float().mean().item() >= info["check_accuracy"] - 0.01
    assert f"{100 * info['accuracy']:.1f} % held out" in models.catalogue()[name]


@pytest.mark.parametrize("name", CNNS)
def test_a_recording_carries_the_held_out_accuracy_its_figures_state_beside_chance(name):
    example = models.load(name)
    trace = example.record(names=["fc_layer*"])
    info = example.info
    assert trace.meta["held_out"] == {"accuracy": info["accuracy"], "images": info["test_images"], "classes": len(shapes.CLASSES)}
    lines = [line.en for line in weights_note(trace.meta)]
    assert lines == [f"{name}, trained: {100 * info['accuracy']:.1f} %", "held out (chance: 10 %)"]
    untrained = models.load(name, trained=False).record(names=["fc_layer*"])
    assert "held_out" not in untrained.meta and [line.en for line in weights_note(untrained.meta)] == ["untrained weights (seeded)"]


@pytest.mark.parametrize("name", CNNS)
def test_shipped_examples_are_one_held_out_image_per_class_with_the_models_prediction(name):
    example = models.load(name)
    stored, _ = weights.load(name, models.load(name, trained=False).model)
    assert stored["label"].tolist() == list(range(len(shapes.CLASSES)))
    with torch.no_grad():
        predicted = example.model(stored["image"].float()).argmax(-1)
    assert torch.equal(predicted, stored.get("predicted", stored["label"]))


@pytest.mark.parametrize("name", CNNS)
def test_readme_states_the_recorded_accuracy_epochs_and_training_time(name):
    info = models.load(name).info
    rows = [line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith(f"| {name}")]
    assert len(rows) == 1, f"README's model table needs one row for {name}"
    assert f"{100 * info['accuracy']:.1f} %" in rows[0]
    assert f"({info['epochs']} epochs, {round(info['seconds'] / 60)} min)" in rows[0]


def test_readme_states_how_far_the_kernels_moved_from_their_seeded_start():
    """The README's 'first convolution moved 10.5 / 6.0 / 17.4 / 8.1 %, the median convolution 37 / 40 / 26 / 5 %'."""
    import statistics

    firsts, medians = [], []
    for name in CNNS:
        moved = [change for _, change in train.moved_from_start(name, models.load(name).model)]
        assert 0 < moved[0] < 0.2  # a start that was not the training's own would be ~1.4 (two random kernels)
        firsts.append(f"{100 * moved[0]:.1f}")
        medians.append(f"{100 * statistics.median(moved):.0f}")
    readme = " ".join(README.read_text(encoding="utf-8").split())
    assert f"the first convolution moved {' / '.join(firsts)} %" in readme
    assert f"the median convolution {' / '.join(medians)} %" in readme


def test_all_weights_stay_under_20_megabytes():
    assert sum(f.stat().st_size for f in weights.DIRECTORY.glob("*.safetensors")) < 20_000_000


def test_the_shapes_are_seeded_balanced_and_varied():
    first, labels = shapes.generate(200, size=16, seed=3)
    again, _ = shapes.generate(200, size=16, seed=3)
    assert (first == again).all() and sorted(labels.tolist()) == sorted(list(range(10)) * 20)
    other, _ = shapes.generate(200, size=16, seed=4)
    assert not (first == other).all()
    colours = first.reshape(200, 3, -1).mean(-1)
    assert colours.std(0).min() > 20  # backgrounds and objects differ in colour from image to image
    with pytest.raises(ValueError, match="need count ≥ 1 and size ≥ 8"):
        shapes.generate(0)


def test_the_training_command_records_seed_time_and_threads_with_the_weights(monkeypatch, tmp_path):
    monkeypatch.setattr(weights, "DIRECTORY", tmp_path)
    monkeypatch.setitem(train.TRAINERS, "tiny", lambda: (torch.nn.Linear(1, 1), {"loss": 0.5}, {}))
    threads = torch.get_num_threads()
    try:
        assert train.main(["tiny"]) == 0
    finally:
        torch.set_num_threads(threads)
    _, info = weights.load("tiny", torch.nn.Linear(1, 1))
    assert info["seed"] == train.SEED and info["threads"] == 1 and info["seconds"] >= 0 and info["loss"] == 0.5
