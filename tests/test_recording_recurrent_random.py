"""Over a thousand random recurrent configurations per run, checked against PyTorch's equations.

    pytest tests/test_recording_recurrent_random.py                            # today's seed
    EXPLAIN_TEST_SEED=20261202 pytest tests/test_recording_recurrent_random.py  # a given seed

The seed is the date (YYYYMMDD, UTC) unless ``EXPLAIN_TEST_SEED`` is set, so every day's CI run
draws other configurations and any failure reproduces: its message names the seed, the family and
the configuration's index (``EXPLAIN_TEST_ONLY=<index>`` runs that one alone). Sizes are small.
Every eighth configuration runs PyTorch's oneDNN kernels (its default on this CPU), the others
its native ones: oneDNN prepares a kernel for every new shape (~20 ms), which would make the
thousand shapes take minutes; the other recurrent tests run oneDNN throughout.

Every configuration checks, in float64 and independently of explain's code: each recorded step
obeys PyTorch's equations (BOOK.md §1) given the recorded input and the recorded previous state
(teacher forcing, so half precision can be checked too); each layer reads the layer below (times
its recorded dropout mask); the last layer's h is what the module returned; the final recorded
states are the module's h_n (and c_n); with dropout in train mode, the module's output is what it
returns unrecorded from the same random state.
"""

from __future__ import annotations

import datetime
import os
import random

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import explain

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")

SEED = int(os.environ.get("EXPLAIN_TEST_SEED") or datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d"))
ONLY = os.environ.get("EXPLAIN_TEST_ONLY")

MODES = ("LSTM", "GRU", "RNN_TANH", "RNN_RELU")
LAYERED = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN_TANH": nn.RNN, "RNN_RELU": nn.RNN}
CELLS = {"LSTM": nn.LSTMCell, "GRU": nn.GRUCell, "RNN_TANH": nn.RNNCell, "RNN_RELU": nn.RNNCell}
DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
HALF = (torch.float16, torch.bfloat16)
#: relative to max(1, |expected|): half precision is rounded once per recorded value and per step
TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-4, torch.float16: 2e-2, torch.bfloat16: 1.2e-1}
#: configurations per family and run (1,050 in all)
COUNTS = {"layered": 600, "one-step": 150, "cells": 200, "dropout": 100}


def equations(mode: str, weights: dict, x, h, c):
    """One step for a batch, in float64: x [B, in], h [B, H_out], c [B, H] or None → dict."""
    a = x @ weights["ih"].T + (weights["b_ih"] if weights["b_ih"] is not None else 0)
    b = h @ weights["hh"].T + (weights["b_hh"] if weights["b_hh"] is not None else 0)
    if mode == "LSTM":
        i, f, g, o = (a + b).chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        return {"i": i, "f": f, "g": g, "o": o, "c": c, "h": h if weights["hr"] is None else h @ weights["hr"].T}
    if mode == "GRU":
        (a_r, a_z, a_n), (b_r, b_z, b_n) = a.chunk(3, dim=-1), b.chunk(3, dim=-1)
        r, z = torch.sigmoid(a_r + b_r), torch.sigmoid(a_z + b_z)
        n = torch.tanh(a_n + r * b_n)
        return {"r": r, "z": z, "n": n, "h": (1 - z) * n + z * h}
    pre = a + b
    return {"h": torch.tanh(pre) if mode == "RNN_TANH" else torch.relu(pre)}


def weights_of(module, suffix: str = "") -> dict:
    def get(name):
        tensor = getattr(module, name + suffix, None)
        return None if tensor is None else tensor.detach().double()

    return {"ih": get("weight_ih"), "hh": get("weight_hh"), "b_ih": get("bias_ih"), "b_hh": get("bias_hh"), "hr": get("weight_hr")}


class Failure(AssertionError):
    pass


def close(actual, expected, dtype, what):
    actual, expected = actual.double(), expected.double()
    if actual.shape != expected.shape:
        raise Failure(f"{what}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)}")
    if not actual.numel():
        return
    deviation = (actual - expected).abs().max().item()
    allowed = TOLERANCE[dtype] * max(1.0, expected.abs().max().item())
    if not deviation <= allowed:
        raise Failure(f"{what}: deviates by {deviation:.3g} (allowed {allowed:.3g})")


def check_steps(trace, prefix, mode, weights, dtype, h0, c0, valid, reverse):
    """Teacher-forced: every recorded step from the recorded x and the recorded previous state."""
    x, h = trace[prefix + "x"].double(), trace[prefix + "h"].double()
    c = trace[prefix + "c"].double() if mode == "LSTM" else None
    steps, batch = x.shape[:2]
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    h_prev, c_prev = h0.double().clone(), None if c0 is None else c0.double().clone()
    for t in order:
        expected = equations(mode, weights, x[t], h_prev, c_prev)
        keep = valid[t].unsqueeze(-1)
        for quantity, value in expected.items():
            close(trace[prefix + quantity][t].double() * keep, value * keep, dtype, f"{prefix}{quantity}[{t}]")
        h_prev = torch.where(keep, h[t], h_prev)  # padded steps carry the state through
        if c is not None:
            c_prev = torch.where(keep, c[t], c_prev)
    return h_prev, c_prev


def check_layers(trace, module, mode, dtype, h0, c0, valid, output_h, h_n, c_n):
    """Every layer and direction of a layered module's trace (time first, caller's batch order)."""
    directions = ("fwd", "bwd")[: 2 if module.bidirectional else 1]
    h_out = module.proj_size or module.hidden_size if mode == "LSTM" else module.hidden_size
    below = None
    for layer in range(module.num_layers):
        tops = []
        for d, direction in enumerate(directions):
            prefix = f"l{layer}.{direction}."
            index = layer * len(directions) + d
            weights = weights_of(module, f"_l{layer}" + ("_reverse" if d else ""))
            final_h, final_c = check_steps(
                trace, prefix, mode, weights, dtype, h0[index], None if c0 is None else c0[index], valid, d == 1
            )
            close(final_h, h_n[index], dtype, prefix + "final h")
            if final_c is not None:
                close(final_c, c_n[index], dtype, prefix + "final c")
            h = trace[prefix + "h"]
            if layer < module.num_layers - 1 and module.dropout > 0:
                h = h * trace[prefix + "dropout"]
            tops.append(h)
        if below is not None and not torch.equal(trace[f"l{layer}.fwd.x"] * valid.unsqueeze(-1), below * valid.unsqueeze(-1)):
            raise Failure(f"l{layer}.fwd.x is not what layer {layer - 1} passed up")
        below = torch.cat(tops, dim=-1)
    last = trace[f"l{module.num_layers - 1}.fwd.h"]
    if not torch.equal(last, output_h[..., :h_out]):
        raise Failure("the last layer's h is not the module's output")


# -- configurations -----------------------------------------------------------------------------


def draw_layered(rng: random.Random, family: str) -> dict:
    mode = rng.choice(MODES)
    hidden = rng.randint(1, 5)
    config = {
        "mode": mode,
        "input_size": rng.randint(1, 5),
        "hidden_size": hidden,
        "num_layers": rng.randint(2, 3) if family == "dropout" else rng.randint(1, 3),
        "bidirectional": rng.random() < 0.4 and family != "one-step",
        "batch_first": rng.random() < 0.3,
        "bias": rng.random() < 0.8,
        "proj_size": rng.randint(1, hidden - 1) if mode == "LSTM" and hidden > 1 and rng.random() < 0.3 else 0,
        "dtype": rng.choice(DTYPES),
        "steps": rng.randint(1, 6),
        "batch": rng.choice([0, 1, 1, 2, 3, 4]),
        "with_hx": rng.random() < 0.5,
        "form": "batched" if family == "one-step" else rng.choice(["batched", "batched", "unbatched", "packed", "packed_sorted"]),
        "dropout": round(rng.uniform(0.1, 0.7), 2) if family == "dropout" else 0.0,
    }
    if config["dtype"] in HALF:  # a few sizes: PyTorch prepares half-precision kernels per shape (~0.1 s)
        config.update(input_size=3, hidden_size=4, steps=4, batch=rng.choice([0, 2]), proj_size=config["proj_size"] and 2)
    if config["form"] == "unbatched":
        config["batch"] = 1
    elif config["form"].startswith("packed"):
        config["batch"] = max(config["batch"], 1)
    return config


def build(config):
    kwargs = dict(
        input_size=config["input_size"], hidden_size=config["hidden_size"], num_layers=config["num_layers"],
        bidirectional=config["bidirectional"], batch_first=config["batch_first"], bias=config["bias"],
        dropout=config["dropout"],
    )
    if config["mode"] == "LSTM":
        kwargs["proj_size"] = config["proj_size"]
    if config["mode"].startswith("RNN"):
        kwargs["nonlinearity"] = config["mode"][4:].lower()
    module = LAYERED[config["mode"]](**kwargs)
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(2)  # larger weights: saturated gates and larger cells too
    return module.to(config["dtype"]).train(config["dropout"] > 0)


def run_layered(config, family):
    module = build(config)
    mode, dtype, T, B = config["mode"], config["dtype"], config["steps"], config["batch"]
    D = 2 if module.bidirectional else 1
    h_out = module.proj_size or module.hidden_size if mode == "LSTM" else module.hidden_size
    x = torch.randn(T, B, module.input_size, dtype=dtype)
    h0 = torch.randn(module.num_layers * D, B, h_out, dtype=dtype) if config["with_hx"] else None
    c0 = torch.randn(module.num_layers * D, B, module.hidden_size, dtype=dtype) if config["with_hx"] and mode == "LSTM" else None
    lengths = [T] * B
    form = config["form"]
    if form.startswith("packed"):
        lengths = sorted((random.Random(T * 31 + B).randint(1, T) for _ in range(B)), reverse=form == "packed_sorted")
        lengths[0 if form == "packed_sorted" else B - 1] = T
        for b, n in enumerate(lengths):
            x[n:, b] = 0
        data = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=form == "packed_sorted")
    elif form == "unbatched":
        data = x[:, 0]
    else:
        data = x.transpose(0, 1) if module.batch_first else x
    state = None if h0 is None else ((h0, c0) if c0 is not None else h0)
    if state is not None and form == "unbatched":
        state = tuple(t[:, 0] for t in state) if c0 is not None else h0[:, 0]
    random_state = torch.get_rng_state()
    if family == "one-step":
        with explain.record(module) as trace:
            outputs = []
            for x_t in data.split(1, dim=1 if module.batch_first else 0):
                out, state = module(x_t, state)
                outputs.append(out)
        output = (torch.cat(outputs, dim=1 if module.batch_first else 0), state)
    else:
        trace = explain.record(module, data) if state is None else explain.record(module, data, state)
        output = trace.output
    if family == "dropout":
        torch.set_rng_state(random_state)
        plain = module(data) if state is None else module(data, state if form != "one-step" else None)
        plain_out, recorded_out = plain[0], output[0]
        if form.startswith("packed"):
            plain_out, recorded_out = plain_out.data, recorded_out.data
        if not torch.equal(plain_out, recorded_out):
            raise Failure("with dropout, the recorded model's output is not what the module returns from the same random state")
    out, final = output
    h_n, c_n = final if mode == "LSTM" else (final, None)
    valid = torch.ones(T, B, dtype=torch.bool)
    if form.startswith("packed"):
        valid = torch.arange(T).unsqueeze(1) < torch.tensor(lengths).unsqueeze(0)
        out = torch.nn.utils.rnn.pad_packed_sequence(out)[0]
    elif form == "unbatched":
        out, h_n = out.unsqueeze(1), h_n.unsqueeze(1)
        c_n = None if c_n is None else c_n.unsqueeze(1)
    elif module.batch_first:
        out = out.transpose(0, 1)
    zeros = lambda size: torch.zeros(module.num_layers * D, B, size, dtype=dtype)  # noqa: E731
    h0 = zeros(h_out) if h0 is None else h0
    c0 = (zeros(module.hidden_size) if c0 is None else c0) if mode == "LSTM" else None
    if family == "one-step":
        if not torch.equal(trace["l0.fwd.x"], x):
            raise Failure("the one-step calls' inputs are not recorded in order")
    check_layers(trace, module, mode, dtype, h0, c0, valid, out.detach(), h_n.detach(), None if c_n is None else c_n.detach())


def draw_cell(rng: random.Random) -> dict:
    config = {
        "mode": rng.choice(MODES),
        "input_size": rng.randint(1, 5),
        "hidden_size": rng.randint(1, 5),
        "bias": rng.random() < 0.8,
        "dtype": rng.choice(DTYPES),
        "batch": rng.choice([None, 0, 1, 3]),
        "calls": rng.randint(1, 5),
        "with_hx": rng.random() < 0.5,
    }
    if config["dtype"] in HALF:
        config.update(input_size=3, hidden_size=4, batch=rng.choice([0, 2]))
    return config


def run_cells(config):
    mode, dtype = config["mode"], config["dtype"]
    kwargs = {"nonlinearity": mode[4:].lower()} if mode.startswith("RNN") else {}
    cell = CELLS[mode](config["input_size"], config["hidden_size"], bias=config["bias"], **kwargs).to(dtype)
    shape = () if config["batch"] is None else (config["batch"],)
    B = 1 if config["batch"] is None else config["batch"]
    xs = torch.randn(config["calls"], *shape, config["input_size"], dtype=dtype)
    state = None
    if config["with_hx"]:
        state = torch.randn(*shape, config["hidden_size"], dtype=dtype)
        state = (state, torch.randn_like(state)) if mode == "LSTM" else state
    h0 = torch.zeros(B, config["hidden_size"], dtype=dtype)
    c0 = h0.clone() if mode == "LSTM" else None
    if state is not None:
        h0 = (state[0] if mode == "LSTM" else state).reshape(B, -1) if B else h0
        c0 = state[1].reshape(B, -1) if mode == "LSTM" and B else c0
    outputs = []
    with explain.record(cell) as trace:
        for x in xs:
            state = cell(x, state)
            outputs.append((state[0] if mode == "LSTM" else state).detach().reshape(B, config["hidden_size"]))
    valid = torch.ones(config["calls"], B, dtype=torch.bool)
    final_h, final_c = check_steps(trace, "", mode, weights_of(cell), dtype, h0, c0, valid, False)
    if not torch.equal(trace["h"], torch.stack(outputs)):
        raise Failure("the recorded h is not what the cell returned")
    if not torch.equal(trace["x"], xs.reshape(config["calls"], B, config["input_size"])):
        raise Failure("the recorded x is not what the cell read")


# -- the tests ----------------------------------------------------------------------------------


@pytest.fixture
def one_thread():
    """Tiny tensors gain nothing from threads, and on a crowded machine every call would wait for
    the second one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.parametrize("family", list(COUNTS))
def test_random_recurrent_configurations(family, one_thread):
    print(f"recurrent random configurations: seed {SEED} (EXPLAIN_TEST_SEED={SEED} reproduces)")
    failures = []
    indices = [int(ONLY)] if ONLY is not None else range(COUNTS[family])
    for index in indices:
        rng = random.Random(f"{SEED}/{family}/{index}")
        torch.manual_seed(rng.getrandbits(32))
        config = draw_cell(rng) if family == "cells" else draw_layered(rng, family)
        config["onednn"] = index % 8 == 0
        try:
            with torch.backends.mkldnn.flags(enabled=config["onednn"]):
                run_cells(config) if family == "cells" else run_layered(config, family)
        except Exception as error:  # noqa: BLE001  every failing configuration is reported
            failures.append(f"#{index} {config}: {type(error).__name__}: {error}")
    reproduce = f"EXPLAIN_TEST_SEED={SEED} EXPLAIN_TEST_ONLY=<#> pytest {__file__} -k {family}"
    assert not failures, f"{len(failures)} of {len(indices)} {family} configurations failed (seed {SEED}; {reproduce}):\n" + "\n".join(failures[:10])
