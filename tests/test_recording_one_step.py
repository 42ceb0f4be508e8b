"""One-step calls (the book's way) are kept and recomputed together: the trace must not show it.

    pytest tests/test_recording_one_step.py
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import explain
from explain.models.recurrent import CharRNN
from explain.recording.api import RecordingError


def _expected_input_gate(weights: dict[str, torch.Tensor], x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Layer 0's input gate from PyTorch's equation, with the weights of that moment."""
    hidden = weights["weight_hh_l0"].shape[1]
    pre = x @ weights["weight_ih_l0"].T + weights["bias_ih_l0"] + h @ weights["weight_hh_l0"].T + weights["bias_hh_l0"]
    return torch.sigmoid(pre[..., :hidden])


def test_reading_inside_the_block_sees_every_call_so_far():
    lstm = nn.LSTM(3, 4, num_layers=2)
    outputs, state = [], None
    with explain.record(lstm) as trace:
        for x in torch.randn(5, 1, 2, 3):
            out, state = lstm(x, state)
            outputs.append(out.detach())
            assert torch.equal(trace["l1.fwd.h"], torch.cat(outputs))
    assert trace["l0.fwd.c"].shape == (5, 2, 4)


@pytest.mark.parametrize("update", ["optimizer", "through .data"])
def test_training_steps_between_calls_are_recorded_with_the_weights_of_each_call(update):
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4)
    optimizer = torch.optim.SGD(lstm.parameters(), lr=0.5)
    xs, states, weights = torch.randn(4, 1, 2, 3), [], []
    state = None
    with explain.record(lstm) as trace:
        for x in xs:
            weights.append({name: p.detach().clone() for name, p in lstm.named_parameters()})
            states.append(torch.zeros(2, 4) if state is None else state[0][0].detach().clone())
            out, state = lstm(x, state)
            out.square().sum().backward()
            if update == "optimizer":
                optimizer.step()
            else:  # old tutorials' way: invisible to version counters
                for p in lstm.parameters():
                    p.data.add_(p.grad, alpha=-0.5)
            optimizer.zero_grad()
            state = tuple(s.detach() for s in state)
    expected = torch.stack([_expected_input_gate(w, x[0], h) for w, x, h in zip(weights, xs, states)])
    torch.testing.assert_close(trace["l0.fwd.i"], expected, rtol=0, atol=1e-6)


def test_names_keep_the_order_of_execution():
    model = CharRNN("lstm", vocab=5, embedding=4, hidden=3, layers=2)
    hidden = model.init_hidden()
    with explain.record(model) as trace:
        for index in (1, 2, 3):
            _, hidden = model(torch.tensor([index]), hidden)
    names = trace.names()
    assert names.index("encoder") < names.index("rnn.l0.fwd.x") < names.index("rnn.l1.fwd.h") < names.index("decoder")
    assert trace["rnn.l1.fwd.h"].shape == (3, 1, 3)


def test_longer_calls_between_one_step_calls_keep_the_order_of_time():
    lstm = nn.LSTM(3, 4)
    inputs = [torch.randn(1, 2, 3), torch.randn(1, 2, 3), torch.randn(4, 2, 3), torch.randn(1, 2, 3)]
    outputs, state = [], None
    with explain.record(lstm) as trace:
        for x in inputs:
            out, state = lstm(x, state)
            outputs.append(out.detach())
    assert torch.equal(trace["l0.fwd.h"], torch.cat(outputs))
    assert torch.equal(trace["l0.fwd.x"], torch.cat(inputs))


def test_tensors_the_caller_changes_after_a_call_do_not_change_the_recording():
    lstm = nn.LSTM(3, 4)
    x = torch.randn(1, 1, 3)
    with explain.record(lstm) as trace:
        out, state = lstm(x)
        expected_h, expected_x = out.detach().clone(), x.clone()
        x.zero_()
        state[0].zero_()
        out.detach().zero_()
    assert torch.equal(trace["l0.fwd.h"], expected_h) and torch.equal(trace["l0.fwd.x"], expected_x)


def test_a_bad_one_step_call_is_reported_when_the_block_ends_with_its_row():
    lstm = nn.LSTM(3, 4)
    lstm.register_forward_hook(lambda module, args, output: (output[0] + 0.01, output[1]))  # runs before ours
    with pytest.raises(RecordingError, match=r"one-step calls 1–3 taken together: row = call × 2 \+ batch"):
        with explain.record(lstm):
            state = None
            for x in torch.randn(3, 1, 2, 3):
                _, state = lstm(x, state)

