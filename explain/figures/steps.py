"""The steps between two drawn values, each with its real operation: BatchNorm, activations, dropout.

    >>> import torch, explain
    >>> bn = torch.nn.BatchNorm2d(2).eval(); bn.running_mean += 0.5
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), bn, torch.nn.ReLU(), torch.nn.MaxPool2d(2))
    >>> tr = explain.record(net, torch.randn(1, 1, 6, 6))
    >>> chain = steps_after(tr, "0")
    >>> [s.module for s in chain.steps], chain.next_module, chain.note
    (['1', '2'], '3', None)
    >>> norm = chain.steps[0]
    >>> norm.formula, norm.normalisation(tr, 0)["mean"]
    ('y = (x − μ) / √(σ² + ε) · γ + β', 0.5)
    >>> bool(torch.allclose(norm.apply(tr, tr["0"][0, 0], 0), tr["1"][0, 0].double(), atol=1e-6))
    True

:func:`steps_after` follows the recorded data flow (what each module read) from a value through
every module that keeps its shape value by value, until a module that changes the shape
(a pooling, the next convolution), a residual addition or concatenation, or a value the trace does
not hold; ``note`` then says in one line what comes next that this chain does not draw. Each :class:`Step` recomputes its output from
its input with the module's own formula and raises if that differs from the trace.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from explain.figures.errors import FigureError
from explain.figures.notes import Note
from explain.figures.layers import POINTWISE, description, kind, operation, owner, readers
from explain.figures.windows import TOLERANCE
from explain.trace import Trace

__all__ = ["Chain", "Step", "steps_after"]


@dataclass(frozen=True)
class Step:
    """One recorded module that maps each value of its input to one value of its output."""

    module: str
    source: str  # the recorded value it read
    kind: str  # "batch_norm", "activation", "dropout" or "identity"
    operation: str  # "BatchNorm (eval: running statistics)", "ReLU", …
    facts: dict

    @property
    def formula(self) -> str:
        """The step's equation, as the figure writes it."""
        if self.kind == "batch_norm":
            return "y = (x − μ) / √(σ² + ε) · γ + β"
        if self.kind == "dropout":
            return "y = x · m / (1 − p),  m ∈ {0, 1} drawn at random" if self.facts.get("training") else "y = x  (dropout does nothing in eval mode)"
        if self.kind == "activation" and self.function == "relu":
            return "relu(x) = max(0, x)"
        return f"y = {self.operation}(x)" if self.kind == "activation" else "y = x"

    @property
    def function(self) -> str:
        """The activation's torch.nn.functional name: "relu", "gelu" … ("" for other kinds)."""
        return str(self.facts.get("function") or self.facts.get("op") or "").lower()

    # -- BatchNorm: the statistics it normalised with, per channel
    def _statistics(self, trace: Trace) -> tuple[torch.Tensor, torch.Tensor]:
        if self.facts.get("training"):  # batch statistics of the recorded input (biased variance)
            x = trace[self.source].double()
            dims = [d for d in range(x.dim()) if d != 1]
            return x.mean(dims), x.var(dims, unbiased=False)
        return trace[f"{self.module}@running_mean"].double(), trace[f"{self.module}@running_var"].double()

    def normalisation(self, trace: Trace, channel: int) -> dict[str, float]:
        """μ, σ², ε, γ and β of one channel of a BatchNorm (γ = 1, β = 0 without affine parameters)."""
        mean, var = self._statistics(trace)
        gamma = float(trace[f"{self.module}@weight"][channel]) if f"{self.module}@weight" in trace else 1.0
        beta = float(trace[f"{self.module}@bias"][channel]) if f"{self.module}@bias" in trace else 0.0
        return {"mean": float(mean[channel]), "var": float(var[channel]), "eps": float(self.facts.get("eps", 1e-5)), "gamma": gamma, "beta": beta}

    def apply(self, trace: Trace, x: torch.Tensor, channel: int) -> torch.Tensor:
        """The step's output for input values ``x`` of one channel, computed with its formula."""
        x = torch.as_tensor(x, dtype=torch.float64)
        if self.kind == "batch_norm":
            n = self.normalisation(trace, channel)
            return (x - n["mean"]) / (n["var"] + n["eps"]) ** 0.5 * n["gamma"] + n["beta"]
        if self.kind == "dropout" and self.facts.get("training"):
            raise FigureError(f"{self.module}: a training-mode dropout's mask is random; read it with kept_mask()")
        if self.kind == "activation":
            function = getattr(torch.nn.functional, self.function, None) or getattr(torch, self.function, None)
            if self.function == "relu":
                return x.clamp(min=0)
            if function is None:
                raise FigureError(f"{self.module}: no formula for activation {self.function!r}")
            return function(x)
        return x

    def kept_mask(self, trace: Trace, channel: int) -> torch.Tensor:
        """Where a training-mode dropout kept the value (True) in one channel of the first image."""
        return trace[self.module][0, channel] != 0

    def check(self, trace: Trace, channel: int) -> None:
        """Raise if the formula applied to the recorded input is not the recorded output (one channel)."""
        before, after = trace[self.source][0, channel].double(), trace[self.module][0, channel].double()
        if self.kind == "dropout" and self.facts.get("training"):
            kept = self.kept_mask(trace, channel)
            expected = before * kept / (1 - float(self.facts.get("p", 0.5)))
        else:
            expected = self.apply(trace, before, channel)
        worst = float((expected - after).abs().max()) if after.numel() else 0.0
        if worst > TOLERANCE * max(1.0, float(after.abs().max())):
            raise FigureError(f"{self.module}: {self.operation} applied to {self.source} differs from the trace by {worst:.2e}")


@dataclass(frozen=True)
class Chain:
    """The recorded shape-keeping steps after a value, where the chain goes next, and what the trace lacks."""

    start: str
    steps: list[Step]
    #: the value the last step (or ``start``) hands on, under the name its reader read
    end: str
    #: the first recorded module that reads ``end`` and changes the shape (a pooling, a convolution), if any
    next_module: str | None
    #: one line saying what comes after ``end`` that the chain does not draw (an addition, operations
    #: the trace does not record), else None
    note: Note | None


def _owner(trace: Trace, name: str) -> str:
    """The type of the module whose ``forward`` handles ``name``'s output (the model's, at the top)."""
    caller = owner(trace, name)
    return str(description(trace, caller).get("type") if caller else trace.meta.get("model", "the model"))


def _joined(trace: Trace, name: str) -> Note | None:
    """One line if ``name`` is an operand of a recorded residual addition or concatenation."""
    for block, parts in trace.meta.get("structure", {}).items():
        if parts.get("kind") == "residual" and name in (parts.get("body"), parts.get("shortcut")):
            return Note(
                f"after {name}: added to the shortcut in {block}@sum (the resnet figure draws it)",
                f"{name} 다음: {block}@sum에서 지름길과 더해집니다 (ResNet 그림이 보여 줍니다)",
            )
        if parts.get("kind") == "concat" and name in parts.get("branches", ()):
            return Note(
                f"after {name}: concatenated with the other branches in {block}@concat (the inception figure draws it)",
                f"{name} 다음: {block}@concat에서 다른 분기와 이어 붙습니다 (인셉션 그림이 보여 줍니다)",
            )
    return None


def _handed_on(trace: Trace, name: str) -> str:
    """``name``, or the container that returns its very value (a Sequential's last child)."""
    while not readers(trace, name):
        up = owner(trace, name)
        if not up or up not in trace or name not in trace or trace[up].shape != trace[name].shape or not torch.equal(trace[up], trace[name]):
            return name
        name = up
    return name


def steps_after(trace: Trace, start: str) -> Chain:
    """Follow the data flow from recorded value ``start`` through the shape-keeping modules."""
    steps: list[Step] = []
    current = start
    while True:
        current = _handed_on(trace, current)
        following = [m for m in readers(trace, current) if m in trace]
        joined = _joined(trace, current)
        if joined is not None:
            return Chain(start, steps, current, None, joined)
        if not following:
            line = None
            if current in trace and len(trace[current].shape) == 4:
                caller = _owner(trace, current)
                line = Note(
                    f"after {current}: {caller}.forward goes on with operations this trace does not record",
                    f"{current} 다음: {caller}.forward의 나머지 연산은 이 기록에 없습니다",
                )
            return Chain(start, steps, current, None, line)
        module = following[0]
        what = kind(trace, module)
        if what not in POINTWISE or trace[module].shape != trace[current].shape:
            return Chain(start, steps, current, module, None)
        steps.append(Step(module, current, what, operation(trace, module), dict(description(trace, module))))
        current = module
