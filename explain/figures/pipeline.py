"""A feed-forward CNN stage by stage: the input, the maps each stage hands on, hidden layers, the scores.

    >>> import torch, explain
    >>> from explain.models.cnn import MNISTCNN
    >>> tr = explain.record(MNISTCNN(), torch.randn(1, 1, 28, 28))
    >>> [(s.name, s.ops) for s in pipeline_stages(tr)[:3]]
    [('@input.0', []), ('layer.1', ['conv 5×5', 'ReLU']), ('layer.3', ['conv 5×5', 'ReLU'])]
    >>> pipeline_stages(tr)[5].ops                      # the book's out.view(...) is recorded as :view
    ['max-pool 2×2, stride 2', 'flatten']

Stages are the recorded modules at one depth of the module tree (the model's children, their
children, …): the deepest depth at which at most :data:`MOST_MAP_STAGES` stages hold feature maps,
so a deep net shows its stages, not a hundred maps (consecutive stages of one map size are
merged when that is what keeps a depth of plain layers within the limit). A module that keeps its input's shape value
by value (BatchNorm, an activation, dropout) and reads the stage before joins that stage. When a
stage read something the trace does not hold (a function called inside ``forward``), ``gap`` says
so in one line. The last stage holds the class scores; :func:`prediction` ranks them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from explain.figures.errors import FigureError, not_2d
from explain.figures.notes import Note
from explain.figures.layers import (
    INPUT,
    POINTWISE,
    computed_in,
    description,
    inside,
    is_function,
    kind,
    operation,
    ops_inside,
    owner,
    parent,
    reads,
    steps_in_order,
)
from explain.glossary import with_particle
from explain.trace import Trace

__all__ = ["MOST_MAP_STAGES", "Prediction", "Stage", "class_names", "counted", "gaps_line", "pipeline_stages", "prediction", "sizes_text"]

#: at most this many stages with feature maps are drawn
MOST_MAP_STAGES = 8


@dataclass(frozen=True)
class Stage:
    """One column of the pipeline: a recorded tensor, the operations that made it, its shape without the batch."""

    name: str
    kind: str  # "input", "maps", "hidden" or "scores"
    ops: list[str]
    shape: tuple[int, ...]
    #: one line when the stage read a value the trace does not hold, else None
    gap: Note | None = None


def _depth(trace: Trace, name: str) -> int:
    """A module's depth in the module tree (the model's children: 1); a function sits one below its caller."""
    if is_function(name):
        caller = owner(trace, name)
        return _depth(trace, caller) + 1 if caller else 1
    return name.count(".") + 1


def _units(trace: Trace, depth: int) -> list[str]:
    """Recorded modules and functions at ``depth``, and shallower ones with nothing recorded inside,
    in execution order (a shared module's later calls ``q#k`` are inside their callers)."""
    names = [n for n in steps_in_order(trace) if "#" not in n or is_function(n)]
    modules = [n for n in names if not is_function(n)]

    def leaf(name: str) -> bool:
        return is_function(name) or not any(m.startswith(name + ".") for m in modules) and not any(
            inside(owner(trace, f), name) for f in names if is_function(f)
        )

    return [n for n in names if _depth(trace, n) == depth or (_depth(trace, n) < depth and leaf(n))]


def counted(texts: list[str]) -> list[str]:
    """Equal texts once each with their count, in order of first appearance.

    >>> counted(["conv 3×3", "ReLU", "conv 3×3", "ReLU", "max-pool 2×2"])
    ['2 × conv 3×3', '2 × ReLU', 'max-pool 2×2']
    """
    counts = dict.fromkeys(texts, 0)
    for text in texts:
        counts[text] += 1
    return [f"{count} × {text}" if count > 1 else text for text, count in counts.items()]


def _labels(trace: Trace, name: str) -> list[str]:
    """What a module computes: its operation; for a small container its operations in order; for a
    larger one its parts counted ("2 × BasicBlock", "avg-pool 7×7")."""
    if kind(trace, name) != "module":
        return [operation(trace, name)]
    inner = ops_inside(trace, [name])
    if len(inner) <= 3:
        return [op.text for op in inner]
    structure = trace.meta.get("structure", {}).get(name, {}).get("kind")
    if structure in ("residual", "concat"):
        convs = sum(op.kind == "conv2d" for op in inner)
        return [f"{description(trace, name).get('type')}: {'residual block' if structure == 'residual' else 'branches joined'}, {convs} convs"]
    children = [n for n in steps_in_order(trace) if (owner(trace, n) if is_function(n) else parent(n)) == name and "#" not in n.split(":")[0]]
    return counted([str(description(trace, n).get("type")) if kind(trace, n) == "module" else operation(trace, n) for n in children])


def _merged_by_size(stages: list[Stage]) -> list[Stage]:
    """Consecutive map stages of the same height and width as one stage (named by its last)."""
    merged = [stages[0]]
    for stage in stages[1:]:
        last = merged[-1]
        if stage.kind == last.kind == "maps" and stage.shape[1:] == last.shape[1:] and stage.gap is None:
            merged[-1] = Stage(stage.name, "maps", [*last.ops, *stage.ops], stage.shape, last.gap)
        else:
            merged.append(stage)
    return [Stage(s.name, s.kind, counted(s.ops), s.shape, s.gap) for s in merged]


def _hands_on(trace: Trace, container: str, name: str) -> bool:
    """True if module ``container`` returned the very value recorded as ``name`` (a Sequential's last step)."""
    inner = owner(trace, name) if is_function(name) else parent(name)
    return (
        not is_function(container)
        and inside(inner, container)
        and trace[container].shape == trace[name].shape
        and torch.equal(trace[container], trace[name])
    )


def _stages_at(trace: Trace, depth: int) -> list[Stage] | None:
    """The stages at ``depth``, or None where the modules there are not one chain (branches, a shortcut)."""
    stages = [Stage(INPUT, "input", [], tuple(trace[INPUT].shape[1:]))]
    flattened: dict[str, str] = {}  # a flatten's output → the stage whose values it holds
    for name in _units(trace, depth):
        shape = tuple(trace[name].shape[1:])
        last = stages[-1]
        source = reads(trace, name)
        source = flattened.get(source, source)
        if source in trace and last.name in trace and source != last.name and _hands_on(trace, source, last.name):
            source = last.name
        if source is not None and source != last.name and source in trace:
            return None  # ``name`` reads ``source``, not the stage before it
        what = kind(trace, name)
        if what == "flatten" and source == last.name and len(last.shape) > 1:
            flattened[name] = last.name
            stages[-1] = Stage(last.name, last.kind, [*last.ops, "flatten"], last.shape, last.gap)
            continue
        if what in (*POINTWISE, "softmax") and shape == last.shape and source == last.name:
            stages[-1] = Stage(name, last.kind, [*last.ops, *_labels(trace, name)], shape, last.gap)
            continue
        gap = None
        if source is None:
            caller = computed_in(trace, name)
            gap = Note(
                f"{name} read a value computed inside {caller}.forward that this trace does not record",
                f"{with_particle(name, '이')} 읽은 값은 {caller}.forward 안에서 계산되어 이 기록에 없습니다",
            )
        elif source != last.name and source not in trace:
            gap = Note(f"{name} read {source}, which this trace does not hold", f"{with_particle(name, '이')} 읽은 {with_particle(source, '은')} 이 기록에 없습니다")
        stages.append(Stage(name, "maps" if len(shape) == 3 else "hidden", _labels(trace, name), shape, gap))
    return stages


def pipeline_stages(trace: Trace) -> list[Stage]:
    """The pipeline's columns; a FigureError says why a trace has none (not a CNN, no input, no scores)."""
    if INPUT not in trace:
        raise FigureError(f"the trace has no model input {INPUT!r} (record the CNN with explain.record(model, image))")
    names = steps_in_order(trace)
    if not any(len(trace[n].shape) == 4 for n in names):
        why = not_2d(trace) or ": is it a CNN's recording?"
        raise FigureError(f"the trace has no feature maps ([B, C, H, W] module outputs){why}")
    deepest = max(_depth(trace, n) for n in names)
    chosen = _stages_at(trace, 1)
    if chosen is None:
        units = _units(trace, 1)
        odd = next(n for before, n in zip([INPUT, *units], units) if reads(trace, n) not in (None, before) and reads(trace, n) in trace)
        raise FigureError(
            f"the pipeline figure follows one chain of modules; {odd!r} reads {reads(trace, odd)!r}, not the module before it "
            "(a branch or a shortcut at the top level)"
        )
    for depth in range(2, deepest + 1):
        stages = _stages_at(trace, depth)
        if stages is None:
            break
        if sum(s.kind == "maps" for s in stages) > MOST_MAP_STAGES:
            if any(kind(trace, n) == "module" for n in _units(trace, depth)):
                break  # merging would mix the parts of different containers
            stages = _merged_by_size(stages)
            if sum(s.kind == "maps" for s in stages) > MOST_MAP_STAGES or len(stages) < len(chosen):
                break
        chosen = stages
    last = chosen[-1]
    if len(last.shape) != 1:
        raise FigureError(f"the model's last recorded module {last.name!r} gives {'×'.join(map(str, last.shape))} per image, not class scores")
    chosen[-1] = Stage(last.name, "scores", last.ops, last.shape, last.gap)
    return chosen


def gaps_line(stages: list[Stage]) -> Note | None:
    """One line naming every stage that read a value the trace does not hold (drawn dashed), else None.

    >>> gaps_line([Stage("a", "maps", [], (1,), Note("a read x", "a: x 없음")), Stage("b", "maps", [], (1,))]).en
    'dashed arrow: a read x'
    """
    gaps = [stage for stage in stages if stage.gap]
    if not gaps:
        return None
    if len(gaps) == 1:
        return Note(f"dashed arrow: {gaps[0].gap.en}", f"점선 화살표: {gaps[0].gap.ko}")
    names = ", ".join(stage.name for stage in gaps)
    return Note(f"dashed arrows: {names} read values this trace does not record", f"점선 화살표: {names}의 입력은 이 기록에 없습니다")


def sizes_text(stages: list[Stage]) -> str:
    """The map sizes a pipeline goes through, each change once: "28 → 24 → 20 → 10 → 6 → 3".

    >>> sizes_text([Stage("a", "input", [], (1, 28, 28)), Stage("b", "maps", [], (4, 28, 28)), Stage("c", "maps", [], (4, 14, 14))])
    '28 → 14'
    """
    sizes = [s.shape[-1] for s in stages if len(s.shape) == 3]
    return " → ".join(str(size) for index, size in enumerate(sizes) if index == 0 or size != sizes[index - 1])


@dataclass(frozen=True)
class Prediction:
    """The scores of the last stage, their softmax, and the classes ranked by score."""

    scores: list[float]
    probabilities: list[float]
    #: class indices from the highest score down
    ranking: list[int]
    #: the class names the trace carries (``meta["labels"]``), else the indices as text
    labels: list[str]
    #: True when ``labels`` are names from the trace, not indices
    named: bool
    #: one line when the model's output is not these scores (e.g. a log_softmax in forward), else None
    note: Note | None = None

    @property
    def label(self) -> int:
        """The predicted class (the largest score)."""
        return self.ranking[0]

    def top(self, count: int) -> list[int]:
        return self.ranking[:count]


def class_names(meta: dict, count: int, lang: str = "en") -> list[str] | None:
    """The names of ``count`` classes in ``meta["labels"]`` (a list, or one list per language), else None.

    >>> class_names({"labels": {"en": ["cat", "dog"], "ko": ["고양이", "개"]}}, 2, "ko"), class_names({"labels": ["a"]}, 2)
    (['고양이', '개'], None)
    """
    names = meta.get("labels")
    if isinstance(names, dict):
        names = names.get(lang, names.get("en"))
    return [str(n) for n in names] if isinstance(names, list) and len(names) == count else None


def prediction(trace: Trace, stages: list[Stage], lang: str = "en") -> Prediction:
    """The class the model predicts, from the recorded scores (argmax), with softmax probabilities;
    classes are named as the trace's ``meta["labels"]`` names them in ``lang``."""
    scores = trace[stages[-1].name][0].double()
    ranking = [int(i) for i in torch.argsort(scores, descending=True, stable=True)]
    names = class_names(trace.meta, len(scores), lang)
    labels = names or [str(i) for i in range(len(scores))]
    note = None
    output = trace.output
    if isinstance(output, torch.Tensor) and (output.shape != trace[stages[-1].name].shape or not torch.equal(output.detach().cpu(), trace[stages[-1].name])):
        model, last = trace.meta.get("model", "the model"), stages[-1].name
        note = Note(
            f"{model}.forward turns {last}'s scores into its output with operations this trace does not record",
            f"{model}.forward는 {last}의 점수를 이 기록에 없는 연산으로 출력으로 바꿉니다",
        )
    return Prediction(scores.tolist(), torch.softmax(scores, 0).tolist(), ranking, labels, names is not None, note)
