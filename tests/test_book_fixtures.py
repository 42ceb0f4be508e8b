"""The book models' traces, checked against committed fixtures (tests/fixtures/test_book_fixtures/).

A change in recording, in a model or in its weights shows here as a located difference. If the
change is intended, accept it: ``pytest tests/test_book_fixtures.py --trace-update`` and commit
the rewritten fixtures.

Tolerances: other CPUs (other BLAS kernels) reorder sums, so values allow rtol 1e-4, atol 1e-5
instead of the strict float32 defaults, and gradients, summed backwards through the steps
in an order that differs between CPUs, a relative 1e-3 with an atol of 1e-6 (the gradients reach
6.0; one CPU gave -5.4464e-05 where the fixture holds -5.4541e-05); a real change is far larger.
The deep CNNs' last parts (after ~50 layers of ResNet-50, ~20 of GoogLeNet) and their scores
allow a relative 1e-3 with an atol of 1e-4: an AMD EPYC with AVX2 kernels gave -0.588373 where the
fixture, recorded on an Intel Xeon with AVX-512 kernels, holds -0.588451 (1.3e-4 relative). Their
kernels are compared at the strict values: they are weights, not sums.
"""

from pathlib import Path

import pytest
import torch

from explain import Trace, load, models
from explain.testing import compare_traces

DEEP = (1e-3, 1e-4)
CROSS_MACHINE = {
    "rtol": 1e-4,
    "atol": 1e-5,
    "tolerances": {"*.grad_h": (1e-3, 1e-6), "layer_5.2@*": DEEP, "layer_4.1@*": DEEP, "fc_layer*": DEEP},
}


def last_output(output):
    """The stepwise book models return (outputs per step, state): a loss on the last step's output."""
    return output[0][-1].sum()


# fixture name → (model, record options). Large CNNs keep only the parts a figure uses, and their
# stem's kernels: a kernel stored transposed or from another layer must fail here.
BOOK_TRACES = {
    "hello-rnn": ("hello-rnn", {}),
    "hello-lstm": ("hello-lstm", {}),
    "char-rnn": ("char-rnn", {}),
    "char-gru": ("char-gru", {}),
    "char-lstm-grads": ("char-lstm", {"grads": True, "loss": last_output, "names": ["*.grad_h", "decoder"]}),
    "mnist-cnn": ("mnist-cnn", {}),  # feature maps and every kernel (q@weight) and bias
    "resnet50": ("resnet50", {"names": ["layer_1*@weight", "layer_5.2@*", "fc_layer*"]}),  # the stem's kernel too
    "googlenet": ("googlenet", {"names": ["layer_1*@weight", "layer_4.1@*", "fc_layer*"]}),
}
SLOW = {"hello-lstm"}  # 69 recorded calls of a 3-layer LSTM


@pytest.mark.parametrize(
    "fixture", [pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else []) for name in BOOK_TRACES]
)
def test_book_model_trace(fixture, trace_regression):
    model, options = BOOK_TRACES[fixture]
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # as the fixtures were recorded
    try:
        trace = models.load(model).record(**options)
    finally:
        torch.set_num_threads(threads)
    trace_regression.check(trace, fixture, **CROSS_MACHINE)


def test_a_changed_weight_is_caught_where_it_acts():
    """One recurrent weight of layer 1 changed: layer 0 agrees, layer 1 differs from t=1 (h_{-1} is 0)."""
    example = models.load("char-gru")
    with torch.no_grad():
        example.model.rnn.weight_hh_l1[0, 0] += 0.1  # row 0: the reset gate r, unit 0
    fixture = Path(__file__).parent / "fixtures" / "test_book_fixtures" / "char-gru.safetensors"
    difference = compare_traces(example.record(), fixture, **CROSS_MACHINE)
    first = difference.values[0]
    assert [value.name for value in difference.values][:4] == ["rnn.l1.fwd.r", "rnn.l1.fwd.z", "rnn.l1.fwd.n", "rnn.l1.fwd.h"]
    assert first.first_step == 1 and first.where.startswith("rnn layer 1 fwd, t=") and first.where.endswith("unit 0")
    assert difference.report().splitlines()[1] == f"  expected: {fixture}"


def test_the_kernels_are_in_the_fixtures_so_a_transposed_kernel_fails():
    fixtures = Path(__file__).parent / "fixtures" / "test_book_fixtures"
    for fixture, kernel in [("mnist-cnn", "layer.2@weight"), ("resnet50", "layer_1.0@weight"), ("googlenet", "layer_1.2@weight")]:
        stored = load(fixtures / f"{fixture}.safetensors")
        transposed = Trace(dict(stored.items()), meta=stored.meta, output=stored.output)
        transposed[kernel] = stored[kernel].transpose(-1, -2).contiguous()
        difference = compare_traces(transposed, stored, **CROSS_MACHINE)
        assert [value.name for value in difference.values] == [kernel], fixture
