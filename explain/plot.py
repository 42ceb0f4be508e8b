"""matplotlib views of a Trace: gates and states over time, gradient norms, feature maps.

    >>> import torch, explain
    >>> from explain import plot
    >>> tr = explain.record(torch.nn.LSTM(3, 4), torch.randn(6, 1, 3), tokens=list("hello!"))
    >>> fig = plot.gates(tr, "l0.fwd")          # f, i, g, o: units × time, tokens on the time axis
    >>> fig = plot.show(tr, ["l0.fwd", "l0.fwd.h"]); fig.savefig("trace.png")  # doctest: +SKIP

Every view takes an optional ``fig`` (a matplotlib Figure or SubFigure) to draw into and returns
it; without one it makes a new Figure (not managed by pyplot, so nothing is kept alive behind
your back; in a notebook, run ``%matplotlib inline`` once so figures display).

Scales are fixed where the maths fixes them, so colours compare across plots: sigmoid gates
(i, f, o, r, z) 0→1, tanh values (g, n, and RNN/LSTM h) −1→1; cell state c and feature maps use a
range symmetric around 0 from the data. Colours match the scenes (white → blue, red for negatives).

This module imports matplotlib; ``import explain`` does not import it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import torch
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure, SubFigure

from explain import palette
from explain.indices import check_in_range
from explain.names import SIGMOID_QUANTITIES, TANH_QUANTITIES, recurrent_parts
from explain.trace import Trace

__all__ = [
    "DEFAULT_PANEL_LIMIT",
    "default_panels",
    "DESCRIPTIONS",
    "DIVERGING_MAP",
    "feature_map_names",
    "feature_maps",
    "GATES",
    "gates",
    "grad_norms",
    "layer",
    "LINE_STYLES",
    "MAX_TIME_LABELS",
    "PanelFigure",
    "PlotError",
    "quantity",
    "recurrent_layers",
    "save",
    "show",
    "SIGMOID_MAP",
    "STATES",
    "states",
]

SIGMOID_MAP = LinearSegmentedColormap.from_list("explain-sigmoid", [palette.ZERO, palette.POSITIVE])
DIVERGING_MAP = LinearSegmentedColormap.from_list("explain-diverging", [palette.NEGATIVE, palette.ZERO, palette.POSITIVE])

GATES = ("f", "i", "g", "o", "r", "z", "n")  # the book draws f, i, C̃ (g), o; GRU r, z, n
STATES = ("c", "h")
DESCRIPTIONS = {
    "x": "input",
    "i": "input gate",
    "f": "forget gate",
    "g": "cell candidate (C̃)",
    "o": "output gate",
    "r": "reset gate",
    "z": "update gate (1 keeps the old state)",
    "n": "new-state candidate",
    "c": "cell state",
    "h": "hidden state",
    "grad_h": "dL/dh",
}
LINE_STYLES = ("-", "--", ":", "-.")
# Panels show() draws when no names are given.
DEFAULT_PANEL_LIMIT = 6
# Time steps labelled one by one up to this many; beyond, every k-th step.
MAX_TIME_LABELS = 80
PanelFigure = Figure | SubFigure


class PlotError(ValueError):
    """The trace has nothing to plot under the asked name (the message lists what it has)."""


def quantity(
    trace: Trace, name: str, *, batch: int = 0, units: Sequence[int] | None = None, fig: PanelFigure | None = None
) -> PanelFigure:
    """One [T, B, H] quantity as a units × time heatmap with a colour bar.

    >>> fig = quantity(Trace({"rnn.l0.fwd.h": torch.zeros(4, 1, 3)}), "rnn.l0.fwd.h")
    >>> fig.axes[0].get_ylabel()
    'unit'
    """
    return layer(trace, name.rpartition(".")[0], [name.rpartition(".")[2]], batch=batch, units=units, fig=fig)


def gates(
    trace: Trace, prefix: str, *, batch: int = 0, units: Sequence[int] | None = None, fig: PanelFigure | None = None
) -> PanelFigure:
    """The gates of one recurrent layer (``"lstm.l0.fwd"``) or cell (``"cell"``), in the book's order.

    LSTM: f, i, g (C̃), o; GRU: r, z, n. One heatmap each (units × time) with its colour bar.
    """
    return layer(trace, prefix, [q for q in GATES if _has(trace, prefix, q)], batch=batch, units=units, fig=fig)


def states(
    trace: Trace, prefix: str, *, batch: int = 0, units: Sequence[int] | None = None, fig: PanelFigure | None = None
) -> PanelFigure:
    """Cell state c (LSTM) and hidden state h of one recurrent layer or cell over time."""
    return layer(trace, prefix, [q for q in STATES if _has(trace, prefix, q)], batch=batch, units=units, fig=fig)


def layer(
    trace: Trace,
    prefix: str,
    quantities: Iterable[str] | None = None,
    *,
    batch: int = 0,
    units: Sequence[int] | None = None,
    fig: PanelFigure | None = None,
) -> PanelFigure:
    """Heatmaps (units × time) of ``quantities`` of one layer; by default its gates, c and h.

    >>> tr = Trace({"l0.fwd.f": torch.rand(3, 1, 2), "l0.fwd.h": torch.zeros(3, 1, 2)}, meta={"tokens": ["a", "b", "c"]})
    >>> fig = layer(tr, "l0.fwd")
    >>> [ax.get_title(loc="left") for ax in fig.axes[:2]], [t.get_text() for t in fig.axes[1].get_xticklabels()]
    (['l0.fwd.f: forget gate', 'l0.fwd.h: hidden state'], ['a', 'b', 'c'])
    """
    if quantities is None:
        quantities = [q for q in (*GATES, *STATES) if _has(trace, prefix, q)]
    names = [_join(prefix, q) for q in quantities]
    missing = [name for name in names if name not in trace]
    if missing or not names:
        raise PlotError(
            f"no {', '.join(missing) or f'gates or states under {prefix!r}'} in this trace; "
            f"recurrent layers in it: {', '.join(recurrent_layers(trace)) or 'none'}"
        )
    fig = fig if fig is not None else _new_figure(10, 0.6 + 1.9 * len(names))
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    for ax, name in zip(axes, names):
        values = _time_major(trace, name, batch)
        unit_index = _checked(units, values.shape[1], "unit", name)
        data = values[:, unit_index].T.numpy()
        quantity_name = name.rpartition(".")[2]
        low, high, cmap = _scale(quantity_name, data)
        image = ax.imshow(data, aspect="auto", cmap=cmap, vmin=low, vmax=high, interpolation="nearest", origin="lower")
        ax.set_title(f"{name}: {DESCRIPTIONS.get(quantity_name, quantity_name)}", fontsize=10, loc="left")
        ax.set_ylabel("unit")
        _label_units(ax, unit_index)
        fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01)
    _label_time(axes[-1], len(values), trace.meta.get("tokens") or [], batch)
    return fig


def grad_norms(
    traces: Trace | Mapping[str, Trace], names: Iterable[str] | None = None, *, fig: PanelFigure | None = None
) -> PanelFigure:
    """The norm of dL/dh_t over time for every ``*.grad_h`` (from ``record(..., grads=True)``).

    Pass several traces as ``{"RNN": rnn_trace, "LSTM": lstm_trace}`` to compare how far back
    the gradient reaches. The norm is over units and batch; the y axis is logarithmic.

    >>> tr = Trace({"rnn.l0.fwd.grad_h": torch.ones(5, 1, 4)})
    >>> grad_norms(tr).axes[0].lines[0].get_ydata().tolist()
    [2.0, 2.0, 2.0, 2.0, 2.0]
    """
    labelled = {"": traces} if isinstance(traces, Trace) else dict(traces)
    fig = fig if fig is not None else _new_figure(8, 3.6)
    ax = fig.subplots()
    plotted = 0
    for trace_index, (label, trace) in enumerate(labelled.items()):
        for name_index, name in enumerate(names if names is not None else trace.names("*grad_h")):
            norms = trace[name].detach().to(torch.float64).flatten(1).norm(dim=1)
            # one colour per trace and a line style per layer when traces are compared
            style = {"color": f"C{trace_index}", "linestyle": LINE_STYLES[name_index % 4]} if label else {}
            ax.plot(range(len(norms)), norms.numpy(), marker=".", label=f"{label}: {name}" if label else name, **style)
            plotted += 1
    if not plotted:
        raise PlotError("no *.grad_h names in the trace; record with explain.record(..., grads=True)")
    ax.set_yscale("log")
    ax.set_xlabel("time step t")
    ax.set_ylabel("‖dL/dh_t‖")
    ax.set_title("gradient norm over time", fontsize=10, loc="left")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def feature_maps(
    trace: Trace,
    name: str,
    *,
    batch: int = 0,
    channels: Sequence[int] | None = None,
    max_channels: int = 16,
    fig: PanelFigure | None = None,
) -> PanelFigure:
    """A grid of one layer's feature maps ([B, C, H, W]), one image per channel, one colour bar.

    Shows ``channels`` or the first ``max_channels``; the title says how many of how many.

    >>> fig = feature_maps(Trace({"conv1": torch.randn(1, 6, 5, 5)}), "conv1", max_channels=4)
    >>> fig.axes[0].get_title(), len(fig.axes[0].images)
    ('channel 0', 1)
    """
    if name not in trace or trace[name].dim() != 4:
        raise PlotError(
            f"{name!r} is not a feature map [B, C, H, W] in this trace; feature maps: {', '.join(feature_map_names(trace)) or 'none'}"
        )
    maps = trace[name].detach().to(torch.float32)[_checked([batch], trace[name].shape[0], "batch item", name)[0]]
    chosen = _checked(channels, maps.shape[0], "channel", name, limit=max_channels)
    columns = min(8, len(chosen))
    rows = -(-len(chosen) // columns)
    fig = fig if fig is not None else _new_figure(1.4 * columns + 1.2, 1.5 * rows + 0.7)
    axes = fig.subplots(rows, columns, squeeze=False)
    limit = float(maps[chosen].abs().max()) or 1.0
    low, cmap = (0.0, SIGMOID_MAP) if float(maps[chosen].min()) >= 0 else (-limit, DIVERGING_MAP)
    image = None
    for ax, channel in zip(axes.flat, chosen):
        image = ax.imshow(maps[channel].numpy(), cmap=cmap, vmin=low, vmax=limit, interpolation="nearest")
        ax.set_title(f"channel {channel}", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        if not ax.images:
            ax.set_axis_off()
    fig.colorbar(image, ax=axes.ravel().tolist(), fraction=0.02, pad=0.01)
    height, width = maps.shape[1:]
    module_type = (trace.meta.get("modules") or {}).get(name, {}).get("type")
    title = f"{name} ({module_type})" if module_type else name
    fig.suptitle(
        f"{title}: {len(chosen)} of {maps.shape[0]} channels, {height}×{width}, batch {batch}", fontsize=10, x=0.02, ha="left"
    )
    return fig


def show(
    trace: Trace, names: Sequence[str] | None = None, *, batch: int = 0, units: Sequence[int] | None = None
) -> Figure:
    """One figure with a panel per name, each drawn by the view that fits it.

    A layer prefix (``"lstm.l0.fwd"``) gives its gates and states; a [T, B, H] name its heatmap;
    ``"grad_h"`` or a ``*.grad_h`` name the gradient norms; a [B, C, H, W] name its feature maps.
    Without names: the first :data:`DEFAULT_PANEL_LIMIT` of :func:`default_panels`. ``units``
    chooses the units of heatmaps and the channels of feature maps.

    >>> tr = Trace({"rnn.l0.fwd.h": torch.zeros(4, 1, 3), "conv": torch.zeros(1, 2, 5, 5)})
    >>> [panel.axes[0].get_title(loc="left") or panel.axes[0].get_title() for panel in show(tr).subfigs]
    ['rnn.l0.fwd.h: hidden state', 'channel 0']
    """
    chosen = list(names) if names else default_panels(trace)[:DEFAULT_PANEL_LIMIT]
    if not chosen:
        raise PlotError("nothing to plot: the trace has no recurrent layers, gradients or feature maps")
    drawers = [_panel(trace, name, batch, units) for name in chosen]
    heights = [height for height, _ in drawers]
    fig = Figure(figsize=(10, sum(heights)), layout="constrained")
    panels = fig.subfigures(len(drawers), 1, height_ratios=heights, squeeze=False)[:, 0]
    for panel, (_, draw) in zip(panels, drawers):
        draw(panel)
    return fig


def default_panels(trace: Trace) -> list[str]:
    """What :func:`show` draws without names: recurrent layers, "grad_h", then the feature maps."""
    panels = recurrent_layers(trace)
    if trace.names("*grad_h"):
        panels.append("grad_h")
    return panels + feature_map_names(trace)


def feature_map_names(trace: Trace) -> list[str]:
    """The [B, C, H, W] names: the input image and every layer's maps (not recorded kernels, ``q@weight``).

    >>> feature_map_names(Trace({"@input.0": torch.zeros(1, 1, 4, 4), "c@weight": torch.zeros(2, 1, 3, 3)}))
    ['@input.0']
    """
    return [name for name in trace.names() if trace[name].dim() == 4 and not name.endswith("@weight")]


def recurrent_layers(trace: Trace) -> list[str]:
    """Prefixes of the recurrent layers in a trace, in order: ``["lstm.l0.fwd", "lstm.l0.bwd", …]``."""
    layers: list[str] = []
    for name in trace.names():
        parts = recurrent_parts(name)
        if parts is not None and parts["quantity"] != "grad_h":
            prefix = name.rpartition(".")[0]
            if prefix not in layers:
                layers.append(prefix)
    return layers


def save(fig: PanelFigure, path: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` (PNG, SVG or PDF by the suffix) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


# -- the parts -----------------------------------------------------------------------------------


def _panel(trace: Trace, name: str, batch: int, units: Sequence[int] | None):
    """(height in inches, draw(fig)) for one name of :func:`show`."""
    if name == "grad_h" or name.endswith(".grad_h"):
        chosen = None if name == "grad_h" else [name]
        return 3.6, lambda fig: grad_norms(trace, chosen, fig=fig)
    if name in trace and trace[name].dim() == 4:
        shown = len(units) if units is not None else min(16, trace[name].shape[1])
        return 1.5 * -(-shown // 8) + 0.8, lambda fig: feature_maps(trace, name, batch=batch, channels=units, fig=fig)
    if name in trace and trace[name].dim() == 3:
        return 2.5, lambda fig: quantity(trace, name, batch=batch, units=units, fig=fig)
    quantities = [q for q in (*GATES, *STATES) if _has(trace, name, q)]
    if not quantities:
        raise PlotError(
            f"nothing to plot for {name!r}: give a recurrent layer ({', '.join(recurrent_layers(trace)) or 'none'}), "
            "a [T, B, H] or [B, C, H, W] name, or grad_h"
        )
    return 0.6 + 1.9 * len(quantities), lambda fig: layer(trace, name, quantities, batch=batch, units=units, fig=fig)


def _checked(indices: Sequence[int] | None, size: int, what: str, owner: str, limit: int | None = None) -> list[int]:
    """``indices`` (default: the first ``limit`` or all) after checking they lie in range(size)."""
    if indices is None:
        return list(range(min(size, limit) if limit else size))
    chosen = list(indices)
    if not chosen:
        raise PlotError(f"no {what} of {owner} chosen; there are {size} ({what}s 0–{size - 1})")
    try:
        check_in_range(what, chosen, size, owner)
    except ValueError as error:
        raise PlotError(str(error)) from None
    return chosen


def _has(trace: Trace, prefix: str, quantity_name: str) -> bool:
    return _join(prefix, quantity_name) in trace


def _join(prefix: str, quantity_name: str) -> str:
    return f"{prefix}.{quantity_name}" if prefix else quantity_name


def _time_major(trace: Trace, name: str, batch: int) -> torch.Tensor:
    """[T, H] of batch ``batch`` from a [T, B, H] name (float32, detached)."""
    values = trace[name]
    if values.dim() != 3:
        raise PlotError(f"{name} has shape {tuple(values.shape)}; a time heatmap needs [T, B, H]")
    return values[:, _checked([batch], values.shape[1], "batch item", name)[0]].detach().to(torch.float32)


def _scale(quantity_name: str, data) -> tuple[float, float, LinearSegmentedColormap]:
    if quantity_name in SIGMOID_QUANTITIES:
        return 0.0, 1.0, SIGMOID_MAP
    if quantity_name in TANH_QUANTITIES or (quantity_name == "h" and abs(data).max(initial=0) <= 1):
        return -1.0, 1.0, DIVERGING_MAP
    limit = float(abs(data).max(initial=0)) or 1.0
    return -limit, limit, DIVERGING_MAP


def _label_time(ax, steps: int, tokens: Sequence[str], batch: int) -> None:
    """Time steps on the x axis, labelled with the tokens read when the trace has one per step."""
    every = max(1, -(-steps // MAX_TIME_LABELS))
    ticks = list(range(0, steps, every))
    ax.set_xticks(ticks)
    with_tokens = len(tokens) == steps
    ax.set_xticklabels([_visible(tokens[t]) if with_tokens else str(t) for t in ticks], fontsize=7)
    ax.set_xlabel(f"time step (batch {batch})" + (" and token read" if with_tokens else ""))


def _label_units(ax, unit_index: list[int]) -> None:
    every = max(1, -(-len(unit_index) // 20))
    positions = list(range(0, len(unit_index), every))
    ax.set_yticks(positions)
    ax.set_yticklabels([str(unit_index[p]) for p in positions], fontsize=7)


def _visible(token: str) -> str:
    """A token as a tick label: a space shows as ␣, a newline as ↵."""
    return {" ": "␣", "\n": "↵", "\t": "⇥", "": "∅"}.get(token, token)


def _new_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")
