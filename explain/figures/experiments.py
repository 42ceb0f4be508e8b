"""The committed depth and degradation experiments (figures 8 and 10), as the numbers their figures show.

    >>> from explain.figures import experiments
    >>> depth = experiments.depth_results()
    >>> depth.conv_layers == sorted(depth.conv_layers), len(depth.test_accuracy) == len(depth.parameters)
    (True, True)
    >>> runs = experiments.degradation_results()
    >>> runs.layers, len(runs.plain) == len(runs.residual) == 3
    ([8, 20, 44], True)

The files are written by ``python -m explain.models.experiments depth|degradation`` (see
:mod:`explain.models.experiments`); this module only reads them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from explain.figures.notes import Note
from explain.trace import Trace, load

__all__ = [
    "AT_CHANCE",
    "DegradationResults",
    "DepthResults",
    "FINAL_WINDOWS",
    "LEVEL",
    "PAPER_STEPS",
    "degradation_results",
    "degradation_verdict",
    "depth_results",
    "results_trace",
    "run_settings",
]

FINAL_WINDOWS = 3
"""A run's final training loss is the mean of its last this-many logged points."""
AT_CHANCE = 0.05
"""A final loss within this of ln(classes), the loss of a uniform guess, is "at chance"."""
LEVEL = 0.02
"""Two final losses closer than this "end level"."""
PAPER_STEPS = 64_000
"""Training steps of He et al.'s CIFAR-10 runs (2016, section 4.2), beside which these runs are short."""


def results_trace(name: str, path: str | Path | None = None) -> Trace:
    """The committed trace of experiment ``name`` (or the file at ``path``), checked to be that experiment."""
    from explain.models.experiments import CONTENTS, RESULTS

    if name not in CONTENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of: {', '.join(CONTENTS)}")
    file = Path(path) if path is not None else RESULTS / f"{name}.safetensors"
    if not file.is_file():
        raise FileNotFoundError(f"no results for {name!r} at {file}; run: python -m explain.models.experiments {name}")
    trace = load(file)
    missing = [key for key in CONTENTS[name] if key not in trace]
    if trace.meta.get("experiment") != name or missing:
        found = trace.meta.get("experiment", "no experiment")
        raise ValueError(f"{file} is not the {name} experiment's results (found {found!r}, missing {', '.join(missing) or 'nothing'})")
    return trace


def _final(curve: list[float]) -> float:
    return sum(curve[-FINAL_WINDOWS:]) / len(curve[-FINAL_WINDOWS:])


@dataclass(frozen=True)
class DepthResults:
    """Figure 8: per network, its convolutions, parameters and held-out accuracy."""

    conv_layers: list[int]
    parameters: list[int]
    test_accuracy: list[float]
    final_loss: list[float]
    meta: dict

    @property
    def best(self) -> int:
        """Index of the most accurate network (the shallowest of equals)."""
        return max(range(len(self.test_accuracy)), key=lambda i: (self.test_accuracy[i], -i))


def run_settings(meta: dict) -> tuple[str, str]:
    """The line under an experiment's chart saying how every run was trained, in English and Korean.

    >>> run_settings({"train_images": 3000, "test_images": 500, "epochs": 2, "seconds": 611.4})[0]
    'the same shapes for all: 3000 training, 500 held-out images, 2 epochs; 611 s in all'
    """
    train, test, epochs, seconds = meta["train_images"], meta["test_images"], meta["epochs"], meta["seconds"]
    return (
        f"the same shapes for all: {train} training, {test} held-out images, {epochs} epochs; {seconds:.0f} s in all",
        f"모두 같은 도형: 학습 {train}장, 시험 {test}장, {epochs}번 반복; 모두 {seconds:.0f}초",
    )


def depth_results(path: str | Path | None = None) -> DepthResults:
    trace = results_trace("depth", path)
    return DepthResults(
        conv_layers=trace["conv_layers"].tolist(),
        parameters=trace["parameters"].tolist(),
        test_accuracy=trace["test_accuracy"].tolist(),
        final_loss=[_final(curve) for curve in trace["train_loss"].tolist()],
        meta=dict(trace.meta),
    )


@dataclass(frozen=True)
class DegradationResults:
    """Figure 10: training-loss curves of plain and residual networks of the same depths."""

    layers: list[int]
    step: list[int]
    plain: list[list[float]]
    residual: list[list[float]]
    plain_accuracy: list[float]
    residual_accuracy: list[float]
    meta: dict

    @property
    def plain_final(self) -> list[float]:
        return [_final(curve) for curve in self.plain]

    @property
    def residual_final(self) -> list[float]:
        return [_final(curve) for curve in self.residual]

    @property
    def degrades(self) -> bool:
        """Whether the deepest plain network ends with a higher training loss than the shallowest."""
        return self.plain_final[-1] > self.plain_final[0]

    @property
    def classes(self) -> int:
        """Classes of the shapes every run learns."""
        from explain.models.shapes import CLASSES

        return len(CLASSES)

    @property
    def chance_loss(self) -> float:
        """The cross-entropy of a uniform guess over the classes, ln 10."""
        return math.log(self.classes)

    @property
    def steps(self) -> int:
        """Training steps of each run: epochs × mini-batches per epoch."""
        from explain.models.experiments import BATCH

        return self.meta["epochs"] * -(-self.meta["train_images"] // BATCH)


def degradation_verdict(runs: DegradationResults) -> tuple[Note, Note]:
    """The caption saying what the runs show (deepest vs shallowest, plain then residual), and why.

    A deep plain net whose final loss is still the loss of a uniform guess has not started to learn
    in a run this short; the second line says so, with the runs' steps beside the paper's.

    >>> caption, why = degradation_verdict(degradation_results())
    >>> caption.en
    'Measured: the 44-layer plain net stayed at chance; with shortcuts, 44 layers end level with 8'
    >>> why.en
    'a short run: 94 steps (He et al.: 64,000); at chance (loss ln(10) = 2.30), a net has not started to learn'
    """
    deep, shallow = runs.layers[-1], runs.layers[0]
    (plain_shallow, *_, plain_deep), (residual_shallow, *_, residual_deep) = runs.plain_final, runs.residual_final
    if plain_deep <= plain_shallow:
        plain = Note(f"no degradation in runs this small: the {deep}-layer plain net ends at or below the {shallow}-layer one",
                     f"이 규모에서는 성능 저하가 없습니다: {deep}층 평범한 망이 {shallow}층보다 낮거나 같게 끝납니다")
    elif plain_deep >= runs.chance_loss - AT_CHANCE:
        plain = Note(f"the {deep}-layer plain net stayed at chance", f"{deep}층 평범한 망은 무작위 추측 수준에 머물렀습니다")
    else:
        plain = Note(f"the {deep}-layer plain net ends above the {shallow}-layer one",
                     f"{deep}층 평범한 망이 {shallow}층보다 학습 손실이 높게 끝납니다")
    if abs(residual_deep - residual_shallow) <= LEVEL:
        residual = Note(f"with shortcuts, {deep} layers end level with {shallow}", f"지름길이 있으면 {deep}층이 {shallow}층과 비슷하게 끝납니다")
    elif residual_deep > residual_shallow:
        residual = Note(f"with shortcuts too, {deep} layers end above {shallow}", f"지름길이 있어도 {deep}층이 {shallow}층보다 높게 끝납니다")
    else:
        residual = Note(f"with shortcuts, {deep} layers end below {shallow}", f"지름길이 있으면 {deep}층이 {shallow}층보다 낮게 끝납니다")
    caption = Note(f"Measured: {plain.en}; {residual.en}", f"측정: {plain.ko}, {residual.ko}")
    chance = f"ln({runs.classes}) = {runs.chance_loss:.2f}"
    why = Note(
        f"a short run: {runs.steps} steps (He et al.: {PAPER_STEPS:,}); at chance (loss {chance}), a net has not started to learn",
        f"짧은 학습: {runs.steps}단계 (He 등: {PAPER_STEPS:,}단계); 무작위 추측 수준(손실 {chance})의 망은 아직 배우기 시작하지 않았습니다",
    )
    return caption, why


def degradation_results(path: str | Path | None = None) -> DegradationResults:
    trace = results_trace("degradation", path)
    return DegradationResults(
        layers=trace["layers"].tolist(),
        step=trace["step"].tolist(),
        plain=trace["plain.train_loss"].tolist(),
        residual=trace["residual.train_loss"].tolist(),
        plain_accuracy=trace["plain.test_accuracy"].tolist(),
        residual_accuracy=trace["residual.test_accuracy"].tolist(),
        meta=dict(trace.meta),
    )
