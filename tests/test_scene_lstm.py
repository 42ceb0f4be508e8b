"""The LSTM cell scene: what it shows is the trace's, option by option; its still looks as committed."""

from __future__ import annotations

import pytest
import torch

import explain
from explain.figures.cells import LSTM_PARTS, cell_view, lstm_step_values, next_character, symmetric_range
from explain.figures.recurrent import MissingValues
from explain.models.data import HELLO_VOCAB
from scene_checks import record_book


@pytest.fixture(scope="module")
def hello_trace():
    return record_book("hello-lstm", trained=False)  # seeded weights: references stay valid when models are retrained


INITIAL_C = torch.randn(4, 2, 5, generator=torch.Generator().manual_seed(2))


@pytest.fixture(scope="module")
def bidirectional_trace():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(4, 5, num_layers=2, bidirectional=True)
    return explain.record(lstm, torch.randn(6, 2, 4), (torch.randn(4, 2, 5), INITIAL_C))


def test_defaults_are_the_last_layer_seven_units_named_by_the_vocabulary_from_an_erasing_step(hello_trace):
    view = cell_view(hello_trace, "lstm", {})
    assert (view.module, view.layer, view.layers, view.direction, view.batch) == ("", 2, 3, "fwd", 0)
    assert view.units == list(range(7)) and view.labels == list(HELLO_VOCAB[:7])
    assert view.units_text() == "units 0–6 of 35 shown"
    assert view.units_text("ko") == "유닛 35개 중 0–6번 표시"
    assert view.tokens[:3] == ["<s>", "h", "e"]
    # the walkthrough starts where the forget gate erases the most of Cₜ₋₁ among the shown units
    f, c = hello_trace["l2.fwd.f"][:, 0, :7], hello_trace["l2.fwd.c"][:, 0, :7]
    erased = ((1 - f[1:]) * c[:-1].abs()).amax(dim=1)
    first = int(erased.argmax()) + 1
    assert view.steps == [first, first + 1, first + 2, first + 3]
    assert erased.max() > 0.1, "the chosen step visibly erases something"


def test_the_top_layer_of_the_hello_lstm_points_at_the_next_character():
    trained = record_book("hello-lstm")
    view = cell_view(trained, "lstm", {"steps": [1, 2, 3]})
    assert view.vocabulary == list(HELLO_VOCAB)
    guesses = [next_character(trained, view, t) for t in (1, 2, 3)]  # after reading "h", "e", "l"
    assert [char for char, _ in guesses] == ["e", "l", "l"]
    assert all(value > 0.5 for _, value in guesses)
    assert cell_view(trained, "lstm", {"layer": 0}).vocabulary is None  # only the top layer is compared to it


@pytest.mark.parametrize("t", [0, 1, 5])
def test_every_strip_is_the_recorded_value(hello_trace, t):
    view = cell_view(hello_trace, "lstm", {"layer": 1, "units": [0, 7, 34]})
    shown = lstm_step_values(hello_trace, view, t)
    assert list(shown) == list(LSTM_PARTS)
    recorded = {q: hello_trace[f"l1.fwd.{q}"][t, 0, [0, 7, 34]] for q in "ifgoch"}
    for part in "ifgoch":
        assert shown[part] == pytest.approx(recorded[part].tolist(), abs=1e-7)
    if t > 0:
        assert shown["c_prev"] == pytest.approx(hello_trace["l1.fwd.c"][t - 1, 0, [0, 7, 34]].tolist(), abs=1e-7)
    else:  # the book starts from zeros; the state before step 0 follows from step 0's own values
        assert shown["c_prev"] == pytest.approx([0.0, 0.0, 0.0], abs=1e-5)


def test_the_backward_direction_runs_from_the_end_and_its_previous_state_is_t_plus_one(bidirectional_trace):
    view = cell_view(bidirectional_trace, "lstm", {"direction": "bwd", "batch": 1, "layer": 0})
    # backwards from the step whose forget gate erases most (its previous state is t + 1)
    assert view.steps == list(range(view.steps[0], view.steps[0] - len(view.steps), -1)) and view.steps[0] < 5
    assert view.labels == ["0", "1", "2", "3", "4"]
    assert view.tokens == [None] * 6  # recorded without tokens: the scene shows t only
    shown = lstm_step_values(bidirectional_trace, view, 3)
    assert shown["c_prev"] == pytest.approx(bidirectional_trace["l0.bwd.c"][4, 1].tolist(), abs=1e-6)
    first = lstm_step_values(bidirectional_trace, view, 5)  # h_0/c_0 are layer-major: [1] is l0 bwd
    assert first["c_prev"] == pytest.approx(INITIAL_C[1, 1].tolist(), abs=1e-5)


def test_initial_state_is_recovered_exactly_from_step_zero():
    torch.manual_seed(1)
    lstm = torch.nn.LSTM(3, 4)
    c0 = torch.randn(1, 1, 4)
    trace = explain.record(lstm, torch.randn(3, 1, 3), (torch.randn(1, 1, 4), c0))
    shown = lstm_step_values(trace, cell_view(trace, "lstm", {"units": [0, 1, 2, 3]}), 0)
    assert shown["c_prev"] == pytest.approx(c0.flatten().tolist(), abs=1e-5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"layer": 7}, "layer 7 is not in the trace (layers 0–2)"),
        ({"units": [35]}, "unit 35 is out of range"),
        ({"steps": [0, 69]}, "time step 69 is out of range"),
        ({"batch": 1}, "batch item 1 is out of range"),
        ({"direction": "bwd"}, "no bwd direction"),
        ({"units": list(range(30)) * 2}, "60 units do not fit on screen; choose at most 40"),
    ],
)
def test_bad_options_say_what_to_change(hello_trace, options, message):
    with pytest.raises(MissingValues, match=message.replace("(", r"\(").replace(")", r"\)")):
        cell_view(hello_trace, "lstm", options)


def test_a_trace_without_an_lstm_is_refused_in_one_line():
    trace = explain.record(torch.nn.GRU(3, 4), torch.randn(2, 1, 3))
    with pytest.raises(MissingValues, match="needs an nn.LSTM") as error:
        cell_view(trace, "lstm", {})
    assert "\n" not in str(error.value)


def test_the_cell_scale_covers_every_cell_state():
    assert symmetric_range([[0.3, -0.2]]) == (-1.0, 1.0)
    assert symmetric_range([[0.3, -2.2], [1.1]]) == (-2.5, 2.5)


# -- rendered ------------------------------------------------------------------------------------


@pytest.mark.render
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_still_matches_reference(hello_trace, tmp_path, lang):
    from scene_checks import assert_matches_reference, render_still

    png = render_still("lstm-cell", hello_trace, tmp_path, lang=lang)
    assert png.name == f"lstm-cell{'-ko' if lang == 'ko' else ''}-still.png"
    assert_matches_reference(png, png.stem)


@pytest.mark.render
@pytest.mark.slow
def test_backward_direction_names_the_step_after(bidirectional_trace, tmp_path):
    from scene_checks import play_through

    scene = play_through("lstm-cell", bidirectional_trace, tmp_path, options={"direction": "bwd", "steps": [5]})
    assert scene.in_direction("C<sub>t−1</sub> and hₜ₋₁") == "C<sub>t+1</sub> and hₜ₊₁"
    view = cell_view(bidirectional_trace, "lstm", {"direction": "bwd", "steps": [5]})
    assert scene.shown[5] == lstm_step_values(bidirectional_trace, view, 5)


@pytest.mark.render
@pytest.mark.slow
def test_the_walkthrough_shows_the_trace_at_every_chosen_step(hello_trace, tmp_path):
    from scene_checks import play_through

    options = {"steps": [3, 4], "units": [4, 7, 11], "layer": 0}
    scene = play_through("lstm-cell", hello_trace, tmp_path, options=options)
    view = cell_view(hello_trace, "lstm", options)
    assert list(scene.shown) == [3, 4]
    for t in (3, 4):
        assert scene.shown[t] == lstm_step_values(hello_trace, view, t)
        strip_h = scene.shown[t]["h"]
        assert strip_h == pytest.approx(hello_trace["l0.fwd.h"][t, 0, [4, 7, 11]].tolist(), abs=1e-7)
