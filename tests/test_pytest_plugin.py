"""The trace_regression fixture, run inside pytest's own pytester.

Each test writes a small test module whose trace depends on a value in ``params.json`` (so a
later run can perturb it), then runs pytest on it.
"""

import json

import pytest
import torch

from explain import load

pytest_plugins = ["pytester"]

TEST_MODULE = """
import json, pathlib, torch, explain

def make_trace():
    params = json.loads((pathlib.Path(__file__).parent / "params.json").read_text())
    h = torch.arange(20, dtype=torch.float32).reshape(5, 1, 4) / 20
    h[3, 0, 2] += params.get("h_delta", 0.0)
    c = torch.ones(5, 1, 4) + params.get("c_delta", 0.0)
    tensors = {"lstm.l0.fwd.h": h, "lstm.l0.fwd.c": c}
    tensors.update({name: torch.zeros(1) for name in params.get("extra", [])})
    for name in params.get("drop", []):
        tensors.pop(name)
    return explain.Trace(tensors, meta={"tokens": list("hello"), "hidden": params.get("hidden", 4)})

def test_lstm(trace_regression):
    trace_regression.check(make_trace(), **json.loads(
        (pathlib.Path(__file__).parent / "check.json").read_text()))

def test_other(trace_regression):
    trace_regression.check(explain.Trace({"conv1": torch.ones(1, 2, 3, 3)}))
"""


@pytest.fixture
def suite(pytester):
    """A pytester with the module, default params, and helpers to change them."""
    pytester.makepyfile(test_traces=TEST_MODULE)
    suite = Suite(pytester)
    suite.set_params()
    suite.set_check()
    return suite


class Suite:
    def __init__(self, pytester):
        self.pytester = pytester
        self.fixtures = pytester.path / "fixtures" / "test_traces"

    def set_params(self, **params):
        (self.pytester.path / "params.json").write_text(json.dumps(params))

    def set_check(self, **options):
        (self.pytester.path / "check.json").write_text(json.dumps(options))

    def run(self, *args):
        return self.pytester.runpytest("-p", "no:cacheprovider", *args)

    def record(self):
        self.run("--trace-update").assert_outcomes(passed=2)


def test_missing_fixture_fails_and_update_creates_it(suite):
    result = suite.run()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*no trace fixture*test_lstm.safetensors; run pytest with --trace-update*"])
    assert (suite.fixtures / "test_lstm.obtained.safetensors").exists()

    result = suite.run("--trace-update")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*2 created, 0 updated, 0 unchanged*", "*created: fixtures/test_traces/test_lstm.safetensors"])
    assert load(suite.fixtures / "test_lstm.safetensors").names() == ["lstm.l0.fwd.h", "lstm.l0.fwd.c"]
    assert not (suite.fixtures / "test_lstm.obtained.safetensors").exists()

    suite.run().assert_outcomes(passed=2)


def test_perturbed_value_is_located_and_obtained_file_written(suite):
    suite.record()
    suite.set_params(h_delta=0.25)
    result = suite.run()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*traces differ: 1 name beyond tolerance",
            "*lstm.l0.fwd.h: 1 of 20 elements beyond tolerance (rtol=1e-05, atol=1e-06); largest |Δ| 0.25 at "
            "lstm layer 0 fwd, t=3 (token 'l'), batch 0, unit 2: expected 0.7, obtained 0.95; first at t=3",
            "*explain diff *test_lstm.safetensors *test_lstm.obtained.safetensors",
        ]
    )
    obtained = load(suite.fixtures / "test_lstm.obtained.safetensors")
    assert obtained["lstm.l0.fwd.h"][3, 0, 2].item() == pytest.approx(0.95)
    # Once the test passes again, the obtained file is removed.
    suite.set_params()
    suite.run().assert_outcomes(passed=2)
    assert not (suite.fixtures / "test_lstm.obtained.safetensors").exists()


def test_names_shapes_and_metadata_changes_are_reported(suite):
    suite.record()
    suite.set_params(extra=["fc"], drop=["lstm.l0.fwd.c"], hidden=5)
    result = suite.run()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*traces differ: 1 missing, 1 added, 1 metadata change",
            "*missing (expected, not obtained): lstm.l0.fwd.c",
            "*added (obtained, not expected): fc",
            "*meta hidden: expected 4, obtained 5",
        ]
    )


def test_ignored_metadata_neither_fails_nor_rewrites(suite):
    suite.record()
    suite.set_params(hidden=5)
    suite.set_check(ignore_meta=["hidden", "versions"])
    suite.run().assert_outcomes(passed=2)
    suite.run("--trace-update").stdout.fnmatch_lines(["*0 created, 0 updated, 2 unchanged*"])


def test_update_rewrites_changes_within_tolerance(suite):
    suite.record()
    suite.set_params(c_delta=1e-7)  # within the float32 default tolerance
    suite.run().assert_outcomes(passed=2)
    result = suite.run("--trace-update")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*0 created, 1 updated, 1 unchanged*", "*updated: fixtures/test_traces/test_lstm.safetensors"])
    assert sorted(path.name for path in suite.fixtures.iterdir()) == ["test_lstm.safetensors", "test_other.safetensors"]
    stored = load(suite.fixtures / "test_lstm.safetensors")
    assert stored["lstm.l0.fwd.c"][0, 0, 0].item() == torch.tensor(1 + 1e-7).item() != 1.0


def test_tolerance_per_name(suite):
    suite.record()
    suite.set_params(h_delta=1e-3)
    suite.run().assert_outcomes(failed=1, passed=1)
    suite.set_check(tolerances={"*.h": [1e-2, 0]})
    suite.run().assert_outcomes(passed=2)
    suite.set_params(h_delta=1e-3, c_delta=1e-3)  # c is not covered by the rule
    result = suite.run()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*traces differ: 1 name beyond tolerance", "*lstm.l0.fwd.c: 20 of 20 elements*"])


def test_names_filter_stores_only_chosen_names(suite):
    suite.set_check(names="*.h")
    suite.record()
    assert load(suite.fixtures / "test_lstm.safetensors").names() == ["lstm.l0.fwd.h"]
    suite.set_params(c_delta=1.0)  # not checked
    suite.run().assert_outcomes(passed=2)


def test_stale_fixtures_are_reported_only_after_a_complete_run(suite):
    suite.record()
    (suite.fixtures / "test_removed.safetensors").write_bytes((suite.fixtures / "test_other.safetensors").read_bytes())
    result = suite.run()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*1 stale trace fixture(s)*", "*stale: fixtures/test_traces/test_removed.safetensors"])
    # A partial run (-k) cannot know what the other tests check: no stale report.
    result = suite.run("-k", "test_lstm")
    result.assert_outcomes(passed=1)
    assert "stale trace fixture" not in result.stdout.str()


@pytest.mark.slow
def test_the_summary_covers_every_pytest_xdist_worker(suite):
    pytest.importorskip("xdist")
    suite.record()
    other = suite.fixtures / "test_other.safetensors"
    (suite.fixtures / "test_removed.safetensors").write_bytes(other.read_bytes())
    other.unlink()
    result = suite.pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--trace-update")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*1 created, 0 updated, 1 unchanged*", "*created: fixtures/test_traces/test_other.safetensors", "*1 stale trace fixture(s)*"]
    )


def test_data_directory_is_configurable(suite):
    suite.pytester.makeini("[pytest]\ntrace_regression_dir = data/traces\n")
    suite.record()
    assert (suite.pytester.path / "data" / "traces" / "test_traces" / "test_lstm.safetensors").exists()
    assert not suite.fixtures.exists()


def test_a_fixture_checked_twice_is_an_error(pytester):
    pytester.makepyfile(
        """
        import torch, explain
        def test_twice(trace_regression):
            trace = explain.Trace({"x": torch.ones(1)})
            trace_regression.check(trace, "same", )
            trace_regression.check(trace, "same")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--trace-update")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*same.safetensors is already checked by this test; give each check its own name*"])


def test_two_tests_sharing_a_fixture_is_an_error(pytester):
    pytester.makepyfile(
        """
        import torch, explain
        def test_one(trace_regression):
            trace_regression.check(explain.Trace({"x": torch.ones(1)}), "shared")
        def test_two(trace_regression):
            trace_regression.check(explain.Trace({"x": torch.ones(1)}), "shared")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--trace-update")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*shared.safetensors is already checked by test_two_tests_sharing_a_fixture_is_an_error.py::test_one*"])



def test_an_unreadable_fixture_fails_then_update_replaces_it_and_says_so(suite):
    suite.record()
    fixture = suite.fixtures / "test_lstm.safetensors"
    data = bytearray(fixture.read_bytes())
    data[-1] ^= 0x01  # one flipped bit in a tensor's bytes
    fixture.write_bytes(bytes(data))
    result = suite.run()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*unreadable trace fixture: *test_lstm.safetensors: *digest*", "*pytest --trace-update*"])
    result = suite.run("--trace-update")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*0 created, 0 updated, 1 replaced (unreadable), 1 unchanged*",
            "*replaced: fixtures/test_traces/test_lstm.safetensors (it was unreadable: *digest*)",
        ]
    )
    assert load(fixture).names() == ["lstm.l0.fwd.h", "lstm.l0.fwd.c"]
    suite.run().assert_outcomes(passed=2)


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../escape", "a\\b", "???"])
def test_fixture_names_that_are_not_plain_file_names_are_refused(pytester, name):
    pytester.makepyfile(
        f"""
        import torch, explain
        def test_named(trace_regression):
            trace_regression.check(explain.Trace({{"x": torch.ones(1)}}), {name!r})
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--trace-update")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*must be a plain file name (not empty, '.' or '..', no path separator)*"])
    assert not list(pytester.path.rglob("*.safetensors"))
