"""``explain scenes`` / ``explain render``: names, errors a user can act on, the --all cache, slides."""

from __future__ import annotations

import json
import re

import pytest
import torch

import explain
from explain import reveal_assets
from explain.cli import main
from explain.errors import UsageError
from explain.commands.checks import int_list
from explain.render import CACHE_FILE, input_hash, output_name, render_all, render_scene, video_length
from scene_checks import record_book


@pytest.fixture(scope="module")
def hello_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("traces") / "hello.safetensors"
    record_book("hello-lstm", text="hello").save(path)
    return path


def test_scenes_lists_names_summaries_and_models(capsys):
    assert main(["scenes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    lstm = next(line for line in lines if line.startswith("lstm-cell "))
    assert "LSTM cell" in lstm and "[hello-lstm]" in lstm
    assert any(line.startswith("gru-cell ") for line in lines)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["render", "no-such-scene"], "unknown scene 'no-such-scene'; scenes: "),
        (["render", "lstm-cell", "--trace", "missing.safetensors"], "no trace file 'missing.safetensors'"),
        (["render"], "name a scene (see: explain scenes) or use --all"),
        (["render", "--all", "lstm-cell"], "--all renders every scene from its built-in model"),
        (["render", "lstm-cell", "--still", "--slides"], "--still and --slides exclude each other"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_a_trace_without_what_the_scene_needs_is_refused(tmp_path, capsys):
    gru_file = tmp_path / "gru.safetensors"
    explain.record(torch.nn.GRU(3, 4), torch.randn(2, 1, 3)).save(gru_file)
    assert main(["render", "lstm-cell", "--trace", str(gru_file), "-o", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("explain render: lstm-cell: the LSTM cell figure needs an nn.LSTM")
    assert error.count("\n") == 1


def test_scene_options_out_of_range_are_refused(hello_file, tmp_path, capsys):
    assert main(["render", "lstm-cell", "--trace", str(hello_file), "--units", "0-40", "-o", str(tmp_path)]) == 2
    assert "unit 35 is out of range" in capsys.readouterr().err


@pytest.mark.parametrize("pace", ["0", "-1", "fast", "inf"])
def test_pace_must_be_a_number_above_zero(pace, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["render", "lstm-cell", "--pace", pace])
    assert exit_.value.code == 2
    assert "expected a number above 0 (1.5 slower, 0.7 faster)" in capsys.readouterr().err
    with pytest.raises(UsageError, match="pace must be a number above 0"):
        render_scene("lstm-cell", pace=0)


def test_int_lists():
    assert int_list("0-3,7") == [0, 1, 2, 3, 7]
    assert int_list(" 5 ") == [5]
    for bad in ["3-1", "a", ",", "1-"]:
        with pytest.raises(Exception, match="expected"):
            int_list(bad)


def test_bad_option_values_are_argparse_errors(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["render", "lstm-cell", "--steps", "two"])
    assert exit_.value.code == 2
    assert "expected numbers and ranges like 0,2,5-7" in capsys.readouterr().err


def test_output_names():
    assert output_name("lstm-cell") == "lstm-cell.mp4"
    assert output_name("lstm-cell", lang="ko", still=True, fmt="png") == "lstm-cell-ko-still.png"
    assert output_name("gru-cell", fmt="gif") == "gru-cell.gif"
    assert output_name("gru-cell", slides=True) == "gru-cell.html"


def test_input_hash_follows_settings_and_sources(tmp_path):
    base = input_hash("lstm-cell", {"still": True})
    assert base == input_hash("lstm-cell", {"still": True})
    assert base != input_hash("lstm-cell", {"still": True, "lang": "ko"})
    assert base != input_hash("lstm-cell", {"still": True, "options": {"units": [1]}})
    assert base != input_hash("gru-cell", {"still": True})


def test_all_skips_a_scene_whose_inputs_did_not_change(tmp_path):
    target = tmp_path / "lstm-cell-still.png"
    target.write_bytes(b"an earlier render")
    (tmp_path / CACHE_FILE).write_text(json.dumps({target.name: input_hash("lstm-cell", {"still": True})}))
    [result] = render_all(["lstm-cell"], out_dir=tmp_path, still=True)
    assert result.skipped and result.path == target and target.read_bytes() == b"an earlier render"


def test_all_refuses_a_trace():
    with pytest.raises(UsageError, match="--trace is for one scene"):
        render_all(["lstm-cell"], trace="t.safetensors")


# -- rendering ------------------------------------------------------------------------------------


@pytest.mark.render
def test_render_still_prints_the_path(hello_file, tmp_path, capsys):
    status = main(["render", "lstm-cell", "--trace", str(hello_file), "--still", "--lang", "ko", "-o", str(tmp_path)])
    assert status == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed == str(tmp_path / "lstm-cell-ko-still.png")
    from PIL import Image

    with Image.open(printed) as image:
        assert image.size == (1280, 720)  # the default quality: 720p, readable on a projector
    assert not list(tmp_path.glob(".render-*")), "the work directory is removed"


@pytest.mark.render
@pytest.mark.slow
def test_a_video_is_paced_and_its_length_printed(hello_file, tmp_path, capsys):
    argv = ["render", "lstm-cell", "--trace", str(hello_file), "--quality", "low", "--steps", "1", "--units", "0-2"]
    assert main([*argv, "--pace", "0.5", "-o", str(tmp_path)]) == 0
    path, length_line = capsys.readouterr().out.strip().splitlines()[-2:]
    length = float(length_line.removeprefix("video length: ").removesuffix(" s"))
    assert length == pytest.approx(video_length(path), abs=0.05)
    # five build steps and the next-character step, each held at least BASE·pace, and the last frame 3 s
    assert length > 6 * 0.5 + 3.0


@pytest.mark.render
@pytest.mark.slow
def test_all_renders_in_worker_processes_then_skips(tmp_path):
    first = render_all(["lstm-cell"], out_dir=tmp_path, jobs=1, still=True)
    assert [r.error for r in first] == [""] and not first[0].skipped and first[0].path.is_file()
    second = render_all(["lstm-cell"], out_dir=tmp_path, jobs=1, still=True)
    assert second[0].skipped
    third = render_all(["lstm-cell"], out_dir=tmp_path, jobs=1, still=True, force=True)
    assert not third[0].skipped


@pytest.mark.render
@pytest.mark.slow
def test_a_worker_leaves_its_render_for_the_parent_to_name(tmp_path):
    """Only the parent gives a finished render its name, together with its cache entry: a Ctrl-C
    between a worker's finish and the parent's bookkeeping leaves no render the cache does not know."""
    from explain.render import WORK_PREFIX, _publish, _render_timed

    result = _render_timed("rnn-unroll", tmp_path, {"still": True})
    assert result.error == "" and result.path.parent.name.startswith(WORK_PREFIX)
    assert not [path for path in tmp_path.iterdir() if not path.name.startswith(".")], "nothing has its name yet"
    published = _publish(result, tmp_path)
    assert published.path == tmp_path / "rnn-unroll-still.png" and published.path.is_file()
    assert not list(tmp_path.glob(f"{WORK_PREFIX}*")), "the worker's directory is gone"


@pytest.mark.render
@pytest.mark.slow
def test_slides_make_one_html_with_the_videos_inside(hello_file, tmp_path):
    path = render_scene("lstm-cell", hello_file, slides=True, out_dir=tmp_path, options={"steps": [0, 1]}, progress=False)
    assert path == tmp_path / "lstm-cell.html"
    html = path.read_text(encoding="utf-8")
    # one slide per pause: five build steps, the next character, and one more time step
    assert html.count("data:video/mp4;base64,") == 7
    # speaker notes are sentences, each on its own slide: the forget gate's on the second
    slides = html.split("<script", 1)[0]  # the slides come first; reveal.js inlined after them mentions asides too
    notes = re.findall(r'<aside class="notes"[^>]*>(.*?)</aside>', slides, flags=re.S)
    assert len(notes) == 7, notes
    assert notes[0].strip().startswith("The cell state")
    assert notes[1].strip().startswith("Forget gate")
    assert "t = 1" in notes[-1] and "cell_line" not in html
    # reveal.js inside too (scripts/setup.sh installs it): the slides play without a network
    assert reveal_assets.installed(), "run scripts/setup.sh: it installs reveal.js for the slides"
    reveal_js = (reveal_assets.local_copy() / "dist" / "reveal.js").read_text(encoding="utf-8")
    assert reveal_js[:2000] in html and "Reveal.initialize" in html
    assert reveal_assets.PLACEHOLDER not in html and "cdn." not in html
