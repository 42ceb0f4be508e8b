"""rnn-to-lstm (figure 4): the hidden and cell states on the lines are the book LSTM's recorded h and c."""

from __future__ import annotations

import doctest

import pytest
import torch

import explain
from explain.draw.base import SceneInputError
from explain.figures.recurrent import MissingValues
from explain.figures import cell_state
from explain.figures.cell_state import line_values
from scene_checks import assert_matches_reference, play_through, record_book, render_still


@pytest.fixture(scope="module")
def hello():
    return record_book("hello-lstm")


@pytest.fixture(scope="module")
def seeded():
    return record_book("hello-lstm", trained=False)  # seeded weights: references stay valid when models are retrained


def test_the_lines_hold_the_recorded_states(hello):
    shown = line_values(hello)
    assert shown["steps"] == [1, 2, 3] and shown["tokens"] == ["h", "e", "l"] and shown["layer"] == 2
    for quantity in ("h", "c"):
        recorded = hello[f"l2.fwd.{quantity}"][:, 0]
        for t in (0, 1, 2, 3):
            assert shown[quantity][t] == pytest.approx(recorded[t, shown["units"]].tolist())
    # the units chosen are those with the largest values on these lines; the top layer's h names the next letter
    assert shown["chosen_units"] and len(shown["units"]) == 6
    assert [shown["labels"][max(range(6), key=lambda u: shown["h"][t][u])] for t in (1, 2, 3)] == ["e", "l", "l"]


def test_options_choose_steps_units_and_layer(hello):
    shown = line_values(hello, {"steps": "5-6", "units": "0-3", "layer": 0})
    assert shown["steps"] == [5, 6] and shown["units"] == [0, 1, 2, 3] and not shown["chosen_units"]
    assert shown["c"][4] == pytest.approx(hello["l0.fwd.c"][4, 0, :4].tolist()) and shown["cell"] == 6


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"steps": "0-2"}, "the state before step 0 is not recorded"),
        ({"steps": "1,3"}, "consecutive"),
        ({"steps": "1-4"}, "at most 3"),
        ({"units": "40"}, "unit 40 is out of range"),
    ],
)
def test_bad_options_are_one_line(hello, options, message):
    with pytest.raises(MissingValues, match=message):
        line_values(hello, options)


def test_a_trace_without_an_lstm_is_refused():
    trace = explain.record(torch.nn.GRU(2, 3), torch.randn(4, 1, 2))
    with pytest.raises(MissingValues, match="nn.LSTM"):
        line_values(trace)


def test_docstring_examples_hold():
    result = doctest.testmod(cell_state)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.render
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_every_strip_drawn_is_the_trace(hello, tmp_path, lang):
    scene = play_through("rnn-to-lstm", hello, tmp_path, lang=lang)
    shown, drawn = scene.shown, scene.drawn
    units = shown["units"]
    for t in (0, 1, 2, 3):
        assert drawn[f"h{t}"] == pytest.approx(hello["l2.fwd.h"][t, 0, units].tolist())
        assert drawn[f"C{t}"] == pytest.approx(hello["l2.fwd.c"][t, 0, units].tolist())
    ports = {"c_in": ("c", 2), "h_in": ("h", 2), "c_out": ("c", 3), "h_out": ("h", 3)}
    for port, (quantity, t) in ports.items():
        assert drawn[f"port {port}"] == pytest.approx(hello[f"l2.fwd.{quantity}"][t, 0, units].tolist())


@pytest.mark.render
def test_any_lstm_draws_without_tokens(tmp_path):
    """A user's bidirectional two-layer LSTM, no characters: the forward direction of the top layer, tiles
    name their time steps (they said '?')."""
    torch.manual_seed(0)
    trace = explain.record(torch.nn.LSTM(4, 9, num_layers=2, bidirectional=True), torch.randn(5, 1, 4))
    scene = play_through("rnn-to-lstm", trace, tmp_path)
    assert scene.shown["layer"] == 1 and scene.shown["tokens"] == [None, None, None]
    assert scene.shown["tiles"] == ["t=1", "t=2", "t=3"]
    assert scene.drawn["port c_out"] == pytest.approx(trace["l1.fwd.c"][3, 0, scene.shown["units"]].tolist())


def test_the_scene_refuses_a_step_it_does_not_have(hello):
    from explain.scenes.rnn_to_lstm import RNNToLSTMScene

    with pytest.raises(SceneInputError, match="from 1 to 4"):
        RNNToLSTMScene.check(hello, {"step": 5})


@pytest.mark.render
@pytest.mark.parametrize(("lang", "step"), [("en", None), ("ko", None), ("en", 2)])
def test_still_matches_reference(seeded, tmp_path, lang, step):
    options = {} if step is None else {"step": step}
    png = render_still("rnn-to-lstm", seeded, tmp_path, lang=lang, options=options)
    assert_matches_reference(png, "rnn-to-lstm" + ("" if lang == "en" else f"-{lang}") + ("" if step is None else f"-step{step}"))


def test_a_refusal_names_this_figure():
    gru = explain.record(torch.nn.GRU(3, 4), torch.randn(4, 1, 3))
    with pytest.raises(MissingValues, match=r"^figure 4 \(from RNN to LSTM\) needs an nn.LSTM"):
        line_values(gru)
