"""The GRU cell scene: PyTorch's convention, values from the trace, the still as committed."""

from __future__ import annotations

import pytest
import torch

import explain
from explain.figures.cells import GRU_PARTS, cell_view, gru_step_values
from explain.figures.recurrent import MissingValues
from scene_checks import record_book


@pytest.fixture(scope="module")
def char_trace():
    return record_book("char-gru", trained=False)  # seeded weights: references stay valid when models are retrained


def test_defaults_read_the_char_models_last_gru_layer(char_trace):
    view = cell_view(char_trace, "gru", {})
    assert (view.module, view.layer, view.layers, view.size) == ("rnn", 1, 2, 100)
    assert view.units == list(range(7)) and view.labels == [str(u) for u in range(7)]  # numbers 14 px tall at 720p
    assert view.units_text() == "units 0–6 of 100 shown"
    assert view.steps == [0, 1, 2, 3] and view.vocabulary is None
    assert view.tokens[0] == "B"


@pytest.mark.parametrize("t", [0, 4])
def test_every_strip_is_the_recorded_value(char_trace, t):
    units = [3, 50, 99]
    view = cell_view(char_trace, "gru", {"layer": 0, "units": units})
    shown = gru_step_values(char_trace, view, t)
    assert list(shown) == list(GRU_PARTS)
    for part in "rznh":
        assert shown[part] == pytest.approx(char_trace[f"rnn.l0.fwd.{part}"][t, 0, units].tolist(), abs=1e-7)
    if t > 0:
        assert shown["h_prev"] == pytest.approx(char_trace["rnn.l0.fwd.h"][t - 1, 0, units].tolist(), abs=1e-7)


def test_pytorch_convention_z_near_one_keeps_the_old_state():
    """h = (1 − z) ⊙ n + z ⊙ h_prev holds for the strips shown, and the first h_prev is the given h₀."""
    torch.manual_seed(3)
    gru = torch.nn.GRU(3, 4)
    h0 = torch.randn(1, 1, 4)
    trace = explain.record(gru, torch.randn(5, 1, 3), h0)
    view = cell_view(trace, "gru", {})
    first = gru_step_values(trace, view, 0)
    assert first["h_prev"] == pytest.approx(h0.flatten().tolist(), abs=1e-5)
    for t in range(5):
        v = {key: torch.tensor(row) for key, row in gru_step_values(trace, view, t).items()}
        assert torch.allclose((1 - v["z"]) * v["n"] + v["z"] * v["h_prev"], v["h"], atol=1e-5)


def test_an_lstm_trace_is_refused_with_what_is_needed():
    trace = explain.record(torch.nn.LSTM(3, 4), torch.randn(2, 1, 3))
    with pytest.raises(MissingValues, match="the GRU cell figure needs an nn.GRU"):
        cell_view(trace, "gru", {})


# -- rendered ------------------------------------------------------------------------------------


@pytest.mark.render
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_still_matches_reference(char_trace, tmp_path, lang):
    from scene_checks import assert_matches_reference, render_still

    png = render_still("gru-cell", char_trace, tmp_path, lang=lang)
    assert_matches_reference(png, png.stem)


@pytest.mark.render
@pytest.mark.slow
def test_the_walkthrough_shows_the_trace_at_every_chosen_step(char_trace, tmp_path):
    from scene_checks import play_through

    options = {"steps": [2, 3], "units": [0, 10, 20, 30]}
    scene = play_through("gru-cell", char_trace, tmp_path, lang="ko", options=options)
    view = cell_view(char_trace, "gru", options)
    assert list(scene.shown) == [2, 3]
    for t in (2, 3):
        assert scene.shown[t] == gru_step_values(char_trace, view, t)
