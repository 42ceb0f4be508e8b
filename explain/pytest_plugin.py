"""Trace regression fixtures for pytest (registered through the ``pytest11`` entry point).

    def test_hello_lstm(trace_regression):
        trace_regression.check(explain.record(model, x), "hello-lstm", tolerances={"*.grad_h": (1e-4, 1e-6)})

- ``pytest --trace-update`` writes every checked fixture that is missing, unreadable (corrupt,
  written by an older explain; the summary says which and why) or changed in any way (also within
  tolerance), and the test passes; without it a missing or unreadable fixture fails the test.
- Fixtures live in ``fixtures/<test module>/<name>.safetensors`` beside the test file; the ini
  option ``trace_regression_dir`` (relative to the rootdir) replaces ``<test dir>/fixtures``.
  The default name is the test's name; a name given to ``check`` is a plain file name (not empty,
  ``.`` or ``..``, no path separator).
- On a difference the test fails with :meth:`explain.testing.TraceDifference.report` and the
  obtained trace is written beside the fixture as ``<name>.obtained.safetensors`` (removed again
  once the test passes); ``explain diff`` compares the two.
- Comparison and tolerances are those of :func:`explain.testing.compare_traces` (strict
  per-dtype defaults; ``rtol``/``atol`` for all names; ``tolerances={glob: (rtol, atol)}``).
- The terminal summary lists fixtures created and updated, and stale fixtures: files in the
  fixture directory of a test module whose tests all ran and passed, that no test checked.
  Files are written atomically (:meth:`explain.Trace.save`). Under pytest-xdist (``-n 2``) each
  worker sends what it saw to the controller, which prints one summary for the whole run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

__all__ = [
    "fixture_dir",
    "fixture_stem",
    "FIXTURE_SUFFIX",
    "OBTAINED_SUFFIX",
    "pytest_addoption",
    "pytest_configure",
    "stale_fixtures",
    "trace_regression",
    "TraceRegression",
]

if TYPE_CHECKING:  # torch is imported when a test uses the fixture, not whenever pytest starts
    from explain.trace import Trace

FIXTURE_SUFFIX = ".safetensors"
OBTAINED_SUFFIX = ".obtained.safetensors"


@dataclass
class _SessionState:
    """What the plugin saw during one session, for the terminal summary."""

    update: bool
    checked: dict[Path, str] = field(default_factory=dict)  # fixture → the test that checked it
    created: list[Path] = field(default_factory=list)
    updated: list[Path] = field(default_factory=list)
    replaced: list[tuple[Path, str]] = field(default_factory=list)  # unreadable fixtures, and why
    unchanged: int = 0
    items_per_module: dict[Path, int] = field(default_factory=dict)
    passed_per_module: dict[Path, int] = field(default_factory=dict)
    partial_modules: set[Path] = field(default_factory=set)


_STATE = pytest.StashKey[_SessionState]()
#: the key of a pytest-xdist worker's ``workeroutput`` that carries its :class:`_SessionState`
_WORKER_OUTPUT = "explain_trace_regression"


def _sent(state: _SessionState) -> dict:
    """What a worker sends to the controller (plain values: xdist serialises them)."""
    paths = lambda items: [str(path) for path in items]  # noqa: E731
    return {
        "checked": {str(path): test for path, test in state.checked.items()},
        "created": paths(state.created),
        "updated": paths(state.updated),
        "replaced": [[str(path), reason] for path, reason in state.replaced],
        "unchanged": state.unchanged,
        "items_per_module": {str(path): count for path, count in state.items_per_module.items()},
        "passed_per_module": {str(path): count for path, count in state.passed_per_module.items()},
        "partial_modules": paths(state.partial_modules),
    }


def _merge(state: _SessionState, sent: dict) -> None:
    """Add one worker's :func:`_sent` to the controller's state (every worker collects every test)."""
    state.checked.update({Path(path): test for path, test in sent["checked"].items()})
    state.created += map(Path, sent["created"])
    state.updated += map(Path, sent["updated"])
    state.replaced += [(Path(path), reason) for path, reason in sent["replaced"]]
    state.unchanged += sent["unchanged"]
    for path, count in sent["items_per_module"].items():
        state.items_per_module[Path(path)] = max(count, state.items_per_module.get(Path(path), 0))
    for path, count in sent["passed_per_module"].items():
        state.passed_per_module[Path(path)] = count + state.passed_per_module.get(Path(path), 0)
    state.partial_modules.update(map(Path, sent["partial_modules"]))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("explain", "explain trace regression fixtures")
    group.addoption(
        "--trace-update",
        action="store_true",
        default=False,
        help="write every checked trace fixture that is missing or changed (even within tolerance)",
    )
    parser.addini(
        "trace_regression_dir",
        "directory for trace fixtures, relative to the rootdir (default: 'fixtures' beside each test file); "
        "each test module gets a subdirectory",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STATE] = _SessionState(update=bool(config.getoption("trace_update")))
    config.pluginmanager.register(_SessionTracker(config), "explain-trace-regression-session")


def fixture_dir(config: pytest.Config, test_file: Path) -> Path:
    """Where the fixtures of the tests in ``test_file`` live.

        fixture_dir(config, Path("tests/test_models.py"))  # → tests/fixtures/test_models
    """
    configured = config.getini("trace_regression_dir")
    base = Path(config.rootpath, configured) if configured else test_file.parent / "fixtures"
    return base / test_file.stem


class TraceRegression:
    """The ``trace_regression`` fixture: compare a trace with its stored fixture, or write it.

        trace_regression.check(trace)                          # fixture named after the test
        trace_regression.check(trace, "mnist-cnn", names="conv*", rtol=1e-4)
    """

    def __init__(self, request: pytest.FixtureRequest):
        self._state = request.config.stash[_STATE]
        self._test = request.node.nodeid
        self._checked_here: set[Path] = set()
        self._default_name = _safe_name(request.node.name)
        self.datadir = fixture_dir(request.config, Path(request.node.path))

    def path(self, name: str | None = None) -> Path:
        """The fixture file for ``name`` (default: the test's name)."""
        return self.datadir / f"{self._default_name if name is None else fixture_stem(name)}{FIXTURE_SUFFIX}"

    def check(
        self,
        trace: "Trace",
        name: str | None = None,
        *,
        rtol: float | None = None,
        atol: float | None = None,
        names: str | Iterable[str] | None = None,
        tolerances: Mapping[str, tuple[float, float]] | None = None,
        ignore_meta: Iterable[str] | None = None,
    ) -> None:
        """Compare ``trace`` (only ``names``, if given) with the fixture ``name``; fail with a report if they differ.

        ``ignore_meta`` lists metadata keys (dotted for nested ones) that neither fail a
        comparison nor trigger a rewrite under ``--trace-update`` (default: ``versions``).
        """
        from explain.testing import DEFAULT_IGNORED_META, compare_traces
        from explain.trace import Trace, TraceFileError, load

        ignore_meta = DEFAULT_IGNORED_META if ignore_meta is None else tuple(ignore_meta)
        if not isinstance(trace, Trace):
            raise TypeError(f"trace_regression.check needs an explain.Trace, got {type(trace).__name__}")
        if names is not None:
            trace = trace.select(names)
        fixture = self.path(name)
        obtained = fixture.with_name(fixture.name.removesuffix(FIXTURE_SUFFIX) + OBTAINED_SUFFIX)
        key = fixture.resolve()
        other_test = self._state.checked.get(key, self._test)
        if key in self._checked_here or other_test != self._test:
            by = "this test" if other_test == self._test else other_test
            raise ValueError(f"{fixture} is already checked by {by}; give each check its own name")
        self._checked_here.add(key)
        self._state.checked[key] = self._test

        if self._state.update:
            self._update(trace, fixture, ignore_meta)
            obtained.unlink(missing_ok=True)
            return

        if not fixture.exists():
            trace.save(obtained)
            pytest.fail(
                f"no trace fixture {fixture}; run pytest with --trace-update to create it "
                f"(the obtained trace is in {obtained})",
                pytrace=False,
            )
        try:
            stored = load(fixture)
        except TraceFileError as error:
            trace.save(obtained)
            pytest.fail(f"unreadable trace fixture: {error}\nreplace it: pytest --trace-update", pytrace=False)
        difference = compare_traces(
            trace, stored, rtol=rtol, atol=atol, tolerances=tolerances, ignore_meta=ignore_meta
        )
        difference.expected_label = str(fixture)
        if difference:
            trace.save(obtained)
            difference.obtained_label = str(obtained)
            pytest.fail(
                f"{difference.report()}\n"
                f"inspect: explain diff {fixture} {obtained}\n"
                "accept the obtained trace: pytest --trace-update",
                pytrace=False,
            )
        obtained.unlink(missing_ok=True)
        self._state.unchanged += 1

    def _update(self, trace: "Trace", fixture: Path, ignore_meta: Iterable[str]) -> None:
        """--trace-update: write the fixture if it is missing, unreadable or not identical."""
        from explain.testing import traces_identical
        from explain.trace import TraceFileError, load

        if not fixture.exists():
            trace.save(fixture)
            self._state.created.append(fixture)
            return
        try:
            stored = load(fixture)
        except TraceFileError as error:
            trace.save(fixture)
            self._state.replaced.append((fixture, str(error).removeprefix(f"{fixture}: ")))
            return
        if traces_identical(trace, stored, ignore_meta=ignore_meta):
            self._state.unchanged += 1
        else:
            trace.save(fixture)
            self._state.updated.append(fixture)


@pytest.fixture
def trace_regression(request: pytest.FixtureRequest) -> TraceRegression:
    """Compare traces with fixtures stored beside the test (see :class:`TraceRegression`)."""
    return TraceRegression(request)


# -- the session: what was checked, and which modules ran completely -------------------------


class _SessionTracker:
    """Per-session hooks: count collected and passed tests per module, print the summary."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.state = config.stash[_STATE]
        self.module_of: dict[str, Path] = {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            module = Path(item.path)
            self.module_of[item.nodeid] = module
            self.state.items_per_module[module] = self.state.items_per_module.get(module, 0) + 1

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.state.partial_modules.update(Path(item.path) for item in items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        module = self.module_of.get(report.nodeid)
        if module is not None and report.when == "call" and report.passed:
            self.state.passed_per_module[module] = self.state.passed_per_module.get(module, 0) + 1

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        output = getattr(self.config, "workeroutput", None)  # set in a pytest-xdist worker
        if output is not None:
            output[_WORKER_OUTPUT] = _sent(self.state)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """pytest-xdist, in the controller: a worker finished; add what it saw."""
        sent = getattr(node, "workeroutput", {}).get(_WORKER_OUTPUT)
        if sent is not None:
            _merge(self.state, sent)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        state = self.state
        stale = stale_fixtures(self.config)
        if not (state.checked or stale):
            return
        write = terminalreporter.write_line
        terminalreporter.section("trace regression")
        replaced = f", {len(state.replaced)} replaced (unreadable)" if state.replaced else ""
        write(f"{len(state.created)} created, {len(state.updated)} updated{replaced}, {state.unchanged} unchanged")
        for label, paths in (("created", state.created), ("updated", state.updated)):
            for path in paths:
                write(f"  {label}: {_relative(path, self.config)}")
        for path, reason in state.replaced:
            write(f"  replaced: {_relative(path, self.config)} (it was unreadable: {reason})")
        if stale:
            write(f"{len(stale)} stale trace fixture(s), checked by no test (delete them if obsolete):")
            for path in stale:
                write(f"  stale: {_relative(path, self.config)}")


def stale_fixtures(config: pytest.Config) -> list[Path]:
    """Fixture files of completely run, all-passing test modules that no test checked."""
    state = config.stash[_STATE]
    stale = []
    for module, count in state.items_per_module.items():
        if module in state.partial_modules or state.passed_per_module.get(module, 0) < count:
            continue
        directory = fixture_dir(config, module)
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob(f"*{FIXTURE_SUFFIX}")):
            if not path.name.endswith(OBTAINED_SUFFIX) and path.resolve() not in state.checked:
                stale.append(path)
    return stale


def _relative(path: Path, config: pytest.Config) -> str:
    try:
        return str(path.resolve().relative_to(config.rootpath.resolve()))
    except ValueError:
        return str(path)


def fixture_stem(name: str) -> str:
    """The file stem of a fixture ``name`` given to ``check``; a name that is not a plain file name is refused.

    >>> fixture_stem("hello lstm")
    'hello-lstm'
    >>> fixture_stem("..")
    Traceback (most recent call last):
    ValueError: trace fixture name '..' must be a plain file name (not empty, '.' or '..', no path separator)
    """
    separators = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    stem = _safe_name(name) if isinstance(name, str) else ""
    if not stem or name in (".", "..") or any(separator in name for separator in separators):
        raise ValueError(
            f"trace fixture name {name!r} must be a plain file name (not empty, '.' or '..', no path separator)"
        )
    return stem


def _safe_name(name: str) -> str:
    """A file name from a test or fixture name: test_a[x-1] → test_a-x-1."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")
