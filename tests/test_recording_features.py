"""Feature-map recording: outputs equal our own hooks' copies, structure parts add up, filters work."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import explain
from explain.models.cnn import MNISTCNN
from explain.models.googlenet import GoogLeNet
from explain.models.recurrent import CharRNN
from explain.models.resnet import ResNet
from explain.models.vgg import VGG
from explain.recording.base import RecordingError


def hooked_outputs(model: nn.Module, *inputs) -> dict[str, torch.Tensor]:
    """Every submodule's output as copied by our own hooks (the last call wins for shared ones)."""
    copies: dict[str, torch.Tensor] = {}
    handles = [
        module.register_forward_hook(lambda m, a, out, name=name: copies.__setitem__(name, out.detach().clone()))
        for name, module in model.named_modules()
        if name
    ]
    with torch.no_grad():
        model(*inputs)
    for handle in handles:
        handle.remove()
    return copies


def record(model, *inputs, **kwargs):
    with torch.no_grad():
        return explain.record(model, *inputs, **kwargs)


@pytest.mark.parametrize(
    "model, shape",
    [
        (MNISTCNN(), (2, 1, 28, 28)),
        (VGG(base_dim=4, image_size=32), (2, 3, 32, 32)),  # its head has the book's nn.ReLU(True)
        (VGG(base_dim=4), (1, 3, 224, 224)),
    ],
    ids=["mnist", "vgg32", "vgg224"],
)
def test_recorded_outputs_equal_own_hooks(model, shape):
    model.eval()
    x = torch.rand(shape)
    expected = hooked_outputs(model, x)
    trace = record(model, x)
    for name, value in expected.items():
        assert torch.equal(trace[name], value), name


def test_inplace_relu_does_not_change_the_recorded_linear_output():
    model = VGG(base_dim=4, image_size=32).eval()
    trace = record(model, torch.rand(2, 3, 32, 32))
    assert (trace["fc_layer.0"] < 0).any()
    assert torch.equal(trace["fc_layer.1"], trace["fc_layer.0"].clamp(min=0))


def test_inplace_op_after_a_repeated_call_does_not_change_what_was_recorded():
    class ThenZero(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x):
            return self.conv(x).mul_(0)

    model = ThenZero().eval()
    inputs = torch.rand(2, 1, 1, 5, 5)
    with explain.record(model) as trace:
        for x in inputs:  # the second call is appended to the first
            model(x)
    with torch.no_grad():
        expected = torch.cat([model.conv(x) for x in inputs])
    assert torch.equal(trace["conv"], expected)


def test_inplace_add_keeps_the_body_before_the_addition():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.ReLU())

        def forward(self, x):
            out = self.body(x)
            out += x
            return out

    block = nn.Sequential(Block()).eval()
    x = torch.rand(1, 2, 5, 5)
    trace = record(block, x)
    assert torch.equal(trace["0@fx"] + trace["0@shortcut"], trace["0@sum"])
    assert torch.equal(trace["0@fx"], trace["0.body"])
    assert trace.meta["structure"]["0"]["shortcut"] is None
    assert trace.meta["structure"]["0"]["projection"] is False
    assert torch.equal(trace["0@shortcut"], x)


@pytest.fixture(scope="module")
def resnet_recording():
    model = ResNet(base_dim=4).eval()
    return model, record(model, torch.rand(1, 3, 224, 224))


def test_residual_parts_of_the_books_resnet_add_up(resnet_recording):
    model, trace = resnet_recording
    blocks = [name for name, module in model.named_modules() if type(module).__name__ == "BottleNeck"]
    assert len(blocks) == 16 and set(trace.meta["structure"]) == set(blocks)
    for q in blocks:
        parts = trace.meta["structure"][q]
        assert parts["kind"] == "residual" and parts["projection"] is True
        assert parts["body"] == f"{q}.layer"
        down = model.get_submodule(q).down
        assert parts["shortcut"] == f"{q}.downsample" if down else f"{q}.dim_equalizer"
        assert parts["stride"] == (2 if down else 1)
        assert torch.equal(trace[f"{q}@fx"] + trace[f"{q}@shortcut"], trace[f"{q}@sum"])
        assert torch.equal(trace[f"{q}@sum"], trace[q])
        assert torch.equal(trace[f"{q}@fx"], trace[f"{q}.layer"])
    assert torch.equal(trace["layer_2.0@x"], trace["layer_1"])


class TorchvisionStyleBlock(nn.Module):
    """torchvision's BasicBlock pattern: batch-norm, one in-place ReLU used twice, ``out += identity``."""

    def __init__(self, channels: int, stride: int):
        super().__init__()
        out = channels * stride
        self.conv1 = nn.Conv2d(channels, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.downsample = nn.Sequential(nn.Conv2d(channels, out, 1, stride, bias=False), nn.BatchNorm2d(out)) if stride > 1 else None

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


def test_torchvision_style_blocks_record_parts_despite_inplace_ops():
    model = nn.Sequential(TorchvisionStyleBlock(4, 1), TorchvisionStyleBlock(4, 2)).eval()
    for block in model:
        for bn in (m for m in block.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.running_mean.uniform_(-1, 1)
    x = torch.randn(2, 4, 8, 8)
    trace = record(model, x)
    identity, projected = trace.meta["structure"]["0"], trace.meta["structure"]["1"]
    assert identity["body"] == "0.bn2" and identity["shortcut"] is None and identity["stride"] == 1
    assert projected["shortcut"] == "1.downsample" and projected["projection"] and projected["stride"] == 2
    for q in ("0", "1"):
        assert (trace[f"{q}@fx"] < 0).any()
        assert torch.equal(trace[f"{q}@fx"] + trace[f"{q}@shortcut"], trace[f"{q}@sum"])
        assert torch.equal(trace[f"{q}@fx"], trace[f"{q}.bn2"])
        assert torch.equal(trace[f"{q}.relu#1"], trace[f"{q}@sum"].clamp(min=0))
        assert torch.equal(trace[f"{q}.relu"], trace[f"{q}.bn1"].clamp(min=0))
        assert torch.equal(trace[q], trace[f"{q}.relu#1"])
    assert torch.equal(trace["0@x"], x) and torch.equal(trace["1@x"], trace["0"])


def test_shared_relu_is_named_where_it_is_called(resnet_recording):
    model, trace = resnet_recording
    conv = trace["layer_3.1.layer.1.0"]
    assert torch.equal(trace["layer_3.1.layer.1.1"], conv.clamp(min=0))
    assert "act_fn" not in trace and "layer_3.1.act_fn" not in trace


def test_inception_branches_concatenate_to_the_module_output():
    model = GoogLeNet(base_dim=8).eval()
    trace = record(model, torch.rand(1, 3, 224, 224))
    modules = [name for name, module in model.named_modules() if type(module).__name__ == "inception_module"]
    assert len(modules) == 9 and set(trace.meta["structure"]) == set(modules)
    for q in modules:
        parts = trace.meta["structure"][q]
        assert parts["branches"] == [f"{q}.conv_1", f"{q}.conv_1_3", f"{q}.conv_1_5", f"{q}.max_3_1"]
        branches = [trace[f"{q}@branch{i}"] for i in range(4)]
        assert torch.equal(torch.cat(branches, 1), trace[q])
        assert [b.shape[1] for b in branches] == parts["sizes"]


def test_filter_keeps_only_what_is_asked():
    model = ResNet(base_dim=4).eval()
    trace = record(model, torch.rand(1, 3, 224, 224), names=["layer_2.2@*", "fc_layer"])
    assert sorted(trace.names("[!@]*")) == sorted(
        ["layer_2.2@x", "layer_2.2@fx", "layer_2.2@shortcut", "layer_2.2@sum", "fc_layer"]
    )
    assert "layer_2.2" in trace.meta["structure"]


def test_kernel_geometry_and_receptive_fields_of_the_mnist_cnn():
    trace = record(MNISTCNN().eval(), torch.rand(1, 1, 28, 28))
    modules = trace.meta["modules"]
    assert modules["layer.0"]["kernel"] == [5, 5] and modules["layer.0"]["receptive_field"] == [5, 5]
    assert modules["layer.2"]["receptive_field"] == [9, 9]
    assert modules["layer.4"]["receptive_field"] == [10, 10] and modules["layer.4"]["jump"] == [2, 2]
    assert modules["layer.5"]["receptive_field"] == [18, 18]
    assert modules["layer.7"]["receptive_field"] == [20, 20] and modules["layer.7"]["jump"] == [4, 4]
    assert modules["layer.5"]["output_shape"] == [1, 64, 6, 6]


def test_an_addition_whose_body_ends_in_a_function_is_a_residual_of_that_function():
    class Hidden(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 1)

        def forward(self, x):
            return nn.functional.relu(self.conv(x)) + x

    x = torch.rand(1, 2, 4, 4)
    trace = record(Hidden(), x)
    assert trace.meta["structure"][""]["body"] == ":relu" and trace.meta["structure"][""]["shortcut"] is None
    assert torch.equal(trace["@fx"], trace[":relu"]) and torch.equal(trace["@x"], x)
    assert torch.equal(trace["@sum"], trace[":add"]) and "unseen" not in trace.meta


def test_a_model_on_the_meta_device_is_refused_saying_it_has_no_values():
    with pytest.raises(RecordingError, match="on the meta device: its tensors have shapes but no values"):
        record(nn.Conv2d(1, 2, 3, device="meta"), torch.rand(1, 1, 5, 5, device="meta"))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_parts_are_said_unseen_and_the_rest_recorded_and_a_whole_torchscript_model_refused():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), torch.jit.script(nn.Sequential(nn.ReLU(), nn.Conv2d(2, 2, 1))), nn.Flatten())
    trace = record(model, torch.rand(1, 1, 5, 5))
    assert "0" in trace and "2" in trace and "1" not in trace
    assert any("1 is TorchScript" in message for message in trace.meta["unseen"])
    for whole in (torch.jit.script(nn.Conv2d(1, 1, 1)), torch.jit.trace(nn.Conv2d(1, 1, 1), torch.rand(1, 1, 2, 2))):
        with pytest.raises(RecordingError, match="the model is TorchScript .* record the nn.Module it was made from"):
            record(whole, torch.rand(1, 1, 2, 2))  # nothing inside it could be recorded


def test_a_functional_pool_in_forward_is_recorded_and_counted_in_receptive_fields():
    class Pooled(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3)
            self.after = nn.Conv2d(1, 1, 3)

        def forward(self, x):
            return self.after(nn.functional.max_pool2d(self.conv(x), 2))

    trace = record(Pooled(), torch.rand(1, 1, 12, 12))
    pool = trace.meta["functions"][":max_pool2d"]
    assert pool["kernel"] == [2, 2] and pool["stride"] == [2, 2] and pool["receptive_field"] == [4, 4]
    assert pool["inputs"] == ["conv"] and trace.meta["modules"]["after"]["inputs"] == [":max_pool2d"]
    assert trace.meta["modules"]["after"]["receptive_field"] == [8, 8]
    assert "unseen" not in trace.meta


def test_repeated_calls_append_along_the_first_axis():
    layer = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
    with torch.no_grad(), explain.record(layer) as trace:
        for x in torch.rand(4, 1, 3):
            layer(x)
    assert trace["0"].shape == (4, 2)


def test_a_module_called_twice_in_one_forward_gets_numbered_names():
    class TwoReLUs(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2, self.relu = nn.Conv2d(1, 2, 3), nn.Conv2d(2, 3, 3), nn.ReLU(inplace=True)

        def forward(self, x):
            return self.relu(self.conv2(self.relu(self.conv1(x))))

    model = TwoReLUs()
    x = torch.rand(1, 1, 7, 7)
    trace = record(model, x)
    assert trace["relu"].shape == (1, 2, 5, 5) and trace["relu#1"].shape == (1, 3, 3, 3)
    assert torch.equal(trace["relu"], trace["conv1"].clamp(min=0))
    assert torch.equal(trace["relu#1"], trace["conv2"].clamp(min=0))
    with torch.no_grad(), explain.record(model) as twice:
        model(x)
        model(x)
    assert twice["relu#1"].shape == (2, 3, 3, 3)


def test_the_capture_mode_ends_even_when_forward_raises():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 1)

        def forward(self, x):
            self.conv(x)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        record(Broken(), torch.rand(1, 1, 2, 2))
    assert not torch.overrides._get_current_function_mode_stack()


def test_recurrent_modules_run_outside_the_capture_mode_even_when_refused():
    from explain.recording.api import RecordingError

    model = CharRNN("lstm")
    hidden = model.init_hidden()
    hidden[0][0, 0, 0] = float("nan")  # a non-finite initial state: the recurrent installer refuses
    with pytest.raises(RecordingError):
        record(model, torch.tensor([3]), hidden)
    assert not torch.overrides._get_current_function_mode_stack()
    trace = record(model.eval(), torch.tensor([3]), model.init_hidden())
    assert trace.names("[!@:]*")[0] == "encoder" and "rnn.l1.fwd.c" in trace and "decoder" in trace


conv_layers = st.lists(
    st.tuples(st.integers(1, 3), st.sampled_from([1, 2]), st.integers(0, 1), st.booleans(), st.booleans()),
    min_size=1,
    max_size=4,
)


@given(conv_layers, st.integers(1, 3))
def test_random_conv_stacks_record_what_their_modules_return(layers, channels):
    modules, c, size, reach, jump, fields = [], channels, 10, 1, 1, {}
    for kernel, stride, padding, inplace, pool in layers:
        size = (size + 2 * padding - kernel) // stride + 1 - (1 if pool else 0)
        if size < 1:
            break
        modules += [nn.Conv2d(c, c + 1, kernel, stride, padding), nn.ReLU(inplace=inplace)]
        reach, jump = reach + (kernel - 1) * jump, jump * stride
        fields[str(len(modules) - 2)] = reach
        if pool:
            modules.append(nn.MaxPool2d(2, 1))
            reach += jump
            fields[str(len(modules) - 1)] = reach
        c += 1
    model = nn.Sequential(*modules).eval()
    x = torch.rand(2, channels, 10, 10)
    expected = hooked_outputs(model, x)
    trace = record(model, x)
    for name, value in expected.items():
        assert torch.equal(trace[name], value), name
    for name, reach in fields.items():
        assert trace.meta["modules"][name]["receptive_field"] == [reach, reach], name


class RandomResidual(nn.Module):
    """out = body(x) + shortcut, the add written in forward: in place or not, identity or 1×1 projection."""

    def __init__(self, channels: int, stride: int, project: bool, inplace_add: bool, inplace_relu: bool):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, stride, 1), nn.ReLU(inplace=inplace_relu), nn.Conv2d(channels, channels, 1))
        self.project = nn.Conv2d(channels, channels, 1, stride) if project or stride > 1 else None
        self.inplace_add = inplace_add

    def forward(self, x):
        out = self.body(x)
        shortcut = x if self.project is None else self.project(x)
        if self.inplace_add:
            out += shortcut
            return out
        return shortcut + out


class RandomInception(nn.Module):
    """Branches of different depths concatenated over channels."""

    def __init__(self, channels: int, widths: list[int]):
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(*(nn.Conv2d(channels if i == 0 else w, w, 1) for i in range(depth + 1)), nn.ReLU(inplace=True))
            for depth, w in enumerate(widths)
        )
        self.out_channels = sum(widths)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], 1)


blocks = st.lists(
    st.one_of(
        st.tuples(st.just("residual"), st.sampled_from([1, 2]), st.booleans(), st.booleans(), st.booleans()),
        st.tuples(st.just("inception"), st.lists(st.integers(1, 3), min_size=2, max_size=4)),
    ),
    min_size=1,
    max_size=3,
)


@given(blocks)
def test_random_residual_and_inception_blocks_record_parts_that_add_up(spec):
    layers, channels = [], 2
    for block in spec:
        if block[0] == "residual":
            layers.append(RandomResidual(channels, *block[1:]))
        else:
            layers.append(RandomInception(channels, block[1]))
            channels = layers[-1].out_channels
    model = nn.Sequential(*layers).eval()
    x = torch.randn(1, 2, 8, 8)
    expected = hooked_outputs(model, x)
    trace = record(model, x)
    for name, value in expected.items():
        assert torch.equal(trace[name], value), name
    structures = trace.meta["structure"]
    assert set(structures) == {str(i) for i in range(len(layers))}
    for index, layer in enumerate(layers):
        q, parts = str(index), structures[str(index)]
        if isinstance(layer, RandomResidual):
            assert parts["body"] == f"{q}.body" and parts["shortcut"] == (None if layer.project is None else f"{q}.project")
            assert torch.allclose(trace[f"{q}@fx"] + trace[f"{q}@shortcut"], trace[f"{q}@sum"])
            assert torch.equal(trace[f"{q}@sum"], trace[q]) and torch.equal(trace[f"{q}@fx"], trace[f"{q}.body"])
            assert parts["stride"] == layer.body[0].stride[0]
        else:
            assert parts["branches"] == [f"{q}.branches.{i}" for i in range(len(layer.branches))]
            assert torch.equal(torch.cat([trace[f"{q}@branch{i}"] for i in range(len(layer.branches))], 1), trace[q])



def _record_in_block(model: nn.Module, x: torch.Tensor) -> explain.Trace:
    with explain.record(model) as trace:
        model(x)
    return trace


@pytest.mark.parametrize(
    "make",
    [
        lambda: explain.record(MNISTCNN().eval(), torch.randn(1, 1, 28, 28)),
        lambda: explain.record(CharRNN("gru", 5, 4, 3, 1), torch.tensor([1, 2]), torch.zeros(1, 2, 3), grads=True),
        lambda: _record_in_block(nn.LSTM(3, 2), torch.randn(4, 1, 3)),
    ],
    ids=["cnn", "char-rnn-grads", "with-block"],
)
def test_a_dropped_trace_is_freed_at_once(make):
    """No reference cycle holds a recording: its tensors go when the caller drops the Trace, not at
    the next run of Python's cycle collector (traces of long sequences are large)."""
    import gc
    import weakref

    gc.disable()
    try:
        trace = make()
        alive = weakref.ref(trace)
        del trace
        assert alive() is None
    finally:
        gc.enable()
