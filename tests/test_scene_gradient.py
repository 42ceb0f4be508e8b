"""vanishing-gradient (figure 3): tanh′ factors and ||dL/dhₜ|| of an RNN and an LSTM, from the trace."""

from __future__ import annotations

import pytest
import torch

from explain import Trace, models
from explain.figures.recurrent import MissingValues
from recurrent_reference import char_trace_with_grads
from scene_checks import assert_matches_reference, render_still
from explain.models.recipes import prefixed

TEXT = "Beautiful is better than ugly."


def rnn_and_lstm_trace(trained: bool) -> Trace:
    """The scene's two models with reference gradients, and the RNN's W_hh as the recipe stores it."""
    rnn = char_trace_with_grads("char-rnn", TEXT, loss_at="last", trained=trained)
    lstm = char_trace_with_grads("char-lstm", TEXT, loss_at="last", trained=trained)
    weights = {f"rnn.rnn@weight_hh_l{layer}": getattr(models.load("char-rnn", trained=trained).model.rnn, f"weight_hh_l{layer}").detach()
               for layer in (0, 1)}
    return Trace({**prefixed(rnn, "rnn"), **prefixed(lstm, "lstm"), **weights}, meta={"tokens": rnn.meta["tokens"]})


@pytest.fixture(scope="module")
def rnn_and_lstm() -> Trace:
    return rnn_and_lstm_trace(trained=True)


def test_norms_are_the_recorded_gradients(rnn_and_lstm):
    from explain.figures.gradients import gradient_values

    shown = gradient_values(rnn_and_lstm)
    assert shown["modules"] == {"rnn": "rnn.rnn", "lstm": "lstm.rnn"}
    for kind in ("rnn", "lstm"):
        expected = rnn_and_lstm[f"{kind}.rnn.l1.fwd.grad_h"][:, 0].norm(dim=-1)
        assert torch.tensor(shown["norms"][kind]) == pytest.approx(expected)
    assert len(shown["tokens"]) == len(TEXT) - 1


def test_slopes_are_tanh_derivatives_at_the_real_states(rnn_and_lstm):
    from explain.figures.gradients import gradient_values

    shown = gradient_values(rnn_and_lstm, {"layer": 0})
    h = rnn_and_lstm["rnn.rnn.l0.fwd.h"][:, 0]
    assert torch.tensor(shown["slopes"]) == pytest.approx((1 - h**2).mean(dim=-1))
    assert all(0 < slope <= 1 for slope in shown["slopes"])
    products = torch.tensor(shown["slope_products"])
    assert products[-1] == 1 and products[0] == pytest.approx(torch.tensor(shown["slopes"][1:]).prod().item())
    assert (products[:-1] <= products[1:]).all(), "multiplying by slopes below 1 only shrinks"


def test_the_table_shows_real_jacobians_which_bound_the_recorded_gradient(rnn_and_lstm):
    """Issue 14: the products of the real matrices, not only mean(1 − h²); the recorded ratio stays under them."""
    from explain.figures.gradients import gradient_values

    shown = gradient_values(rnn_and_lstm)
    jacobians, recorded, means = shown["jacobians"], shown["relative"]["rnn"], shown["slope_products"]
    assert jacobians[-1] == 1 and all(r <= j * (1 + 1e-5) for r, j in zip(recorded, jacobians))
    assert means[0] < recorded[0] * 1e-3, "on the trained model the slopes alone understate what reaches t = 0 by far"


def test_a_loss_at_the_last_step_reaches_back_weaker_in_the_rnn(rnn_and_lstm):
    """The figure's claim, checked on the book's trained models."""
    from explain.figures.gradients import gradient_values

    norms = gradient_values(rnn_and_lstm)["norms"]
    assert norms["rnn"][0] < norms["rnn"][-1] * 1e-3
    assert norms["rnn"][0] / norms["rnn"][-1] < norms["lstm"][0] / norms["lstm"][-1]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["rnn.rnn.l0.fwd.h"], "nn.RNN .*grad_h.*grads=True"),
        (["rnn.rnn.l0.fwd.h", "rnn.rnn.l0.fwd.grad_h"], "nn.LSTM"),
    ],
)
def test_missing_gradients_are_named(names, message):
    from explain.figures.gradients import gradient_values

    with pytest.raises(MissingValues, match=message):
        gradient_values(Trace({name: torch.zeros(3, 1, 2) for name in names}))


@pytest.mark.render
@pytest.mark.parametrize("step", [None, 1, 3])
def test_still_matches_reference(tmp_path, step):
    """Drawn from the seeded untrained models, so retraining the book's weights leaves the reference valid."""
    options = {} if step is None else {"step": step}
    png = render_still("vanishing-gradient", rnn_and_lstm_trace(trained=False), tmp_path, options=options)
    assert_matches_reference(png, "vanishing-gradient" + ("" if step is None else f"-step{step}"))


def test_bars_are_norms_relative_to_the_last_step(rnn_and_lstm):
    from explain.figures.gradients import gradient_values

    shown = gradient_values(rnn_and_lstm)
    for kind in ("rnn", "lstm"):
        norms = torch.tensor(shown["norms"][kind])
        assert torch.tensor(shown["relative"][kind]) == pytest.approx(norms / norms[-1])


@pytest.mark.parametrize("model", ["char-rnn", "char-lstm"])
def test_the_scenes_recording_has_the_reference_gradients(model):
    """gradient_trace (explain.record with grads=True) agrees with the plain autograd reference."""
    from explain.models.recipes import gradients as gradient_trace

    recorded = gradient_trace(model, text=TEXT[:12], loss_at="last")
    reference = char_trace_with_grads(model, TEXT[:12], loss_at="last")
    for layer in (0, 1):
        name = f"rnn.l{layer}.fwd.grad_h"
        assert recorded[name] == pytest.approx(reference[name], abs=1e-6)
    assert recorded.meta["targets"] == list(TEXT[1:12])


def test_the_default_trace_pairs_an_rnn_with_an_lstm():
    from explain.figures.gradients import gradient_values
    from explain.models.recipes import rnn_versus_lstm as rnn_versus_lstm_trace

    shown = gradient_values(rnn_versus_lstm_trace(text=TEXT[:10]))
    assert shown["modules"] == {"rnn": "rnn.rnn", "lstm": "lstm.rnn"}
    assert len(shown["norms"]["rnn"]) == len(shown["norms"]["lstm"]) == 9


def test_a_long_sequence_charts_its_last_steps():
    from explain.figures.gradients import MAX_BARS, gradient_values

    steps = MAX_BARS + 15
    trace = Trace(
        {
            "rnn.l0.fwd.h": torch.full((steps, 1, 2), 0.5),
            "rnn.l0.fwd.grad_h": torch.ones(steps, 1, 2),
            "lstm.l0.fwd.h": torch.zeros(steps, 1, 2),
            "lstm.l0.fwd.c": torch.zeros(steps, 1, 2),
            "lstm.l0.fwd.grad_h": torch.ones(steps, 1, 2),
        }
    )
    shown = gradient_values(trace)
    assert shown["window"] == list(range(15, steps))
    assert shown["slopes"] == pytest.approx([0.75] * steps)
    assert shown["jacobians"] is None, "no W_hh in the trace: the table says what it leaves out"


@pytest.mark.render
def test_every_step_plays_and_the_stretch_shows_the_recorded_norms(rnn_and_lstm, tmp_path):
    from scene_checks import play_through

    scene = play_through("vanishing-gradient", rnn_and_lstm, tmp_path, lang="ko")
    assert scene.shown["stretch"] == list(range(len(TEXT) - 1 - 16, len(TEXT) - 1))
    assert scene.shown["relative"]["rnn"][-1] == 1.0


def test_step_labels_of_a_long_chain_never_touch():
    from explain.draw.graphs import LogBars

    values = [10.0**-k for k in range(20, 0, -1)]
    chart = LogBars([("RNN", values, "#8E44AD"), ("LSTM", values, "#1F5FA8")], labels=[f"t={t}" for t in range(20)], width=10.5)
    shown = list(chart.step_labels)
    assert 1 < len(shown) < 20 and all(left.get_right()[0] + 0.05 < right.get_left()[0] for left, right in zip(shown, shown[1:]))
