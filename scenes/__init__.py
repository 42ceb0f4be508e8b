"""The scenes: one module per figure family, each listing its scenes in ``SCENES``.

    >>> from explain.scenes import catalogue
    >>> spec = catalogue()["lstm-cell"]
    >>> spec.module, spec.class_name, spec.default_model, spec.recipe
    ('explain.scenes.lstm', 'LSTMCellScene', 'hello-lstm', 'book')

A scene module declares, e.g.::

    SCENES = [SceneSpec("lstm-cell", "LSTMCellScene", "The LSTM cell gate by gate (figure 5)", "hello-lstm")]
    SCENES = [SceneSpec("char-flow", "CharFlowScene", "…", "char-lstm", "char-flow")]   # model, recipe

Scenes never run models: ``explain render`` draws a trace file (``--trace``) or makes the scene's
default trace by running its recipe (``explain.models.recipes``, "book" unless named) on its
default model, the trace ``explain record --recipe RECIPE MODEL`` writes.

``catalogue()`` reads those declarations without importing manim (it parses the modules).
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SceneSpec:
    """A scene's public name, its class in the module, a one-line summary, its default model and recipe."""

    name: str
    class_name: str
    summary: str
    default_model: str | None = None
    recipe: str = "book"
    module: str = ""

    def load(self):
        """Import the module (and manim) and return the scene class."""
        return getattr(importlib.import_module(self.module), self.class_name)


#: Scene modules in the order of the book's figures; modules not listed follow alphabetically.
BOOK_ORDER = ["rnn", "gradient", "rnn_to_lstm", "lstm", "gru", "charflow", "conv", "cnn", "vgg", "inception", "resnet", "params"]


def _book_position(path: Path) -> tuple[int, str]:
    return (BOOK_ORDER.index(path.stem) if path.stem in BOOK_ORDER else len(BOOK_ORDER), path.stem)


def catalogue() -> dict[str, SceneSpec]:
    """Every scene by name, in the book's figure order, read from each module's ``SCENES`` list."""
    found: dict[str, SceneSpec] = {}
    for path in sorted(Path(__file__).parent.glob("*.py"), key=_book_position):
        if path.name.startswith("_"):
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "SCENES" for t in node.targets):
                for call in node.value.elts:
                    args = [ast.literal_eval(a) for a in call.args]
                    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
                    spec = SceneSpec(*args, **kwargs, module=f"explain.scenes.{path.stem}")
                    if spec.name in found:
                        raise ValueError(f"scene name {spec.name!r} is declared twice")
                    found[spec.name] = spec
    return found
