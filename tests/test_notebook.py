"""The example notebook runs headless in a kernel on this venv's python, and its commands are real."""

import json
import re
import shlex
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from explain.cli import build_parser

NOTEBOOK = Path(__file__).parents[1] / "examples" / "hello_lstm.ipynb"


def venv_kernel(directory: Path) -> str:
    """A kernel spec in ``directory`` that runs this interpreter (not whatever 'python3' is on PATH)."""
    spec = directory / "kernels" / "explain-venv"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "explain venv", "language": "python"}))
    return "explain-venv"


@pytest.mark.slow
def test_notebook_runs_headless(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where the notebook saves its trace
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    kernel = venv_kernel(tmp_path / "jupyter")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, kernel_name=kernel, timeout=180, resources={"metadata": {"path": str(tmp_path)}}).execute()

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.output_type == "error"]
    table = next(output for output in outputs if "text/html" in output.get("data", {}))
    assert "<td>l2.fwd.f</td><td>69×1×35</td>" in table["data"]["text/html"]
    assert sum("image/png" in output.get("data", {}) for output in outputs) == 3  # gates, states, gradient norms
    assert (tmp_path / "hello-lstm.safetensors").exists()


def test_commands_shown_in_the_notebook_parse():
    text = "\n".join(cell.source for cell in nbformat.read(NOTEBOOK, as_version=4).cells if cell.cell_type == "markdown")
    commands = re.findall(r"^\s*(?:`)?explain (\w+ [^`\n]*)", text, flags=re.MULTILINE)
    commands += re.findall(r"`explain (\w+ [^`]*)`", text)
    assert {command.split()[0] for command in commands} >= {"render", "plot", "diff"}
    parser = build_parser()
    for command in commands:
        parser.parse_args(shlex.split(command))  # exits (SystemExit) on an unknown option
