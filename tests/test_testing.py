"""explain.testing: what differs, where, and by how much."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from explain import Trace
from explain.testing import (
    DEFAULT_TOLERANCES,
    REPORT_LIMIT,
    assert_traces_close,
    compare_traces,
    describe_location,
    traces_identical,
)


def lstm_trace(**meta) -> Trace:
    torch.manual_seed(0)
    return Trace(
        {"lstm.l0.fwd.f": torch.rand(5, 2, 3), "conv1": torch.randn(2, 4, 6, 6), "fc": torch.randn(2, 10)},
        meta={"tokens": list("hello"), **meta},
        output=(torch.randn(2, 10), (torch.zeros(1, 2, 3), torch.ones(1, 2, 3))),
    )


def perturbed(trace: Trace, name: str, index: tuple, delta: float) -> Trace:
    copy = Trace({n: t.clone() for n, t in trace.items()}, meta=trace.meta, output=trace.output)
    copy[name][index] += delta
    return copy


def test_identical_traces_agree_and_assert_is_silent():
    trace = lstm_trace()
    difference = compare_traces(trace, lstm_trace())
    assert not difference and difference.report() == "traces agree (6 names compared)"
    assert_traces_close(trace, lstm_trace())
    assert traces_identical(trace, lstm_trace())


def test_recurrent_deviation_names_layer_step_token_batch_unit():
    expected = lstm_trace()
    obtained = perturbed(expected, "lstm.l0.fwd.f", (4, 1, 2), 0.5)
    obtained["lstm.l0.fwd.f"][2, 0, 0] += 0.01  # smaller but earlier
    (value,) = compare_traces(obtained, expected).values
    assert value.name == "lstm.l0.fwd.f" and value.count == 2 and value.numel == 30
    assert value.where == "lstm layer 0 fwd, t=4 (token 'o'), batch 1, unit 2"
    assert value.first_step == 2
    assert value.largest == pytest.approx(0.5)
    assert value.obtained - value.expected == pytest.approx(0.5)
    with pytest.raises(AssertionError, match=r"lstm.l0.fwd.f: 2 of 30 elements beyond tolerance"):
        assert_traces_close(obtained, expected)


def test_feature_map_deviation_names_batch_channel_y_x():
    expected = lstm_trace()
    (value,) = compare_traces(perturbed(expected, "conv1", (1, 3, 2, 5), -2.0), expected).values
    assert value.where == "batch 1, channel 3, y 2, x 5" and value.first_step is None


def test_output_is_compared_as_named_tensors():
    expected = lstm_trace()
    obtained = lstm_trace()
    changed = expected.output[1][1].clone()
    changed[0, 1, 2] = 5.0
    obtained.output = (expected.output[0], (expected.output[1][0], changed))
    (value,) = compare_traces(obtained, expected).values
    assert value.name == "@output.1.1" and value.where == "index (0, 1, 2)"


@pytest.mark.parametrize("dtype", list(DEFAULT_TOLERANCES))
def test_default_tolerances_are_the_documented_ones(dtype):
    rtol, atol = DEFAULT_TOLERANCES[dtype]
    base = torch.full((4,), 2.0, dtype=dtype)
    limit = atol + rtol * 2.0
    inside = Trace({"x": base + torch.tensor(limit * 0.4, dtype=torch.float64).to(dtype)})
    outside = Trace({"x": base + torch.tensor(limit * 4, dtype=torch.float64).to(dtype)})
    assert not compare_traces(inside, Trace({"x": base}))
    assert compare_traces(outside, Trace({"x": base})).values[0].count == 4


def test_integers_and_booleans_compare_exactly():
    mask = torch.tensor([[True, False], [True, True]])
    changed = mask.clone()
    changed[1, 0] = False
    assert compare_traces(Trace({"q.valid": changed}), Trace({"q.valid": mask})).values[0].where == "index (1, 0)"
    assert compare_traces(Trace({"i": torch.tensor([3])}), Trace({"i": torch.tensor([4])})).values[0].count == 1


def test_nan_equals_nan_but_not_a_number_and_infinities_must_match():
    nan, inf = math.nan, math.inf
    expected = Trace({"x": torch.tensor([nan, inf, -inf, 1.0])})
    assert not compare_traces(Trace({"x": torch.tensor([nan, inf, -inf, 1.0])}), expected)
    for changed, where in ((torch.tensor([0.0, inf, -inf, 1.0]), "index (0,)"), (torch.tensor([nan, 5.0, -inf, 1.0]), "index (1,)"),
                           (torch.tensor([nan, inf, inf, 1.0]), "index (2,)"), (torch.tensor([nan, inf, -inf, nan]), "index (3,)")):
        (value,) = compare_traces(Trace({"x": changed}), expected, rtol=1.0, atol=1.0).values
        assert value.where == where and value.largest == math.inf


def test_tolerances_per_name_override_global_and_defaults():
    expected = Trace({"a.grad_h": torch.ones(3), "a.h": torch.ones(3)})
    obtained = Trace({"a.grad_h": torch.ones(3) * 1.001, "a.h": torch.ones(3) * 1.001})
    assert [v.name for v in compare_traces(obtained, expected).values] == ["a.grad_h", "a.h"]
    assert [v.name for v in compare_traces(obtained, expected, tolerances={"*.grad_h": (1e-2, 0)}).values] == ["a.h"]
    assert not compare_traces(obtained, expected, rtol=1e-2)
    # the first matching glob wins, even over a looser global tolerance
    only_rule = compare_traces(obtained, expected, rtol=1e-2, tolerances={"a.*": (0, 0), "*": (1, 1)})
    assert [(v.name, v.rtol, v.atol) for v in only_rule.values] == [("a.grad_h", 0, 0), ("a.h", 0, 0)]
    with pytest.raises(ValueError, match=r"tolerances\['x'\] must be a pair"):
        compare_traces(obtained, expected, tolerances={"x": 1e-3})


def test_names_missing_added_shape_dtype_and_meta_changes():
    expected = Trace(
        {"a": torch.zeros(2, 3), "b": torch.zeros(2), "c": torch.zeros(1), "gone": torch.zeros(1)},
        meta={"modules": {"lstm": {"hidden_size": 35}}, "versions": {"torch": "2.0"}, "model": "m"},
    )
    obtained = Trace(
        {"a": torch.zeros(3, 3), "b": torch.zeros(2, dtype=torch.float64), "c": torch.zeros(1), "new": torch.zeros(1)},
        meta={"modules": {"lstm": {"hidden_size": 36}}, "versions": {"torch": "9.9"}, "extra": [1, 2]},
    )
    difference = compare_traces(obtained, expected)
    assert difference.missing == ["gone"] and difference.added == ["new"]
    assert difference.shapes == [("a", (2, 3), (3, 3))]
    assert difference.dtypes == [("b", "float32", "float64")]
    assert difference.meta == [("modules.lstm.hidden_size", 35, 36), ("model", "m", "(absent)"), ("extra", "(absent)", [1, 2])]
    report = difference.report()
    assert report.splitlines()[0] == (
        "traces differ: 1 missing, 1 added, 1 shape change, 1 dtype change, 3 metadata changes"
    )
    for line in ("shape of a: expected 2×3, obtained 3×3", "dtype of b: expected float32, obtained float64",
                 "meta modules.lstm.hidden_size: expected 35, obtained 36", "meta extra: expected (absent), obtained [1, 2]"):
        assert f"  {line}" in report.splitlines()
    assert compare_traces(obtained, expected, ignore_meta=()).meta[1][0] == "versions.torch"


def test_names_filter_limits_the_comparison():
    expected = lstm_trace()
    obtained = perturbed(expected, "conv1", (0, 0, 0, 0), 1.0)
    obtained["added"] = torch.zeros(1)
    assert not compare_traces(obtained, expected, names=["lstm.*", "fc"])
    assert compare_traces(obtained, expected, names="conv*").values[0].name == "conv1"


def test_files_are_accepted_and_named_in_the_report(tmp_path):
    expected = lstm_trace()
    expected.save(tmp_path / "a.safetensors")
    perturbed(expected, "fc", (0, 1), 1.0).save(tmp_path / "b.safetensors")
    report = compare_traces(tmp_path / "b.safetensors", str(tmp_path / "a.safetensors")).report()
    assert f"  expected: {tmp_path / 'a.safetensors'}" in report and f"  obtained: {tmp_path / 'b.safetensors'}" in report
    with pytest.raises(TypeError, match="must be an explain.Trace or a trace file path"):
        compare_traces({"fc": torch.ones(1)}, expected)


def test_long_reports_are_cut():
    expected = Trace({f"n{i}": torch.zeros(1) for i in range(REPORT_LIMIT + 5)})
    obtained = Trace({f"n{i}": torch.ones(1) for i in range(REPORT_LIMIT + 5)})
    lines = compare_traces(obtained, expected).report().splitlines()
    assert len(lines) == 1 + REPORT_LIMIT + 1 and lines[-1] == "  ... and 5 more names beyond tolerance"


def test_cell_quantities_are_located_in_time_through_module_meta():
    meta = {"modules": {"cell": {"type": "LSTMCell"}}, "tokens": ["a", "b"]}
    assert describe_location("cell.c", (1, 0, 4), meta) == "cell, t=1 (token 'b'), batch 0, unit 4"
    assert describe_location("cell.c", (1, 0, 4), {}) == "index (1, 0, 4)"
    assert describe_location("s", ()) == "the scalar"
    assert describe_location("conv1@weight", (3, 0, 1, 2)) == "out channel 3, in channel 0, y 1, x 2"


@given(
    shape=st.sampled_from([(7, 2, 5), (1, 1, 1), (2, 3, 4, 5), (6,), (3, 4)]),
    seed=st.integers(0, 2**16),
    delta=st.floats(1e-3, 1e3) | st.floats(-1e3, -1e-3),
)
def test_a_single_perturbation_is_always_found_where_it_is(shape, seed, delta):
    generator = torch.Generator().manual_seed(seed)
    values = torch.randn(shape, generator=generator)
    index = tuple(int(torch.randint(size, (1,), generator=generator)) for size in shape)
    name = "rnn.l0.bwd.h" if len(shape) == 3 else "feature"
    expected = Trace({name: values}, meta={"tokens": [str(t) for t in range(shape[0])]})
    obtained = perturbed(expected, name, index, delta)
    (value,) = compare_traces(obtained, expected).values
    assert value.count == 1
    assert value.where == describe_location(name, index, expected.meta)
    assert value.largest == pytest.approx(abs(float(obtained[name][index] - values[index])))
    if len(shape) == 3:
        assert value.first_step == index[0]


def test_first_step_follows_the_direction_the_layer_ran():
    expected = Trace({"gru.l0.fwd.h": torch.zeros(6, 1, 2), "gru.l0.bwd.h": torch.zeros(6, 1, 2)})
    obtained = Trace({name: torch.zeros(6, 1, 2) for name in expected})
    for name in expected:
        obtained[name][[1, 4], 0, 0] = 1.0
    forward, backward = compare_traces(obtained, expected).values
    assert (forward.first_step, backward.first_step) == (1, 4)


def test_cli_diff_exit_status_and_report(tmp_path, capsys):
    from explain.cli import main

    expected = lstm_trace()
    expected.save(tmp_path / "a.safetensors")
    perturbed(expected, "lstm.l0.fwd.f", (1, 0, 2), 1e-3).save(tmp_path / "b.safetensors")
    a, b = str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors")

    assert main(["diff", a, a]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "traces agree (6 names compared)"
    assert main(["diff", a, b]) == 1
    out = capsys.readouterr().out
    assert out == compare_traces(b, a).report() + "\n"
    assert "t=1 (token 'e'), batch 0, unit 2" in out
    assert main(["diff", a, b, "--tolerance", "lstm.*=1e-2,0"]) == 0
    assert main(["diff", a, b, "--names", "conv*", "fc"]) == 0
    assert main(["diff", a, b, "--rtol", "0.01", "--atol", "0"]) == 0
    capsys.readouterr()
    assert main(["diff", a, str(tmp_path / "nothing.safetensors")]) == 2
    assert "nothing.safetensors: cannot read trace file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["diff", a, b, "--tolerance", "lstm.*=0.1"])
    assert "expected GLOB=RTOL,ATOL" in capsys.readouterr().err
