"""Trace files that never load wrong: a seeded fuzz test, special files, killed saves, half precision,
tensors checked against their modules' configurations (the docstring examples run in test_docstrings.py).

    pytest tests/test_trace_file.py
"""

from __future__ import annotations

import json
import os
import random
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

import explain
from explain import trace, trace_file
from explain.trace import HALF_TOLERANCE, Trace, TraceFileError, load
from explain.trace_file import STALE_SECONDS, remove_stale_temporaries, temporaries

FUZZ_FILES = 1200


def small_trace() -> Trace:
    """A recording with recurrent quantities, a kernel, an output tuple and metadata, a few KB."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 2, num_layers=2, bidirectional=True)
    tr = explain.record(lstm, torch.randn(3, 2, 3), tokens=list("abc"))
    tr["conv@weight"] = torch.randn(2, 1, 2, 2)
    tr["steps"] = torch.arange(3, dtype=torch.int64)
    tr["mask"] = torch.tensor([True, False, True])
    tr["half"] = torch.randn(2, 3).to(torch.float16)
    return tr


def _split(data: bytes) -> tuple[dict, bytes]:
    size = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + size]), data[8 + size :]


def _join(header: dict, body: bytes) -> bytes:
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + body


def _meta_edit(rng: random.Random, meta: dict) -> str:
    """One edit of the trace metadata; returns what it did."""
    key = rng.choice(sorted(meta))
    choice = rng.randrange(9)
    if choice == 0:
        del meta[key]
    elif choice == 1:
        meta[key] = rng.choice([None, -5, 1.9, "1", [[1]], {"a": "0"}, [], {}, True, 10**30])
    elif choice == 2:
        meta["names"] = meta["names"][: rng.randrange(len(meta["names"]))]
    elif choice == 3:
        names = meta["names"]
        i, j = rng.randrange(len(names)), rng.randrange(len(names))
        names[i], names[j] = names[j], names[i]
        return f"names {i} <-> {j}"
    elif choice == 4:
        meta["schema"] = rng.choice([0, 1, 3, -1, 2.0, "2", None, 2**70])
    elif choice == 5:
        meta["output"] = rng.choice([None, "", "0", ["0"], {"0": "0"}, [["0.0"]], ["1", "0"]])
    elif choice == 6:
        module = meta["modules"][""]
        field = rng.choice(sorted(module))
        module[field] = rng.choice([0, 1, 2, 3, 7, "float64", None, [], True])
        return f"modules..{field} = {module[field]!r}"
    elif choice == 7:
        meta["digest"] = "sha256:" + "0" * 64
    else:
        meta["tokens"] = list("abd")
    return f"meta {key!r} edit {choice}"


def mutate(rng: random.Random, good: bytes) -> tuple[bytes, str]:
    """One mutation of a good file: bit flips, header edits, offset swaps, dtype/shape edits, metadata edits."""
    kind = rng.randrange(8)
    if kind == 0:
        data = bytearray(good)
        for _ in range(rng.choice([1, 1, 2, 8])):
            position = rng.randrange(len(data))
            data[position] ^= 1 << rng.randrange(8)
        return bytes(data), "bit flips"
    if kind == 1:  # a byte of the header text replaced
        size = int.from_bytes(good[:8], "little")
        position = 8 + rng.randrange(size)
        data = bytearray(good)
        data[position] = rng.choice(b' {}[]",:0123456789e.-aFIU\\')
        return bytes(data), f"header byte {position}"
    if kind == 2:  # cut or grown, or a wrong header size
        choice = rng.randrange(3)
        if choice == 0:
            return good[: rng.randrange(len(good))], "truncated"
        if choice == 1:
            return good + bytes(rng.randrange(1, 64)), "grown"
        size = int.from_bytes(good[:8], "little") + rng.choice([-8, -1, 1, 8, 2**40, -(2**20)])
        return struct.pack("<Q", size % 2**64) + good[8:], "header size"
    header, body = _split(good)
    names = [name for name in header if name != "__metadata__"]
    if kind == 3:  # two tensors' offsets swapped (same byte length: a silent swap without the digest)
        by_length: dict[int, list[str]] = {}
        for name in names:
            begin, end = header[name]["data_offsets"]
            by_length.setdefault(end - begin, []).append(name)
        group = rng.choice([group for group in by_length.values() if len(group) > 1])
        a, b = rng.sample(group, 2)
        header[a]["data_offsets"], header[b]["data_offsets"] = header[b]["data_offsets"], header[a]["data_offsets"]
        return _join(header, body), f"offsets {a} <-> {b}"
    name = rng.choice(names)
    entry = header[name]
    if kind == 4:  # dtype edit (same itemsize, or another)
        entry["dtype"] = rng.choice(["F32", "I32", "F16", "BF16", "I16", "F64", "I64", "U8", "BOOL", "I8", "X9", 3])
        return _join(header, body), f"dtype of {name}"
    if kind == 5:  # shape edit: permuted, or one size changed
        shape = entry["shape"]
        if len(shape) > 1 and rng.random() < 0.6:
            rng.shuffle(shape)
        elif shape:
            shape[rng.randrange(len(shape))] = rng.choice([0, 1, 2, 3, 6, -1, 2.0])
        else:
            entry["shape"] = [1]
        return _join(header, body), f"shape of {name}"
    if kind == 6:  # other header edits
        choice = rng.randrange(4)
        if choice == 0:
            entry["data_offsets"] = [entry["data_offsets"][0], entry["data_offsets"][1] + rng.choice([-4, 4])]
        elif choice == 1:
            header[name + "x"] = header.pop(name)
        elif choice == 2:
            del header[name]
        else:
            header["__metadata__"]["other"] = "x"
        return _join(header, body), f"header edit {choice} of {name}"
    meta = json.loads(header["__metadata__"]["explain"])
    description = _meta_edit(rng, meta)
    header["__metadata__"]["explain"] = json.dumps(meta)
    return _join(header, body), description


def assert_same(loaded: Trace, original: Trace) -> None:
    assert loaded.names() == original.names()
    for name in original:
        assert loaded[name].dtype == original[name].dtype and torch.equal(loaded[name], original[name]), name
    assert loaded.meta == original.meta
    flat = trace._flatten_output
    assert flat(loaded.output)[1] == flat(original.output)[1]
    assert all(torch.equal(a, b) for a, b in zip(flat(loaded.output)[0].values(), flat(original.output)[0].values()))


@pytest.mark.slow
def test_fuzzed_files_raise_trace_file_error_or_load_equal(tmp_path):
    """Seeded: every mutated file either raises TraceFileError or loads equal to the original."""
    good_path = small_trace().save(tmp_path / "good.safetensors")
    good = good_path.read_bytes()
    original = load(good_path)
    rng = random.Random(20261202)
    outcomes = {"refused": 0, "equal": 0}
    for index in range(FUZZ_FILES):
        data, description = mutate(rng, good)
        path = tmp_path / f"mutated-{index}.safetensors"  # a new file: rewriting one file flushes it each time (ext4)
        path.write_bytes(data)
        try:
            loaded = load(path)
        except TraceFileError as error:
            assert str(error).startswith(str(path)) and "\n" not in str(error), (index, description, error)
            outcomes["refused"] += 1
        except Exception as error:  # noqa: BLE001 - the point of the test
            pytest.fail(f"mutation {index} ({description}) raised {type(error).__name__}: {error}")
        else:
            try:
                assert_same(loaded, original)
            except AssertionError:
                pytest.fail(f"mutation {index} ({description}) loaded different data")
            outcomes["equal"] += 1
        try:  # unverified, a mutated file may load other values, but never raises anything else
            load(path, verify=False)
        except TraceFileError:
            pass
    assert outcomes["refused"] > FUZZ_FILES * 0.8, outcomes  # the rest: edits that change nothing (key order …)


# -- special files ---------------------------------------------------------------------------------


def _special_files(tmp_path) -> dict[str, Path]:
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)
    links = {}
    for device in ("zero", "urandom", "null"):
        links[device] = tmp_path / f"{device}.safetensors"
        links[device].symlink_to(f"/dev/{device}")
    directory = tmp_path / "dir.safetensors"
    directory.mkdir()
    return {"fifo": fifo, "directory": directory, **links}


SPECIAL_KINDS = {"fifo": "a FIFO", "directory": "a directory", "zero": "a character device",
                 "urandom": "a character device", "null": "a character device"}  # fmt: skip


def _within(seconds: float, function, *args):
    """function(*args) run in a thread; fails if it does not finish within ``seconds``."""
    outcome: dict[str, object] = {}

    def run():
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{function.__name__}{args} still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@pytest.mark.parametrize("kind", list(SPECIAL_KINDS))
def test_special_files_are_refused_at_once(tmp_path, kind):
    path = _special_files(tmp_path)[kind]
    with pytest.raises(TraceFileError, match=f"not a regular file but {SPECIAL_KINDS[kind]}"):
        _within(5, load, path)


@pytest.mark.parametrize(
    "command", ["show", "diff", pytest.param("plot", marks=pytest.mark.slow), pytest.param("render", marks=pytest.mark.slow)]
)
def test_cli_refuses_special_files_in_one_line(tmp_path, command, capsys):
    from explain.cli import main

    fifo = _special_files(tmp_path)["fifo"]
    good = small_trace().save(tmp_path / "good.safetensors")
    argv = {
        "show": ["show", str(fifo)],
        "diff": ["diff", str(good), str(fifo)],
        "plot": ["plot", str(fifo), "-o", str(tmp_path / "p.png")],
        "render": ["render", "lstm-cell", "--trace", str(fifo), "-o", str(tmp_path)],
    }[command]
    assert _within(20, main, argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "not a regular file but a FIFO" in error, error


# -- killed saves ----------------------------------------------------------------------------------

KILLED_SAVE = """
import os, sys, time, torch, explain
def stuck(*args):
    print("writing", flush=True)
    time.sleep(60)
os.replace = stuck  # the temporary is written, the rename never comes: SIGKILL lands mid-save
explain.Trace({"x": torch.zeros(100_000)}).save(sys.argv[1])
"""


@pytest.mark.slow
def test_a_killed_save_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    target = tmp_path / "t.safetensors"
    child = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        left = temporaries(target)
        assert len(left) == 1 and left[0].stat().st_size > 400_000
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert not target.exists() and temporaries(target) == left
    Trace({"y": torch.ones(2)}).save(target)
    assert temporaries(target) == [] and load(target).names() == ["y"]


def test_only_temporaries_of_finished_writers_or_old_ones_are_removed(tmp_path):
    target = tmp_path / "t.safetensors"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        running = tmp_path / f".t.safetensors.{sleeper.pid}-ab12.tmp"  # a save still writing
        dead = tmp_path / ".t.safetensors.999999999-ab12.tmp"  # its writer is gone
        fresh = tmp_path / ".t.safetensors.x7k2.tmp"  # an older explain's, recent: maybe in use
        old = tmp_path / ".t.safetensors.q9z1.tmp"  # an older explain's, an hour old
        other = tmp_path / ".u.safetensors.999999999-ab12.tmp"  # another target's
        for path in (running, dead, fresh, old, other):
            path.write_bytes(b"partial")
        os.utime(old, (time.time() - STALE_SECONDS - 60,) * 2)
        assert sorted(remove_stale_temporaries(target)) == sorted([dead, old])
        assert running.exists() and fresh.exists() and other.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_saved_files_are_ordinary_files(tmp_path):
    path = small_trace().save(tmp_path / "t.safetensors")
    mask = os.umask(0o022)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


# -- half precision --------------------------------------------------------------------------------


def test_half_precision_halves_the_file_and_reads_back_within_the_documented_tolerance(tmp_path):
    torch.manual_seed(1)
    values = torch.randn(4, 1000) * torch.logspace(-9, 4, 1000)  # from float16's subnormals to 1e4
    tr = Trace({"h": values, "steps": torch.arange(5), "wide": values.double()}, output=values[0])
    full, half = tr.save(tmp_path / "full.st"), tr.save(tmp_path / "half.st", dtype=torch.float16)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    back = load(half)
    assert back.meta["half"] == {"h": "float32", "wide": "float64", "@output": "float32"}
    assert back["h"].dtype == torch.float32 and back["wide"].dtype == torch.float64 and torch.equal(back["steps"], tr["steps"])
    rtol, atol = HALF_TOLERANCE
    for got, want in [(back["h"], values), (back["wide"], values.double()), (back.output, values[0])]:
        assert ((got.double() - want.double()).abs() <= atol + rtol * want.double().abs()).all()
    assert not torch.equal(back["h"], values)  # it did round
    assert "half" not in load(back.save(tmp_path / "again.st")).meta  # saved in its own dtypes again


def test_half_precision_refuses_values_beyond_float16_and_other_dtypes(tmp_path):
    with pytest.raises(ValueError, match="big: values up to 70000 exceed float16's range"):
        Trace({"big": torch.tensor([1.0, 7e4])}).save(tmp_path / "t.st", dtype=torch.float16)
    with pytest.raises(ValueError, match="or in torch.float16, not torch.bfloat16"):
        Trace({"x": torch.ones(1)}).save(tmp_path / "t.st", dtype=torch.bfloat16)
    with pytest.raises(TypeError, match="z: a trace file holds float64, .* tensors, not torch.complex64"):
        Trace({"z": torch.ones(2, dtype=torch.complex64)}).save(tmp_path / "t.st")
    assert not list(tmp_path.iterdir())


# -- tensors against their modules' configurations -------------------------------------------------


def _conv_trace() -> Trace:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 3, (3, 3), groups=1), torch.nn.ReLU())
    return explain.record(net, torch.randn(1, 2, 5, 5))


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("l0.fwd.h", lambda t: t.permute(1, 0, 2).contiguous(), "shape [2, 3, 2], the module's configuration gives [3, 2, 2]"),
        ("l1.bwd.x", lambda t: t[..., :2].contiguous(), "shape [3, 2, 2], the module's configuration gives [3, 2, 4]"),
        ("l0.fwd.f", lambda t: t.double(), "dtype float64, the module ran in float32"),
        ("0@weight", lambda t: t.transpose(0, 1).contiguous(), "shape [2, 3, 3, 3], the convolution's configuration gives [3, 2, 3, …, 3]"),
        ("0@bias", lambda t: t[:2].contiguous(), "shape [2], the convolution's configuration gives [3]"),
    ],
)
def test_tensors_must_agree_with_their_modules_configuration(tmp_path, monkeypatch, name, change, message):
    tr = _conv_trace() if "@" in name else small_trace()
    tr[name] = change(tr[name])
    expected = f"{name}: {message}".replace("[", r"\[").replace("]", r"\]")
    with pytest.raises(TraceFileError, match=expected):
        tr.save(tmp_path / "t.st")  # a file that would not load is not written
    assert not (tmp_path / "t.st").exists()
    monkeypatch.setattr(trace, "check_layout", lambda *args: None)  # a writer that does not check
    path = tr.save(tmp_path / "t.st")  # its digest is right: the recording itself is wrong
    monkeypatch.undo()
    with pytest.raises(TraceFileError, match=expected):
        load(path)


@pytest.mark.parametrize(
    "module, inputs",
    [
        (lambda: torch.nn.LSTM(3, 5, num_layers=2, proj_size=2, bidirectional=True), (torch.randn(4, 2, 3),)),
        (lambda: torch.nn.GRU(3, 4, batch_first=True), (torch.randn(2, 6, 3),)),
        (lambda: torch.nn.RNN(3, 4, nonlinearity="relu", num_layers=3), (torch.randn(5, 3),)),
        (lambda: torch.nn.Sequential(torch.nn.Conv1d(2, 4, 3), torch.nn.Conv1d(4, 4, 1, groups=2)), (torch.randn(1, 2, 8),)),
        (lambda: torch.nn.Conv3d(1, 2, (1, 2, 3)), (torch.randn(1, 1, 3, 4, 5),)),
    ],
)
def test_recordings_of_many_configurations_load(tmp_path, module, inputs):
    torch.manual_seed(0)
    tr = explain.record(module(), *inputs)
    assert_same(load(tr.save(tmp_path / "t.st")), tr)


def test_the_digest_is_pinned_so_saved_files_stay_readable():
    """Changing how the digest is computed makes every saved trace unreadable: it must be deliberate."""
    tensors = {"h": torch.arange(6, dtype=torch.float32).reshape(2, 3), "big": torch.zeros(2**20 + 1)}  # "big": two blocks
    expected = "sha256:e95b5dc911b1546151147c549e4cf9bb8824d0c58349977e2c6dff30effb46c9"
    assert trace_file.digest({"schema": 2, "names": ["h"]}, tensors) == expected
