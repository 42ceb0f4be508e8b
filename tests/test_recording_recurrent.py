"""The recurrent recording against PyTorch's modules and a plain per-step reference written here.

    pytest tests/test_recording_recurrent.py
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import explain

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")

MODULES = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN_TANH": nn.RNN, "RNN_RELU": nn.RNN}
CELLS = {"LSTM": nn.LSTMCell, "GRU": nn.GRUCell, "RNN_TANH": nn.RNNCell, "RNN_RELU": nn.RNNCell}


# -- an independent reference: one step at a time, one sequence at a time, in float64 -------------


def reference_step(mode: str, w: dict, x, h, c):
    """One step of PyTorch's equations (shared/BOOK.md §1) for 1-D x, h, c; returns a dict."""
    def affine(weight, bias, v):
        return weight @ v + (bias if bias is not None else 0)

    a = affine(w["ih"], w["b_ih"], x)
    b = affine(w["hh"], w["b_hh"], h)
    if mode == "LSTM":
        H = w["hh"].shape[0] // 4
        i, f, g, o = (a[k * H : (k + 1) * H] + b[k * H : (k + 1) * H] for k in range(4))
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        if w["hr"] is not None:
            h = w["hr"] @ h
        return {"i": i, "f": f, "g": g, "o": o, "c": c, "h": h}
    if mode == "GRU":
        H = w["hh"].shape[0] // 3
        r = torch.sigmoid(a[:H] + b[:H])
        z = torch.sigmoid(a[H : 2 * H] + b[H : 2 * H])
        n = torch.tanh(a[2 * H :] + r * b[2 * H :])
        return {"r": r, "z": z, "n": n, "h": (1 - z) * n + z * h}
    pre = a + b
    return {"h": torch.tanh(pre) if mode == "RNN_TANH" else torch.relu(pre)}


def weights_of(module, suffix: str) -> dict:
    get = lambda name: None if getattr(module, name + suffix, None) is None else getattr(module, name + suffix).detach().double()  # noqa: E731
    return {"ih": get("weight_ih"), "hh": get("weight_hh"), "b_ih": get("bias_ih"), "b_hh": get("bias_hh"), "hr": get("weight_hr")}


def reference_layers(module, mode, x, h0, c0, lengths, steps_out: dict | None = None) -> dict[str, torch.Tensor]:
    """Every recorded quantity, computed plainly: x [T, B, in] time first; padded steps stay 0.

    With ``steps_out``, every step's h is kept there under (layer, direction, t, b), retaining its
    gradient (the initial states become leaves that require grad)."""
    T, B = x.shape[:2]
    D = 2 if module.bidirectional else 1
    names = {"LSTM": "xifgoch", "GRU": "xrznh"}.get(mode, "xh")
    result = {}
    layer_input = x.double()
    for k in range(module.num_layers):
        outputs = []
        for d in range(D):
            w = weights_of(module, f"_l{k}" + ("_reverse" if d else ""))
            seq = {q: None for q in names}
            per_b = []
            for b in range(B):
                steps = range(lengths[b]) if d == 0 else reversed(range(lengths[b]))
                h, c = h0[k * D + d, b].double(), None if c0 is None else c0[k * D + d, b].double()
                if steps_out is not None:
                    h = h.detach().requires_grad_(True)
                values = {}
                for t in steps:
                    out = reference_step(mode, w, layer_input[t, b], h, c)
                    h, c = out["h"], out.get("c")
                    values[t] = out
                    if steps_out is not None:
                        h.retain_grad()
                        steps_out[k, d, t, b] = h
                per_b.append(values)
            for q in names:
                if q == "x":
                    seq[q] = layer_input
                    continue
                tensor = torch.zeros(T, B, _size(module, q), dtype=torch.float64)
                for b, values in enumerate(per_b):
                    for t, out in values.items():
                        tensor[t, b] = out[q]
                seq[q] = tensor
            for q in names:
                result[f"l{k}.{'bwd' if d else 'fwd'}.{q}"] = seq[q]
            outputs.append(seq["h"])
        layer_input = torch.cat(outputs, dim=-1)
    return result


def _size(module, quantity):
    return module.proj_size if quantity == "h" and getattr(module, "proj_size", 0) else module.hidden_size


# -- configurations -----------------------------------------------------------------------------


@st.composite
def layered_configs(draw):
    mode = draw(st.sampled_from(list(MODULES)))
    hidden = draw(st.integers(1, 5))
    config = {
        "mode": mode,
        "input_size": draw(st.integers(1, 5)),
        "hidden_size": hidden,
        "num_layers": draw(st.integers(1, 3)),
        "bidirectional": draw(st.booleans()),
        "batch_first": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "proj_size": draw(st.integers(0, hidden - 1)) if mode == "LSTM" and hidden > 1 else 0,
        "dtype": draw(st.sampled_from([torch.float32, torch.float64])),
        "steps": draw(st.integers(1, 6)),
        "batch": draw(st.integers(1, 4)),
        "with_hx": draw(st.booleans()),
        "form": draw(st.sampled_from(["batched", "unbatched", "packed_sorted", "packed_unsorted"])),
        "seed": draw(st.integers(0, 2**16)),
    }
    return config


def build(config):
    torch.manual_seed(config["seed"])
    kwargs = dict(
        input_size=config["input_size"], hidden_size=config["hidden_size"], num_layers=config["num_layers"],
        bidirectional=config["bidirectional"], batch_first=config["batch_first"], bias=config["bias"],
    )
    if config["mode"] == "LSTM":
        kwargs["proj_size"] = config["proj_size"]
    if config["mode"].startswith("RNN"):
        kwargs["nonlinearity"] = config["mode"][4:].lower()
    module = MODULES[config["mode"]](**kwargs).to(config["dtype"]).eval()
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(2)  # larger weights: saturated gates and larger cells are tested too
    return module


def make_inputs(module, config):
    """(args for the module, x time first [T, B, in], h0, c0, lengths) for a configuration."""
    T, B, form = config["steps"], config["batch"], config["form"]
    if form == "unbatched":
        B = 1
    dtype = config["dtype"]
    D = 2 if module.bidirectional else 1
    h_out = module.proj_size or module.hidden_size if config["mode"] == "LSTM" else module.hidden_size
    x = torch.randn(T, B, module.input_size, dtype=dtype)
    h0 = torch.randn(module.num_layers * D, B, h_out, dtype=dtype) if config["with_hx"] else None
    c0 = None
    if config["mode"] == "LSTM" and config["with_hx"]:
        c0 = torch.randn(module.num_layers * D, B, module.hidden_size, dtype=dtype)
    lengths = [T] * B
    if form.startswith("packed"):
        lengths = [torch.randint(1, T + 1, ()).item() for _ in range(B)]
        lengths[torch.randint(0, B, ()).item()] = T
        if form == "packed_sorted":
            lengths.sort(reverse=True)
        for b, n in enumerate(lengths):
            x[n:, b] = 0
        data = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=form == "packed_sorted")
    elif form == "unbatched":
        data = x[:, 0]
    else:
        data = x.transpose(0, 1) if module.batch_first else x
    hx = None
    if h0 is not None:
        hx = (h0, c0) if c0 is not None else h0
        if form == "unbatched":
            hx = tuple(t[:, 0] for t in hx) if c0 is not None else h0[:, 0]
    args = (data,) if hx is None else (data, hx)
    zeros = lambda size: torch.zeros(module.num_layers * D, B, size, dtype=dtype)  # noqa: E731
    return args, x, h0 if h0 is not None else zeros(h_out), c0 if c0 is not None else zeros(module.hidden_size), lengths


def assert_close(actual, expected, dtype, what):
    tol = 1e-4 if dtype == torch.float32 else 1e-9
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    deviation = (actual.double() - expected.double()).abs().max().item() if actual.numel() else 0.0
    assert deviation <= tol * max(1.0, expected.abs().max().item() if expected.numel() else 0), f"{what}: {deviation}"


# -- the property tests --------------------------------------------------------------------------


@given(layered_configs())
def test_layers_match_plain_reference_and_module(config):
    module = build(config)
    args, x, h0, c0, lengths = make_inputs(module, config)
    trace = explain.record(module, *args)
    expected = reference_layers(module, config["mode"], x, h0, c0 if config["mode"] == "LSTM" else None, lengths)
    recorded = [n for n in trace.names() if not n.startswith("@")]
    assert set(recorded) - {"valid"} == set(expected)
    for name, tensor in expected.items():
        assert trace[name].dtype == config["dtype"]
        assert_close(trace[name], tensor, config["dtype"], name)
    output = trace.output[0]
    if config["form"].startswith("packed"):
        valid = trace["valid"]
        assert valid.dtype == torch.bool and valid.sum(0).tolist() == lengths
    last = module.num_layers - 1
    h_out = trace[f"l{last}.fwd.h"].shape[-1]
    if not config["form"].startswith("packed"):
        output = output.unsqueeze(1) if config["form"] == "unbatched" else output
        output = output.transpose(0, 1) if module.batch_first and config["form"] == "batched" else output
        assert torch.equal(trace[f"l{last}.fwd.h"], output[..., :h_out])


def previous_steps(sequence, start, reverse, lengths):
    """The state each step started from, walked plainly: start at the first real step of the direction."""
    previous = torch.zeros_like(sequence)
    for b, length in enumerate(lengths):
        state = start[b]
        for t in (reversed(range(length)) if reverse else range(length)):
            previous[t, b] = state
            state = sequence[t, b]
    return previous


@given(layered_configs())
def test_recorded_quantities_obey_the_equations(config):
    module = build(config)
    args, _, h0, c0, lengths = make_inputs(module, config)
    trace = explain.record(module, *args)
    tol = 1e-5 if config["dtype"] == torch.float32 else 1e-12
    D = 2 if module.bidirectional else 1
    for k in range(module.num_layers):
        for d, direction in enumerate(("fwd", "bwd")[:D]):
            q = lambda name: trace[f"l{k}.{direction}.{name}"]  # noqa: E731
            start = lambda states: states[k * D + d]  # noqa: E731
            if config["mode"] == "LSTM":
                i, f, g, o, c, h = (q(n) for n in "ifgoch")
                c_prev = previous_steps(c, start(c0), d == 1, lengths)
                assert torch.allclose(f * c_prev + i * g, c, atol=tol * 10 * max(1, c.abs().max()))
                h_from_c = o * torch.tanh(c)
                if module.proj_size:
                    h_from_c = h_from_c @ getattr(module, f"weight_hr_l{k}" + ("_reverse" if d else "")).detach().t()
                assert torch.allclose(h_from_c, h, atol=tol * 10)
                assert all(gate.min() >= 0 and gate.max() <= 1 for gate in (i, f, o))
                assert g.min() >= -1 and g.max() <= 1
            elif config["mode"] == "GRU":
                r, z, n, h = (q(name) for name in "rznh")
                valid = trace["valid"].unsqueeze(-1) if "valid" in trace else torch.ones(1, dtype=torch.bool)
                h_prev = previous_steps(h, start(h0), d == 1, lengths)
                assert torch.allclose(((1 - z) * n + z * h_prev) * valid, h, atol=tol * 10)
            elif config["mode"] == "RNN_RELU":
                assert q("h").min() >= 0


@st.composite
def cell_configs(draw):
    return {
        "mode": draw(st.sampled_from(list(CELLS))),
        "input_size": draw(st.integers(1, 5)),
        "hidden_size": draw(st.integers(1, 5)),
        "bias": draw(st.booleans()),
        "dtype": draw(st.sampled_from([torch.float32, torch.float64])),
        "batch": draw(st.sampled_from([None, 1, 3])),
        "calls": draw(st.integers(1, 4)),
        "with_hx": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**16)),
    }


@given(cell_configs())
def test_cells_match_plain_reference_one_step_per_call(config):
    torch.manual_seed(config["seed"])
    mode, dtype = config["mode"], config["dtype"]
    kwargs = {"nonlinearity": mode[4:].lower()} if mode.startswith("RNN") else {}
    cell = CELLS[mode](config["input_size"], config["hidden_size"], bias=config["bias"], **kwargs).to(dtype)
    shape = () if config["batch"] is None else (config["batch"],)
    xs = torch.randn(config["calls"], *shape, config["input_size"], dtype=dtype)
    state = None
    if config["with_hx"]:
        state = torch.randn(*shape, config["hidden_size"], dtype=dtype)
        state = (state, torch.randn_like(state)) if mode == "LSTM" else state
    expected: dict[str, list] = {}
    w = {
        "ih": cell.weight_ih.detach().double(), "hh": cell.weight_hh.detach().double(),
        "b_ih": None if cell.bias_ih is None else cell.bias_ih.detach().double(),
        "b_hh": None if cell.bias_hh is None else cell.bias_hh.detach().double(), "hr": None,
    }
    with explain.record(cell) as trace:
        for x in xs:
            batch = x.reshape(-1, config["input_size"]).double()
            zero = torch.zeros(batch.shape[0], config["hidden_size"], dtype=torch.float64)
            if state is None:
                h, c = zero, zero
            else:
                h = (state[0] if mode == "LSTM" else state).reshape(zero.shape).double()
                c = state[1].reshape(zero.shape).double() if mode == "LSTM" else None
            steps = [reference_step(mode, w, batch[b], h[b], None if c is None else c[b]) for b in range(len(batch))]
            for name in steps[0]:
                expected.setdefault(name, []).append(torch.stack([s[name] for s in steps]))
            expected.setdefault("x", []).append(batch)
            state = cell(x, state)
    B = 1 if config["batch"] is None else config["batch"]
    for name, values in expected.items():
        assert trace[name].shape == (config["calls"], B, values[0].shape[-1])
        assert_close(trace[name], torch.stack(values), dtype, name)
    assert trace.meta["modules"][""]["calls"] == config["calls"]


# -- models, repeated calls, options -------------------------------------------------------------


class CharModel(nn.Module):
    """Embedding → LSTM → Linear, the shape of the book's char-RNN."""

    def __init__(self, vocabulary=20, embedding=6, hidden=5):
        super().__init__()
        self.embed = nn.Embedding(vocabulary, embedding)
        self.lstm = nn.LSTM(embedding, hidden, num_layers=2, batch_first=True)
        self.decode = nn.Linear(hidden, vocabulary)

    def forward(self, tokens, state=None):
        out, state = self.lstm(self.embed(tokens), state)
        return self.decode(out), state


def test_model_names_are_prefixed_and_other_modules_still_recorded():
    torch.manual_seed(0)
    model = CharModel().eval()
    tokens = torch.randint(0, 20, (3, 7))
    trace = explain.record(model, tokens)
    assert trace["lstm.l1.fwd.h"].shape == (7, 3, 5)
    assert trace["lstm.l0.fwd.x"].shape == (7, 3, 6)
    assert torch.equal(trace["lstm.l0.fwd.x"], model.embed(tokens).detach().transpose(0, 1))
    assert "embed" in trace and "decode" in trace
    assert not any(name == "lstm" for name in trace.names())  # the LSTM is owned by the recurrent recorder
    assert trace.meta["modules"]["lstm"]["num_layers"] == 2


def test_book_lstm_called_one_step_at_a_time_gives_69_steps():
    torch.manual_seed(1)
    lstm = nn.LSTM(35, 35, num_layers=3)
    sequence = torch.eye(35)[torch.randint(0, 35, (69,))]
    state = (torch.zeros(3, 1, 35), torch.zeros(3, 1, 35))
    outputs = []
    with explain.record(lstm) as trace:
        for x_t in sequence:
            out, state = lstm(x_t.view(1, 1, 35), state)
            outputs.append(out)
    assert trace["l2.fwd.f"].shape == (69, 1, 35)
    assert torch.allclose(trace["l2.fwd.h"], torch.cat(outputs).detach())
    full, _ = lstm(sequence.unsqueeze(1))
    whole = explain.record(lstm, sequence.unsqueeze(1))
    for name in ("l0.fwd.c", "l1.fwd.i", "l2.fwd.h"):
        assert torch.allclose(trace[name], whole[name], atol=1e-6), name
    assert trace.meta["modules"][""]["calls"] == 69 and trace.meta["modules"][""]["steps"] == 69


def test_root_module_names_have_no_leading_dot():
    trace = explain.record(nn.RNN(2, 3), torch.randn(4, 1, 2))
    assert trace.names("l0*") == ["l0.fwd.x", "l0.fwd.h"]


def test_name_filter_records_only_what_is_asked():
    model = CharModel().eval()
    trace = explain.record(model, torch.randint(0, 20, (2, 4)), names="lstm.l1.*.f")
    assert [name for name in trace.names() if not name.startswith("@")] == ["lstm.l1.fwd.f"]


def test_packed_then_unpacked_calls_mark_every_step():
    lstm = nn.GRU(2, 3)
    with explain.record(lstm) as trace:
        lstm(torch.randn(2, 2, 2))
        lstm(pack_padded_sequence(torch.randn(3, 2, 2), torch.tensor([3, 1])))
    assert trace["valid"].tolist() == [[True, True], [True, True], [True, True], [True, False], [True, False]]
    assert trace["l0.fwd.z"][3:, 1].abs().max() == 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_records_with_looser_tolerance(dtype):
    torch.manual_seed(2)
    lstm = nn.LSTM(4, 6, num_layers=2).to(dtype)
    trace = explain.record(lstm, torch.randn(9, 2, 4, dtype=dtype))
    assert trace["l1.fwd.c"].dtype == dtype
    reference = explain.record(lstm.double(), trace["l0.fwd.x"].double())
    assert (trace["l1.fwd.g"].double() - reference["l1.fwd.g"]).abs().max() < 0.1


@pytest.mark.slow
def test_ten_thousand_steps():
    torch.manual_seed(3)
    lstm = nn.LSTM(8, 16)
    trace = explain.record(lstm, torch.randn(10_000, 2, 8))
    assert trace["l0.fwd.c"].shape == (10_000, 2, 16)
    assert math.isfinite(trace["l0.fwd.c"].abs().max().item())


# -- gradients through time ----------------------------------------------------------------------


def reference_grads(module, mode, x, loss_of_output):
    """dL/dh_t by plain autograd over a per-step loop (batch of one, unidirectional), retain_grad."""
    layers = []
    layer_input = [row.double() for row in x[:, 0]]
    for k in range(module.num_layers):
        w = weights_of(module, f"_l{k}")
        h = torch.zeros(module.hidden_size, dtype=torch.float64, requires_grad=True)
        c = torch.zeros(module.hidden_size, dtype=torch.float64)
        hs = []
        for x_t in layer_input:
            out = reference_step(mode, w, x_t, h, c if mode == "LSTM" else None)
            h, c = out["h"], out.get("c")
            h.retain_grad()
            hs.append(h)
        layers.append(hs)
        layer_input = hs
    loss_of_output(torch.stack(layers[-1])).backward()
    return [torch.stack([h.grad for h in hs]).unsqueeze(1) for hs in layers]


@pytest.mark.parametrize("mode", list(MODULES))
def test_grads_are_total_derivatives_through_time(mode):
    torch.manual_seed(4)
    kwargs = {"nonlinearity": mode[4:].lower()} if mode.startswith("RNN") else {}
    module = MODULES[mode](3, 4, num_layers=2, **kwargs).double()
    x = torch.randn(7, 1, 3, dtype=torch.float64)
    loss = lambda output: (output[0] ** 2).sum()  # noqa: E731
    trace = explain.record(module, x, grads=True, loss=loss)
    expected = reference_grads(module, mode, x, lambda out: (out**2).sum())
    for k, grads in enumerate(expected):
        assert torch.allclose(trace[f"l{k}.fwd.grad_h"], grads, atol=1e-10), k
    plain = trace.output[0]
    assert torch.equal(plain.detach(), module(x)[0].detach())


@settings(max_examples=25)
@given(layered_configs())
def test_grads_match_plain_autograd_for_every_option(config):
    config = {**config, "dtype": torch.float64}
    module = build(config)
    args, x, h0, c0, lengths = make_inputs(module, config)
    square_sum = lambda output: (first_tensor(output) ** 2).sum()  # noqa: E731  padding adds nothing
    trace = explain.record(module, *args, grads=True, loss=square_sum)
    steps: dict = {}
    expected = reference_layers(module, config["mode"], x, h0, c0 if config["mode"] == "LSTM" else None, lengths, steps)
    last = module.num_layers - 1
    D = 2 if module.bidirectional else 1
    torch.cat([expected[f"l{last}.{d}.h"] for d in ("fwd", "bwd")[:D]], dim=-1).pow(2).sum().backward()
    for (k, d, t, b), h in steps.items():
        recorded = trace[f"l{k}.{('fwd', 'bwd')[d]}.grad_h"][t, b]
        assert torch.allclose(recorded, h.grad, atol=1e-9), (k, d, t, b)
    for name in trace.names("*grad_h"):
        assert trace[name].shape == trace[name.replace("grad_h", "h")].shape


def first_tensor(output):
    output = output[0] if isinstance(output, tuple) else output
    return output.data if isinstance(output, torch.nn.utils.rnn.PackedSequence) else output


def test_grads_leave_the_callers_backward_intact():
    torch.manual_seed(5)
    model = CharModel().double()
    tokens = torch.randint(0, 20, (2, 6))
    model(tokens)[0].sum().backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    trace = explain.record(model, tokens, grads=True)
    trace.output[0].sum().backward()
    for name, p in model.named_parameters():
        assert torch.allclose(p.grad, expected[name], atol=1e-10), name
    assert trace["lstm.l1.fwd.grad_h"].shape == (6, 2, 5)
    assert trace["lstm.l0.fwd.grad_h"].abs().sum() > 0


def test_grads_across_one_step_calls_equal_the_whole_sequence():
    torch.manual_seed(6)
    lstm = nn.LSTM(4, 3, num_layers=2).double()
    xs = torch.randn(8, 1, 1, 4, dtype=torch.float64)
    whole = explain.record(lstm, xs.view(8, 1, 4), grads=True)
    with explain.record(lstm, grads=True) as trace:
        state, outputs = None, []
        for x_t in xs:
            out, state = lstm(x_t, state)
            outputs.append(out)
        trace.output = torch.cat(outputs)
    for name in ("l0.fwd.grad_h", "l1.fwd.grad_h"):
        assert torch.allclose(trace[name], whole[name], atol=1e-10), name


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_grads_with_packed_bidirectional_input_and_cells(mode):
    torch.manual_seed(7)
    module = MODULES[mode](2, 3, bidirectional=True).double()
    x = torch.randn(5, 3, 2, dtype=torch.float64)
    packed = pack_padded_sequence(x, torch.tensor([2, 5, 3]), enforce_sorted=False)
    trace = explain.record(module, packed, grads=True)
    grads = trace["l0.bwd.grad_h"]
    assert grads[2:, 0].abs().max() == 0 and grads[1, 0].abs().max() > 0
    cell = CELLS[mode](2, 3).double()
    cell_trace = explain.record(cell, x[0], grads=True)
    assert cell_trace["grad_h"].shape == (1, 3, 3)
    assert torch.allclose(cell_trace["grad_h"], torch.ones(1, 3, 3, dtype=torch.float64))


def test_keyword_arguments_and_a_filter_on_the_top_layer_only():
    torch.manual_seed(8)
    lstm = nn.LSTM(3, 4, num_layers=3)
    x, state = torch.randn(5, 2, 3), (torch.randn(3, 2, 4), torch.randn(3, 2, 4))
    everything = explain.record(lstm, x, state)
    top = explain.record(lstm, input=x, hx=state, names="l2.*")
    assert top.names("l*") == [f"l2.fwd.{q}" for q in "xifgoch"]
    for name in top.names("l*"):
        assert torch.equal(top[name], everything[name]), name
