"""Every bad value on the command line is one line on stderr and exit status 2, before any work;
Ctrl-C stops ``render --all`` at once; ``python -m explain`` runs the command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from explain.cli import main
from explain.render import CACHE_FILE, WORK_PREFIX


def run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:  # argparse's errors
        return int(exit_.code)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "a-file").write_text("not a directory")
    return tmp_path


CASES = [
    (["record", "hello-rnn", "-o", "a-directory"], "a-directory is a directory; give a file name"),
    (["record", "hello-rnn", "-o", "/dev/null/x.safetensors"], "cannot write /dev/null/x.safetensors: /dev/null is not a directory"),
    (["record", "hello-rnn", "-o", "a-file/x.safetensors"], "a-file is not a directory"),
    (["record", "vgg16", "--base-dim", "0", "-o", "v.safetensors"], "--base-dim must be a whole number from 1 to 128, got '0'"),
    (["record", "vgg16", "--base-dim", "x", "-o", "v.safetensors"], "--base-dim must be a whole number from 1 to 128, got 'x'"),
    (["record", "vgg16", "--image-size", "7", "-o", "v.safetensors"], "the book's VGG takes 224×224 or 32×32 images, got image_size=7"),
    (["record", "hello-rnn"], "the following arguments are required: -o/--out"),
    (["render", "lstm-cell", "-o", "a-file"], "a-file exists and is not a directory (-o names the output directory)"),
    (["render", "lstm-cell", "-o", "/dev/null/renders"], "/dev/null is not a directory"),
    (["render", "lstm-cell", "--steps", "0-10000000000"], "'0-10000000000' names 10000000001 numbers; at most 100000"),
    (["render", "lstm-cell", "--units", "0-99999,0-1"], "names 100002 numbers; at most 100000"),
    (["render", "lstm-cell", "--steps", "-1"], "expected numbers and ranges like 0,2,5-7, got '-1'"),
    (["render", "--all", "--jobs", "0"], "--jobs must be a whole number from 1 to 64, got '0'"),
    (["render", "cnn-pipeline", "--stop-after", "0"], "--stop-after must be a whole number from 1 to 1000, got '0'"),
    (["render", "cnn-pipeline", "--stop-after", "99"], "option step (--stop-after) must be a whole number from 1 to"),
    (["render", "parameters", "--stop-after", "6"], "option step (--stop-after) must be a whole number from 1 to 5, got 6"),
    (["render", "convolution", "--stop-after", "8"], "option step (--stop-after) must be a whole number from 1 to 7, got 8"),
    (["render", "lstm-cell", "--stop-after", "3"], "lstm-cell does not use the option step; its options: batch, direction"),
    (["render", "cnn-pipeline", "--channels", "99999"], "channel 99999 is in none of the maps this scene shows"),
    (["render", "lstm-cell", "--quality", "ultra"], "argument --quality: invalid choice: 'ultra'"),
    (["render", "lstm-cell", "--trace", "a-directory"], "not a regular file but a directory"),
    (["plot", "t.safetensors", "-o", "a-directory"], "a-directory is a directory"),
    (["plot", "t.safetensors", "-o", "plot.jpg"], "plot.jpg: the image file must end in .png, .svg or .pdf"),
    (["show", "a-directory"], "not a regular file but a directory"),
    (["diff", "a-file", "a-file"], "a-file: not a readable safetensors file"),
    (["record", "hello-rnn", "-o", "x.safetensors", "--no-such-option"], "unrecognized arguments: --no-such-option"),
]


@pytest.mark.parametrize(("argv", "message"), CASES, ids=[" ".join(argv) for argv, _ in CASES])
def test_bad_values_are_one_line_and_exit_2_before_any_work(workspace, capsys, argv, message):
    assert run(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1, captured.err
    assert captured.out == "" and not list(workspace.glob("*.safetensors")) and not (workspace / "renders").exists()


def test_record_half_writes_a_half_precision_trace(workspace, capsys):
    assert run(["record", "hello-rnn", "--half", "-o", "h.safetensors"]) == 0
    assert run(["record", "hello-rnn", "-o", "f.safetensors"]) == 0
    from explain import load

    half = load("h.safetensors")
    assert half.meta["half"] and (workspace / "h.safetensors").stat().st_size < 0.7 * (workspace / "f.safetensors").stat().st_size
    assert run(["diff", "f.safetensors", "h.safetensors", "--rtol", str(2**-11), "--atol", str(2**-25), "--ignore-meta", "half", "versions"]) == 0


@pytest.mark.slow
def test_python_dash_m_explain_runs_the_command():
    done = subprocess.run([sys.executable, "-m", "explain", "render", "--jobs", "0"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--jobs must be" in done.stderr


def test_no_library_module_imports_the_command_line():
    package = Path(__file__).resolve().parents[1] / "explain"
    importers = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name not in ("cli.py", "__main__.py") and ("from explain.cli" in path.read_text() or "import explain.cli" in path.read_text())
    ]
    assert importers == []


@pytest.mark.slow
def test_ctrl_c_stops_render_all_within_two_seconds(tmp_path):
    out = tmp_path / "renders"
    # videos, not stills: the whole run takes minutes, so Ctrl-C always lands while scenes are still queued
    # (with stills a loaded CI machine could finish every scene in the second before the signal)
    command = [sys.executable, "-m", "explain", "render", "--all", "--quality", "low", "--jobs", "2", "-o", str(out)]
    # Ctrl-C reaches a foreground program: a suite started in the background (`cmd &`) ignores
    # SIGINT, and the program would rightly inherit that
    foreground = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=foreground)
    try:
        deadline = time.monotonic() + 240
        while not list(out.glob(f"{WORK_PREFIX}[0-9]*")) and time.monotonic() < deadline:  # a worker is rendering
            assert child.poll() is None, child.communicate()
            time.sleep(0.2)
        assert list(out.glob(f"{WORK_PREFIX}[0-9]*")), "no render started within 240 s"
        time.sleep(1.0)
        assert child.poll() is None, "the whole run ended before Ctrl-C could be sent"
        interrupted = time.monotonic()
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=30)
        elapsed = time.monotonic() - interrupted
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    # (multiprocessing's resource tracker, which outlives the killed pool, may add warnings about its semaphores)
    assert child.returncode == 130 and "explain render: interrupted" in stderr.splitlines() and "Traceback" not in stderr, stderr
    assert elapsed < 2.0, f"exited {elapsed:.1f} s after Ctrl-C"
    assert not list(out.glob(f"{WORK_PREFIX}[0-9]*"))  # no unfinished work left behind
    cache = json.loads((out / CACHE_FILE).read_text()) if (out / CACHE_FILE).exists() else {}
    finished = sorted(path.name for path in out.iterdir() if not path.name.startswith("."))
    assert finished == sorted(cache), (finished, cache)  # every render file is finished and in the cache
    for name in finished:
        assert os.path.getsize(out / name) > 0


@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_a_reader_that_leaves_early_ends_the_output_quietly(tmp_path, unbuffered):
    import explain
    from explain.cli import BROKEN_PIPE

    path = tmp_path / "t.safetensors"
    explain.Trace({"x": torch.zeros(2)}).save(path)
    env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}  # buffered, the output is written when Python flushes it
    command = [sys.executable, "-m", "explain", "show", str(path)]
    shown = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    shown.stdout.close()  # as `explain show FILE | head` when head has read enough (here: before the first line)
    error = shown.stderr.read().decode()
    assert shown.wait(timeout=120) == BROKEN_PIPE and error == ""
