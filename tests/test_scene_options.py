"""Scene options: a scene refuses the options it does not read, and reads (and checks) those it declares."""

from __future__ import annotations

import pytest

from explain.commands.render import scene_options
from explain.errors import UsageError
from explain.figures.recurrent import layered_view
from explain.render import check_options, render_scene, resolve_trace
from explain.scenes import catalogue

#: for each scene option, a value that no trace of the book's models can satisfy
IMPOSSIBLE = {
    "layer": 99,
    "direction": "bwd",
    "batch": 99,
    "steps": [10**5],
    "units": [10**5],
    "step": 999,
    "module": "no.such.module",
    "channels": [10**5],
    "positions": 10**5,
    "generated": 10**5,
}

SCENES = catalogue()


@pytest.mark.render
@pytest.mark.parametrize("name", list(SCENES))
def test_every_declared_option_is_read_and_an_impossible_value_refused_before_drawing(name):
    scene_class = SCENES[name].load()
    assert scene_class.OPTIONS, f"{name} declares no options"
    trace = layered_view(resolve_trace(SCENES[name], None))
    for key in sorted(scene_class.OPTIONS):
        with pytest.raises(ValueError) as refused:
            scene_class.check(trace, {key: IMPOSSIBLE[key]})
        assert "Traceback" not in str(refused.value) and "\n" not in str(refused.value), (name, key, refused.value)


@pytest.mark.render
def test_an_option_the_scene_does_not_read_is_refused_naming_those_it_reads(tmp_path):
    with pytest.raises(UsageError, match=r"^lstm-cell does not use the option step; its options: batch, direction, layer, steps, units$"):
        render_scene("lstm-cell", still=True, options={"step": 3}, out_dir=tmp_path)
    with pytest.raises(UsageError, match=r"does not use the options steps, units; its options: channels, module, positions, step$"):
        check_options("convolution", SCENES["convolution"].load(), {"units": [1], "steps": [0], "step": 2})
    assert not list(tmp_path.iterdir()), "nothing is written for a refused option"


@pytest.mark.render
def test_every_scene_option_of_the_command_line_is_read_by_some_scene():
    from explain.cli import build_parser

    flags = ["--layer", "1", "--direction", "fwd", "--batch", "0", "--steps", "1", "--units", "1"]
    flags += ["--module", "a", "--channels", "1", "--stop-after", "1"]
    offered = set(scene_options(build_parser().parse_args(["render", "lstm-cell", *flags])))
    read = set().union(*(SCENES[name].load().OPTIONS for name in SCENES))
    assert offered == {"layer", "direction", "batch", "steps", "units", "module", "channels", "step"}
    assert offered <= read, f"options no scene reads: {sorted(offered - read)}"


@pytest.mark.render
def test_render_all_gives_each_scene_the_options_it_reads(tmp_path, monkeypatch):
    import explain.render as render

    given = {}
    monkeypatch.setattr(render, "render_scene", lambda name, **settings: given.setdefault(name, settings["options"]) and tmp_path)
    for name in ("lstm-cell", "cnn-pipeline"):
        render._render_timed(name, tmp_path, {"options": {"step": 2, "units": [0]}})
    assert given == {"lstm-cell": {"units": [0]}, "cnn-pipeline": {"step": 2}}
