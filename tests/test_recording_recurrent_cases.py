"""Situations a recording must handle honestly: dropout in train mode, a name filter that leaves a
module out, two threads recording at once, nested recordings with gradients, batch 0 and T = 0.

    pytest tests/test_recording_recurrent_cases.py
"""

from __future__ import annotations

import functools
import io
import threading

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import explain
from explain.recording.api import RecordingError

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")


class WordModel(nn.Module):
    """pytorch/examples' word-language model: Embedding → 2-layer LSTM with dropout 0.5 → Linear."""

    def __init__(self, tokens=50, size=8, dropout=0.5):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(tokens, size)
        self.rnn = nn.LSTM(size, size, 2, dropout=dropout)
        self.decoder = nn.Linear(size, tokens)

    def forward(self, tokens, hidden=None):
        output, hidden = self.rnn(self.drop(self.encoder(tokens)), hidden)
        return self.decoder(self.drop(output)), hidden


def directions_of(module):
    return ("fwd", "bwd")[: 2 if module.bidirectional else 1]


# -- dropout in train mode ----------------------------------------------------------------------


@pytest.mark.parametrize("form", ["batched", "batch_first", "unbatched", "packed"])
@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU, nn.RNN])
def test_dropout_masks_reproduce_the_output_the_model_returned(kind, form):
    torch.manual_seed(0)
    module = kind(3, 4, num_layers=3, dropout=0.4, bidirectional=kind is nn.GRU, batch_first=form == "batch_first")
    x = torch.randn(6, 3, 3)
    if form == "packed":
        x = pack_padded_sequence(x, torch.tensor([6, 2, 4]), enforce_sorted=False)
    elif form == "unbatched":
        x = x[:, 0]
    torch.manual_seed(1)
    plain = module(x)
    plain_next = torch.rand(3)
    torch.manual_seed(1)
    trace = explain.record(module, x)
    recorded_next = torch.rand(3)
    first = lambda output: output[0].data if form == "packed" else output[0]  # noqa: E731
    assert torch.equal(first(trace.output), first(plain[0:1]))  # the same masks as the module drew
    assert torch.equal(recorded_next, plain_next)  # and the random stream is where it would be
    assert trace.meta["modules"][""]["dropout_reproduced"] is True
    for layer in range(module.num_layers - 1):
        masks = [trace[f"l{layer}.{d}.dropout"] for d in directions_of(module)]
        kept = torch.cat(masks).unique()
        assert set(kept.tolist()) <= {0.0, torch.tensor(1 / 0.6).item()} and (kept == 0).any()
        dropped = torch.cat([trace[f"l{layer}.{d}.h"] * mask for d, mask in zip(directions_of(module), masks)], -1)
        assert torch.equal(dropped, trace[f"l{layer + 1}.fwd.x"])  # what the next layer read
    assert not any(name.startswith(f"l{module.num_layers - 1}") and name.endswith("dropout") for name in trace)


def test_dropout_in_train_mode_trains_through_the_recorded_run():
    torch.manual_seed(2)
    model = WordModel().train()
    tokens = torch.randint(0, 50, (7, 2))
    torch.manual_seed(3)
    model(tokens)[0].square().sum().backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    torch.manual_seed(3)
    trace = explain.record(model, tokens)
    trace.output[0].square().sum().backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[name], rtol=1e-5, atol=1e-6, msg=name)
    assert trace["rnn.l0.fwd.dropout"].shape == (7, 2, 8) and trace.meta["modules"]["rnn"]["dropout_reproduced"]


def test_dropout_in_eval_mode_records_masks_of_ones_and_one_step_calls_too():
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5).eval()
    with explain.record(lstm) as trace:
        state = None
        for x in torch.randn(4, 1, 2, 3):
            _, state = lstm(x, state)
        lstm.train()
        lstm(torch.randn(3, 2, 3), state)
    assert trace["l0.fwd.dropout"].shape == trace["l0.fwd.h"].shape == (7, 2, 4)
    assert trace["l0.fwd.dropout"][:4].eq(1).all() and trace["l0.fwd.dropout"][4:].eq(0).any()
    assert torch.equal(trace["l0.fwd.h"] * trace["l0.fwd.dropout"], trace["l1.fwd.x"])


def test_dropout_with_grads_gives_the_gradients_of_the_run_the_model_continued_with():
    torch.manual_seed(4)
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5).double().train()
    x = torch.randn(5, 1, 3, dtype=torch.float64)
    trace = explain.record(lstm, x, grads=True)
    mask = torch.cat([trace["l0.fwd.dropout"]])
    # the same computation written plainly: layer 0, the recorded mask, layer 1
    first = nn.LSTM(3, 4).double()
    second = nn.LSTM(4, 4).double()
    for target, k in ((first, 0), (second, 1)):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(target, f"{name}_l0").data.copy_(getattr(lstm, f"{name}_l{k}"))
    h = torch.zeros(1, 1, 4, dtype=torch.float64, requires_grad=True)
    c, hs = torch.zeros_like(h), []
    for t in range(5):
        _, (h, c) = first(x[t : t + 1], (h, c))
        h.retain_grad()
        hs.append(h)
    top, _ = second(torch.cat(hs) * mask)
    top.sum().backward()
    expected = torch.cat([h.grad for h in hs])
    torch.testing.assert_close(trace["l0.fwd.grad_h"], expected, rtol=0, atol=1e-10)
    torch.testing.assert_close(trace.output[0], top, rtol=0, atol=1e-12)


def test_a_name_filter_that_leaves_the_lstm_out_records_the_word_model_in_train_mode():
    torch.manual_seed(5)
    model = WordModel().train()
    tokens = torch.randint(0, 50, (7, 2))
    trace = explain.record(model, tokens, names=["encoder", "decoder"])
    assert trace.names() == ["encoder", "decoder"]
    assert trace["decoder"].shape == (7, 2, 50)
    assert "rnn" not in trace.meta["modules"]  # not hooked at all


def test_the_word_model_in_train_mode_records_everything():
    torch.manual_seed(6)
    model = WordModel().train()
    trace = explain.record(model, torch.randint(0, 50, (7, 2)))
    assert {"encoder", "rnn.l0.fwd.dropout", "rnn.l1.fwd.h", "decoder"} <= set(trace.names())


# -- threads ------------------------------------------------------------------------------------


def run_in_threads(work, count=2):
    """Run ``work(index)`` in ``count`` threads started together; return results or exceptions."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def target(index):
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as error:  # noqa: BLE001  reported by the test
            results[index] = error

    threads = [threading.Thread(target=target, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_threads_recording_the_same_lstm_each_get_their_own_calls():
    lstm = nn.LSTM(3, 4, num_layers=2)
    inputs = [torch.randn(40, 1, 1, 3), torch.randn(40, 1, 1, 3) + 5]

    def work(index):
        outputs = []
        with explain.record(lstm) as trace:
            state = None
            for x in inputs[index]:
                out, state = lstm(x, state)
                outputs.append(out.detach())
        return trace, torch.cat(outputs)

    for index, result in enumerate(run_in_threads(work)):
        assert not isinstance(result, Exception), result
        trace, outputs = result
        assert trace["l1.fwd.h"].shape == (40, 1, 4)
        assert torch.equal(trace["l1.fwd.h"], outputs)
        assert torch.equal(trace["l0.fwd.x"], inputs[index].squeeze(1))
        assert trace.meta["modules"][""]["calls"] == 40


def test_two_threads_recording_the_same_cnn_each_get_their_own_calls():
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU())
    inputs = [torch.randn(20, 1, 1, 12, 12), torch.randn(20, 1, 1, 12, 12)]

    def work(index):
        with explain.record(cnn) as trace:
            outputs = [cnn(x).detach() for x in inputs[index]]
        return trace, torch.cat(outputs)

    for result in run_in_threads(work):
        assert not isinstance(result, Exception), result
        trace, outputs = result
        assert trace["3"].shape == (20, 4, 8, 8)
        assert torch.equal(trace["3"], outputs)


def test_calls_from_a_thread_that_does_not_record_are_not_in_the_trace():
    cell = nn.GRUCell(3, 4)
    started, release = threading.Event(), threading.Event()

    def other():
        started.wait()
        for _ in range(5):
            cell(torch.randn(2, 3))
        release.set()

    thread = threading.Thread(target=other)
    thread.start()
    with explain.record(cell) as trace:
        started.set()
        release.wait()
        cell(torch.randn(2, 3))
    thread.join()
    assert trace["h"].shape == (1, 2, 4)


def test_recordings_that_end_out_of_order_each_keep_their_own_calls():
    cell = nn.LSTMCell(3, 4)
    first, second = explain.record(cell), explain.record(cell)
    xs = torch.randn(3, 2, 3)
    both, alone = first.__enter__(), second.__enter__()
    state = cell(xs[0])
    first.__exit__(None, None, None)  # the first to open ends first (another thread could do this)
    state = cell(xs[1], state)
    state = cell(xs[2], state)
    second.__exit__(None, None, None)
    assert both["h"].shape == (1, 2, 4) and alone["h"].shape == (3, 2, 4)
    assert torch.equal(alone["h"][-1], state[0].detach())
    assert "forward" not in vars(cell)  # the module is left as it was found


def test_an_instance_forward_set_before_the_recording_is_kept():
    cell = nn.GRUCell(3, 4)
    calls = []
    plain_forward = cell.forward
    cell.forward = lambda *args: calls.append(1) or plain_forward(*args)
    with explain.record(cell) as trace:
        cell(torch.randn(2, 3))
    assert calls == [1] and trace["h"].shape == (1, 2, 4)
    cell(torch.randn(2, 3))
    assert calls == [1, 1]


def test_a_copy_made_during_a_recording_is_a_plain_module_that_is_not_recorded():
    import copy
    import inspect
    import io

    cell = nn.GRUCell(3, 4)
    with explain.record(cell) as trace:
        state = cell(torch.randn(2, 3))
        assert list(inspect.signature(cell.forward).parameters) == ["input", "hx"]  # code that inspects forward still can
        copied = copy.deepcopy(cell)
        saved = io.BytesIO()
        torch.save(cell, saved)
        saved.seek(0)
        loaded = torch.load(saved, weights_only=False)
        for other in (copied, loaded):
            assert torch.equal(other(torch.zeros(2, 3), state), nn.GRUCell.forward(cell, torch.zeros(2, 3), state))
        cell(torch.randn(2, 3), state)
    assert trace["h"].shape == (2, 2, 4)  # the copies' calls are not in it


def test_a_deep_copy_of_a_model_made_during_a_recording_runs_unrecorded():
    import copy

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Sequential(nn.Conv2d(2, 2, 3)))
    cell = nn.GRUCell(3, 4)
    cell.register_forward_hook(lambda module, args, output: None)  # the recorder gets hooks on it, which a copy carries
    with explain.record(model) as trace, explain.record(cell) as cells:
        model(torch.randn(1, 1, 8, 8))
        cell(torch.randn(2, 3))
        copied_model, copied_cell = copy.deepcopy(model), copy.deepcopy(cell)
        copied_model(torch.randn(1, 1, 8, 8))
        copied_cell(torch.randn(2, 3))
    assert trace["0"].shape == (1, 2, 6, 6) and cells["h"].shape == (1, 2, 4)  # the copies' calls are in neither


def test_a_model_saved_or_copied_during_a_recording_loads_without_explain_and_lets_the_trace_go(tmp_path):
    import copy
    import gc
    import subprocess
    import sys
    import weakref

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.GRUCell(3, 4))
    model[2].register_forward_hook(lambda module, args, output: None)  # the cell gets hooks, not a tap
    with explain.record(model) as trace:
        model[0](torch.randn(1, 1, 5, 5))
        model[2](torch.randn(2, 3))
        torch.save(model[:2], tmp_path / "model.pt")  # a checkpoint, with the recorder's hooks on
        copied, shallow = copy.deepcopy(model), copy.copy(model[0])
        shallow(torch.randn(1, 1, 5, 5))  # shares the conv's hooks: ignored, it is not the model's conv
    assert trace["0"].shape == (1, 2, 3, 3)
    finished = weakref.ref(trace)
    del trace
    gc.collect()
    assert finished() is None  # the copy's hooks do not keep the recording alive
    assert copied[2](torch.randn(2, 3)).shape == (2, 4) and copied[0](torch.randn(1, 1, 5, 5)).shape == (1, 2, 3, 3)
    load = (
        "import sys, torch; sys.modules['explain'] = None; "  # importing explain would fail
        f"m = torch.load({str(tmp_path / 'model.pt')!r}, weights_only=False); "
        "print(m(torch.ones(1, 1, 5, 5)).shape)"
    )
    loaded = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "torch.Size([1, 2, 3, 3])"


def test_a_forward_wrapped_or_replaced_during_a_recording_leaves_the_finished_trace_alone():
    cell = nn.GRUCell(3, 4)
    with explain.record(cell) as wrapped:
        state = cell(torch.randn(2, 3))
        inner = cell.forward
        cell.forward = lambda *args: inner(*args)  # a library patching forward: still goes through the tap
        state = cell(torch.randn(2, 3), state)
    for _ in range(3):
        cell(torch.randn(2, 3), state)
    assert wrapped["h"].shape == (2, 2, 4)  # the calls after the recording are not in it
    assert any("forward was replaced during the recording" in note for note in wrapped.meta["unseen"])  # (it cannot tell)
    cell = nn.GRUCell(3, 4)
    with explain.record(cell) as replaced:
        cell(torch.randn(2, 3))
        cell.forward = functools.partial(nn.GRUCell.forward, cell)  # around the tap: not seen, and said
        cell(torch.randn(2, 3))
    assert replaced["h"].shape == (1, 2, 4)
    assert any("forward was replaced during the recording" in note for note in replaced.meta["unseen"])


def test_unbatched_and_batched_calls_of_one_cell_share_a_loop():
    cell = nn.GRUCell(3, 4)
    with explain.record(cell) as trace:
        h = cell(torch.randn(3))
        h = cell(torch.randn(1, 3), h.unsqueeze(0))
        h = cell(torch.randn(3), h[0])
    assert trace["h"].shape == (3, 1, 4) and torch.equal(trace["h"][-1, 0], h.detach())


def test_a_loop_under_inference_mode_is_recorded():
    cell = nn.LSTMCell(3, 4)
    with torch.inference_mode(), explain.record(cell) as trace:
        state = None
        for x in torch.randn(4, 2, 3):
            state = cell(x, state)
    assert trace["c"].shape == (4, 2, 4) and torch.equal(trace["h"][-1], state[0])


def test_a_module_saved_during_a_recording_does_not_need_explain_to_load():
    cell = nn.RNNCell(3, 4)
    with explain.record(cell):
        cell(torch.randn(2, 3))
        saved = io.BytesIO()
        torch.save(cell, saved)
    assert b"explain" not in saved.getvalue()


def test_a_hook_that_changes_the_output_of_a_one_step_call_is_caught():
    cell = nn.LSTMCell(3, 4)
    cell.register_forward_hook(lambda module, args, output: (output[0] + 0.01, output[1]))
    with pytest.raises(RecordingError, match=r"h \(one-step calls 1–2 .*\): the recomputation differs .* by 0\.01"):
        with explain.record(cell):
            state = cell(torch.randn(2, 3))
            cell(torch.randn(2, 3), state)


def test_an_enclosing_recording_does_not_take_the_recorders_own_work_for_the_models():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.cell = nn.Linear(3, 3), nn.GRUCell(3, 4)

        def forward(self, x, h=None):
            return self.cell(torch.relu(self.lin(x)), h)

    model = Model()
    with explain.record(model) as outer:
        with explain.record(model.cell) as inner:  # its recorder gets hooks: the outer recording put its own on the cell
            h = model(torch.randn(2, 3))
            model(torch.randn(2, 3), h)
    assert outer.names() == ["lin", ":relu", "cell.x", "cell.r", "cell.z", "cell.n", "cell.h"]
    assert list(outer.meta["functions"]) == [":relu"] and inner["h"].shape == (2, 2, 4)


def test_a_recording_cannot_be_opened_twice_at_once():
    recording = explain.record(nn.RNN(2, 3))
    with recording:
        with pytest.raises(RecordingError, match="already open"):
            recording.__enter__()


# -- nested recordings --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "LSTMCell", "dropout"])
def test_nested_recordings_with_grads_each_get_the_gradients_of_a_single_recording(kind):
    torch.manual_seed(7)
    if kind == "LSTMCell":
        module = nn.LSTMCell(3, 4).double()
    elif kind == "dropout":
        module = nn.LSTM(3, 4, num_layers=2, dropout=0.3).double().train()
    else:
        module = getattr(nn, kind)(3, 4, num_layers=2).double()
    xs = torch.randn(5, 2, 3, dtype=torch.float64)
    loss = lambda output: (output[0] if isinstance(output, tuple) else output).square().sum()  # noqa: E731

    def run():
        if kind == "LSTMCell":
            state, outputs = None, []
            for x in xs:
                state = module(x, state)
                outputs.append(state[0])
            return torch.stack(outputs)
        return module(xs)

    torch.manual_seed(8)
    with explain.record(module, grads=True, loss=loss) as single:
        single.output = run()
    torch.manual_seed(8)
    with explain.record(module, grads=True, loss=loss) as outer:
        with explain.record(module, grads=True, loss=loss) as inner:
            inner.output = run()
        outer.output = inner.output
    names = single.names("*grad_h")
    assert names
    for name in names:
        torch.testing.assert_close(inner[name], single[name], rtol=0, atol=1e-12, msg=name)
        torch.testing.assert_close(outer[name], single[name], rtol=0, atol=1e-12, msg=name)
    for name in single.names():
        torch.testing.assert_close(outer[name], single[name], rtol=0, atol=0, msg=name)


def test_an_inner_recording_of_a_submodule_with_its_own_filter():
    torch.manual_seed(9)
    model = WordModel().eval()
    tokens = torch.randint(0, 50, (6, 2))
    with explain.record(model, grads=True) as outer:
        with explain.record(model.rnn, grads=True, names="l1.*") as inner:
            outer.output = model(tokens)
            inner.output = outer.output[0]
    single = explain.record(model, tokens, grads=True)
    torch.testing.assert_close(outer["rnn.l1.fwd.grad_h"], single["rnn.l1.fwd.grad_h"], rtol=0, atol=1e-6)
    torch.testing.assert_close(inner["l1.fwd.grad_h"], single["rnn.l1.fwd.grad_h"], rtol=0, atol=1e-6)
    assert inner.names() == [f"l1.fwd.{q}" for q in "xifgoch"] + ["l1.fwd.grad_h"]


# -- batch 0 and T = 0 --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU, nn.RNN])
@pytest.mark.parametrize("batch_first", [False, True])
def test_batch_zero_records_empty_steps_as_pytorch_runs_it(kind, batch_first):
    module = kind(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = torch.zeros(0, 5, 3) if batch_first else torch.zeros(5, 0, 3)
    expected = module(x)
    trace = explain.record(module, x, grads=True, loss=lambda output: output[0].sum())
    assert torch.equal(trace.output[0], expected[0])
    assert trace["l1.bwd.h"].shape == (5, 0, 4) and trace["l1.fwd.x"].shape == (5, 0, 8)
    assert trace["l0.fwd.grad_h"].shape == (5, 0, 4)
    with explain.record(module) as steps:
        for x_t in (torch.zeros(1, 0, 3),) * 3:
            module(x_t.transpose(0, 1) if batch_first else x_t)
    assert steps["l1.fwd.h"].shape == (3, 0, 4)


@pytest.mark.parametrize("kind", [nn.LSTMCell, nn.GRUCell, nn.RNNCell])
def test_cells_with_batch_zero(kind):
    cell = kind(3, 4)
    with explain.record(cell, grads=True) as trace:
        state = None
        for _ in range(2):
            state = cell(torch.zeros(0, 3), state)
        trace.output = (state[0] if isinstance(state, tuple) else state).sum() + sum(p.sum() for p in cell.parameters())
    assert trace["h"].shape == (2, 0, 4) and trace["x"].shape == (2, 0, 3) and trace["grad_h"].shape == (2, 0, 4)


@pytest.mark.parametrize("x", [torch.zeros(0, 2, 3), torch.zeros(0, 3)], ids=["batched", "unbatched"])
def test_zero_steps_raise_pytorchs_own_error(x):
    lstm = nn.LSTM(3, 4)
    with pytest.raises(RuntimeError) as plain:
        lstm(x)
    with pytest.raises(RuntimeError) as recorded:
        explain.record(lstm, x)
    assert str(recorded.value) == str(plain.value)
    assert not isinstance(recorded.value, RecordingError)
