"""explain.plot and ``explain plot``: the data on the axes comes from the trace (no pixel checks)."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import explain
from explain import Trace, plot
from explain.cli import main


@pytest.fixture(scope="module")
def lstm_trace() -> Trace:
    torch.manual_seed(0)
    return explain.record(torch.nn.LSTM(3, 6), torch.randn(7, 2, 3), tokens=list("hello !"))


def heatmaps(fig):
    """The heatmap axes of a figure (colour bars excluded), with their titles."""
    return {ax.get_title(loc="left").partition(":")[0]: ax for ax in fig.axes if ax.images}


def test_gates_are_units_by_time_with_tokens_and_fixed_scales(lstm_trace):
    fig = plot.gates(lstm_trace, "l0.fwd", batch=1)
    axes = heatmaps(fig)
    assert list(axes) == ["l0.fwd.f", "l0.fwd.i", "l0.fwd.g", "l0.fwd.o"]  # the book's order
    for name, ax in axes.items():
        image = ax.images[0]
        np.testing.assert_array_equal(image.get_array(), lstm_trace[name][:, 1].T.numpy())
        assert image.get_clim() == ((-1.0, 1.0) if name.endswith(".g") else (0.0, 1.0))
        assert ax.get_ylabel() == "unit"
    bottom = axes["l0.fwd.o"]
    assert [label.get_text() for label in bottom.get_xticklabels()] == ["h", "e", "l", "l", "o", "␣", "!"]
    assert bottom.get_xlabel() == "time step (batch 1) and token read"
    assert len(fig.axes) == 8  # one colour bar per heatmap


def test_states_and_chosen_units(lstm_trace):
    fig = plot.states(lstm_trace, "l0.fwd", units=[4, 1])
    axes = heatmaps(fig)
    assert list(axes) == ["l0.fwd.c", "l0.fwd.h"]
    np.testing.assert_array_equal(axes["l0.fwd.c"].images[0].get_array(), lstm_trace["l0.fwd.c"][:, 0, [4, 1]].T.numpy())
    assert [label.get_text() for label in axes["l0.fwd.h"].get_yticklabels()] == ["4", "1"]
    limit = lstm_trace["l0.fwd.c"][:, 0, [4, 1]].abs().max().item()
    assert axes["l0.fwd.c"].images[0].get_clim() == pytest.approx((-limit, limit))


def test_gru_gates_and_long_sequences_label_every_kth_step():
    torch.manual_seed(1)
    trace = explain.record(torch.nn.GRU(2, 3), torch.randn(200, 1, 2))
    fig = plot.gates(trace, "l0.fwd")
    axes = heatmaps(fig)
    assert list(axes) == ["l0.fwd.r", "l0.fwd.z", "l0.fwd.n"]
    ticks = axes["l0.fwd.n"].get_xticks()
    assert ticks[0] == 0 and ticks[1] == 3 and len(ticks) <= plot.MAX_TIME_LABELS


def test_grad_norms_compare_traces_on_a_log_scale():
    t = torch.arange(6, dtype=torch.float64)
    rnn = Trace({"rnn.l0.fwd.grad_h": (0.5**t).reshape(6, 1, 1).expand(6, 2, 3).float()})
    lstm = Trace({"lstm.l0.fwd.grad_h": torch.ones(6, 2, 3), "lstm.l1.fwd.grad_h": torch.full((6, 2, 3), 2.0)})
    fig = plot.grad_norms({"RNN": rnn, "LSTM": lstm})
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["RNN: rnn.l0.fwd.grad_h", "LSTM: lstm.l0.fwd.grad_h", "LSTM: lstm.l1.fwd.grad_h"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), (0.5**t).numpy() * 6**0.5, rtol=1e-6)
    np.testing.assert_allclose(ax.lines[2].get_ydata(), np.full(6, 2 * 6**0.5), rtol=1e-6)
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "time step t"
    assert ax.lines[1].get_color() == ax.lines[2].get_color() != ax.lines[0].get_color()  # a colour per trace
    assert ax.lines[1].get_linestyle() != ax.lines[2].get_linestyle()  # a line style per layer
    with pytest.raises(plot.PlotError, match="grads=True"):
        plot.grad_norms(Trace({"x": torch.ones(1)}))


def test_feature_maps_grid_shows_chosen_channels_on_one_scale():
    torch.manual_seed(2)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 20, 3), torch.nn.ReLU())
    trace = explain.record(net, torch.randn(2, 1, 9, 9))
    fig = plot.feature_maps(trace, "1", batch=1)
    images = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in images] == [f"channel {c}" for c in range(16)]
    np.testing.assert_array_equal(images[5].images[0].get_array(), trace["1"][1, 5].numpy())
    assert images[0].images[0].get_clim() == images[15].images[0].get_clim()
    assert images[0].images[0].get_clim()[0] == 0.0  # ReLU output: a 0→max scale
    assert fig._suptitle.get_text() == "1 (ReLU): 16 of 20 channels, 7×7, batch 1"
    fig = plot.feature_maps(trace, "0", channels=[19, 3])
    assert [ax.get_title() for ax in fig.axes if ax.images] == ["channel 19", "channel 3"]
    assert fig.axes[0].images[0].get_clim()[0] < 0  # signed conv output: a symmetric scale
    with pytest.raises(plot.PlotError, match=r"channel 20 is out of range: 0 has 20 \(channels 0–19\)"):
        plot.feature_maps(trace, "0", channels=[20])
    assert plot.default_panels(trace) == ["@input.0", "0", "1"]  # the image first; kernels (0@weight) are not maps
    with pytest.raises(plot.PlotError, match="feature maps: @input.0, 0, 1$"):
        plot.feature_maps(trace, "nothing")


def test_show_picks_a_view_per_name_and_saves(lstm_trace, tmp_path):
    trace = Trace(dict(lstm_trace.items(), **{"l0.fwd.grad_h": torch.ones(7, 2, 6), "conv": torch.zeros(1, 3, 4, 4)}),
                  meta=lstm_trace.meta)
    assert plot.default_panels(trace) == ["l0.fwd", "grad_h", "conv"]
    fig = plot.show(trace, ["l0.fwd", "l0.fwd.h", "grad_h", "conv"])
    first_titles = [panel.axes[0].get_title(loc="left") or panel.axes[0].get_title() for panel in fig.subfigs]
    assert first_titles == ["l0.fwd.f: forget gate", "l0.fwd.h: hidden state", "gradient norm over time", "channel 0"]
    path = plot.save(fig, tmp_path / "sub" / "all.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(plot.PlotError, match=r"recurrent layer \(l0.fwd\)"):
        plot.show(trace, ["l9.fwd"])
    with pytest.raises(plot.PlotError, match="nothing to plot"):
        plot.show(Trace({"fc": torch.ones(2, 3)}))


def test_cli_plot_writes_the_file_and_reports_errors(lstm_trace, tmp_path, capsys):
    lstm_trace.save(tmp_path / "t.safetensors")
    assert main(["plot", str(tmp_path / "t.safetensors"), "l0.fwd", "--units", "0-2", "-o", str(tmp_path / "g.svg")]) == 0
    assert (tmp_path / "g.svg").read_text().lstrip().startswith("<?xml")
    assert "wrote" in capsys.readouterr().out
    assert main(["plot", str(tmp_path / "t.safetensors"), "l0.fwd", "--batch", "5", "-o", str(tmp_path / "g.png")]) == 2
    assert "batch item 5 is out of range: l0.fwd.f has 2 (batch items 0–1)" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "t.safetensors"), "-o", str(tmp_path / "g.txt")]) == 2
    assert main(["plot", str(tmp_path / "missing.safetensors")]) == 2


def test_the_command_line_does_not_import_matplotlib_until_plotting():
    code = "import sys, explain.cli; explain.cli.build_parser(); import explain.testing; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_time_axis_without_tokens_is_numbered_and_missing_layers_are_named():
    trace = Trace({"cell.i": torch.rand(3, 1, 2), "cell.h": torch.rand(3, 1, 2)}, meta={"tokens": ["only", "two"]})
    fig = plot.gates(trace, "cell")
    assert [label.get_text() for label in fig.axes[0].get_xticklabels()] == ["0", "1", "2"]
    assert fig.axes[0].get_xlabel() == "time step (batch 0)"
    with pytest.raises(plot.PlotError, match=r"no gates or states under 'rnn.l0.fwd' in this trace; recurrent layers in it: none"):
        plot.gates(trace, "rnn.l0.fwd")
    with pytest.raises(plot.PlotError, match=r"no cell.c in this trace"):
        plot.layer(trace, "cell", ["c"])


def test_grad_norms_of_real_recordings():
    torch.manual_seed(3)
    x = torch.randn(12, 1, 4)
    traces = {
        kind.__name__: explain.record(kind(4, 5), x, grads=True, loss=lambda out: out[0][-1].sum())
        for kind in (torch.nn.RNN, torch.nn.LSTM)
    }
    ax = plot.grad_norms(traces).axes[0]
    assert [line.get_label() for line in ax.lines] == ["RNN: l0.fwd.grad_h", "LSTM: l0.fwd.grad_h"]
    for line, trace in zip(ax.lines, traces.values()):
        np.testing.assert_allclose(line.get_ydata(), trace["l0.fwd.grad_h"][:, 0].norm(dim=1).numpy(), rtol=1e-6)
