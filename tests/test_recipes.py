"""Recipes (explain.models.recipes): every scene renders from a file that ``explain record`` made."""

from __future__ import annotations

import pytest
import torch

import explain
from explain.testing import DEFAULT_IGNORED_META, traces_identical
from explain.cli import main
from explain.models import recipes
from explain.scenes import catalogue


def test_every_scene_names_a_recipe_that_exists():
    for spec in catalogue().values():
        assert spec.recipe in recipes.RECIPES, spec.name
        assert spec.default_model in explain.models.catalogue(), spec.name


def test_unknown_recipes_and_options_name_what_is_possible():
    with pytest.raises(recipes.RecipeError, match="recipes: book, gradients, rnn-vs-lstm, char-flow"):
        recipes.run("teacher")
    with pytest.raises(recipes.RecipeError, match=r"no option prime \(options: text, loss_at\)"):
        recipes.run("gradients", "char-rnn", prime="a")
    with pytest.raises(recipes.RecipeError, match="runs the char models.*not 'mnist-cnn'"):
        recipes.run("char-flow", "mnist-cnn")


def test_the_book_recipe_is_the_examples_own_recording():
    recorded = recipes.run("book", "char-gru", text="Beautiful")
    direct = explain.models.load("char-gru", text="Beautiful").record()
    assert traces_identical(recorded, direct, ignore_meta=[*DEFAULT_IGNORED_META, "recipe"])
    assert recorded.meta["recipe"] == "book"


def test_a_factory_example_runs_the_gradients_recipe(tmp_path):
    factory = tmp_path / "mine.py"
    factory.write_text(
        "import torch\nfrom explain.models import Example\n"
        "def build():\n"
        "    torch.manual_seed(0)\n"
        "    lstm = torch.nn.LSTM(3, 4)\n"
        "    x = torch.randn(5, 1, 3)\n"
        "    return Example('mine', lstm, (x,), None, 'a factory LSTM', False, loss=lambda out: out[0].pow(2).sum())\n"
        "def plain():\n"
        "    return torch.nn.GRU(2, 2), (torch.randn(3, 1, 2),)\n"
    )
    out = tmp_path / "grads.safetensors"
    assert main(["record", "--recipe", "gradients", f"{factory}:build", "-o", str(out)]) == 0
    trace = explain.load(out)
    assert trace["l0.fwd.grad_h"].shape == (5, 1, 4) and trace.meta["recipe"] == "gradients"
    assert main(["record", "--recipe", "char-flow", f"{factory}:plain", "-o", str(out)]) == 2


@pytest.mark.slow
@pytest.mark.render
@pytest.mark.parametrize("name", list(catalogue()))
def test_every_scene_renders_from_a_recorded_file(name, tmp_path):
    """``explain record --recipe R MODEL -o FILE``, then ``explain render NAME --trace FILE --still``."""
    torch.set_num_threads(1)
    spec = catalogue()[name]
    trace_file = tmp_path / f"{name}.safetensors"
    assert main(["record", "--recipe", spec.recipe, spec.default_model, "-o", str(trace_file)]) == 0
    assert main(["render", name, "--trace", str(trace_file), "--still", "-o", str(tmp_path / "out")]) == 0
    assert list((tmp_path / "out").glob("*.png"))
