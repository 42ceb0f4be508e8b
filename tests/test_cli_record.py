"""``explain models``, ``explain record`` and ``explain show`` end to end (in process)."""

from __future__ import annotations

import pytest
import torch

import explain
from explain.cli import main


def test_models_lists_every_book_model(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(explain.models.catalogue())


def test_record_a_book_cnn_then_show_it(tmp_path, capsys):
    out = tmp_path / "mnist.safetensors"
    assert main(["record", "mnist-cnn", "-o", str(out)]) == 0
    assert "tensors to" in capsys.readouterr().out
    trace = explain.load(out)
    assert trace["layer.5"].shape == (1, 64, 6, 6)
    assert trace.meta["modules"]["layer.5"]["receptive_field"] == [18, 18]
    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "layer.5" in shown and "1×64×6×6" in shown


def test_record_with_a_filter_and_a_text(tmp_path):
    out = tmp_path / "hello.safetensors"
    assert main(["record", "hello-lstm", "--text", "hello", "--filter", "l0.fwd.*", "-o", str(out)]) == 0
    trace = explain.load(out)
    assert set(trace.names()) == {f"l0.fwd.{q}" for q in "xifgoch"}
    assert trace["l0.fwd.f"].shape == (6, 1, 35) and trace.meta["tokens"] == ["<s>", *"hello"]


def test_record_an_image_file(tmp_path):
    from PIL import Image

    picture = tmp_path / "digit.png"
    Image.new("L", (40, 40), color=0).save(picture)
    out = tmp_path / "digit.safetensors"
    assert main(["record", "mnist-cnn", "--image", str(picture), "--filter", "layer.0", "-o", str(out)]) == 0
    trace = explain.load(out)
    conv = explain.models.load("mnist-cnn").model.layer[0]
    assert torch.allclose(trace["layer.0"], conv.bias.detach().view(1, 16, 1, 1).expand(1, 16, 24, 24))


def test_record_a_user_factory(tmp_path):
    source = tmp_path / "my_net.py"
    source.write_text(
        "import torch\n"
        "def build():\n"
        "    torch.manual_seed(0)\n"
        "    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU())\n"
        "    return net, torch.rand(1, 1, 6, 6)\n"
    )
    out = tmp_path / "mine.safetensors"
    assert main(["record", f"{source}:build", "-o", str(out)]) == 0
    assert explain.load(out)["1"].shape == (1, 2, 4, 4)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["record", "lenet", "-o", "x.safetensors"], "unknown model 'lenet'"),
        (["record", "vgg16", "--text", "hi", "-o", "x.safetensors"], "reads images, not text"),
        (["record", "hello-lstm", "--image", "a.png", "-o", "x.safetensors"], "reads text, not images"),
        (["record", "hello-lstm", "--base-dim", "8", "-o", "x.safetensors"], "has no --base-dim option"),
        (["record", "hello-lstm", "--text", "HELLO", "-o", "x.safetensors"], "lowercase text"),
        (["record", "missing.py:build", "-o", "x.safetensors"], "missing.py: no such file"),
        (["show", "nothing.safetensors"], "cannot read trace file"),
    ],
)
def test_user_mistakes_are_one_line_errors(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and "\n" not in error


def test_a_factory_that_returns_the_wrong_thing(tmp_path, capsys):
    source = tmp_path / "bad.py"
    source.write_text("def build():\n    return 3\n")
    assert main(["record", f"{source}:build", "-o", str(tmp_path / "x.safetensors")]) == 2
    assert "must return (model, inputs)" in capsys.readouterr().err
    assert main(["record", f"{source}:nope", "-o", str(tmp_path / "x.safetensors")]) == 2
    assert "has no function 'nope'" in capsys.readouterr().err


def test_a_factory_may_return_a_packed_sequence_as_its_input(tmp_path):
    source = tmp_path / "packed.py"
    source.write_text(
        "import torch\n"
        "from torch.nn.utils.rnn import pack_padded_sequence\n"
        "def build():\n"
        "    torch.manual_seed(0)\n"
        "    return torch.nn.GRU(3, 4), pack_padded_sequence(torch.randn(5, 2, 3), [5, 3])\n"
    )
    out = tmp_path / "packed.safetensors"
    assert main(["record", f"{source}:build", "-o", str(out)]) == 0  # not its four fields as four arguments
    assert explain.load(out)["l0.fwd.h"].shape == (5, 2, 4)


def test_what_a_users_model_or_factory_raises_is_one_line_naming_their_line(tmp_path, capsys):
    source = tmp_path / "broken.py"
    source.write_text(
        "import torch\n"
        "class Net(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = torch.nn.Linear(4, 2)\n"
        "    def forward(self, x):\n"
        "        return self.fc(x.flatten(1))\n"
        "def build():\n"
        "    return Net(), torch.rand(1, 3, 3)\n"
        "def fails():\n"
        "    raise ValueError('no data here')\n"
    )
    assert main(["record", f"{source}:build", "-o", str(tmp_path / "x.safetensors")]) == 2
    error = capsys.readouterr().err.strip()
    assert "build: the model raised RuntimeError at broken.py:7 (forward): mat1 and mat2 shapes cannot be multiplied" in error
    assert "\n" not in error
    assert main(["record", f"{source}:fails", "-o", str(tmp_path / "x.safetensors")]) == 2
    assert "fails: fails() raised ValueError at broken.py:11 (fails): no data here" in capsys.readouterr().err


def test_a_recording_that_holds_nan_is_written_with_a_warning_naming_where(tmp_path, capsys):
    source = tmp_path / "nan_net.py"
    source.write_text(
        "import torch\n"
        "def build():\n"
        "    image = torch.rand(1, 1, 6, 6)\n"
        "    image[0, 0, 2, 3] = float('nan')\n"
        "    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU()), image\n"
    )
    out = tmp_path / "nan.safetensors"
    assert main(["record", f"{source}:build", "-o", str(out)]) == 0  # kept as the model computed it
    assert "warning: the trace holds NaN, first in @input.0 at [0, 0, 2, 3]" in capsys.readouterr().err
    assert main(["show", str(out)]) == 0
    assert any(line.startswith("@input.0") and line.endswith("1 NaN") for line in capsys.readouterr().out.splitlines())
