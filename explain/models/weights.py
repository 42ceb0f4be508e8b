"""Reading and writing the committed weights: safetensors files with JSON metadata, never pickles.

    >>> from explain.models import weights
    >>> weights.path("hello-lstm").name
    'hello-lstm.safetensors'

A weights file holds the model's ``state_dict`` under ``model.*``, optional example tensors under
``example.*`` (e.g. the MNIST digit shipped with the weights) and, as metadata, how it was trained
and what it reached (``{"loss": ..., "accuracy": ...}``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

__all__ = ["DIRECTORY", "exists", "load", "path", "save"]

DIRECTORY = Path(__file__).with_name("weights")


def path(name: str) -> Path:
    """Where the weights of book model ``name`` live."""
    return DIRECTORY / f"{name}.safetensors"


def exists(name: str) -> bool:
    return path(name).is_file()


def save(
    name: str, model: torch.nn.Module, info: dict[str, Any], examples: dict[str, torch.Tensor] | None = None, half: bool = False
) -> Path:
    """Write ``model``'s weights, ``examples`` and the JSON-able ``info`` for book model ``name``.

    ``half`` stores floating tensors in half precision (loading casts them back to the model's dtype).
    """
    from safetensors.torch import save_file

    def stored(value: torch.Tensor) -> torch.Tensor:
        value = value.detach().contiguous()
        return value.half() if half and value.is_floating_point() else value

    tensors = {f"model.{key}": stored(value) for key, value in model.state_dict().items()}
    tensors.update({f"example.{key}": stored(value) for key, value in (examples or {}).items()})
    DIRECTORY.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path(name)), metadata={"explain.info": json.dumps(info, sort_keys=True)})
    return path(name)


def load(name: str, model: torch.nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load the weights into ``model`` (strictly); return (examples, info)."""
    from safetensors import safe_open

    file = path(name)
    if not file.is_file():
        raise FileNotFoundError(f"no trained weights for {name!r} ({file}); train them: python -m explain.models.train {name}")
    with safe_open(str(file), framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        info = json.loads((handle.metadata() or {}).get("explain.info", "{}"))
    state = {key.removeprefix("model."): value for key, value in tensors.items() if key.startswith("model.")}
    model.load_state_dict(state)
    examples = {key.removeprefix("example."): value for key, value in tensors.items() if key.startswith("example.")}
    return examples, info
