"""``import explain`` (and recording) must not import the views' heavy dependencies.

    pytest tests/test_import.py
"""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "statement",
    [
        "import explain",
        "import explain.figures.gradients, explain.figures.params, explain.figures.cell_state",
        "import explain, torch\n"
        "trace = explain.record(torch.nn.LSTM(2, 3), torch.randn(4, 1, 2), grads=True)\n"
        "loaded = explain.load(trace.save(sys.argv[1]))\n"
        "loaded.summary(), loaded._repr_html_(), loaded.select(layer=0)",
    ],
)
def test_recording_and_loading_import_neither_manim_nor_matplotlib(statement, tmp_path):
    check = (
        "import sys\n"
        f"{statement}\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('manim', 'matplotlib', 'manim_slides'))\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check, str(tmp_path / "t.safetensors")], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported: {result.stdout.strip()}"


def test_every_package_folder_is_installed():
    """pyproject lists the packages by hand (scenes/ installs as explain.scenes): none may be missing."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {".".join(path.parent.relative_to(root).parts) for path in root.glob("explain/**/__init__.py")}
    assert folders | {"explain.scenes"} == listed
