"""The Trace: what a recording saw, as names → tensors, plus JSON metadata.

    >>> import torch, explain
    >>> tr = explain.Trace({"lstm.l0.fwd.h": torch.zeros(3, 1, 4)}, meta={"note": "demo"})
    >>> tr.names()
    ['lstm.l0.fwd.h']
    >>> tr["lstm.l0.fwd.h"].shape
    torch.Size([3, 1, 4])

Tensors are kept in execution order, time first for recurrent quantities ([T, B, H]) and as the
module returned them otherwise ([B, C, H, W] feature maps). A Trace saves to a safetensors file
with its metadata as JSON; loading never unpickles (see :func:`load`).
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from explain.errors import TraceFileError
from explain.names import OUTPUT_PREFIX, name_matcher, recurrent_parts
from explain.trace_file import CODES, canonical_meta, digest, parse_json, read_safetensors, to_safetensors, write_atomically
from explain.trace_meta import HALF_SOURCES, SCHEMA_VERSION, check_layout, output_name

__all__ = ["HALF_TOLERANCE", "OUTPUT_PREFIX", "SCHEMA_VERSION", "Trace", "TraceFileError", "load"]

_META_KEY = "explain"
#: (rtol, atol) within which a trace saved with dtype=torch.float16 reads back: float16 keeps 11
#: significant bits (relative error at most 2**-11) and spaces its smallest numbers 2**-24 apart
HALF_TOLERANCE = (2.0**-11, 2.0**-25)


#: the columns of :meth:`Trace.summary`
SUMMARY_HEADER = ("name", "shape", "dtype", "min", "mean", "max", "not finite")


class Trace(Mapping):
    """Names → tensors in execution order, with JSON-able ``meta`` and the model's ``output``.

    >>> tr = Trace({"conv1": torch.ones(1, 2, 3, 3)})
    >>> "conv1" in tr, len(tr), tr.meta["schema"]
    (True, 1, 2)
    """

    def __init__(
        self,
        tensors: Mapping[str, torch.Tensor] | None = None,
        meta: Mapping[str, Any] | None = None,
        output: Any = None,
    ):
        self._tensors: dict[str, torch.Tensor] = {}
        # append_time's steps not yet joined, joined when the name is read (see _current) ...
        self._pending: dict[str, list[torch.Tensor]] = {}
        # ... into a buffer that doubles when full, and how many steps it holds; _tensors[name]
        # is then a prefix of that buffer
        self._growing: dict[str, tuple[torch.Tensor, int]] = {}
        # set by an open recording: finishes the values it deferred (names exist already)
        self._settle: Callable[[], None] | None = None
        self.meta: dict[str, Any] = {"schema": SCHEMA_VERSION}
        self.meta.update(meta or {})
        self.output = output
        for name, tensor in (tensors or {}).items():
            self[name] = tensor

    # -- the mapping ---------------------------------------------------------------------------

    def __getitem__(self, name: str) -> torch.Tensor:
        if self._settle is not None:
            self._settle()
        try:
            return self._current(name)
        except KeyError:
            close = [n for n in self._tensors if name in n or n in name][:5]
            hint = f"; similar: {', '.join(close)}" if close else ""
            raise KeyError(f"no tensor named {name!r} in this trace ({len(self)} names{hint})") from None

    def __setitem__(self, name: str, tensor: torch.Tensor) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"trace names are non-empty strings, got {name!r}")
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"trace values are torch.Tensor, got {type(tensor).__name__} for {name!r}")
        self._tensors[name] = tensor
        self._pending.pop(name, None)
        self._growing.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._tensors  # names are known at once, even while values are deferred

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)

    def names(self, pattern: str | Iterable[str] | Callable[[str], bool] | None = None) -> list[str]:
        """Names in execution order, optionally filtered by a glob, globs or a predicate.

        >>> Trace({"a.l0.fwd.h": torch.zeros(1), "b": torch.zeros(1)}).names("a.*")
        ['a.l0.fwd.h']
        """
        keep = name_matcher(pattern)
        return [name for name in self._tensors if keep(name)]

    def append_time(self, name: str, tensor: torch.Tensor) -> None:
        """Append ``tensor`` ([T, ...]) to ``name`` along time; a new name starts the sequence.

        >>> tr = Trace(); tr.append_time("h", torch.zeros(2, 1)); tr.append_time("h", torch.ones(1, 1))
        >>> tr["h"].shape
        torch.Size([3, 1])

        Appending only keeps the tensor (the caller must not change it afterwards); the steps are
        joined when the name is next read, into a buffer that doubles when full, so n one-step
        calls cost O(n) however often the trace is read in between.
        """
        if name not in self._tensors:
            self[name] = tensor
            return
        pending = self._pending.setdefault(name, [])
        previous = pending[-1] if pending else self._tensors[name]
        if previous.shape[1:] != tensor.shape[1:]:
            raise ValueError(
                f"{name}: a call with shape {tuple(tensor.shape[1:])} cannot be appended to earlier "
                f"calls with shape {tuple(previous.shape[1:])} (batch or size changed between calls)"
            )
        pending.append(tensor)

    def _current(self, name: str) -> torch.Tensor:
        """The tensor under ``name``, including every step appended so far."""
        pending = self._pending.pop(name, None)
        if pending:
            self._join(name, torch.cat(pending) if len(pending) > 1 else pending[0])
        return self._tensors[name]

    def _join(self, name: str, steps: torch.Tensor) -> None:
        """Append ``steps`` to ``name``'s growing buffer (or, for another dtype, to a new tensor)."""
        previous = self._tensors[name]
        if steps.dtype != previous.dtype or steps.device != previous.device:
            self[name] = torch.cat([previous, steps])  # type promotion; the buffer starts again
            return
        buffer, done = self._growing.get(name, (None, previous.shape[0]))
        total = done + steps.shape[0]
        if buffer is None or buffer.shape[0] < total:
            buffer = previous.new_empty((max(total, 2 * done), *previous.shape[1:]))
            buffer.narrow(0, 0, done).copy_(previous)
        buffer.narrow(0, done, steps.shape[0]).copy_(steps)
        self._growing[name] = (buffer, total)
        self._tensors[name] = buffer.narrow(0, 0, total)

    def _all_current(self) -> dict[str, torch.Tensor]:
        """Every tensor, current (see :meth:`_current`)."""
        if self._settle is not None:
            self._settle()
        for name in list(self._pending):
            self._current(name)
        return self._tensors

    # -- selection -----------------------------------------------------------------------------

    def select(
        self,
        names: str | Iterable[str] | Callable[[str], bool] | None = None,
        *,
        module: str | None = None,
        layer: int | None = None,
        direction: str | None = None,
        time: int | slice | None = None,
        units: int | slice | Iterable[int] | None = None,
        batch: int | slice | None = None,
    ) -> Trace:
        """A new Trace with the chosen names and, for recurrent names, chosen steps and units.

        ``time``, ``batch`` and ``units`` index the [T, B, H] axes of recurrent quantities and
        leave other tensors whole; an integer keeps its axis (length 1).

        >>> tr = Trace({"rnn.l0.fwd.h": torch.arange(24.).reshape(4, 2, 3), "fc": torch.ones(2)})
        >>> sub = tr.select(layer=0, time=slice(1, 3), units=[0, 2])
        >>> sub.names(), sub["rnn.l0.fwd.h"].shape
        (['rnn.l0.fwd.h'], torch.Size([2, 2, 2]))
        """
        keep = name_matcher(names)
        recurrent_filter = any(v is not None for v in (module, layer, direction))
        as_index = lambda sel: slice(sel, sel + 1) if isinstance(sel, int) else sel  # noqa: E731
        chosen: dict[str, torch.Tensor] = {}
        for name, tensor in self._all_current().items():
            if not keep(name):
                continue
            parts = recurrent_parts(name)
            if parts is None:
                if recurrent_filter:
                    continue
                chosen[name] = tensor
                continue
            if (module is not None and parts["module"] != module) or (
                layer is not None and parts["layer"] != layer
            ) or (direction is not None and parts["direction"] != direction):
                continue
            if time is not None:
                tensor = tensor[as_index(time)]
            if batch is not None and tensor.dim() >= 2:
                tensor = tensor[:, as_index(batch)]
            if units is not None and tensor.dim() >= 3:
                unit_index = as_index(units)
                if not isinstance(unit_index, slice):
                    unit_index = torch.as_tensor(list(unit_index), dtype=torch.long)
                tensor = tensor[..., unit_index]
            chosen[name] = tensor
        return Trace(chosen, meta=self.meta, output=self.output)

    # -- display -------------------------------------------------------------------------------

    def _rows(self) -> list[tuple[str, ...]]:
        """name, shape, dtype, min / mean / max of the finite values, and how many are not finite."""
        rows = []
        for name, tensor in self._all_current().items():
            values = tensor.detach().float()
            finite = values[torch.isfinite(values)] if values.numel() else values
            if finite.numel():
                stats = (f"{finite.min().item():.4g}", f"{finite.mean().item():.4g}", f"{finite.max().item():.4g}")
            else:
                stats = ("-", "-", "-")
            shape = "×".join(str(s) for s in tensor.shape) or "scalar"
            nans, infinite = int(torch.isnan(values).sum()), int(torch.isinf(values).sum())
            unusual = ", ".join(text for count, text in ((nans, f"{nans} NaN"), (infinite, f"{infinite} ±inf")) if count)
            rows.append((name, shape, str(tensor.dtype).removeprefix("torch."), *stats, unusual))
        return rows

    def summary(self) -> str:
        """A table of every name with its shape, dtype, min/mean/max of its finite values, and how
        many values are NaN or infinite.

        >>> print(Trace({"x": torch.tensor([1., 3.]), "y": torch.tensor([1., float("nan")])}).summary())
        name  shape  dtype    min  mean  max  not finite
        ----  -----  -------  ---  ----  ---  ----------
        x     2      float32  1    2     3
        y     2      float32  1    1     1    1 NaN
        """
        header = SUMMARY_HEADER
        rows = [header, *self._rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Trace({len(self)} tensors: {', '.join(list(self._tensors)[:4])}{', …' if len(self) > 4 else ''})"

    def _repr_html_(self) -> str:
        header = SUMMARY_HEADER
        head = "".join(f"<th>{h}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in self._rows()
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    # -- the file ------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike, *, dtype: torch.dtype | None = None) -> Path:
        """Write the trace as safetensors with JSON metadata and a digest, atomically; returns the path.

        Identical traces give byte-identical files. ``dtype=torch.float16`` stores float32 and
        float64 tensors in half the space; :func:`load` reads them back in their own dtype, within
        :data:`HALF_TOLERANCE` (relative 2**-11, absolute 2**-25) of the saved values. A value
        beyond float16's range (±65504) is refused rather than stored as infinity.

        >>> import tempfile
        >>> tr = Trace({"h": torch.tensor([1.0, 1 / 3])})
        >>> back = load(tr.save(Path(tempfile.mkdtemp()) / "t.safetensors", dtype=torch.float16))
        >>> back["h"].dtype, back.meta["half"], bool(torch.allclose(back["h"], tr["h"], *HALF_TOLERANCE))
        (torch.float32, {'h': 'float32'}, True)
        """
        if dtype not in (None, torch.float16):
            raise ValueError(f"a trace is saved in its own dtypes (dtype=None) or in torch.float16, not {dtype}")
        path = Path(path)
        tensors = {name: t.detach().to("cpu").contiguous() for name, t in self._all_current().items()}
        output_tensors, output_skeleton = _flatten_output(self.output)
        tensors.update({output_name(key): value for key, value in output_tensors.items()})
        half = _halved(tensors) if dtype is not None else {}
        tensors = _unshared(tensors)
        meta = {key: value for key, value in self.meta.items() if key not in ("half", "digest")}
        meta.update(schema=SCHEMA_VERSION, names=list(self._tensors), output=output_skeleton)
        if half:
            meta["half"] = half
        try:
            canonical_meta(meta)
        except (TypeError, ValueError) as error:
            raise TypeError(f"trace metadata must be JSON-able (finite numbers, string keys): {error}") from None
        foreign = next((name for name, tensor in tensors.items() if tensor.dtype not in CODES), None)
        if foreign is not None:
            stored = ", ".join(str(dtype).removeprefix("torch.") for dtype in CODES)
            raise TypeError(f"{foreign}: a trace file holds {stored} tensors, not {tensors[foreign].dtype}")
        check_layout(meta, tensors, path)  # a file that would not load is not written
        meta["digest"] = digest(meta, tensors)
        return write_atomically(path, to_safetensors(tensors, meta, _META_KEY))


def _halved(tensors: dict[str, torch.Tensor]) -> dict[str, str]:
    """Convert float32/float64 tensors to float16 in place; returns name → the dtype they had."""
    half = {}
    for name, tensor in tensors.items():
        source = str(tensor.dtype).removeprefix("torch.")
        if source not in HALF_SOURCES:
            continue
        converted = tensor.to(torch.float16)
        overflow = torch.isinf(converted) & torch.isfinite(tensor)
        if overflow.any():
            largest = tensor[torch.isfinite(tensor)].abs().max().item()
            raise ValueError(f"{name}: values up to {largest:.6g} exceed float16's range (65504); save it with dtype=None")
        tensors[name], half[name] = converted, source
    return half


def _unshared(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Copies where tensors share memory (safetensors refuses shared storage; a recording shares it).

    >>> t = torch.zeros(2)
    >>> shared = _unshared({"a": t, "b": t, "c": t[1:]})
    >>> shared["a"] is t, shared["b"] is t
    (True, False)
    """
    seen: set[int] = set()
    result = {}
    for name, tensor in tensors.items():
        storage = tensor.untyped_storage().data_ptr()
        result[name] = tensor.clone() if storage in seen and tensor.numel() else tensor
        seen.add(storage)
    return result


def _flatten_output(output: Any, path: str = "") -> tuple[dict[str, torch.Tensor], Any]:
    """The tensors inside a model's output, keyed by position, and a JSON skeleton of its shape.

    In the skeleton a tensor is its key, a tuple or list is a list, anything else is None.

    >>> tensors, skeleton = _flatten_output((torch.zeros(1), (torch.ones(1), None)))
    >>> sorted(tensors), skeleton
    (['0', '1.0'], ['0', ['1.0', None]])
    """
    if isinstance(output, torch.Tensor):
        return {path: output.detach().to("cpu").contiguous()}, path
    if hasattr(output, "data") and hasattr(output, "batch_sizes"):  # a PackedSequence
        output = tuple(output)
    if not isinstance(output, (tuple, list)):
        return {}, None
    tensors: dict[str, torch.Tensor] = {}
    skeleton = []
    for index, item in enumerate(output):
        inner, inner_skeleton = _flatten_output(item, f"{path}.{index}" if path else str(index))
        tensors.update(inner)
        skeleton.append(inner_skeleton)
    return tensors, skeleton


def _unflatten_output(skeleton: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """The output rebuilt from its skeleton and the file's tensors (tuples for lists, None where nothing was saved).

    >>> _unflatten_output(["0", [None, "1.1"], None], {"@output.0": torch.zeros(1), "@output.1.1": torch.ones(1)})
    (tensor([0.]), (None, tensor([1.])), None)
    """
    if isinstance(skeleton, str):
        return tensors[output_name(skeleton)]
    if isinstance(skeleton, list):
        return tuple(_unflatten_output(item, tensors) for item in skeleton)
    return None


def load(path: str | os.PathLike, *, verify: bool = True) -> Trace:
    """Read a trace file written by :meth:`Trace.save`; never unpickles.

    Any problem with the file (missing, not a regular file, truncated, not safetensors, not a
    trace, newer schema, malformed metadata, tensors that disagree with the metadata or with
    their modules' configurations, bytes that do not match the digest) raises one
    :class:`TraceFileError` that names the file and the problem. ``verify=False`` skips only the
    digest (one SHA-256 pass over the tensors' bytes; see benchmarks/bench_trace_load.py for its
    cost) and also reads files of schema 1, written before digests.
    """
    path = Path(path)
    stored = read_safetensors(path)
    raw_meta = stored.metadata.get(_META_KEY)
    if raw_meta is None:
        raise TraceFileError(f"{path}: a safetensors file, but not an explain trace (no '{_META_KEY}' metadata)")
    try:
        meta = parse_json(raw_meta)
    except ValueError as error:
        raise TraceFileError(f"{path}: trace metadata is corrupt ({_first_line(error)})") from None
    names, output_skeleton, half = check_layout(meta, stored.tensors, path, legacy=not verify)
    if verify:
        codes = {name: CODES[tensor.dtype] for name, tensor in stored.tensors.items()}
        shapes = {name: tuple(tensor.shape) for name, tensor in stored.tensors.items()}
        if meta.get("digest") != digest(meta, stored.raw, codes, shapes):
            raise TraceFileError(
                f"{path}: the tensors or metadata do not match the file's digest (the file was changed or damaged)"
            )
    tensors = {name: tensor.to(half[name]) if name in half else tensor for name, tensor in stored.tensors.items()}
    output = _unflatten_output(output_skeleton, tensors)
    meta = {key: value for key, value in meta.items() if key not in ("names", "output", "digest")}
    return Trace({name: tensors[name] for name in names}, meta=meta, output=output)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
