"""The book's models: catalogue, shapes at every stage (BOOK.md §2-3), committed weights reach their numbers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from explain import models
from explain.models import data, train, weights
from explain.models.googlenet import GoogLeNet
from explain.models.recurrent import generate
from explain.models.resnet import ResNet
from explain.models.vgg import VGG


def stage_shapes(model: nn.Module, x: torch.Tensor, names: list[str]) -> dict[str, tuple[int, ...]]:
    """Output shapes of the named submodules, from our own hooks."""
    shapes: dict[str, tuple[int, ...]] = {}
    handles = [
        model.get_submodule(name).register_forward_hook(lambda m, a, out, name=name: shapes.__setitem__(name, tuple(out.shape)))
        for name in names
    ]
    with torch.no_grad():
        model.eval()(x)
    for handle in handles:
        handle.remove()
    return shapes


def test_catalogue_lists_every_model_in_book_order_with_a_description():
    names = list(models.catalogue())
    assert names == [
        "hello-rnn", "hello-lstm", "char-rnn", "char-gru", "char-lstm",
        "mnist-cnn", "cifar-cnn", "vgg16", "googlenet", "resnet50",
    ]
    assert all(len(text) > 30 and "\n" not in text for text in models.catalogue().values())
    assert not any("untrained" in text for text in models.catalogue().values())


def test_unknown_names_and_options_are_clear_errors():
    with pytest.raises(ValueError, match="unknown model 'lenet'; choose one of: hello-rnn"):
        models.load("lenet")
    with pytest.raises(ValueError, match="hello-lstm has no option base_dim"):
        models.load("hello-lstm", base_dim=64)
    with pytest.raises(ValueError, match="takes 1×28×28 images"):
        models.load("mnist-cnn", image=torch.zeros(1, 3, 32, 32))


def test_hello_lstm_is_trained_and_reproduces_its_sentence_when_run_free():
    ex = models.load("hello-lstm")
    assert ex.trained and isinstance(ex.model, nn.LSTM) and not ex.model.training
    assert train.free_run_hello_lstm(ex.model) == data.HELLO_SENTENCE + data.END
    assert ex.info["free_run"] == data.HELLO_SENTENCE + data.END


def test_hello_lstm_record_is_made_one_step_per_call():
    ex = models.load("hello-lstm")
    trace = ex.record()
    assert ex.tokens == ["<s>", *data.HELLO_SENTENCE] and trace.meta["tokens"] == ex.tokens
    for layer in range(3):
        assert trace[f"l{layer}.fwd.f"].shape == (69, 1, 35)
    outputs, _ = trace.output
    assert torch.equal(trace["l2.fwd.h"], outputs)
    assert data.hello_decode(outputs) == data.HELLO_SENTENCE + data.END


@pytest.mark.slow
def test_gradients_follow_the_book_loss():
    ex = models.load("hello-lstm")
    outputs, _ = ex.run(ex.model, *ex.inputs)
    assert ex.loss((outputs, None)).item() == pytest.approx(ex.info["loss"], rel=1e-3)
    trace = ex.record(grads=True, names="l2.fwd.*")
    targets = data.hello_one_hot()[1:].unsqueeze(1)
    expected_last = 2 * (outputs[-1] - targets[-1]) / 35  # dL/dh at the last step: the MSE's own term
    assert torch.allclose(trace["l2.fwd.grad_h"][-1], expected_last.detach(), atol=1e-6)
    char = models.load("char-gru", text="Flat is")
    assert char.record(grads=True)["rnn.l1.fwd.grad_h"].shape == (7, 1, 100)


def test_hello_rnn_is_trained_and_reproduces_its_sentence():
    ex = models.load("hello-rnn")
    assert ex.trained
    assert train.free_run_hello_rnn(ex.model) == data.HELLO_SENTENCE + data.END
    trace = ex.record()
    assert trace["i2h"].shape == (69, 35) and trace["act_fn"].shape == (69, 35)


@pytest.mark.slow
@pytest.mark.parametrize("name, cell", [("char-rnn", nn.RNN), ("char-gru", nn.GRU), ("char-lstm", nn.LSTM)])
def test_char_models_reach_their_reported_loss_on_the_zen_of_python(name, cell):
    if not weights.exists(name):
        pytest.fail(f"{name} weights are not committed")
    ex = models.load(name)
    assert isinstance(ex.model.rnn, cell) and ex.model.rnn.num_layers == 2
    text = data.printable_indices(data.zen_of_python()).view(-1, 1)
    with torch.no_grad():
        logits, _ = ex.model.forward_sequence(text[:-1])
    loss = nn.functional.cross_entropy(logits.view(-1, 100), text[1:].view(-1)).item()
    assert loss < ex.info["loss"] + 0.1
    assert generate(ex.model, "Beautiful is b", 16, temperature=None) == "etter than ugly."
    trace = ex.record()
    assert trace["rnn.l1.fwd.h"].shape == (len(ex.tokens), 1, 100)
    assert trace["decoder"].shape == (len(ex.tokens), 100)


@pytest.mark.slow
def test_mnist_cnn_reaches_its_accuracy():
    ex = models.load("mnist-cnn")
    assert ex.trained and ex.info["accuracy"] >= 0.95
    examples, _ = weights.load("mnist-cnn", models.load("mnist-cnn", trained=False).model)
    with torch.no_grad():
        predicted = ex.model(examples["image"]).argmax(-1)
    assert torch.equal(predicted, examples["label"]) and examples["label"].tolist() == list(range(10))
    pytest.importorskip("sklearn")
    _, _, test_x, test_y = data.digits_28()
    with torch.no_grad():
        accuracy = (ex.model(test_x).argmax(-1) == test_y).float().mean().item()
    assert accuracy == pytest.approx(ex.info["accuracy"], abs=1e-4)


def test_mnist_shapes_28_24_20_10_6_3():
    model = models.load("mnist-cnn", trained=False).model
    shapes = stage_shapes(model, torch.zeros(2, 1, 28, 28), ["layer.0", "layer.2", "layer.4", "layer.5", "layer.7", "fc_layer"])
    assert [s[-1] for s in list(shapes.values())[:5]] == [24, 20, 10, 6, 3]
    assert [s[1] for s in list(shapes.values())[:5]] == [16, 32, 32, 64, 64]
    assert shapes["fc_layer"] == (2, 10)


def test_cifar_shapes():
    model = models.load("cifar-cnn").model
    shapes = stage_shapes(model, torch.zeros(1, 3, 32, 32), ["layer.4", "layer.9", "layer.14", "fc_layer.0"])
    assert list(shapes.values()) == [(1, 32, 16, 16), (1, 128, 8, 8), (1, 256, 4, 4), (1, 200)]


@pytest.mark.parametrize("size, last", [(224, 7), (32, 1)])
def test_vgg_blocks_double_channels_and_halve_resolution(size, last):
    b = 4
    shapes = stage_shapes(VGG(b, image_size=size), torch.zeros(1, 3, size, size), [f"feature.{i}" for i in range(5)])
    assert [s[1] for s in shapes.values()] == [b, 2 * b, 4 * b, 8 * b, 8 * b]
    assert [s[-1] for s in shapes.values()] == [size // 2, size // 4, size // 8, size // 16, last]
    assert sum(isinstance(m, nn.Conv2d) for m in VGG(b).modules()) == 13


@pytest.mark.slow
def test_googlenet_follows_the_papers_table_at_base_dim_64():
    model = GoogLeNet(base_dim=64)
    names = ["layer_1", "layer_2.0", "layer_2.1", *(f"layer_3.{i}" for i in range(5)), "layer_4.0", "layer_4.1", "layer_4.2", "fc_layer"]
    shapes = stage_shapes(model, torch.zeros(1, 3, 224, 224), names)
    assert [shapes[n][1] for n in names[:-1]] == [192, 256, 480, 512, 512, 512, 528, 832, 832, 1024, 1024]
    assert [shapes[n][-1] for n in ("layer_1", "layer_2.1", "layer_3.4", "layer_4.1", "layer_4.2")] == [28, 28, 14, 7, 1]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_resnet50_downsamples_at_the_end_of_each_stage():
    b = 4
    model = ResNet(base_dim=b)
    names = ["layer_1", "layer_2.1", "layer_2", "layer_3.2", "layer_3", "layer_4", "layer_5", "fc_layer"]
    shapes = stage_shapes(model, torch.zeros(1, 3, 224, 224), names)
    assert shapes["layer_1"] == (1, b, 56, 56)
    assert shapes["layer_2.1"] == (1, 4 * b, 56, 56) and shapes["layer_2"] == (1, 4 * b, 28, 28)
    assert shapes["layer_3.2"] == (1, 8 * b, 28, 28) and shapes["layer_3"] == (1, 8 * b, 14, 14)
    assert shapes["layer_4"] == (1, 16 * b, 7, 7) and shapes["layer_5"] == (1, 32 * b, 7, 7)
    assert [len(model.get_submodule(f"layer_{i}")) for i in (2, 3, 4, 5)] == [3, 4, 6, 3]
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 1 + 16 * 3 + 16 + 3


def test_large_variants_are_untrained_and_named_options_work():
    ex = models.load("vgg16", base_dim=64, image_size=224)
    assert not ex.trained and ex.model.feature[0][0].out_channels == 64
    assert ex.model.fc_layer[0].in_features == 512 * 7 * 7
    first, again = models.load("googlenet", base_dim=8), models.load("googlenet", base_dim=8)
    assert torch.equal(first.model.layer_1[0].weight, again.model.layer_1[0].weight)  # seeded


def test_every_trained_model_has_a_trainer_and_committed_weights():
    trained = [name for name, spec in models.MODELS.items() if spec.trained]
    assert sorted(trained) == sorted(train.TRAINERS)
    assert all(weights.exists(name) for name in trained)
    assert all(not models.load(name).trained for name in models.MODELS if name not in trained)


def test_loading_leaves_the_callers_random_generator_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    models.load("cifar-cnn")
    assert torch.equal(torch.rand(3), expected)


def test_weights_are_small_and_safetensors():
    files = list(weights.DIRECTORY.glob("*"))
    assert files and all(f.suffix == ".safetensors" for f in files)
    assert sum(f.stat().st_size for f in files) < 20_000_000


def test_importing_the_models_needs_no_views_and_no_training_packages():
    import subprocess
    import sys

    code = "import explain.models, sys; print(sorted(m for m in ('manim', 'matplotlib', 'sklearn') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
