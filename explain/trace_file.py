"""The trace file on disk: safetensors read strictly, a digest of every tensor, atomic writes.

    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> tensors, meta = {"h": torch.ones(2, 3)}, {"schema": 2}
    >>> meta["digest"] = digest(meta, tensors)
    >>> path = write_atomically(folder / "t.safetensors", to_safetensors(tensors, meta))
    >>> stored = read_safetensors(path)
    >>> stored.tensors["h"].shape, stored.metadata["explain"] == json.dumps(meta)
    (torch.Size([2, 3]), True)

Reading opens only regular files (a FIFO, a device or a directory is refused at once, before any
read), reads the header first and checks that the file is exactly as long as the header says
before reading the tensors' bytes into one buffer, which the tensors then share (no copies). The header is parsed
strictly: known dtypes, shapes of non-negative integers, offsets that tile the data without gaps,
no duplicate keys. Any problem is one :class:`~explain.errors.TraceFileError` naming the file.

:func:`digest` is a SHA-256 of the metadata (without its ``digest`` key) and of each tensor's
name, dtype, shape and bytes (hashed in 4 MiB blocks, in parallel), in name order: it changes when any value, name, dtype, shape or
metadata changes, and not when another writer lays the same tensors out in another order.

A write goes to a temporary sibling ``.<name>.<pid>-<random>.tmp`` that is renamed over the
target; each write first removes the temporaries of earlier writes to the same target whose
writer is no longer running or that have not changed for an hour (a killed save).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from explain.errors import TraceFileError

__all__ = ["StoredFile", "canonical_meta", "digest", "parse_json", "read_safetensors", "to_safetensors", "write_atomically"]

#: safetensors dtype codes torch can hold, and their torch dtypes
DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}  # fmt: skip
CODES = {dtype: code for code, dtype in DTYPES.items()}
HEADER_LIMIT = 100_000_000  # bytes of JSON header (safetensors' own limit)
META_DEPTH_LIMIT = 64  # nesting of the metadata JSON
STALE_SECONDS = 3600  # a temporary unchanged this long belongs to no running save
BLOCK = 4 * 2**20  # bytes hashed as one piece of the digest
_DIGEST_PREFIX = "sha256:"


@dataclass(frozen=True)
class StoredFile:
    """What a safetensors file holds: tensors (sharing the file's bytes), their bytes, and the metadata strings."""

    tensors: dict[str, torch.Tensor]
    raw: dict[str, memoryview]
    metadata: dict[str, str]


# -- reading -------------------------------------------------------------------------------------


def read_safetensors(path: Path) -> StoredFile:
    """Read a safetensors file strictly (see the module docstring); never unpickles."""
    with _open_regular(path) as file:
        size = os.fstat(file.fileno()).st_size
        prefix = _read_exactly(file, 8, path) if size >= 8 else b""
        if len(prefix) < 8:
            raise TraceFileError(f"{path}: not a readable safetensors file ({size} bytes, shorter than its 8-byte header size)")
        header_size = int.from_bytes(prefix, "little")
        if header_size > min(HEADER_LIMIT, size - 8):
            raise TraceFileError(
                f"{path}: not a readable safetensors file (header of {header_size} bytes in a file of {size} bytes)"
            )
        header = _parse_header(_read_exactly(file, header_size, path), path)
        data_size = size - 8 - header_size
        entries, metadata = _tensor_entries(header, data_size, path)
        data = torch.empty(data_size, dtype=torch.uint8)  # not zero-filled: every byte is read into it
        view, done = memoryview(data.numpy()), 0
        while done < data_size:
            count = file.readinto(view[done:])
            if not count:
                break
            done += count
        if done != data_size or file.read(1):
            raise TraceFileError(f"{path}: the file changed size while it was read")
    tensors, raw = {}, {}
    for name, (code, shape, begin, end) in entries.items():
        raw[name] = view[begin:end]
        tensors[name] = _tensor(data[begin:end], DTYPES[code], shape)
    return StoredFile(tensors, raw, metadata)


def _tensor(data: torch.Tensor, dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
    """Bytes as a tensor of ``dtype`` and ``shape``: a view of them, or a copy where they are not aligned for it."""
    if data.numel() == 0:
        return torch.empty(shape, dtype=dtype)
    if data.data_ptr() % dtype.itemsize:  # safetensors aligns tensors; a foreign writer may not
        data = data.clone()
    return data.view(dtype).view(shape)


def _open_regular(path: Path):
    """The file opened for reading, if it is a regular file (opening never blocks on a FIFO)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise TraceFileError(f"{path}: cannot read trace file ({error.strerror or error})") from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise TraceFileError(f"{path}: not a regular file but {_kind(mode)}; a trace file is a regular file")
    return os.fdopen(descriptor, "rb", buffering=0)


def _kind(mode: int) -> str:
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]  # fmt: skip
    return next((name for test, name in kinds if test(mode)), "a special file")


def _read_exactly(file, count: int, path: Path) -> bytes:
    data = file.read(count)
    if len(data) != count:
        raise TraceFileError(f"{path}: the file changed size while it was read")
    return data


def _parse_header(text: bytes, path: Path) -> dict[str, Any]:
    try:
        header = parse_json(text.decode("utf-8"), limit=None)  # its shape is checked entry by entry
    except (UnicodeDecodeError, ValueError) as error:
        raise TraceFileError(f"{path}: not a readable safetensors file (header: {_first_line(error)})") from None
    if not isinstance(header, dict):
        raise TraceFileError(f"{path}: not a readable safetensors file (header is {type(header).__name__}, not an object)")
    return header


def _tensor_entries(header: dict[str, Any], data_size: int, path: Path):
    """name → (dtype code, shape, begin, end), checked to tile the data exactly; and the metadata strings."""
    metadata = header.pop("__metadata__", None) or {}
    if not (isinstance(metadata, dict) and all(isinstance(value, str) for value in metadata.values())):
        raise TraceFileError(f"{path}: not a readable safetensors file (__metadata__ must map names to strings)")
    entries = {}
    for name, entry in header.items():
        entries[name] = _tensor_entry(name, entry, path)
    end = 0
    for name, (_, _, begin, stop) in sorted(entries.items(), key=lambda item: item[1][2:]):
        if begin != end:
            raise TraceFileError(f"{path}: tensor {name!r} starts at byte {begin} of the data, expected {end} (overlap or gap)")
        end = stop
    if end != data_size:
        raise TraceFileError(f"{path}: the header describes {end} bytes of tensor data, the file holds {data_size}")
    return entries, metadata


def _tensor_entry(name: str, entry: Any, path: Path) -> tuple[str, tuple[int, ...], int, int]:
    fields = {"dtype", "shape", "data_offsets"}
    if not (isinstance(entry, dict) and set(entry) == fields):
        raise TraceFileError(f"{path}: tensor {name!r}: header entry must have exactly {sorted(fields)}")
    code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if code not in DTYPES:
        raise TraceFileError(f"{path}: tensor {name!r}: unknown dtype {code!r} (known: {', '.join(DTYPES)})")
    if not (isinstance(shape, list) and all(_natural(size) for size in shape)):
        raise TraceFileError(f"{path}: tensor {name!r}: shape must be a list of non-negative integers, got {_short(shape)}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_natural(value) for value in offsets)):
        raise TraceFileError(f"{path}: tensor {name!r}: data_offsets must be two non-negative integers, got {_short(offsets)}")
    begin, end = offsets
    numel = 1
    for size in shape:
        numel *= size
    if end - begin != numel * DTYPES[code].itemsize:
        raise TraceFileError(
            f"{path}: tensor {name!r}: {code} {shape} needs {numel * DTYPES[code].itemsize} bytes, offsets give {end - begin}"
        )
    return code, tuple(shape), begin, end


def _natural(value: Any) -> bool:
    return type(value) is int and value >= 0


def parse_json(text: str, limit: int | None = META_DEPTH_LIMIT) -> Any:
    """JSON without duplicate keys, NaN, infinities or nesting deeper than ``limit`` (None: Python's limit).

    >>> parse_json('{"a": [1, 2.5]}')
    {'a': [1, 2.5]}
    >>> parse_json('{"a": 1e400}')
    Traceback (most recent call last):
    ValueError: number out of range: 1e400
    """
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if limit is not None and depth(value) > limit:
        raise ValueError(f"nested more than {limit} levels deep")
    return value


def depth(value: Any) -> int:
    """How deeply lists and objects nest in a JSON value (counted without recursion).

    >>> depth({"a": [[1], "]]"]}), depth(3)
    (3, 0)
    """
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        for child in children:
            if isinstance(child, (dict, list)):
                pending.append((child, level + 1))
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        duplicate = next(key for index, (key, _) in enumerate(pairs) if key in dict(pairs[:index]))
        raise ValueError(f"duplicate key {duplicate!r}")
    return result


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a number")


# -- the digest ----------------------------------------------------------------------------------


def digest(meta: Mapping[str, Any], tensors: Mapping[str, torch.Tensor | memoryview], codes: Mapping[str, str] | None = None,
           shapes: Mapping[str, tuple[int, ...]] | None = None) -> str:
    """``"sha256:<hex>"`` of the metadata (without ``digest``) and each tensor's name, dtype, shape and bytes.

    ``tensors`` are torch tensors (contiguous, on the CPU), or raw bytes with their dtype codes
    and shapes given in ``codes`` and ``shapes`` (as read from a file). The bytes are hashed in
    blocks of :data:`BLOCK` bytes on several threads (hashlib releases the GIL); each tensor
    contributes the SHA-256 of its blocks' SHA-256s.

    >>> digest({"schema": 2}, {"h": torch.zeros(2)}) == digest({"schema": 2}, {"h": torch.zeros(2)})
    True
    >>> digest({"schema": 2}, {"h": torch.zeros(2)}) == digest({"schema": 2}, {"h": torch.zeros(1, 2)})
    False
    """
    names = sorted(tensors)
    described, data = [], []
    for name in names:
        value = tensors[name]
        if isinstance(value, torch.Tensor):
            described.append([name, CODES[value.dtype], list(value.shape)])
            data.append(tensor_bytes(value))
        else:
            described.append([name, codes[name], list(shapes[name])])
            data.append(value)
    blocks = [(index, chunk[start : start + BLOCK]) for index, chunk in enumerate(data) for start in range(0, max(len(chunk), 1), BLOCK)]
    hash_block = lambda block: hashlib.sha256(block[1]).digest()  # noqa: E731
    if len(blocks) < 4:  # small traces: threads would cost more than they save
        block_hashes = list(map(hash_block, blocks))
    else:
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            block_hashes = list(pool.map(hash_block, blocks))
    per_tensor = [hashlib.sha256() for _ in names]
    for (index, _), block_hash in zip(blocks, block_hashes):
        per_tensor[index].update(block_hash)
    hash_ = hashlib.sha256(b"explain trace digest 1\n")
    hash_.update(canonical_meta(meta).encode("utf-8") + b"\n")
    for description, tensor_hash in zip(described, per_tensor):
        hash_.update(json.dumps(description, ensure_ascii=False).encode("utf-8") + b"\n" + tensor_hash.digest())
    return _DIGEST_PREFIX + hash_.hexdigest()


def canonical_meta(meta: Mapping[str, Any]) -> str:
    """The metadata as the digest sees it: sorted keys, without ``digest``."""
    return json.dumps({key: value for key, value in meta.items() if key != "digest"}, sort_keys=True, ensure_ascii=False, allow_nan=False)


def tensor_bytes(tensor: torch.Tensor) -> memoryview:
    """The bytes of a contiguous CPU tensor, as safetensors stores them (no copy)."""
    return memoryview(tensor.reshape(-1).view(torch.uint8).numpy())


# -- writing -------------------------------------------------------------------------------------


def to_safetensors(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any], key: str = "explain") -> bytes:
    """The bytes of a safetensors file holding ``tensors``, with ``meta`` as JSON under ``key``, its
    keys in the order they were recorded (``meta["modules"]`` in execution order; the digest sees
    them sorted, :func:`canonical_meta`)."""
    from safetensors.torch import save

    return save(dict(tensors), metadata={key: json.dumps(meta, ensure_ascii=False, allow_nan=False)})


def write_atomically(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary sibling renamed over it; returns ``path``.

    Temporaries left by earlier, killed writes to ``path`` are removed first.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    temporary = path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def temporaries(path: Path) -> list[Path]:
    """The temporary siblings that writes to ``path`` make (``.<name>.<anything>.tmp``)."""
    prefix, suffix = f".{path.name}.", ".tmp"
    try:
        siblings = list(os.scandir(path.parent))
    except OSError:
        return []
    return [Path(entry.path) for entry in siblings if entry.name.startswith(prefix) and entry.name.endswith(suffix)]


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporaries of earlier writes to ``path`` that no running write uses; returns them."""
    removed = []
    for temporary in temporaries(path):
        try:
            info = temporary.lstat()
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode) or not _stale(temporary.name, info.st_mtime, path.name):
            continue
        try:
            temporary.unlink()
            removed.append(temporary)
        except OSError:
            continue
    return removed


def _stale(name: str, modified: float, target: str) -> bool:
    """A temporary is stale when its writer (the pid in its name) is gone, or it has not changed for an hour."""
    if time.time() - modified > STALE_SECONDS:
        return True
    match = re.fullmatch(r"(\d+)-[0-9a-f]+", name[len(target) + 2 : -len(".tmp")])
    if match is None:  # an older explain's temporary (no pid): only its age tells
        return False
    return not _running(int(match.group(1)))


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except OSError:  # another user's process
        return True
    return True


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
