"""Every docstring example in the package runs (``explain`` and its scenes), one test per module."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import explain
import explain.scenes as scenes


def _modules() -> list[str]:
    names = []
    for package in (explain, scenes):
        names.append(package.__name__)
        names += [info.name for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples of {name} failed (run: python -m doctest -v)"
