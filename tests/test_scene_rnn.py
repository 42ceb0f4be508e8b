"""rnn-unroll (figure 1) and rnn-layers (figure 2): the values on screen are the trace's."""

from __future__ import annotations

import pytest
import torch

from explain import Trace, models
from explain.figures.recurrent import MissingValues
from scene_checks import assert_matches_reference, render_still
from recurrent_reference import char_trace_with_grads

TEXT = "Beautiful is better"


@pytest.fixture(scope="module")
def char_rnn_trace() -> Trace:
    return char_trace_with_grads("char-rnn", TEXT, loss_at="all")


def test_unroll_shows_the_recorded_hidden_states(char_rnn_trace):
    from explain.scenes.rnn import unroll_values

    shown = unroll_values(char_rnn_trace, {"steps": "2-5", "units": "3,7,9", "layer": 0})
    expected = char_rnn_trace["rnn.l0.fwd.h"][2:6, 0][:, [3, 7, 9]]
    assert torch.tensor(shown["h"]) == pytest.approx(expected)
    assert shown["tokens"] == list(TEXT[2:6])
    assert shown["layer"] == 0 and shown["units_total"] == 100


def test_unroll_defaults_to_the_top_layer_first_steps_and_units(char_rnn_trace):
    from explain.scenes.rnn import unroll_values

    shown = unroll_values(char_rnn_trace)
    assert (shown["layer"], shown["steps"], shown["units"]) == (1, [0, 1, 2, 3, 4], list(range(10)))
    assert torch.tensor(shown["h"]) == pytest.approx(char_rnn_trace["rnn.l1.fwd.h"][:5, 0, :10])


def test_layers_show_both_layers_and_the_gradient_norms(char_rnn_trace):
    from explain.scenes.rnn import layered_values

    shown = layered_values(char_rnn_trace, {"steps": "1-3", "units": "0-3"})
    for layer in (0, 1):
        h = char_rnn_trace[f"rnn.l{layer}.fwd.h"]
        assert torch.tensor(shown["h"][layer]) == pytest.approx(h[1:4, 0, :4])
        norms = char_rnn_trace[f"rnn.l{layer}.fwd.grad_h"][:, 0].norm(dim=-1)
        assert torch.tensor(shown["grads"][layer]) == pytest.approx(norms)
    assert shown["tokens"] == list(TEXT[1:4]) and shown["targets"] == list(TEXT[2:5])


def test_layers_without_gradients_show_the_paths_only(char_rnn_trace):
    from explain.scenes.rnn import layered_values

    without = char_rnn_trace.select(lambda name: not name.endswith("grad_h"))
    assert layered_values(without)["grads"] is None


def test_reference_states_are_the_recorded_ones(char_rnn_trace):
    """The gradient reference runs the same recurrence the recording saw."""
    example = models.load("char-rnn", text=TEXT[:-1])
    recorded = example.record()
    assert char_rnn_trace["rnn.l1.fwd.h"] == pytest.approx(recorded["rnn.l1.fwd.h"], abs=1e-5)


@pytest.mark.parametrize(
    ("trace", "options", "message"),
    [
        (Trace({"conv1": torch.zeros(1, 2, 3, 3)}), {}, "rnn.l0.fwd.h"),
        (Trace({"rnn.l0.fwd.h": torch.zeros(4, 1, 3)}), {"steps": "3-4"}, "time step 4 is out of range"),
        (Trace({"rnn.l0.fwd.h": torch.zeros(4, 1, 3)}), {"units": "a-b"}, "units: expected numbers and ranges like 0,2,5-7"),
        (Trace({"rnn.l0.fwd.h": torch.zeros(4, 1, 3)}), {"layer": 2}, "layer 2 is not in the trace"),
    ],
)
def test_unroll_refuses_what_it_cannot_show(trace, options, message):
    from explain.draw.base import SceneInputError
    from explain.scenes.rnn import RNNUnrollScene

    with pytest.raises(SceneInputError, match=message):
        RNNUnrollScene.check(trace, options)


def test_layers_need_two_layers():
    from explain.scenes.rnn import layered_values

    with pytest.raises(MissingValues, match="2 layers"):
        layered_values(Trace({"rnn.l0.fwd.h": torch.zeros(4, 1, 3)}))


@pytest.fixture(scope="module")
def untrained_trace() -> Trace:
    """Reference stills draw the seeded untrained model: retraining the book's weights leaves them valid."""
    return char_trace_with_grads("char-rnn", TEXT, loss_at="all", trained=False)


@pytest.mark.render
def test_unroll_still_matches_reference(untrained_trace, tmp_path):
    png = render_still("rnn-unroll", untrained_trace, tmp_path)
    assert_matches_reference(png, "rnn-unroll")


@pytest.mark.render
def test_layers_still_matches_reference_in_korean(untrained_trace, tmp_path):
    png = render_still("rnn-layers", untrained_trace, tmp_path, lang="ko")
    assert_matches_reference(png, "rnn-layers-ko")


def test_layers_refuse_steps_past_the_end(char_rnn_trace):
    from explain.scenes.rnn import layered_values

    with pytest.raises(MissingValues, match="time step 18 is out of range"):
        layered_values(char_rnn_trace, {"steps": [16, 17, 18]})


def test_batch_items_are_chosen_and_checked():
    from explain.scenes.rnn import unroll_values

    h = torch.arange(24.0).reshape(3, 2, 4)
    trace = Trace({"rnn.l0.fwd.h": h}, meta={"tokens": list("abc")})
    assert torch.tensor(unroll_values(trace, {"batch": 1})["h"]) == pytest.approx(h[:, 1])
    with pytest.raises(MissingValues, match="batch item 2 is out of range"):
        unroll_values(trace, {"batch": 2})
