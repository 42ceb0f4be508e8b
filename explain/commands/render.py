"""``explain scenes`` and ``explain render``: list the scenes, render one or all of them.

    $ explain scenes
    $ explain render lstm-cell --still
    $ explain render lstm-cell --pace 1.5          # every step held 1.5× longer; prints the video's length
    $ explain render lstm-cell --trace t.safetensors --layer 0 --steps 0,1,2 --units 0-11 --lang ko
    $ explain render gru-cell --slides            # one HTML presentation, a slide per step
    $ explain render --all --jobs 2               # every scene; unchanged ones are skipped
"""

from __future__ import annotations

import argparse

from explain.commands.checks import int_list, int_range, output_directory, positive_number
from explain.errors import UsageError
from explain.render import DEFAULT_QUALITY, FORMATS, LANGUAGES, QUALITIES

__all__ = ["list_scenes", "register", "render_command", "scene_options"]


def register(subparsers) -> None:
    scenes = subparsers.add_parser("scenes", help="list the scenes that can be rendered")
    scenes.set_defaults(handler=list_scenes)

    render = subparsers.add_parser("render", help="render a scene (video, GIF, still or slides) into renders/")
    render.add_argument("scene", nargs="?", help="scene name (see: explain scenes)")
    render.add_argument("--all", action="store_true", help="render every scene from its built-in model")
    render.add_argument("--jobs", type=int_range(1, 64, "--jobs"), default=2, help="parallel processes with --all (default 2)")
    render.add_argument("--force", action="store_true", help="with --all: render even scenes that did not change")
    render.add_argument("--trace", metavar="FILE", help="a trace file (explain record …); default: the scene's book model")
    render.add_argument(
        "--quality", choices=list(QUALITIES), default=DEFAULT_QUALITY, help="480p15, 720p30 (the default, sharp on a projector) or 1080p60"
    )
    render.add_argument(
        "--pace", type=positive_number, default=1.0, metavar="FACTOR",
        help="how long each step is held, as a factor: 1.5 slower (a first class), 0.7 faster (a recap); default 1",
    )
    render.add_argument("--still", action="store_true", help="only the most informative frame, as PNG")
    render.add_argument("--lang", choices=LANGUAGES, default="en", help="caption language")
    render.add_argument("--slides", action="store_true", help="an HTML presentation with a slide per step")
    render.add_argument("--format", dest="fmt", choices=FORMATS, default="mp4", help="output format")
    render.add_argument(
        "-o", "--out", type=output_directory, default="renders", metavar="DIR", help="output directory (default renders/)"
    )
    scene_options = render.add_argument_group("scene options (a scene refuses those it does not use; with --all, each takes those it uses)")
    scene_options.add_argument("--layer", type=int, help="recurrent layer (default: the last)")
    scene_options.add_argument("--direction", choices=["fwd", "bwd"], help="recurrent direction (default fwd)")
    scene_options.add_argument("--batch", type=int, help="batch item (default 0)")
    scene_options.add_argument("--steps", type=int_list, help="time steps, e.g. 0,1,2 or 0-3")
    scene_options.add_argument("--units", type=int_list, help="units to show, e.g. 0-11 or 0,4,9")
    scene_options.add_argument("--module", help="CNN module to show, e.g. layer_3.0 (an inception module, a residual block)")
    scene_options.add_argument("--channels", type=int_list, help="feature-map channels to show, e.g. 0-7 or 0,3")
    scene_options.add_argument("--stop-after", dest="step", type=int_range(1, 1000, "--stop-after"), metavar="STEP", help="play the scene up to this step (1, 2, …); with --still, that step's last frame")
    render.set_defaults(handler=render_command)


def scene_options(args: argparse.Namespace) -> dict:
    """The scene options the user gave (unset ones are left to the scene's defaults)."""
    names = ("layer", "direction", "batch", "steps", "units", "module", "channels", "step")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def list_scenes(args: argparse.Namespace) -> int:
    from explain.scenes import catalogue

    scenes = catalogue()
    width = max((len(name) for name in scenes), default=0)
    for spec in scenes.values():
        recipe = f", recipe {spec.recipe}" if spec.recipe != "book" else ""
        model = f"  [{spec.default_model}{recipe}]" if spec.default_model else ""
        print(f"{spec.name:<{width}}  {spec.summary}{model}")
    return 0


def render_command(args: argparse.Namespace) -> int:
    from explain import render

    settings = dict(
        quality=args.quality, still=args.still, lang=args.lang, slides=args.slides, fmt=args.fmt, options=scene_options(args)
    )
    if args.pace != 1.0:  # left out otherwise, so that --all's cache of earlier renders still holds
        settings["pace"] = args.pace
    if args.all:
        if args.scene or args.trace:
            raise UsageError("--all renders every scene from its built-in model; drop the scene name and --trace")
        return _render_everything(render, args, settings)
    if not args.scene:
        raise UsageError("name a scene (see: explain scenes) or use --all")
    path = render.render_scene(args.scene, args.trace, out_dir=args.out, **settings)
    print(path)
    length = render.video_length(path)
    if length is not None:
        print(f"video length: {length:.1f} s")
    return 0


def _render_everything(render, args: argparse.Namespace, settings: dict) -> int:
    def report(result) -> None:
        if result.error:
            print(f"{result.name}: FAILED: {result.error}")
        elif result.skipped:
            print(f"{result.name}: unchanged, kept {result.path}")
        else:
            print(f"{result.name}: {result.path} (rendered in {result.seconds:.1f} s)")
        if result.length is not None:
            print(f"{result.name}: video length {result.length:.1f} s")

    results = render.render_all(jobs=args.jobs, force=args.force, out_dir=args.out, report=report, **settings)
    return 1 if any(result.error for result in results) else 0
