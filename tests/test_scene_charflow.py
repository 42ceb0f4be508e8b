"""char-flow (figure 7): one-hot rows, teacher-forced predictions and generated characters, from the trace."""

from __future__ import annotations

import string

import pytest
import torch

from explain import Trace
from explain.figures.recurrent import MissingValues
from scene_checks import assert_matches_reference, render_still
from explain.models.recipes import char_flow as char_flow_trace


@pytest.fixture(scope="module")
def flow() -> Trace:
    return char_flow_trace("char-rnn", text="Beautiful is", prime="Beautiful", length=6)


def test_recording_keeps_what_the_model_did(flow):
    vocab = flow.meta["vocab"]
    assert vocab == string.printable
    assert "".join(vocab[i] for i in flow["teacher.input"]) == "Beautiful i"
    assert "".join(vocab[i] for i in flow["teacher.target"]) == "eautiful is"
    assert flow["teacher.logits"].shape == (11, 100) and flow["free.logits"].shape == (6, 100)
    # free running feeds each output back: the next input is the previous output
    assert flow["free.input"][0] == vocab.index("l")
    assert torch.equal(flow["free.input"][1:], flow["free.output"][:-1])
    assert torch.equal(flow["free.output"], flow["free.logits"].argmax(-1))
    assert flow["free.rnn.l1.fwd.h"].shape == (6, 1, 100)


def test_predictions_and_probabilities_come_from_the_logits(flow):
    from explain.scenes.charflow import flow_values

    shown = flow_values(flow, {"steps": "2-4", "generated": 4})
    probabilities = torch.softmax(flow["teacher.logits"][2:5], dim=-1)
    assert shown["teacher"]["outputs"] == [string.printable[i] for i in probabilities.argmax(-1)]
    assert shown["teacher"]["probabilities"] == pytest.approx(probabilities.max(-1).values.tolist())
    assert shown["teacher"]["inputs"] == list("aut") and shown["teacher"]["targets"] == list("uti")
    assert shown["free"]["outputs"] == [string.printable[i] for i in flow["free.output"][:4]]
    assert torch.tensor(shown["states"]) == pytest.approx(flow["rnn.l1.fwd.h"][2:5, 0, :6])
    assert torch.tensor(shown["free_states"]) == pytest.approx(flow["free.rnn.l1.fwd.h"][:4, 0, :6])


def test_one_hot_rows_mark_each_input_character(flow):
    from explain.scenes.charflow import flow_values

    shown = flow_values(flow)
    rows = shown["one_hot_rows"]
    assert rows == sorted(set("Beaut"), key=string.printable.index)
    for char, column in zip("Beaut", shown["one_hot"]):
        assert column == [1.0 if row == char else 0.0 for row in rows]


def test_a_trace_without_the_runs_is_refused():
    from explain.draw.base import SceneInputError
    from explain.scenes.charflow import CharFlowScene

    with pytest.raises(SceneInputError, match="teacher.input.*--recipe char-flow"):
        CharFlowScene.check(Trace({"rnn.l0.fwd.h": torch.zeros(3, 1, 4)}), {})


def test_too_many_steps_are_refused(flow):
    from explain.scenes.charflow import flow_values

    with pytest.raises(MissingValues, match="1 to 6 steps of each kind fit"):
        flow_values(flow, {"generated": 9})


@pytest.fixture(scope="module")
def untrained_flow() -> Trace:
    """Reference stills draw the seeded untrained model: retraining the book's weights leaves them valid."""
    return char_flow_trace("char-rnn", text="Beautiful is", prime="Beautiful", length=6, trained=False)


@pytest.mark.render
def test_still_matches_reference(untrained_flow, tmp_path):
    png = render_still("char-flow", untrained_flow, tmp_path)
    assert_matches_reference(png, "char-flow")


@pytest.mark.render
def test_korean_still_matches_reference(untrained_flow, tmp_path):
    png = render_still("char-flow", untrained_flow, tmp_path, lang="ko")
    assert_matches_reference(png, "char-flow-ko")
