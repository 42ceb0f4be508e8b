"""explain.figures.gradients: the real Jacobian products of an RNN's recorded steps, without manim."""

from __future__ import annotations

import doctest

import pytest
import torch

import explain
from explain import Trace
from explain.figures.recurrent import MissingValues
from explain.figures import gradients
from explain.figures.gradients import gradient_values, jacobian_norms, slope_products, slopes, weight_hh_name


class Holder(torch.nn.Module):
    """An nn.RNN under the name "rnn", as the char models hold theirs."""

    def __init__(self, nonlinearity: str = "tanh"):
        super().__init__()
        torch.manual_seed(3)
        self.rnn = torch.nn.RNN(3, 5, num_layers=2, nonlinearity=nonlinearity)

    def forward(self, x):
        return self.rnn(x)


def recorded(nonlinearity: str = "tanh", steps: int = 7) -> tuple[Holder, torch.Tensor, Trace]:
    model = Holder(nonlinearity)
    x = torch.randn(steps, 1, 3)
    trace = explain.record(model, x)
    for layer in (0, 1):
        trace[weight_hh_name("rnn", layer)] = getattr(model.rnn, f"weight_hh_l{layer}").detach().clone()
    return model, x, trace


def autograd_norms(model: Holder, x: torch.Tensor, layer: int) -> list[float]:
    """‖∂h_last/∂hₜ‖₂ of ``layer`` by autograd: the layer's steps t+1 … last rerun from hₜ."""
    rnn = model.rnn
    inputs = x[:, 0]
    with torch.no_grad():
        for below in range(layer):  # the layer reads the outputs of the layers under it
            inputs = torch.stack(list(_run(rnn, below, inputs, torch.zeros(rnn.hidden_size))))
        states = list(_run(rnn, layer, inputs, torch.zeros(rnn.hidden_size)))
    norms = []
    for t in range(len(states)):
        def last_from(h, t=t):
            return list(_run(rnn, layer, inputs[t + 1 :], h))[-1] if t + 1 < len(states) else h

        jacobian = torch.autograd.functional.jacobian(last_from, states[t])
        norms.append(float(torch.linalg.matrix_norm(jacobian.double(), ord=2)))
    return norms


def _run(rnn, layer, inputs, h):
    act = torch.tanh if rnn.nonlinearity == "tanh" else torch.relu
    w_ih, w_hh, b_ih, b_hh = (getattr(rnn, f"{n}_l{layer}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    for x_t in inputs:
        h = act(x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
        yield h


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("layer", [0, 1])
def test_jacobian_norms_equal_autograds(nonlinearity, layer):
    model, x, trace = recorded(nonlinearity)
    assert jacobian_norms(trace, "rnn", layer) == pytest.approx(autograd_norms(model, x, layer), rel=1e-4, abs=1e-7)


def test_slopes_are_the_nonlinearitys_derivative_at_the_recorded_states():
    _, _, trace = recorded("tanh")
    h = trace["rnn.l1.fwd.h"][:, 0].double()
    assert torch.allclose(slopes(trace, "rnn", 1), 1 - h**2)
    _, _, relu = recorded("relu")
    assert torch.equal(slopes(relu, "rnn", 0), (relu["rnn.l0.fwd.h"][:, 0] > 0).double())


def test_slope_products_multiply_the_later_steps():
    assert slope_products([0.5, 0.4, 0.2, 0.1]) == pytest.approx([0.4 * 0.2 * 0.1, 0.2 * 0.1, 0.1, 1.0])


def test_a_trace_without_w_hh_says_so():
    _, _, trace = recorded()
    bare = Trace({name: trace[name] for name in trace.names() if "@weight_hh" not in name}, meta=trace.meta)
    with pytest.raises(MissingValues, match=r"'rnn@weight_hh_l1' \(W_hh\)"):
        jacobian_norms(bare, "rnn", 1)


@pytest.fixture(scope="module")
def book_trace() -> Trace:
    from explain.models.recipes import rnn_versus_lstm as rnn_versus_lstm_trace

    return rnn_versus_lstm_trace(text="Beautiful is better")


@pytest.mark.slow
def test_the_recorded_gradient_is_the_last_steps_carried_back(book_trace):
    """The top layer's loss is at the last step only: ∂L/∂hₜ = Jᵀ ∂L/∂h_last, so its share is at most ‖J‖."""
    shown = gradient_values(book_trace)
    assert shown["jacobians"] is not None and shown["layers"]["rnn"] == 1
    for ratio, bound in zip(shown["relative"]["rnn"], shown["jacobians"]):
        assert ratio <= bound * (1 + 1e-5)
    grads = book_trace["rnn.rnn.l1.fwd.grad_h"][:, 0].double()
    slope = slopes(book_trace, "rnn.rnn", 1)
    weight = book_trace["rnn.rnn@weight_hh_l1"].double()
    carried = grads[-1]
    for t in range(len(grads) - 2, -1, -1):  # one step back: W_hhᵀ · diag(1 − h²_{t+1})
        carried = weight.T @ (slope[t + 1] * carried)
        assert torch.allclose(carried, grads[t], rtol=1e-3, atol=1e-9)
    assert book_trace.meta["modules"]["rnn.rnn"]["nonlinearity"] == "tanh"


@pytest.mark.slow
def test_the_stretch_is_the_last_sixteen_steps(book_trace):
    shown = gradient_values(book_trace)
    steps = len(shown["tokens"])
    assert shown["stretch"] == list(range(steps - gradients.STRETCH_STEPS, steps))


def test_docstring_examples_hold():
    result = doctest.testmod(gradients)
    assert result.attempted > 0 and result.failed == 0


def test_one_models_gradients_are_refused_saying_what_the_figure_compares_and_where_one_model_is_drawn():
    rnn = torch.nn.RNN(3, 4, num_layers=2)
    trace = explain.record(rnn, torch.randn(5, 1, 3), grads=True)
    with pytest.raises(MissingValues, match=r"needs an nn.LSTM with names like 'lstm.l0.fwd.grad_h'.*compares an RNN with an LSTM.*--recipe rnn-vs-lstm.*rnn-layers"):
        gradient_values(trace)


class _Both(torch.nn.Module):
    """One's own pair, as the figure's refusal describes it: an RNN and an LSTM on one sequence, both heads added."""

    def __init__(self):
        super().__init__()
        self.simple, self.gated = torch.nn.RNN(3, 6), torch.nn.LSTM(3, 6)
        self.head_simple, self.head_gated = torch.nn.Linear(6, 2), torch.nn.Linear(6, 2)

    def forward(self, x):
        return self.head_simple(self.simple(x)[0][-1]) + self.head_gated(self.gated(x)[0][-1])


def test_ones_own_rnn_and_lstm_recorded_together_with_gradients_drive_the_figure():
    torch.manual_seed(0)
    values = gradient_values(explain.record(_Both().eval(), torch.randn(8, 1, 3), grads=True))
    assert len(values["norms"]["rnn"]) == len(values["norms"]["lstm"]) == 8 and values["relative"]["lstm"][-1] == 1.0
