"""A line a figure says on screen about what it does not draw, in English and Korean.

    >>> note = Note("after conv1: Net.forward goes on unrecorded", "conv1 다음: Net.forward의 나머지는 기록되지 않았습니다")
    >>> note.text("ko")
    'conv1 다음: Net.forward의 나머지는 기록되지 않았습니다'
    >>> [line.en for line in weights_note({"example": "resnet50", "trained": True, "held_out": {"accuracy": 0.172, "images": 1000, "classes": 10}})]
    ['resnet50, trained: 17.2 %', 'held out (chance: 10 %)']
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["batch_note", "Note", "weights_note"]


class Note(NamedTuple):
    """One line, in both languages a scene speaks."""

    en: str
    ko: str

    def text(self, lang: str) -> str:
        return self.ko if lang == "ko" else self.en


def weights_note(meta: dict) -> tuple[Note, ...]:
    """What a CNN figure says about the recorded model's weights, from the trace's metadata.

    Untrained (``meta["trained"]`` is False): one line saying so. Trained, with the held-out
    accuracy the book model's weights reached (``meta["held_out"]``, written by
    :meth:`explain.models.Example.record`): that accuracy beside chance, so a network that barely
    learned (the book's ResNet-50) says so where its maps are drawn. Otherwise nothing.

    >>> weights_note({"trained": False})[0].en
    'untrained weights (seeded)'
    >>> weights_note({})
    ()
    """
    if meta.get("trained") is False:
        return (Note("untrained weights (seeded)", "학습 전 가중치 (고정 시드)"),)
    held_out = meta.get("held_out")
    if not meta.get("trained") or not isinstance(held_out, dict):
        return ()
    accuracy, chance = 100 * held_out["accuracy"], 100 / held_out["classes"]
    model = meta.get("example", meta.get("model", ""))
    return (
        Note(f"{model}, trained: {accuracy:.1f} %", f"{model}, 학습 후 시험 정확도"),
        Note(f"held out (chance: {chance:.0f} %)", f"{accuracy:.1f} % (무작위 추측: {chance:.0f} %)"),
    )


def batch_note(trace) -> Note | None:
    """Which input a CNN figure draws when the model read a batch: the first (batch item 0), said
    so; None for a single image.

    >>> import torch
    >>> from explain.trace import Trace
    >>> batch_note(Trace({"@input.0": torch.zeros(4, 1, 8, 8)})).en, batch_note(Trace({"@input.0": torch.zeros(1, 1, 8, 8)}))
    ('image 0 of the batch of 4', None)
    """
    model_input = trace.get("@input.0")
    if model_input is None or model_input.dim() < 2 or model_input.shape[0] < 2:
        return None
    count = int(model_input.shape[0])
    return Note(f"image 0 of the batch of {count}", f"배치 {count}개 중 0번 이미지")
