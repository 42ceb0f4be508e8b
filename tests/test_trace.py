"""The Trace: mapping, selection, display, and its safetensors file (round trip, safety, atomicity).

    pytest tests/test_trace.py
"""

from __future__ import annotations

import json
import os
import pickle
import struct

import pytest
import torch

import explain
from explain.names import recurrent_parts
from explain.trace import SCHEMA_VERSION, Trace, TraceFileError, load


def sample() -> Trace:
    torch.manual_seed(0)
    return Trace(
        {
            "lstm.l0.fwd.h": torch.randn(4, 2, 3),
            "lstm.l0.bwd.h": torch.randn(4, 2, 3),
            "lstm.l1.fwd.f": torch.rand(4, 2, 3),
            "lstm.valid": torch.tensor([[True, True]] * 3 + [[True, False]]),
            "conv": torch.randn(1, 2, 5, 5).to(torch.bfloat16),
        },
        meta={"tokens": ["h", "e", "l", "l"], "note": "한글도 됩니다"},
        output=(torch.randn(4, 2, 6), (None, torch.randn(2, 2, 3))),
    )


# -- the mapping ---------------------------------------------------------------------------------


def test_names_keep_insertion_order_and_filter_by_glob_list_or_predicate():
    trace = sample()
    assert trace.names()[:2] == ["lstm.l0.fwd.h", "lstm.l0.bwd.h"]
    assert trace.names("*.h") == ["lstm.l0.fwd.h", "lstm.l0.bwd.h"]
    assert trace.names(["conv", "*.f"]) == ["lstm.l1.fwd.f", "conv"]
    assert trace.names(lambda name: name.startswith("conv")) == ["conv"]
    assert len(trace) == 5 and "conv" in trace and "nothing" not in trace


def test_a_missing_name_says_what_is_close():
    with pytest.raises(KeyError, match="similar: lstm.l0.fwd.h"):
        sample()["l0.fwd.h"]


def test_values_must_be_tensors_under_non_empty_names():
    trace = Trace()
    with pytest.raises(TypeError, match="torch.Tensor"):
        trace["x"] = [1, 2]
    with pytest.raises(ValueError, match="non-empty"):
        trace[""] = torch.zeros(1)


def test_append_time_joins_calls_and_refuses_a_changed_batch():
    trace = Trace()
    trace.append_time("h", torch.zeros(2, 3, 4))
    trace.append_time("h", torch.ones(1, 3, 4))
    assert trace["h"].shape == (3, 3, 4) and trace["h"][2].eq(1).all()
    with pytest.raises(ValueError, match="batch or size changed"):
        trace.append_time("h", torch.ones(1, 2, 4))


def test_many_appends_keep_every_step_and_earlier_reads_unchanged(tmp_path):
    trace = Trace()
    first = torch.zeros(1, 2)
    trace.append_time("h", first)
    held = None
    for step in range(1, 70):
        trace.append_time("h", torch.full((1, 2), float(step)))
        if step == 10:
            held = trace["h"]
    first.fill_(-1)  # the caller's first tensor was copied once appending began
    assert trace["h"][:, 0].tolist() == list(range(70)) and held.shape == (11, 2)
    assert load(trace.save(tmp_path / "t.st"))["h"].shape == (70, 2)
    trace["h"] = torch.ones(2, 2)  # replacing starts over
    trace.append_time("h", torch.zeros(1, 2))
    assert trace["h"].tolist() == [[1, 1], [1, 1], [0, 0]]
    trace.append_time("h", torch.zeros(1, 2, dtype=torch.float64))  # another dtype: promoted like cat
    assert trace["h"].dtype == torch.float64 and trace["h"].shape == (4, 2)


def test_recurrent_names_split_into_parts():
    assert recurrent_parts("l3.bwd.grad_h") == {"module": "", "layer": 3, "direction": "bwd", "quantity": "grad_h"}
    assert recurrent_parts("encoder.rnn.l0.fwd.x")["module"] == "encoder.rnn"
    assert recurrent_parts("features.0") is None


def test_select_by_layer_direction_time_units_and_batch():
    trace = sample()
    chosen = trace.select(module="lstm", layer=0, direction="bwd", time=slice(1, 3), units=[0, 2], batch=1)
    assert chosen.names() == ["lstm.l0.bwd.h"]
    assert torch.equal(chosen["lstm.l0.bwd.h"], trace["lstm.l0.bwd.h"][1:3, 1:2][..., [0, 2]])
    assert chosen.meta == trace.meta
    whole = trace.select(time=0)
    assert whole["conv"].shape == (1, 2, 5, 5)  # other tensors stay whole
    assert whole["lstm.l1.fwd.f"].shape == (1, 2, 3)


def test_summary_and_html_list_every_name_with_shape_and_range():
    trace = sample()
    lines = trace.summary().splitlines()
    assert lines[0].split() == ["name", "shape", "dtype", "min", "mean", "max", "not", "finite"]
    assert len(lines) == 2 + len(trace)
    assert any(line.startswith("lstm.valid") and "4×2" in line and "bool" in line for line in lines)
    html = trace._repr_html_()
    assert html.count("<tr>") == 1 + len(trace) and "bfloat16" in html
    assert "lstm.l0.fwd.h" in repr(trace)
    odd = Trace({"x": torch.tensor([float("nan"), 2.0, float("-inf"), float("nan")])})
    assert odd.summary().splitlines()[2].split() == ["x", "4", "float32", "2", "2", "2", "2", "NaN,", "1", "±inf"]
    assert "<td>2 NaN, 1 ±inf</td>" in odd._repr_html_()


# -- the file ------------------------------------------------------------------------------------


def test_round_trip_keeps_tensors_order_dtypes_meta_and_output(tmp_path):
    trace = sample()
    loaded = load(trace.save(tmp_path / "deep" / "t.safetensors"))
    assert loaded.names() == trace.names()
    for name in trace:
        assert loaded[name].dtype == trace[name].dtype and torch.equal(loaded[name], trace[name]), name
    assert loaded.meta == {**trace.meta, "schema": SCHEMA_VERSION}
    assert torch.equal(loaded.output[0], trace.output[0]) and torch.equal(loaded.output[1][1], trace.output[1][1])
    assert loaded.output[1][0] is None


def test_a_recording_round_trips_including_views_and_shared_tensors(tmp_path):
    lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    trace = explain.record(lstm, torch.randn(5, 2, 3), tokens=list("abcde"))
    loaded = load(trace.save(tmp_path / "lstm.safetensors"))
    assert loaded.names() == trace.names() and loaded.meta["tokens"] == list("abcde")
    assert all(torch.equal(loaded[name], trace[name]) for name in trace)
    assert loaded.meta["modules"][""]["bidirectional"] is True


def test_identical_traces_give_byte_identical_files(tmp_path):
    def recorded():
        torch.manual_seed(3)
        gru = torch.nn.GRU(3, 4)
        return explain.record(gru, torch.randn(6, 1, 3))

    first, second = recorded().save(tmp_path / "a.st"), recorded().save(tmp_path / "b.st")
    assert first.read_bytes() == second.read_bytes()
    sample().save(tmp_path / "c.st")
    assert (tmp_path / "c.st").read_bytes() == sample().save(tmp_path / "d.st").read_bytes()


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path, monkeypatch):
    path = sample().save(tmp_path / "t.safetensors")
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    changed = Trace({"other": torch.ones(3)})
    with pytest.raises(OSError, match="disk full"):
        changed.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.safetensors"]


def test_metadata_that_is_not_json_is_refused_before_writing(tmp_path):
    with pytest.raises(TypeError, match="JSON-able"):
        Trace({"x": torch.zeros(1)}, meta={"bad": object()}).save(tmp_path / "t.st")
    assert not list(tmp_path.iterdir())


def _header(meta: dict | str | None, tensors: dict) -> bytes:
    """A hand-made safetensors file: 8-byte header size, JSON header, data; ``meta`` as a dict or as JSON text."""
    header, offset, data = {}, 0, b""
    for name, values in tensors.items():
        raw = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": [len(values)], "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    if meta is not None:
        header["__metadata__"] = {"explain": meta if isinstance(meta, str) else json.dumps(meta)}
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + data


def _trace_file(meta: dict | str, tensors: dict | None = None) -> bytes:
    return _header(meta, {"w": [1.0]} if tensors is None else tensors)


def bad_files(tmp_path) -> dict[str, tuple[bytes, str]]:
    good = sample().save(tmp_path / "good.st").read_bytes()
    version = SCHEMA_VERSION
    return {
        "empty": (b"", "not a readable safetensors file"),
        "truncated": (good[: len(good) // 2], "not a readable safetensors file"),
        "truncated-data": (good[:-3], "the header describes"),
        "longer": (good + b"\0", "the header describes"),
        "garbage": (os.urandom(64), "not a readable safetensors file"),
        "header-only": (good[:8], "not a readable safetensors file"),
        "pickle": (pickle.dumps({"x": [1, 2, 3]}), "not a readable safetensors file"),
        "foreign": (_header(None, {"w": [1.0]}), "not an explain trace"),
        "newer": (_trace_file({"schema": version + 1, "names": ["w"]}), "newer than this explain"),
        "no-schema": (_trace_file({"names": ["w"]}), "schema must be a positive integer, got None"),
        "negative-schema": (_trace_file({"schema": -5, "names": ["w"]}), "schema must be a positive integer, got -5"),
        "fractional-schema": (_trace_file({"schema": 1.9, "names": ["w"]}), "got 1.9"),
        "text-schema": (_trace_file({"schema": "1", "names": ["w"]}), "got '1'"),
        "huge-schema": (_trace_file('{"schema": 1e400, "names": ["w"]}'), "number out of range: 1e400"),
        "nan": (_trace_file('{"schema": NaN, "names": ["w"]}'), "NaN is not a number"),
        "duplicate-key": (_trace_file('{"schema": 2, "schema": 1, "names": ["w"]}'), "duplicate key 'schema'"),
        "deep": (_trace_file('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}"), "metadata is corrupt (nested too deeply)"),
        "nested": (_trace_file('{"x": ' + "[" * 100 + "]" * 100 + "}"), "nested more than 64 levels deep"),
        "not-an-object": (_trace_file("[1]"), "metadata must be a JSON object, got list"),
        "nested-names": (_trace_file({"schema": version, "names": [[1]]}), "'names' must be a list of non-empty strings"),
        "names-twice": (_trace_file({"schema": version, "names": ["w", "w"]}), "lists 'w' twice"),
        "incomplete": (_trace_file({"schema": version, "names": ["w", "v"]}), "names the file does not hold: ['v']"),
        "unlisted": (
            _trace_file({"schema": version, "names": ["w"]}, {"w": [1.0], "v": [2.0]}),
            "holds tensors its metadata does not list: ['v']",
        ),
        "dict-skeleton": (_trace_file({"schema": version, "names": ["w"], "output": {"a": "0"}}), "must be null, a key or a list"),
        "misplaced-key": (_trace_file({"schema": version, "names": [], "output": ["w"]}), "key 'w' where '0' belongs"),
        "old-schema": (_trace_file({"schema": 1, "names": ["w"]}), "trace schema 1 has no digest"),
        "no-digest": (_trace_file({"schema": version, "names": ["w"]}), "do not match the file's digest"),
        "bad-tokens": (_trace_file({"schema": version, "names": ["w"], "tokens": [1]}), "'tokens' must be a list of strings"),
        "bad-half": (_trace_file({"schema": version, "names": ["w"], "half": {"w": "float32"}}), "metadata says float16"),
    }


@pytest.mark.parametrize("kind", [
    "empty", "truncated", "truncated-data", "longer", "garbage", "header-only", "pickle", "foreign", "newer",
    "no-schema", "negative-schema", "fractional-schema", "text-schema", "huge-schema", "nan", "duplicate-key", "deep", "nested",
    "not-an-object", "nested-names", "names-twice", "incomplete", "unlisted", "dict-skeleton", "misplaced-key",
    "old-schema", "no-digest", "bad-tokens", "bad-half",
])
def test_unreadable_files_give_one_clear_error(tmp_path, kind):
    data, expected = bad_files(tmp_path)[kind]
    path = tmp_path / f"{kind}.st"
    path.write_bytes(data)
    with pytest.raises(TraceFileError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message, message
    error = caught.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)  # no parser traceback


def test_verify_false_skips_only_the_digest_and_reads_schema_1(tmp_path):
    for kind in ("old-schema", "no-digest"):
        path = tmp_path / f"{kind}.st"
        path.write_bytes(bad_files(tmp_path)[kind][0])
        assert load(path, verify=False)["w"].tolist() == [1.0]
    path = tmp_path / "incomplete.st"
    path.write_bytes(bad_files(tmp_path)["incomplete"][0])
    with pytest.raises(TraceFileError, match="does not hold"):
        load(path, verify=False)


def test_a_missing_file_is_a_trace_file_error(tmp_path):
    with pytest.raises(TraceFileError, match="cannot read trace file"):
        load(tmp_path / "nowhere.safetensors")


def test_loading_never_unpickles(tmp_path, monkeypatch):
    path = sample().save(tmp_path / "t.st")

    def forbidden(*args, **kwargs):
        raise AssertionError("unpickling during load")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    assert load(path).names() == sample().names()
    with pytest.raises(TraceFileError):
        torch.save({"x": torch.zeros(2)}, tmp_path / "torch.pt")  # a pickle-based file
        load(tmp_path / "torch.pt")
