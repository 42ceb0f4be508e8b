"""What a trace file's metadata must say, checked against the tensors the file holds.

    >>> import torch
    >>> tensors = {"lstm.l0.fwd.h": torch.zeros(3, 1, 4), "@output": torch.zeros(1)}
    >>> meta = {"schema": 2, "names": ["lstm.l0.fwd.h"], "output": ""}
    >>> check_layout(meta, tensors, "t.safetensors")
    (['lstm.l0.fwd.h'], '', {})
    >>> check_layout(dict(meta, names=["lstm.l0.fwd.h", "x"]), tensors, "t.safetensors")
    Traceback (most recent call last):
    explain.errors.TraceFileError: t.safetensors: trace metadata lists names the file does not hold: ['x']

Checked here: ``schema`` is a known positive integer; ``names`` lists each stored tensor exactly
once (the model's output, ``@output…``, is described by the ``output`` skeleton instead);
``output`` is None, a key or a list of those, each key naming its position; ``tokens`` are
strings; ``half`` names
tensors stored as float16 with the dtype they are read back as; and each tensor agrees with the
configuration recorded for its module in ``modules`` (a recurrent quantity is [steps, batch, size]
in the module's dtype, a convolution kernel is [out, in / groups, *kernel]).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from explain.errors import TraceFileError
from explain.names import OUTPUT_PREFIX, recurrent_parts

__all__ = ["HALF_SOURCES", "SCHEMA_VERSION", "check_layout", "output_keys", "output_name"]

#: 2: the metadata carries a digest (explain.trace_file.digest) and may name float16-stored tensors
SCHEMA_VERSION = 2
#: dtypes a trace may store as float16 (Trace.save(dtype=torch.float16)), by name
HALF_SOURCES = {"float32": torch.float32, "float64": torch.float64}
_GATE_SIZES = {"i", "f", "g", "o", "c", "r", "z", "n"}  # quantities of hidden_size (h may be projected)


def check_layout(
    meta: Any, tensors: Mapping[str, torch.Tensor], path: str | os.PathLike, *, legacy: bool = False
) -> tuple[list[str], Any, dict[str, torch.dtype]]:
    """The trace's names, output skeleton and half-stored names (→ dtype), once every check passed.

    ``legacy`` accepts schema 1 (written before digests); the caller decides when that is allowed.
    """
    if not isinstance(meta, dict):
        raise TraceFileError(f"{path}: trace metadata must be a JSON object, got {type(meta).__name__}")
    _check_schema(meta.get("schema"), path, legacy)
    names = _checked_names(meta.get("names"), path)
    skeleton = meta.get("output")
    keys = _checked_output(skeleton, "", path)
    listed = names + [output_name(key) for key in keys]
    missing = [name for name in listed if name not in tensors]
    if missing:
        raise TraceFileError(f"{path}: trace metadata lists names the file does not hold: {missing[:5]}")
    unlisted = [name for name in tensors if name not in set(listed)]
    if unlisted:
        raise TraceFileError(f"{path}: the file holds tensors its metadata does not list: {unlisted[:5]}")
    tokens = meta.get("tokens", [])
    if not (isinstance(tokens, list) and all(isinstance(token, str) for token in tokens)):
        raise TraceFileError(f"{path}: trace metadata 'tokens' must be a list of strings, got {_short(tokens)}")
    half = _checked_half(meta.get("half", {}), tensors, path)
    _check_modules(meta.get("modules", {}), names, tensors, half, path)
    return names, skeleton, half


def output_name(key: str) -> str:
    """The file name of one output tensor: "@output" for a bare tensor, "@output.0.1" inside tuples."""
    return f"{OUTPUT_PREFIX}.{key}" if key else OUTPUT_PREFIX


def output_keys(skeleton: Any) -> list[str]:
    """The tensor keys in an output skeleton, in order.

    >>> output_keys(["0", [None, "1.1"]])
    ['0', '1.1']
    """
    if isinstance(skeleton, str):
        return [skeleton]
    if isinstance(skeleton, list):
        return [key for item in skeleton for key in output_keys(item)]
    return []


def _check_schema(schema: Any, path, legacy: bool) -> None:
    if type(schema) is not int or schema < 1:
        raise TraceFileError(f"{path}: trace schema must be a positive integer, got {_short(schema)}")
    if schema > SCHEMA_VERSION:
        raise TraceFileError(
            f"{path}: trace schema {schema} is newer than this explain understands ({SCHEMA_VERSION}); "
            "upgrade explain to read it"
        )
    if schema < SCHEMA_VERSION and not legacy:
        raise TraceFileError(
            f"{path}: trace schema {schema} has no digest (written by an older explain); record it again, "
            "or read it unverified with explain.load(path, verify=False)"
        )


def _checked_names(names: Any, path) -> list[str]:
    if not (isinstance(names, list) and all(isinstance(name, str) and name for name in names)):
        raise TraceFileError(f"{path}: trace metadata 'names' must be a list of non-empty strings, got {_short(names)}")
    if len(set(names)) != len(names):
        seen: set[str] = set()
        twice = next(name for name in names if name in seen or seen.add(name))
        raise TraceFileError(f"{path}: trace metadata lists {twice!r} twice")
    if any(name == OUTPUT_PREFIX or name.startswith(OUTPUT_PREFIX + ".") for name in names):
        raise TraceFileError(f"{path}: trace metadata 'names' must not list the model's output ({OUTPUT_PREFIX}…)")
    return names


def _checked_output(skeleton: Any, position: str, path) -> list[str]:
    """The keys of an output skeleton whose every key names its own position ("", "0", "1.0" …)."""
    if skeleton is None:
        return []
    if isinstance(skeleton, str):
        if skeleton != position:
            raise TraceFileError(f"{path}: trace output skeleton has key {_short(skeleton)} where {position!r} belongs")
        return [skeleton]
    if isinstance(skeleton, list):
        keys = []
        for index, item in enumerate(skeleton):
            keys += _checked_output(item, f"{position}.{index}" if position else str(index), path)
        return keys
    raise TraceFileError(
        f"{path}: trace output skeleton must be null, a key or a list, got {type(skeleton).__name__} {_short(skeleton)}"
    )


def _checked_half(half: Any, tensors: Mapping[str, torch.Tensor], path) -> dict[str, torch.dtype]:
    if not isinstance(half, dict):
        raise TraceFileError(f"{path}: trace metadata 'half' must map names to dtypes, got {_short(half)}")
    checked = {}
    for name, dtype in half.items():
        if name not in tensors:
            raise TraceFileError(f"{path}: trace metadata 'half' names {name!r}, which the file does not hold")
        if not (isinstance(dtype, str) and dtype in HALF_SOURCES):
            raise TraceFileError(f"{path}: {name}: half-stored tensors are read back as {' or '.join(HALF_SOURCES)}, not {_short(dtype)}")
        if tensors[name].dtype != torch.float16:
            raise TraceFileError(f"{path}: {name}: metadata says float16, the file stores {_dtype(tensors[name].dtype)}")
        checked[name] = HALF_SOURCES[dtype]
    return checked


def _check_modules(modules: Any, names: list[str], tensors, half: Mapping[str, torch.dtype], path) -> None:
    if not (isinstance(modules, dict) and all(isinstance(facts, dict) for facts in modules.values())):
        raise TraceFileError(f"{path}: trace metadata 'modules' must map module names to objects")
    for name in names:
        dtype = half.get(name, tensors[name].dtype)
        parts = recurrent_parts(name)
        if parts is not None and parts["module"] in modules:
            problem = _recurrent_problem(parts, modules[parts["module"]], tuple(tensors[name].shape), dtype)
        elif name.endswith(("@weight", "@bias")) and name.rpartition("@")[0] in modules:
            problem = _kernel_problem(name.rpartition("@")[2], modules[name.rpartition("@")[0]], tuple(tensors[name].shape))
        else:
            problem = None
        if problem:
            raise TraceFileError(f"{path}: {name}: {problem}")


def _recurrent_problem(parts: dict[str, Any], facts: dict[str, Any], shape: tuple[int, ...], dtype: torch.dtype) -> str | None:
    """What is wrong with a recurrent quantity, given its module's recorded configuration (None: nothing)."""
    wanted = ("steps", "batch", "hidden_size", "proj_size", "input_size", "num_layers", "bidirectional", "dtype", "quantities")
    if not all(key in facts for key in wanted):
        return None  # not a configuration this check knows
    sizes = ("steps", "batch", "hidden_size", "proj_size", "input_size", "num_layers")
    if not (all(type(facts[key]) is int for key in sizes) and isinstance(facts["quantities"], list)):
        return f"the module's configuration is malformed: {_short(facts)}"
    if parts["quantity"] not in facts["quantities"]:
        return None  # a quantity the configuration does not describe (gradients, masks …)
    if parts["layer"] >= facts["num_layers"]:
        return f"layer {parts['layer']} of a module with num_layers={facts['num_layers']}"
    if parts["direction"] == "bwd" and facts["bidirectional"] is not True:
        return "a backward direction in a module that is not bidirectional"
    if _dtype(dtype) != facts["dtype"]:
        return f"dtype {_dtype(dtype)}, the module ran in {facts['dtype']}"
    size = _recurrent_size(parts, facts)
    expected = (facts["steps"], facts["batch"], size)
    if shape != expected:
        return f"shape {list(shape)}, the module's configuration gives {list(expected)}"
    return None


def _recurrent_size(parts: dict[str, Any], facts: dict[str, Any]) -> int:
    quantity, hidden, projected = parts["quantity"], facts["hidden_size"], facts["proj_size"] or facts["hidden_size"]
    if quantity in _GATE_SIZES:
        return hidden
    if quantity == "h":
        return projected
    if parts["layer"] == 0:  # x: the layer's input
        return facts["input_size"]
    return projected * (2 if facts["bidirectional"] else 1)


def _kernel_problem(part: str, facts: dict[str, Any], shape: tuple[int, ...]) -> str | None:
    """What is wrong with a convolution's recorded kernel or bias, given its configuration (None: nothing)."""
    if not all(key in facts for key in ("in_channels", "out_channels", "groups", "kernel")):
        return None
    out_channels, in_channels, groups, kernel = facts["out_channels"], facts["in_channels"], facts["groups"], facts["kernel"]
    if not (all(type(value) is int and value > 0 for value in (out_channels, in_channels, groups))
            and isinstance(kernel, list) and len(kernel) == 2):  # fmt: skip
        return f"the module's configuration is malformed: {_short(facts)}"
    if part == "bias":
        fits, expected = shape == (out_channels,), f"[{out_channels}]"
    else:  # [out, in / groups, *kernel]; the configuration keeps the kernel's first and last size
        fits = len(shape) >= 3 and shape[:2] == (out_channels, in_channels // groups) and (shape[2], shape[-1]) == tuple(kernel)
        expected = f"[{out_channels}, {in_channels // groups}, {kernel[0]}, …, {kernel[-1]}]"
    return None if fits else f"shape {list(shape)}, the convolution's configuration gives {expected}"


def _dtype(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
