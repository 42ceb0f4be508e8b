"""One-step calls (the book's way) are kept and recomputed together: the trace must not show it.

    pytest tests/test_recording_one_step.py
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import explain
from explain.models.recurrent import CharRNN
from explain.recording import recurrent
from explain.recording.api import RecordingError


def _expected_input_gate(weights: dict[str, torch.Tensor], x: torch.Tensor, h: torch.Tensor, suffix: str) -> torch.Tensor:
    """The input gate from PyTorch's equation, with the weights of that moment (layer 0 or a cell)."""
    w_ih, w_hh = weights["weight_ih" + suffix], weights["weight_hh" + suffix]
    pre = x @ w_ih.T + weights["bias_ih" + suffix] + h @ w_hh.T + weights["bias_hh" + suffix]
    return torch.sigmoid(pre[..., : w_hh.shape[1]])


def test_reading_inside_the_block_sees_every_call_so_far():
    lstm, cell = nn.LSTM(3, 4, num_layers=2), nn.GRUCell(4, 5)
    model = nn.ModuleDict({"lstm": lstm, "cell": cell})
    outputs, state, h = [], None, None
    with explain.record(model) as trace:
        for x in torch.randn(5, 1, 2, 3):
            out, state = lstm(x, state)
            h = cell(out[0], h)
            outputs.append(out.detach())
            assert torch.equal(trace["lstm.l1.fwd.h"], torch.cat(outputs))
            assert torch.equal(trace["cell.h"][-1], h.detach())
    assert trace["lstm.l0.fwd.c"].shape == (5, 2, 4) and trace["cell.z"].shape == (5, 2, 5)


@pytest.mark.parametrize("update", ["optimizer", "through .data"])
@pytest.mark.parametrize("kind", ["LSTM", "LSTMCell"])
def test_training_steps_between_calls_are_recorded_with_the_weights_of_each_call(kind, update):
    torch.manual_seed(0)
    module = nn.LSTM(3, 4) if kind == "LSTM" else nn.LSTMCell(3, 4)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.5)
    xs, states, weights = torch.randn(4, 2, 3), [], []
    h = c = torch.zeros(2, 4)
    with explain.record(module) as trace:
        for x in xs:
            weights.append({name: p.detach().clone() for name, p in module.named_parameters()})
            states.append(h)
            if kind == "LSTM":
                out, (h, c) = module(x.unsqueeze(0), (h.unsqueeze(0), c.unsqueeze(0)))
                h, c = h[0], c[0]
            else:
                h, c = module(x, (h, c))
            h.square().sum().backward()
            if update == "optimizer":
                optimizer.step()
            else:  # old tutorials' way: invisible to version counters
                for p in module.parameters():
                    p.data.add_(p.grad, alpha=-0.5)
            optimizer.zero_grad()
            h, c = h.detach(), c.detach()
    suffix, name = ("_l0", "l0.fwd.i") if kind == "LSTM" else ("", "i")
    expected = torch.stack([_expected_input_gate(w, x, h, suffix) for w, x, h in zip(weights, xs, states)])
    torch.testing.assert_close(trace[name], expected, rtol=0, atol=1e-6)


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


def test_long_loops_are_recomputed_in_batches_of_bounded_size(monkeypatch):
    lstm = nn.GRU(3, 4, num_layers=2)
    xs = torch.randn(7, 1, 2, 3)

    def record():
        with explain.record(lstm) as trace:
            state = None
            for x in xs:
                _, state = lstm(x, state)
        return trace

    whole = record()
    monkeypatch.setattr(recurrent, "BATCH_CALLS", 3)
    in_batches = record()
    assert whole.names() == in_batches.names()
    for name in whole.names():
        torch.testing.assert_close(in_batches[name], whole[name], rtol=0, atol=1e-6)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell"])
def test_a_cell_gets_whatever_state_the_caller_hands_it_at_each_call(kind, seed):
    """Random loops: the state handed on, none, a fresh one, the returned one changed in place, or
    (LSTM) the returned h with another c; every recorded gate follows from the state that call got."""
    generator = torch.Generator().manual_seed(seed)
    cell = getattr(nn, kind)(3, 4)
    lstm = kind == "LSTMCell"
    batch = 1 + seed % 3
    xs = torch.randn(12, batch, 3, generator=generator)
    given_h, returned_h = [], []
    with explain.record(cell) as trace:
        state = None
        for x in xs:
            choice = int(torch.randint(0, 5, (1,), generator=generator))
            if choice == 1 or state is None:
                state = None
            elif choice == 2:
                state = tuple(torch.randn(batch, 4, generator=generator) for _ in range(2)) if lstm else torch.randn(batch, 4, generator=generator)
            elif choice == 3:
                with torch.no_grad():
                    (state[0] if lstm else state).mul_(0.5)  # in place: the version changes
            elif choice == 4 and lstm:
                state = (state[0], torch.randn(batch, 4, generator=generator))
            h_in = None if state is None else (state[0] if lstm else state)
            given_h.append(torch.zeros(batch, 4) if h_in is None else h_in.detach().clone())
            state = cell(x, state)
            returned_h.append((state[0] if lstm else state).detach().clone())
    assert torch.equal(trace["h"], torch.stack(returned_h))
    weights = dict(cell.named_parameters())
    gate = "i" if lstm else "r"
    pre = xs @ weights["weight_ih"].T + weights["bias_ih"] + torch.stack(given_h) @ weights["weight_hh"].T + weights["bias_hh"]
    torch.testing.assert_close(trace[gate], torch.sigmoid(pre[..., :4]).detach(), atol=1e-5, rtol=0)
