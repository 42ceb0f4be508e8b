"""rnn-unroll and rnn-layers on recurrent models that are not the book's (tests/recurrent_gallery.py)."""

from __future__ import annotations

import pytest
import torch

import explain

from explain.draw.base import SceneInputError
from explain.figures.recurrent import MissingValues
from explain.scenes.lstm import LSTMCellScene
from explain.models import recipes
from recurrent_gallery import record_gallery
from scene_checks import render_still
from explain.scenes.rnn import RNNLayersScene, RNNUnrollScene, layered_equation, layered_values, loss_text, unroll_captions, unroll_values


@pytest.fixture(scope="module")
def word_lstm():
    return record_gallery("word-lstm")


@pytest.fixture(scope="module")
def bidirectional():
    return record_gallery("bidirectional-lstm")


def test_an_lstm_is_drawn_with_its_own_equation_and_word_tokens(word_lstm):
    values = unroll_values(word_lstm)
    assert values["kind"] == "lstm" and "c<sub>t</sub> = f<sub>t</sub>" in values["equation"] and "tanh(W" not in values["equation"]
    assert values["tokens"] == ["the", "cat", "sat", "on", "the"] and values["noun"] == ("token", "토큰")
    captions = " ".join(english for english, _ in unroll_captions(values))
    assert "character" not in captions and "hₜ and cₜ" in captions
    assert values["h"][1] == pytest.approx(word_lstm["lstm.l1.fwd.h"][1, 0, :10].tolist())


def test_the_layered_figure_names_what_the_trace_has(word_lstm):
    values = layered_values(word_lstm)
    assert "LSTM¹(x<sub>t</sub>" in layered_equation(values) and "decoder(h²<sub>t</sub>)" in layered_equation(values)
    assert values["has_targets"] is False and values["grads"] is None
    assert "no gradients" in loss_text(values)[1][0]


def test_tokens_that_reach_the_lstm_through_an_embedding_say_so(word_lstm, bidirectional):
    """The input row shows words; layer 1 reads their embedding vectors, and the equation says which module made them."""
    assert layered_equation(layered_values(word_lstm), "입력").startswith("x<sub>t</sub> = encoder(입력<sub>t</sub>)")
    assert "x<sub>t</sub> =" not in layered_equation(layered_values(bidirectional))  # a series read as it is


def test_a_batch_first_embedding_is_found_too():
    from explain.figures.recurrent import encoder_of

    class Tagger(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.lstm = torch.nn.Embedding(20, 5), torch.nn.LSTM(5, 6, batch_first=True)

        def forward(self, tokens):
            return self.lstm(self.embed(tokens))[0]

    assert encoder_of(explain.record(Tagger(), torch.randint(0, 20, (3, 7))), "lstm") == "embed"


def test_a_gradient_recipe_names_its_loss():
    values = layered_values(recipes.run("gradients", "char-rnn", text="Beautiful"))
    assert values["has_targets"] and values["targets"][:3] == ["e", "a", "u"]
    assert loss_text(values)[0].startswith("L = L₀ + L₁") and "cross-entropy" in loss_text(values)[1][0]
    last = layered_values(recipes.run("gradients", "char-rnn", text="Beautiful", loss_at="last"))
    assert loss_text(last)[0] == "L = L<sub>T</sub>"


def test_a_bidirectional_layer_draws_the_chosen_direction(bidirectional):
    backward = unroll_values(bidirectional, {"direction": "bwd", "units": "0-3"})
    assert backward["directions"] == ["fwd", "bwd"] and backward["direction"] == "bwd"
    total = bidirectional["lstm.l1.bwd.h"].shape[0]
    assert backward["steps"] == list(range(total - 5, total)) and total > 5  # by default, where the backward direction starts
    assert backward["h"][2] == pytest.approx(bidirectional["lstm.l1.bwd.h"][total - 3, 0, :4].tolist())
    assert "backward" in unroll_captions(backward)[1][0]
    assert "h<sub>t+1</sub>" in backward["equation"] and "t−1" not in backward["equation"]  # its state comes from t+1
    assert "h²<sub>t</sub>(bwd)" in layered_equation(layered_values(bidirectional))
    with pytest.raises(SceneInputError, match="forward direction.*rnn-unroll draws --direction bwd"):
        RNNLayersScene.check(bidirectional, {"direction": "bwd"})
    with pytest.raises(SceneInputError, match="direction 'bwd' is not in the trace.*has fwd"):
        RNNUnrollScene.check(record_gallery("word-lstm"), {"direction": "bwd"})


def test_a_cell_is_drawn_as_a_one_layer_module():
    """nn.LSTMCell and a hand-written cell named through explain.Probe: the figures read their steps."""
    from explain.figures.cells import cell_view, lstm_step_values
    from explain.figures.recurrent import layered_view

    trace = record_gallery("probed-lstm-cell")
    view = layered_view(trace)
    LSTMCellScene.check(view, {})
    shown = lstm_step_values(view, cell_view(view, "lstm", {"steps": [3]}), 3)
    assert shown["f"] == pytest.approx(trace["f"][3, 0, : len(shown["f"])].tolist())
    assert unroll_values(view)["kind"] == "lstm"


def test_a_hand_written_rnn_cell_is_drawn_from_its_recorded_state():
    """The tutorial's i2h/h2h + tanh cell, one call per letter: rnn-unroll reads its hidden series."""
    from explain.figures.recurrent import layered_view

    trace = record_gallery("handwritten-rnn")
    values = unroll_values(layered_view(trace), {"units": "0-3"})
    assert values["kind"] == "rnn" and values["h"][2] == pytest.approx(trace["h"][2, 0, :4].tolist())


@pytest.mark.slow
@pytest.mark.render
@pytest.mark.parametrize(
    "model, scene, options",
    [("word-lstm", "rnn-unroll", {}), ("word-lstm", "rnn-layers", {}), ("bidirectional-lstm", "rnn-unroll", {"direction": "bwd"}),
     ("probed-lstm-cell", "lstm-cell", {}), ("probed-lstm-cell", "rnn-unroll", {}), ("handwritten-rnn", "rnn-unroll", {})],
)
def test_gallery_stills_render(model, scene, options, tmp_path):
    torch.set_num_threads(1)
    assert render_still(scene, record_gallery(model), tmp_path, options=options).is_file()


@pytest.mark.parametrize("name", ["word-lstm", "bidirectional-lstm", "handwritten-rnn", "probed-lstm-cell"])
def test_every_described_module_has_a_kind_so_a_cnn_figure_refuses_plainly(name):
    """A CNN scene on a recurrent trace says there is no convolution, not that the trace is 'from an older explain'."""
    from explain.figures.convolution import convolution_plan
    from explain.figures.errors import FigureError
    from explain.figures.layers import kind

    trace = record_gallery(name)
    kinds = {module: kind(trace, module) for module in trace.meta["modules"]}
    if "lstm" in kinds:
        assert kinds["lstm"] == "recurrent"
    if "" in kinds:
        assert kinds[""] == "module"  # a hand-written cell is the user's own module
    with pytest.raises(FigureError, match="the trace has no convolution"):
        convolution_plan(trace)


def test_a_recurrent_cell_module_is_of_kind_recurrent_cell():
    from explain.figures.layers import kind

    cell = torch.nn.GRUCell(3, 4)
    with explain.record(cell) as trace:
        cell(torch.zeros(1, 3))
    assert kind(trace, "") == "recurrent_cell"


def test_the_decoder_is_the_linear_layer_after_the_recurrent_module_whatever_its_class():
    class Decoder(torch.nn.Linear):
        pass

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.project, self.lstm, self.out = torch.nn.Linear(3, 4), torch.nn.LSTM(4, 5, num_layers=2), Decoder(5, 2)

        def forward(self, x):
            return self.out(self.lstm(self.project(x))[0])

    class NoDecoder(torch.nn.Module):  # a Linear before the LSTM is no decoder of its h
        def __init__(self):
            super().__init__()
            self.project, self.lstm = torch.nn.Linear(3, 4), torch.nn.LSTM(4, 5, num_layers=2)

        def forward(self, x):
            return self.lstm(self.project(x))[0]

    torch.manual_seed(0)
    x = torch.randn(4, 1, 3)
    assert layered_values(explain.record(Net(), x))["decoder"] == "out"
    values = layered_values(explain.record(NoDecoder(), x))
    assert values["decoder"] is None and "project" not in layered_equation(values)


@pytest.mark.render
def test_the_korean_unrolled_figure_writes_its_equation_in_korean(word_lstm, tmp_path):
    """The LSTM's step equation kept '(gates i, f, g, o from xₜ and hₜ₋₁)' in English under a Korean title."""
    from scene_checks import play_through

    scene = play_through("rnn-unroll", word_lstm, tmp_path, lang="ko")
    shown = " ".join(m.original_text for m in scene.mobjects if hasattr(m, "original_text"))
    assert "게이트 i, f, g, o ←" in shown and "gates" not in shown and " from " not in shown


def test_a_cell_figure_tells_a_hand_written_cell_how_to_name_its_gates():
    trace = record_gallery("handwritten-rnn")
    with pytest.raises(MissingValues, match=r"needs an nn.LSTM \(or a hand-written cell that passes i, f, g, o, c, h through explain.Probe"):
        LSTMCellScene.check(trace, {})


def lstm_values_built_by_hand(steps: int = 3, units: int = 4, coupled: bool = False) -> explain.Trace:
    """Gates and states of an LSTM layer written out by hand: PyTorch's equations, or a variant with
    coupled gates (iₜ = 1 − fₜ, which still follows them) and hₜ = oₜ ⊙ Cₜ (which does not)."""
    i, f, g, o = torch.rand(steps, 1, units), torch.rand(steps, 1, units), torch.rand(steps, 1, units) * 2 - 1, torch.rand(steps, 1, units)
    i = 1 - f if coupled else i
    c = torch.zeros(steps, 1, units)
    for t in range(steps):
        c[t] = (f[t] * c[t - 1] if t else 0) + i[t] * g[t]
    h = o * c if coupled else o * torch.tanh(c)
    return explain.Trace({f"l0.fwd.{q}": value for q, value in zip("ifgoch", (i, f, g, o, c, h))})


def test_a_hand_written_cell_that_computes_otherwise_is_refused_by_the_cell_figures():
    from explain.figures.cells import cell_view
    from explain.figures.recurrent import MissingValues

    with pytest.raises(MissingValues, match=r"draws PyTorch's equation hₜ = oₜ ⊙ tanh\(Cₜ\), which the recorded values do not follow \(t = \d, unit \d"):
        cell_view(lstm_values_built_by_hand(coupled=True), "lstm", {})
    unit = lstm_values_built_by_hand()
    unit["l0.fwd.c"][2, 0, 1] += 0.01  # one value off at t = 2: Cₜ no longer follows from Cₜ₋₁
    with pytest.raises(MissingValues, match=r"Cₜ = fₜ ⊙ Cₜ₋₁ \+ iₜ ⊙ C̃ₜ, which the recorded values do not follow \(t = 2, unit 1"):
        cell_view(unit, "lstm", {})


def test_an_lstm_with_projections_is_refused_by_the_cell_figures_and_pointed_to_the_chain_figures():
    from explain.figures.cells import cell_view
    from explain.figures.recurrent import MissingValues

    trace = explain.record(torch.nn.LSTM(3, 6, proj_size=2), torch.randn(4, 1, 3))
    with pytest.raises(MissingValues, match=r"projects it \(proj_size=2: hₜ = W_hr·\(oₜ ⊙ tanh\(Cₜ\)\), 2 values from 6 cell units\); rnn-unroll"):
        cell_view(trace, "lstm", {})


def test_a_probed_cell_says_its_values_came_through_probe_and_an_lstm_does_not(word_lstm):
    from explain.draw.cell_scene import CellScene
    from explain.figures.cells import cell_view
    from explain.figures.recurrent import layered_view

    assert cell_view(layered_view(record_gallery("probed-lstm-cell")), "lstm", {}).probed
    assert not cell_view(word_lstm, "lstm", {}).probed
    assert not cell_view(lstm_values_built_by_hand(), "lstm", {}).probed  # nothing says the values came through Probe
    assert "explain.Probe" in CellScene.probed_note[0] and "explain.Probe" in CellScene.probed_note[1]


class _Classifier(torch.nn.Module):
    """Many to one: a 2-layer GRU whose last step alone goes through the head (out[:, -1])."""

    def __init__(self):
        super().__init__()
        self.gru, self.fc = torch.nn.GRU(3, 5, num_layers=2, batch_first=True), torch.nn.Linear(5, 2)

    def forward(self, x):
        return self.fc(self.gru(x)[0][:, -1])


def test_a_many_to_one_model_has_its_output_only_at_the_step_its_head_reads(tmp_path):
    from explain.scenes.rnn import layers_captions
    from scene_checks import play_through

    torch.manual_seed(0)
    trace = explain.record(_Classifier().eval(), torch.randn(2, 6, 3))
    first = layered_values(trace, {})
    assert first["outputs"] == [5] and "y = fc(h²₅)" in layered_equation(first)
    assert "→ hidden 2;" in layers_captions(first)[0][0]  # no output at t = 0
    scene = play_through("rnn-layers", trace, tmp_path, options={"steps": [3, 4, 5]})
    assert [("output" in nodes) for nodes in scene.grid["nodes"]] == [False, False, True]
    assert layers_captions(scene.shown)[0][0] == "At t = 3: input → hidden 1 → hidden 2; the state comes from t = 2."
    per_step = explain.record(torch.nn.Sequential(torch.nn.GRU(3, 5, num_layers=2)), torch.randn(4, 1, 3))
    assert layered_values(per_step, {})["outputs"] is None  # no head: h² is the output at every step


def test_an_unrolled_chain_that_starts_after_t_0_shows_the_state_arriving(word_lstm, tmp_path):
    from scene_checks import play_through

    later = play_through("rnn-unroll", word_lstm, tmp_path, options={"steps": "2-4"})
    arrow, label = later.chain["entry"]
    assert label.text == "h₁,c₁" and 0 <= later.chain["boxes"][0].get_left()[0] - arrow.get_end()[0] < 0.2  # into the first box
    assert len(play_through("rnn-unroll", word_lstm, tmp_path, options={"steps": "0-2"}).chain["entry"]) == 0  # t = 0 starts from zeros


def test_a_cell_figure_asked_for_another_kind_of_module_names_the_figure_that_draws_it(word_lstm):
    from explain.figures.cells import cell_view

    with pytest.raises(MissingValues, match=r"needs an nn.GRU .*; in this trace lstm is an LSTM \(drawn by lstm-cell\)"):
        cell_view(word_lstm, "gru", {})


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_the_cell_equations_hold_for_packed_sequences_of_different_lengths_with_given_states(kind):
    from torch.nn.utils.rnn import pack_padded_sequence

    from explain.figures.cells import cell_view

    torch.manual_seed(0)
    module = torch.nn.LSTM(3, 4, bidirectional=True) if kind == "lstm" else torch.nn.GRU(3, 4, bidirectional=True)
    state = (torch.randn(2, 2, 4), torch.randn(2, 2, 4)) if kind == "lstm" else torch.randn(2, 2, 4)
    trace = explain.record(module, pack_padded_sequence(torch.randn(6, 2, 3), [6, 3]), state)
    for batch in (0, 1):  # item 1's backward chain starts at its own last step, t = 2, from the given state
        for direction in ("fwd", "bwd"):
            assert cell_view(trace, kind, {"batch": batch, "direction": direction}).batch == batch
    if kind == "lstm":  # the state drawn entering that step is the one given, not the padding after it
        from explain.figures.cells import lstm_step_values

        view = cell_view(trace, "lstm", {"batch": 1, "direction": "bwd", "steps": [2]})
        assert lstm_step_values(trace, view, 2)["c_prev"] == pytest.approx(state[1][1, 1].tolist(), abs=1e-5)
        assert max(cell_view(trace, "lstm", {"batch": 1}).steps) <= 2  # its own 3 steps, not the padding after them


def test_the_chain_figures_draw_a_packed_sequence_only_as_long_as_it_is():
    from torch.nn.utils.rnn import pack_padded_sequence

    torch.manual_seed(0)
    trace = explain.record(torch.nn.GRU(3, 4, num_layers=2, bidirectional=True), pack_padded_sequence(torch.randn(7, 2, 3), [7, 3]))
    assert unroll_values(trace, {"batch": 1})["steps"] == [0, 1, 2] and unroll_values(trace, {"batch": 0})["steps"] == [0, 1, 2, 3, 4]
    assert unroll_values(trace, {"batch": 1, "direction": "bwd"})["steps"] == [0, 1, 2]  # its backward chain starts at t = 2
    with pytest.raises(MissingValues, match="time step 3 is out of range: batch item 1 has 3"):
        layered_values(trace, {"batch": 1, "steps": "1-3"})  # t = 3 is padding, not a step of item 1


@pytest.mark.parametrize("model, kind", [("hello-lstm", "lstm"), ("char-gru", "gru")])
def test_the_cell_equations_hold_for_a_book_trace_saved_in_half_precision(model, kind, tmp_path):
    from explain import models
    from explain.figures.cells import cell_view

    path = models.load(model).record().save(tmp_path / "half.safetensors", dtype=torch.float16)
    assert cell_view(explain.load(path), kind, {}).steps  # float16's rounding is allowed, not taken for another convention


def test_a_state_reset_between_calls_is_refused_only_where_it_is_drawn():
    from explain.figures.cells import cell_view

    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(3, 4)
    with explain.record(cell) as trace:
        for sentence in range(2):  # two sentences, each from a zero state
            state = None
            for x in torch.randn(4, 1, 3):
                state = cell(x, state)
    from explain.figures.recurrent import layered_view

    trace = layered_view(trace)
    assert cell_view(trace, "lstm", {"steps": [0, 1, 2, 3]}).steps == [0, 1, 2, 3]
    with pytest.raises(MissingValues, match=r"t = 4, .*or a state changed between calls"):
        cell_view(trace, "lstm", {"steps": [3, 4, 5]})


class _LanguageModelHead(torch.nn.Module):
    """A head on every step but the last (out[:-1]: each step predicts the next token)."""

    def __init__(self):
        super().__init__()
        self.rnn, self.fc = torch.nn.GRU(3, 4, num_layers=2), torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.rnn(x)[0][:-1])


class _BidirectionalClassifier(torch.nn.Module):
    """torch's usual bidirectional classifier: the last layer's final states of both directions, joined."""

    def __init__(self):
        super().__init__()
        self.rnn, self.fc = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True), torch.nn.Linear(8, 2)

    def forward(self, x):
        _, (h, _) = self.rnn(x)
        return self.fc(torch.cat([h[-2], h[-1]], 1))


def test_heads_that_read_some_steps_are_drawn_and_said_as_they_read():
    from explain.scenes.rnn import outputs_note

    torch.manual_seed(0)
    every_but_last = layered_values(explain.record(_LanguageModelHead().eval(), torch.randn(10, 1, 3)), {})
    assert every_but_last["outputs"] == list(range(9)) and "y<sub>t</sub> = fc(h²<sub>t</sub>)" in layered_equation(every_but_last)
    assert outputs_note(every_but_last)[0] == "fc reads h² at\nt = 0–8 only"
    both = layered_values(explain.record(_BidirectionalClassifier().eval(), torch.randn(10, 1, 3)), {})
    assert "y = fc([h²₉, h²₀(bwd)])" in layered_equation(both)  # the backward half ends at t = 0
    filtered = layered_values(explain.record(_Classifier().eval(), torch.randn(2, 6, 3), names=["gru*", "fc"]), {})
    assert filtered["outputs"] == [] and "its input is\nnot in this trace" in outputs_note(filtered)[0]


class _LSTMBesideNaN(torch.nn.Module):
    """An LSTM whose states are finite beside a part that computes NaN (as a -inf attention mask can)."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 4)

    def forward(self, x):
        return self.lstm(x)[0], torch.log(-x.abs() - 1)


def test_a_recurrent_figure_draws_finite_states_beside_nan_elsewhere_and_a_cnn_figure_refuses_nan():
    from explain.figures.errors import FigureError
    from explain.scenes.cnn import CNNPipelineScene

    trace = explain.record(_LSTMBesideNaN(), torch.randn(5, 1, 3))
    assert bool(trace[":log"].isnan().all())
    RNNUnrollScene.check(trace, {})
    LSTMCellScene.check(trace, {})
    with pytest.raises(FigureError, match=r"holds NaN, first in :log"):
        CNNPipelineScene.check(trace, {})
