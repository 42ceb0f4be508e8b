"""What the recurrent recording refuses, and how it says so: one line naming the module.

    pytest tests/test_recording_errors.py
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

import explain
from explain.recording.api import RecordingError


class Tagger(nn.Module):
    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, state=None):
        return self.rnn(x, state)


def refusal(model, *inputs, **kwargs) -> str:
    with pytest.raises(RecordingError) as caught:
        explain.record(model, *inputs, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_single_layer_dropout_does_nothing_and_records():
    with pytest.warns(UserWarning):
        gru = nn.GRU(3, 4, dropout=0.3)
    assert "l0.fwd.z" in explain.record(gru.train(), torch.randn(2, 1, 3))


@pytest.mark.parametrize(
    "x, expected",
    [
        (torch.randn(5, 1, 7), "7 features per step but the module expects input_size=3"),
        (torch.randn(2, 5, 1, 3), "4 dimensions"),
        (torch.randn(5, 1, 3, dtype=torch.float64), "input is torch.float64 but the weights are torch.float32"),
        (torch.randint(0, 9, (5, 1, 3)), "nn.Embedding"),
    ],
)
def test_bad_input_names_the_module_and_the_problem(x, expected):
    message = refusal(Tagger(nn.GRU(3, 4)), x)
    assert message.startswith("rnn (GRU): ") and expected in message


def test_weights_of_an_unrecordable_dtype_are_refused():
    with pytest.warns(UserWarning):
        gru = nn.GRU(2, 3).to(torch.complex64)
    assert "weights are torch.complex64" in refusal(gru, torch.randn(3, 1, 2, dtype=torch.complex64))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_input_or_state_is_refused(bad):
    x = torch.randn(4, 2, 3)
    x[2, 1, 0] = bad
    assert "input contains NaN or Inf" in refusal(nn.LSTM(3, 4), x)
    state = torch.zeros(1, 2, 4)
    state[0, 0, 1] = bad
    assert "initial state contains NaN or Inf" in refusal(nn.RNN(3, 4), torch.randn(4, 2, 3), state)
    assert "(root) (LSTMCell)" in refusal(nn.LSTMCell(3, 4), x[2])


def test_a_subclass_with_its_own_forward_is_refused_but_plain_subclasses_record():
    class Peephole(nn.LSTM):
        def forward(self, x, hx=None):
            return super().forward(x * 2, hx)

    class Named(nn.LSTM):
        pass

    assert "replaces forward()" in refusal(Tagger(Peephole(3, 4)), torch.randn(2, 1, 3))
    assert "rnn.l0.fwd.f" in explain.record(Tagger(Named(3, 4)), torch.randn(2, 1, 3))


def test_an_output_that_the_equations_do_not_produce_is_caught():
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    lstm.register_forward_hook(lambda module, args, output: (output[0] + 0.01, output[1]))  # runs before ours
    message = refusal(Tagger(lstm), torch.randn(5, 2, 3))
    assert message.startswith("rnn (LSTM): layer 1 fwd ") and "the recomputation differs" in message
    assert re.search(r"\(tolerance 2(\.\d+)?e-05 for float32\)", message), message  # 2e-05 × max(1, |largest value|)


def test_a_cell_whose_state_was_tampered_with_is_caught():
    cell = nn.GRUCell(3, 4)
    cell.register_forward_hook(lambda module, args, output: output * 2)
    assert "h: the recomputation differs" in refusal(cell, torch.randn(2, 3))


@pytest.mark.parametrize("steps", [2, 1], ids=["longer calls", "one-step calls"])
def test_calls_with_another_batch_size_cannot_be_appended(steps):
    lstm = nn.LSTM(3, 4)
    with pytest.raises(ValueError, match="batch or size changed"):
        with explain.record(lstm):
            lstm(torch.randn(steps, 1, 3))
            lstm(torch.randn(steps, 3, 3))


def test_grads_problems_are_explained():
    rnn = nn.RNN(3, 4)
    x = torch.randn(4, 1, 3)
    with torch.no_grad():
        assert "torch.no_grad()" in refusal(rnn, x, grads=True)
    assert "scalar" in refusal(rnn, x, grads=True, loss=lambda output: output[0])
    with pytest.raises(RecordingError, match="assign tr.output"):
        with explain.record(rnn, grads=True):
            rnn(x)
