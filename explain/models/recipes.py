"""Recipes: every way a figure needs a model run, each making one ordinary Trace.

    >>> from explain.models import recipes
    >>> list(recipes.RECIPES)
    ['book', 'gradients', 'rnn-vs-lstm', 'char-flow']
    >>> trace = recipes.run("gradients", "char-rnn", loss_at="last")
    >>> trace["rnn.l1.fwd.grad_h"].shape, trace.meta["recipe"]
    (torch.Size([29, 1, 100]), 'gradients')

The views (scenes, plots) only read traces; the models run here, the book's way (one character per
call). ``explain record --recipe NAME MODEL -o FILE`` runs a recipe on a book model or on a user's
``file.py:factory`` and saves the trace, which ``explain render SCENE --trace FILE`` then draws.

- ``book``: the model's own example, run as the book runs it (``Example.record``).
- ``gradients``: the same run with dL/dhₜ of the next-token loss (``loss_at="all"``: the training
  loss summed over steps; ``"last"``: only the last step's, so ‖dL/dhₜ‖ shows how far back it
  reaches). Needs a model with a loss (every book recurrent model; a factory's ``Example(loss=…)``).
- ``rnn-vs-lstm``: ``gradients`` with ``loss_at="last"`` for two char models on the same text, in one
  trace with the names prefixed ``rnn.`` and ``lstm.`` (the vanishing-gradient figure).
- ``char-flow``: teacher forcing, then free-running generation from a prime (the char-flow figure);
  needs a char model: ``model(index [1], hidden) → (logits, hidden)`` with ``init_hidden()``.

A factory (``file.py:factory``) returns ``(model, inputs)``, which only the ``book`` recipe can run,
or an :class:`~explain.models.Example`, which says how to run the model and its loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from explain.models.catalogue import CHAR_TEXT, Example, load
from explain.models.data import PRINTABLE, printable_indices
from explain.names import part_name
from explain.trace import Trace

__all__ = ["RECIPES", "Recipe", "RecipeError", "char_flow", "gradients", "prefixed", "rnn_versus_lstm", "run"]


class RecipeError(ValueError):
    """A recipe cannot run on the model it was given; the message says what it needs."""


def _example(model: str | Example, **load_options: Any) -> Example:
    """A book model by name (loaded with ``load_options``), or the Example given."""
    if isinstance(model, Example):
        if load_options.get("text") is not None:
            raise RecipeError(f"{model.name}: text= applies to book models only (a factory makes its own inputs)")
        return model
    return load(model, **load_options)


def book(model: str | Example = "hello-lstm", *, text: str | None = None) -> Trace:
    """The model's own example, recorded the book's way."""
    return _example(model, text=text).record()


def gradients(model: str | Example = "char-rnn", *, text: str | None = None, loss_at: str = "all") -> Trace:
    """Record ``model`` with dL/dhₜ; for char models the text's next characters are the targets.

    ``meta["targets"]`` holds the target tokens (char models) and ``meta["loss"]`` says which loss.
    Each recurrent module's W_hh is stored as ``{q}@weight_hh_l{k}``, so a figure can multiply the
    real Jacobians without the model.
    """
    if loss_at not in ("all", "last"):
        raise RecipeError(f"loss_at must be 'all' or 'last', got {loss_at!r}")
    if isinstance(model, Example):
        if model.loss is None:
            raise RecipeError(f"{model.name} has no loss: return an explain.models.Example(loss=…) from the factory")
        if loss_at == "last":
            raise RecipeError("loss_at='last' needs a book char model (the factory's loss is used as it is)")
        trace = model.record(grads=True)
        _keep_recurrent_weights(trace, model.model)
        trace.meta.update(recipe="gradients", loss="factory")
        return trace
    text = CHAR_TEXT if text is None else text
    if len(text) < 2:
        raise RecipeError("the gradients recipe needs a text of at least two characters (inputs and next-character targets)")
    example = load(model, text=text[:-1])
    if example.tokens is None or not model.startswith("char-"):
        raise RecipeError(f"the gradients recipe runs the char models (char-rnn, char-gru, char-lstm), not {model!r}")
    targets = printable_indices(text[1:])

    def loss(output) -> torch.Tensor:
        logits = output[0].reshape(len(targets), -1)
        if loss_at == "last":
            return F.cross_entropy(logits[-1:], targets[-1:])
        return F.cross_entropy(logits, targets, reduction="sum")

    trace = example.record(grads=True, loss=loss)
    _keep_recurrent_weights(trace, example.model)
    trace.meta.update(recipe="gradients", targets=list(text[1:]), loss=loss_at, loss_function="cross-entropy")
    return trace


def _keep_recurrent_weights(trace: Trace, model: torch.nn.Module) -> None:
    """Store every nn.RNN/GRU/LSTM's ``weight_hh_l{k}`` as ``{q}@weight_hh_l{k}`` (a copy)."""
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.RNNBase):
            for layer in range(module.num_layers):
                trace[part_name(name, f"weight_hh_l{layer}")] = getattr(module, f"weight_hh_l{layer}").detach().clone()


def prefixed(trace: Trace, prefix: str) -> dict[str, torch.Tensor]:
    """The trace's tensors with ``prefix.`` in front of every name (to merge two recordings).

    >>> sorted(prefixed(Trace({"rnn.l0.fwd.h": torch.zeros(1)}), "lstm"))
    ['lstm.rnn.l0.fwd.h']
    """
    return {f"{prefix}.{name}": trace[name] for name in trace.names()}


def rnn_versus_lstm(model: str | Example = "char-rnn", *, text: str | None = None, versus: str = "char-lstm") -> Trace:
    """``model`` and ``versus`` on the same text, loss at the last step, in one trace (``rnn.``/``lstm.``).

    The module descriptions in ``meta["modules"]`` are prefixed the same way.
    """
    if isinstance(model, Example):
        raise RecipeError("the rnn-vs-lstm recipe compares two book char models (e.g. char-rnn and char-lstm)")
    rnn = gradients(model, text=text, loss_at="last")
    lstm = gradients(versus, text=text, loss_at="last")
    meta = {key: rnn.meta[key] for key in ("tokens", "targets", "loss", "loss_function") if key in rnn.meta}
    meta.update(recipe="rnn-vs-lstm", models=[model, versus])
    meta["modules"] = {
        f"{prefix}.{name}": description
        for prefix, trace in (("rnn", rnn), ("lstm", lstm))
        for name, description in trace.meta.get("modules", {}).items()
    }
    return Trace({**prefixed(rnn, "rnn"), **prefixed(lstm, "lstm")}, meta=meta)


def char_flow(
    model: str | Example = "char-lstm",
    *,
    text: str | None = None,
    prime: str = "Beautiful is",
    length: int = 12,
    trained: bool = True,
) -> Trace:
    """Teacher forcing and free-running generation of a char model, as the char-flow figure reads them.

    The teacher-forced pass reads ``text[:-1]`` one character per call (its states under
    ``rnn.l{k}.fwd.*``); then the model reads ``prime`` and generates ``length`` characters, each
    time feeding its most likely next character back in (``trained=False``: the seeded, untrained
    model). Added tensors (indices into ``meta["vocab"]``): ``teacher.input``, ``teacher.target``
    [T], ``teacher.logits`` [T, V]; ``free.input``, ``free.output`` [G], ``free.logits`` [G, V], and
    the generated steps' states ``free.rnn.l{k}.fwd.h``. ``meta["prime"]`` is the prime.
    """
    text = CHAR_TEXT if text is None else text
    if len(text) < 2 or not prime or length < 1:
        raise RecipeError("char-flow needs a text of two or more characters, a non-empty prime and length ≥ 1")
    if isinstance(model, Example):
        raise RecipeError("the char-flow recipe runs a book char model (char-rnn, char-gru, char-lstm)")
    if not model.startswith("char-"):
        raise RecipeError(f"the char-flow recipe runs the char models (char-rnn, char-gru, char-lstm), not {model!r}")
    example = load(model, trained=trained, text=text[:-1])
    trace = example.record()
    trace["teacher.input"] = printable_indices(text[:-1])
    trace["teacher.target"] = printable_indices(text[1:])
    trace["teacher.logits"] = trace.output[0].reshape(len(text) - 1, -1).detach()
    generation = _generate(example.model, printable_indices(prime), length)
    for name, tensor in prefixed(generation, "free").items():
        trace[name] = tensor
    trace.meta.update(recipe="char-flow", vocab=PRINTABLE, prime=prime, targets=list(text[1:]))
    return trace


@torch.no_grad()
def _generate(model, prime: torch.Tensor, length: int) -> Trace:
    """Read ``prime``, then feed back the most likely character ``length`` times, recording those steps."""
    from explain.recording.api import record

    hidden = model.init_hidden()
    for index in prime[:-1]:
        _, hidden = model(index.view(1), hidden)
    current, inputs, outputs, logits = prime[-1], [], [], []
    with record(model) as trace:
        for _ in range(length):
            step_logits, hidden = model(current.view(1), hidden)
            inputs.append(current)
            current = step_logits[0].argmax()
            outputs.append(current)
            logits.append(step_logits[0])
    trace["input"], trace["output"], trace["logits"] = torch.stack(inputs), torch.stack(outputs), torch.stack(logits)
    return trace


@dataclass(frozen=True)
class Recipe:
    """A recipe's function, the book model it runs by default, a one-line summary, other models it runs."""

    function: Callable[..., Trace]
    default_model: str
    summary: str
    also_runs: tuple[str, ...] = ()


RECIPES: dict[str, Recipe] = {
    "book": Recipe(book, "hello-lstm", "the model's own example, run the book's way"),
    "gradients": Recipe(gradients, "char-rnn", "the same run with dL/dh_t of the next-character loss"),
    "rnn-vs-lstm": Recipe(rnn_versus_lstm, "char-rnn", "char-rnn and char-lstm on one text, loss at the last step", ("char-lstm",)),
    "char-flow": Recipe(char_flow, "char-lstm", "teacher forcing, then free-running generation"),
}


def run(recipe: str, model: str | Example | None = None, **options: Any) -> Trace:
    """Run ``recipe`` on ``model`` (a book model's name or an Example; its default model if None).

    Unknown recipes or options raise :class:`RecipeError` naming the possible ones.
    """
    if recipe not in RECIPES:
        raise RecipeError(f"unknown recipe {recipe!r}; recipes: {', '.join(RECIPES)}")
    chosen = RECIPES[recipe]
    import inspect

    accepted = [name for name in inspect.signature(chosen.function).parameters if name != "model"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise RecipeError(f"the {recipe} recipe has no option {', '.join(unknown)} (options: {', '.join(accepted)})")
    trace = chosen.function(chosen.default_model if model is None else model, **options)
    trace.meta.setdefault("recipe", recipe)
    return trace
