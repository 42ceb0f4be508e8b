"""Functions a forward calls (q:op names), residuals only for x + F(x), hand-written cells, Probe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import explain
from explain.recording.api import RecordingError
from gallery import Net  # pytorch/examples' MNIST Net, as written there


def test_the_mnist_net_records_every_step_and_what_conv2_read():
    net = Net().eval()
    read = {}
    handle = net.conv2.register_forward_pre_hook(lambda module, args: read.setdefault("x", args[0]))
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        trace = explain.record(net, x)
    handle.remove()
    assert [name for name in trace.names() if "@" not in name] == [
        "conv1", ":relu", "conv2", ":relu#1", ":max_pool2d", "dropout1", ":flatten", "fc1", ":relu#2", "dropout2", "fc2", ":log_softmax"
    ]
    assert trace.meta["modules"]["conv2"]["inputs"] == [":relu"]
    assert torch.equal(trace[":relu"], read["x"]) and torch.equal(trace[":relu"], F.relu(trace["conv1"]))
    assert torch.equal(trace[":log_softmax"], trace.output)
    pool = trace.meta["functions"][":max_pool2d"]
    assert (pool["op"], pool["module"], pool["inputs"], pool["kernel"], pool["stride"]) == ("max_pool2d", "", [":relu#1"], [2, 2], [2, 2])
    assert pool["receptive_field"] == [6, 6] and pool["jump"] == [2, 2]
    assert trace.meta["functions"][":flatten"]["start_dim"] == 1
    assert trace.meta["functions"][":log_softmax"]["dim"] == 1
    assert trace.meta["modules"]["fc1"]["inputs"] == [":flatten"] and "unseen" not in trace.meta


class TutorialRNN(nn.Module):
    """The PyTorch tutorial's char-RNN (classifying names), as written there."""

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size, hidden_size)
        self.h2h = nn.Linear(hidden_size, hidden_size)
        self.h2o = nn.Linear(hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        hidden = F.tanh(self.i2h(input) + self.h2h(hidden))
        output = self.h2o(hidden)
        output = self.softmax(output)
        return output, hidden

    def initHidden(self):
        return torch.zeros(1, self.hidden_size)


def test_the_tutorial_char_rnn_gets_a_hidden_series_and_no_residual():
    rnn = TutorialRNN(57, 16, 18)
    letters = torch.eye(57)[torch.tensor([3, 14, 7, 7, 1])].unsqueeze(1)  # one-hot, [T, 1, 57]
    hidden, expected = rnn.initHidden(), []
    with torch.no_grad(), explain.record(rnn) as trace:
        for letter in letters:  # one call per letter
            output, hidden = rnn(letter, hidden)
            expected.append(hidden)
    assert trace["h"].shape == (5, 1, 16) and trace["x"].shape == (5, 1, 57)
    assert torch.equal(trace["h"], torch.stack(expected)) and torch.equal(trace["x"], letters)
    assert trace.meta["modules"][""]["quantities"] == ["x", "h"] and trace.meta["modules"][""]["state"] == {"h": ":tanh"}
    assert "structure" not in trace.meta and not trace.names("@*")
    assert trace.meta["functions"][":add"]["inputs"] == ["i2h", "h2h"]
    assert trace.meta["functions"][":tanh"]["inputs"] == [":add"]
    assert trace[":tanh"].shape == (5, 16)  # a function's own name appends along the first axis, like modules


class StateOnlyRNN(nn.Module):
    """A hand-written cell that returns only its new state: h = tanh(i2h(x) + h2h(h))."""

    def __init__(self):
        super().__init__()
        self.i2h, self.h2h = nn.Linear(3, 4), nn.Linear(4, 4)

    def forward(self, x, h):
        return torch.tanh(self.i2h(x) + self.h2h(h))


class Unrolled(nn.Module):
    """A model whose forward loops a :class:`StateOnlyRNN` child over the steps."""

    def __init__(self):
        super().__init__()
        self.cell = StateOnlyRNN()

    def forward(self, steps):
        h = torch.zeros(steps.shape[1], 4)
        for x in steps:
            h = self.cell(x, h)
        return h


@pytest.mark.parametrize("grad", [False, True], ids=["no-grad", "grad"])
def test_a_cell_returning_only_its_state_gets_a_state_series(grad):
    steps = torch.randn(5, 2, 3)
    cell, expected = StateOnlyRNN(), []
    with torch.set_grad_enabled(grad), explain.record(cell) as trace:  # the cell is the recorded model
        h = torch.zeros(2, 4)
        for x in steps:
            h = cell(x, h)
            expected.append(h.detach())
    assert torch.equal(trace["h"], torch.stack(expected)) and torch.equal(trace["x"], steps)
    assert trace.meta["modules"][""]["state"] == {"h": ":tanh"}
    with torch.set_grad_enabled(grad):  # the cell as a child, looped by its parent's forward
        trace = explain.record(Unrolled(), steps)
    assert trace["cell.h"].shape == (5, 2, 4) and torch.equal(trace["cell.x"], steps)
    assert torch.equal(trace["cell.h"][-1], trace["cell#4"])


def test_a_cell_inside_a_model_is_the_cell_not_the_model():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = TutorialRNN(3, 4, 2)

        def forward(self, x, h):
            return self.cell(x, h)

    model, h = Model(), torch.zeros(2, 4)
    with torch.no_grad(), explain.record(model) as trace:
        for x in torch.randn(3, 2, 3):
            _, h = model(x, h)
    assert trace["cell.h"].shape == (3, 2, 4) and "h" not in trace


def test_a_recurrent_module_inside_a_model_does_not_make_the_model_a_cell():
    from explain.models.recurrent import CharRNN

    model = CharRNN("gru", 10, 4, 3, 1).eval()
    hidden = model.init_hidden()
    with torch.no_grad(), explain.record(model) as trace:
        for index in range(3):
            _, hidden = model(torch.tensor([index]), hidden)
    assert trace["rnn.l0.fwd.h"].shape == (3, 1, 3)
    assert not [name for name in trace.names() if name in ("h", "x", "state0")]


def test_a_training_dropout_records_its_mask_and_draws_what_the_plain_call_draws():
    class Dropped(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 50)

        def forward(self, x):
            return F.dropout(F.relu(self.fc(x)), p=0.3, training=self.training)

    model, x = Dropped().train(), torch.randn(4, 6)
    torch.manual_seed(7)
    plain = model(x)
    torch.manual_seed(7)
    trace = explain.record(model, x)
    assert torch.equal(trace.output, plain) and torch.equal(trace[":dropout"], plain)
    mask = trace[":dropout@mask"]
    assert mask.dtype == torch.bool and 0 < mask.float().mean() < 1
    assert torch.equal(trace[":relu"] * mask.float().div_(1 - 0.3), trace[":dropout"])
    assert trace.meta["functions"][":dropout"]["p"] == 0.3 and trace.meta["functions"][":dropout"]["mask"] == ":dropout@mask"
    evaluated = explain.record(model.eval(), x)
    assert ":dropout@mask" not in evaluated and torch.equal(evaluated[":dropout"], evaluated[":relu"])


def test_inplace_functions_keep_each_recorded_value_as_it_was():
    class InPlace(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3, padding=1)

        def forward(self, x):
            y = self.conv(x)
            F.relu(y, True)  # positional inplace
            y.mul_(-2)
            y[:, 0] = 5.0
            return torch.sigmoid_(y)

    model, x = InPlace(), torch.randn(1, 1, 5, 5)
    with torch.no_grad():
        trace = explain.record(model, x)
        conv = model.conv(x)
    assert torch.equal(trace["conv"], conv) and (conv < 0).any()
    assert torch.equal(trace[":relu"], conv.clamp(min=0))
    assert torch.equal(trace[":mul"], conv.clamp(min=0) * -2)
    assert trace.meta["functions"][":relu"]["inplace"] and trace.meta["functions"][":mul"]["inplace"]
    assert trace.meta["functions"][":mul"]["inputs"] == [":relu"]
    assert torch.equal(trace[":sigmoid"], trace.output)


# -- random mixes of modules and functions ---------------------------------------------------

STEPS = ["conv", "bn", "relu_module", "relu_module_inplace", "F.relu", "F.relu_inplace", "relu_", "tanh", "sigmoid_",
         "gelu", "leaky_relu_inplace", "max_pool", "avg_pool", "adaptive_avg_pool", "dropout_eval", "F.batch_norm",
         "layer_norm", "softmax", "view_round_trip", "residual", "residual_inplace", "scale", "cat_halves"]


class Mixed(nn.Module):
    """Runs a list of steps; with ``capture``, keeps a copy of what each function step returned."""

    def __init__(self, steps: list[str], channels: int = 3):
        super().__init__()
        self.steps = steps
        self.layers = nn.ModuleDict()
        for index, step in enumerate(steps):
            if step in ("conv", "residual", "residual_inplace", "cat_halves"):
                self.layers[str(index)] = nn.Conv2d(channels, channels, 3, padding=1)
            elif step == "bn":
                self.layers[str(index)] = nn.BatchNorm2d(channels)
            elif step.startswith("relu_module"):
                self.layers[str(index)] = nn.ReLU(inplace=step.endswith("inplace"))
        self.register_buffer("mean", torch.randn(channels))
        self.register_buffer("var", torch.rand(channels) + 0.5)

    def forward(self, x, capture: list | None = None):
        keep = (lambda value: capture.append(value.clone())) if capture is not None else (lambda value: None)
        for index, step in enumerate(self.steps):
            layer = self.layers[str(index)] if str(index) in self.layers else None
            if step in ("conv", "bn", "relu_module", "relu_module_inplace"):
                x = layer(x)
                continue
            if step == "F.relu":
                x = F.relu(x)
            elif step == "F.relu_inplace":
                x = F.relu(x, inplace=True)
            elif step == "relu_":
                x = x.relu_()
            elif step == "tanh":
                x = torch.tanh(x)
            elif step == "sigmoid_":
                x = x.sigmoid_()
            elif step == "gelu":
                x = F.gelu(x)
            elif step == "leaky_relu_inplace":
                x = F.leaky_relu(x, 0.2, True)
            elif step == "max_pool":
                x = F.max_pool2d(x, 2, 1)
            elif step == "avg_pool":
                x = F.avg_pool2d(x, 2, 1, 1)
            elif step == "adaptive_avg_pool":
                x = F.adaptive_avg_pool2d(x, 4)
            elif step == "dropout_eval":
                x = F.dropout(x, 0.5, training=False)
            elif step == "F.batch_norm":
                x = F.batch_norm(x, self.mean, self.var)
            elif step == "layer_norm":
                x = F.layer_norm(x, x.shape[-1:])
            elif step == "softmax":
                x = F.softmax(x, dim=1)
            elif step == "view_round_trip":
                shape = x.shape
                x = x.view(shape[0], -1)
                keep(x)
                x = x.reshape(shape)
            elif step == "residual":
                x = x + layer(x)
            elif step == "residual_inplace":
                body = layer(x)
                body += x
                x = body
            elif step == "scale":
                x = x * 0.5
            elif step == "cat_halves":
                left = layer(x)[:, :2]
                keep(left)
                right = x[:, 2:]
                keep(right)
                x = torch.cat([left, right], 1)
            keep(x)
        return x


#: the recorded function names each step makes, in order (module steps: none)
FUNCTION_NAMES = {
    "F.relu": ["relu"], "F.relu_inplace": ["relu"], "relu_": ["relu"], "tanh": ["tanh"], "sigmoid_": ["sigmoid"],
    "gelu": ["gelu"], "leaky_relu_inplace": ["leaky_relu"], "max_pool": ["max_pool2d"], "avg_pool": ["avg_pool2d"],
    "adaptive_avg_pool": ["adaptive_avg_pool2d"], "dropout_eval": ["dropout"], "F.batch_norm": ["batch_norm"],
    "layer_norm": ["layer_norm"], "softmax": ["softmax"], "view_round_trip": ["view", "reshape"], "residual": ["add"],
    "residual_inplace": ["add"], "scale": ["mul"], "cat_halves": ["getitem", "getitem", "cat"],
}


def expected_names(steps: list[str]) -> list[str]:
    counts: dict[str, int] = {}
    names = []
    for step in steps:
        for op in FUNCTION_NAMES.get(step, []):
            count = counts.get(op, 0)
            counts[op] = count + 1
            names.append(f":{op}#{count}" if count else f":{op}")
    return names


def hooked(model: nn.Module, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
    copies: dict[str, torch.Tensor] = {}
    handles = [
        module.register_forward_hook(lambda m, a, out, name=name: copies.__setitem__(name, out.detach().clone()))
        for name, module in model.named_modules()
        if name
    ]
    captured: list[torch.Tensor] = []
    with torch.no_grad():
        model(x.clone(), captured)  # in-place steps may write into the input
    for handle in handles:
        handle.remove()
    return copies, captured


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(STEPS), min_size=1, max_size=7), st.integers(0, 2**16))
def test_random_mixes_record_what_hooks_and_functions_return(steps, seed):
    torch.manual_seed(seed)
    model = Mixed(steps).eval()
    x = torch.randn(2, 3, 6, 6)
    modules, functions = hooked(model, x)
    with torch.no_grad():
        trace = explain.record(model, x.clone())
    for name, value in modules.items():
        assert torch.equal(trace[name], value), name
    names = expected_names(steps)
    assert trace.names(":*") == names
    assert len(names) == len(functions)
    for name, value in zip(names, functions):
        assert torch.equal(trace[name], value), name
    structural = [i for i, step in enumerate(steps) if step.startswith("residual") or step == "cat_halves"]
    assert sorted(trace.meta.get("structure", {})) == ([""] if structural else [])
    if structural:  # the first addition or concatenation of a forward is the one recorded
        first, parts = structural[0], trace.meta["structure"][""]
        if steps[first] == "cat_halves":
            assert parts["kind"] == "concat" and torch.equal(torch.cat([trace["@branch0"], trace["@branch1"]], 1), trace["@concat"])
        else:
            assert parts["kind"] == "residual" and parts["body"] == f"layers.{first}" and parts["shortcut"] is None
            assert torch.equal(trace["@fx"] + trace["@x"], trace["@sum"]) and torch.equal(trace["@fx"], trace[f"layers.{first}"])


# -- Probe and hand-written cells --------------------------------------------------------------


class HandLSTMCell(nn.Module):
    """nn.LSTMCell written out, with a Probe for every quantity."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.ih = nn.Linear(input_size, 4 * hidden_size)
        self.hh = nn.Linear(hidden_size, 4 * hidden_size)
        self.probe = nn.ModuleDict({q: explain.Probe(q) for q in ("x", "i", "f", "g", "o", "c", "h")})

    def forward(self, x, state):
        h, c = state
        x = self.probe["x"](x)
        i, f, g, o = (self.ih(x) + self.hh(h)).chunk(4, 1)
        i = self.probe["i"](torch.sigmoid(i))
        f = self.probe["f"](torch.sigmoid(f))
        g = self.probe["g"](torch.tanh(g))
        o = self.probe["o"](torch.sigmoid(o))
        c = self.probe["c"](f * c + i * g)
        h = self.probe["h"](o * torch.tanh(c))
        return h, c


class Wrapper(nn.Module):
    def __init__(self, cell: nn.Module):
        super().__init__()
        self.cell = cell

    def forward(self, x, state):
        return self.cell(x, state)


@pytest.mark.parametrize("batch", [1, 3])
def test_a_probed_lstm_cell_records_what_nn_lstmcell_records(batch):
    torch.manual_seed(batch)
    reference = nn.LSTMCell(5, 4)
    hand = HandLSTMCell(5, 4)
    with torch.no_grad():
        hand.ih.weight.copy_(reference.weight_ih)
        hand.ih.bias.copy_(reference.bias_ih)
        hand.hh.weight.copy_(reference.weight_hh)
        hand.hh.bias.copy_(reference.bias_hh)
    xs = torch.randn(6, batch, 5)
    traces = []
    for model in (Wrapper(reference), Wrapper(hand)):
        state = (torch.zeros(batch, 4), torch.zeros(batch, 4))
        with torch.no_grad(), explain.record(model) as trace:
            for x in xs:
                state = model(x, state)
        traces.append(trace)
    expected, obtained = traces
    cell_names = expected.names("cell.*")
    assert cell_names == [f"cell.{q}" for q in "xifgoch"]
    assert [name for name in obtained.names() if name in cell_names] == cell_names
    for name in cell_names:
        assert obtained[name].shape == expected[name].shape == (6, batch, 5 if name == "cell.x" else 4), name
        torch.testing.assert_close(obtained[name], expected[name], rtol=1e-5, atol=1e-6)
    assert obtained.meta["modules"]["cell"]["quantities"] == list("xifgoch")
    assert "cell.probe.i" not in obtained and "cell.state0" not in obtained


def test_a_probe_is_an_identity_and_checks_its_quantity():
    value = torch.randn(3)
    assert explain.Probe("h")(value) is value
    with pytest.raises(ValueError, match="got 'a.b'"):
        explain.Probe("a.b")


def test_a_probe_named_like_another_module_is_refused():
    class Clash(nn.Module):
        def __init__(self):
            super().__init__()
            self.h = nn.Linear(2, 2)
            self.probe = explain.Probe("h")

        def forward(self, x):
            return self.probe(self.h(x))

    with pytest.raises(RecordingError, match="Probe\\('h'\\) in the model would be recorded as 'h', which is another module's name"):
        explain.record(Clash(), torch.randn(1, 2))
    assert not torch.overrides._get_current_function_mode_stack()


def test_the_readme_hand_written_lstm_cell_runs():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index("### A hand-written cell") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    trace = namespace["tr"]
    assert trace.names() [:1] == ["x"] and trace["f"].shape == (5, 1, 4) and trace["h"].shape == (5, 1, 4)
    torch.testing.assert_close(trace["h"][-1], namespace["state"][0])
