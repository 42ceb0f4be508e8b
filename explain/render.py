"""Render a scene from the catalogue into ``renders/``: video, GIF, still or HTML slides.

    >>> from explain.render import render_scene
    >>> render_scene("lstm-cell", still=True)                    # doctest: +SKIP
    PosixPath('renders/lstm-cell-still.png')
    >>> render_scene("gru-cell", lang="ko", fmt="gif")           # doctest: +SKIP
    PosixPath('renders/gru-cell-ko.gif')
    >>> render_all(jobs=2)                                       # doctest: +SKIP

Manim runs in this process under ``tempconfig`` (its global config is restored afterwards); its
own progress bar shows while frames are written. Output names are
``<scene>[-<lang>][-still].<ext>``; the language is named only when it is not English.
:func:`render_all` renders every scene in parallel processes and skips the ones whose inputs
(scene sources, default-model weights, options) have not changed since the last run; the hashes
live in ``<out_dir>/.render-cache.json``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from explain import reveal_assets
from explain.errors import UsageError
from explain.figures.recurrent import layered_view
from explain.trace import Trace, load

__all__ = [
    "CACHE_FILE",
    "DEFAULT_QUALITY",
    "FORMATS",
    "input_hash",
    "LANGUAGES",
    "output_name",
    "QUALITIES",
    "render_all",
    "render_scene",
    "RenderResult",
    "resolve_trace",
    "scene_spec",
    "TEXT_CACHE",
    "video_length",
    "WORK_PREFIX",
]

#: --quality → manim's quality names (480p15, 720p30, 1080p60)
QUALITIES = {"low": "low_quality", "medium": "medium_quality", "high": "high_quality"}
#: what ``explain render`` renders without --quality: 720p, which a projector shows sharp and in which
#: every label of a scene is at least 14 px tall (tests/test_scene_legibility.py)
DEFAULT_QUALITY = "medium"
FORMATS = ("mp4", "gif", "png")
LANGUAGES = ("en", "ko")
CACHE_FILE = ".render-cache.json"
#: a render works in <out_dir>/.render-<pid>-<random>/ and moves only the finished file out of it
WORK_PREFIX = ".render-"
#: Pango's SVGs of every Text, kept between renders (keyed by text, font and size)
TEXT_CACHE = ".text-cache"
_PACKAGE = Path(__file__).resolve().parent


def output_name(name: str, *, lang: str = "en", still: bool = False, fmt: str = "mp4", slides: bool = False) -> str:
    """The file name a render gets.

    >>> output_name("lstm-cell", still=True, fmt="png"), output_name("gru-cell", lang="ko", slides=True)
    ('lstm-cell-still.png', 'gru-cell-ko.html')
    """
    parts = [name] + ([lang] if lang != "en" else []) + (["still"] if still else [])
    return "-".join(parts) + "." + ("html" if slides else fmt)


def scene_spec(name: str):
    """The catalogue entry of scene ``name``, or a UsageError listing the scenes."""
    from explain.scenes import catalogue

    scenes = catalogue()
    if name not in scenes:
        raise UsageError(f"unknown scene {name!r}; scenes: {', '.join(scenes) or '(none yet)'}")
    return scenes[name]


def resolve_trace(spec, trace: Trace | str | Path | None) -> Trace:
    """The trace to draw: the one given (a Trace or a trace file), else the scene's recipe run on its default model."""
    if isinstance(trace, Trace):
        return trace
    if trace is not None:
        path = Path(trace)
        if not path.exists():
            raise UsageError(f"no trace file {str(path)!r} (make one with: explain record MODEL -o {path.name})")
        return load(path)
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the book models are tiny: worker threads only spin (30× slower on a busy machine)
    try:
        from explain.models import recipes

        return recipes.run(spec.recipe, spec.default_model)
    except (ValueError, FileNotFoundError, ImportError) as error:
        raise UsageError(f"{spec.name}: cannot record its built-in trace: {error}") from None
    finally:
        torch.set_num_threads(threads)


def render_scene(
    name: str,
    trace: Trace | str | Path | None = None,
    *,
    quality: str = "low",
    still: bool = False,
    lang: str = "en",
    slides: bool = False,
    fmt: str = "mp4",
    out_dir: str | Path = "renders",
    options: dict[str, Any] | None = None,
    progress: bool = True,
    pace: float = 1.0,
    text_cache: str | Path | None = None,
) -> Path:
    """Render scene ``name`` and return the path of the file written (see the module docstring).

    ``fmt="png"`` means a still; ``still`` writes the scene's last frame (scenes stop at their most
    informative frame when :attr:`TraceScene.is_still`). ``slides`` writes one HTML presentation.
    ``pace`` scales how long each step is held (1.5 slower, 0.7 faster; see explain.draw.reading).
    ``text_cache`` is where Pango's drawings of the scene's texts are kept between renders
    (default ``<out_dir>/.text-cache``).
    """
    _check_choice("quality", quality, QUALITIES)
    if not (isinstance(pace, (int, float)) and pace > 0):
        raise UsageError(f"pace must be a number above 0 (1.5 slower, 0.7 faster), got {pace!r}")
    _check_choice("format", fmt, FORMATS)
    _check_choice("lang", lang, LANGUAGES)
    still = still or fmt == "png"
    if still and slides:
        raise UsageError("--still and --slides exclude each other (a still has no slides)")
    fmt = "png" if still else fmt
    from explain.draw.base import SceneInputError

    spec = scene_spec(name)
    scene_class = spec.load()
    options = dict(options or {})
    check_options(name, scene_class, options)
    trace = resolve_trace(spec, trace)
    try:
        scene_class.check(layered_view(trace), options)
    except ValueError as error:  # check() raises ValueErrors that say what to change
        raise UsageError(f"{name}: {error}") from None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / output_name(name, lang=lang, still=still, fmt=fmt, slides=slides)
    with tempfile.TemporaryDirectory(prefix=f"{WORK_PREFIX}{os.getpid()}-", dir=out_dir) as work:
        text_dir = Path(text_cache) if text_cache else out_dir / TEXT_CACHE
        settings = _manim_settings(Path(work), text_dir, quality=quality, still=still, fmt=fmt, progress=progress)
        try:
            if slides:
                written = _render_slides(scene_class, trace, lang, options, settings, Path(work) / target.name)
            else:
                written = _render_plain(scene_class, trace, lang, options, settings, still, pace)
            shutil.move(str(written), target)
        except SceneInputError as error:
            raise UsageError(f"{name}: {error}") from None
    return target


def video_length(path: str | Path) -> float | None:
    """The length of the video at ``path`` in seconds (None for a still or slides).

    >>> video_length("renders/lstm-cell.mp4")                 # doctest: +SKIP
    71.4
    """
    path = Path(path)
    if path.suffix not in (".mp4", ".gif"):
        return None
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return container.duration / av.time_base if container.duration else None


def check_options(name: str, scene_class: type, options: dict[str, Any]) -> None:
    """Refuse options that scene ``name`` does not read (its ``OPTIONS``), naming those it does.

    >>> from explain.scenes import catalogue
    >>> check_options("lstm-cell", catalogue()["lstm-cell"].load(), {"step": 3})
    Traceback (most recent call last):
    ...
    explain.errors.UsageError: lstm-cell does not use the option step; its options: batch, direction, layer, steps, units
    """
    unused = sorted(set(options) - scene_class.OPTIONS)
    if unused:
        known = ", ".join(sorted(scene_class.OPTIONS)) or "none"
        raise UsageError(f"{name} does not use the option{'s' if len(unused) > 1 else ''} {', '.join(unused)}; its options: {known}")


def _check_choice(what: str, value: str, choices) -> None:
    if value not in choices:
        raise UsageError(f"{what} must be one of {', '.join(choices)}, got {value!r}")


def _manim_settings(work: Path, text_dir: Path, *, quality: str, still: bool, fmt: str, progress: bool) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "quality": QUALITIES[quality],
        "media_dir": str(work / "media"),
        "text_dir": str(text_dir),
        "disable_caching": True,
        "preview": False,
        "verbosity": "WARNING",
        "progress_bar": "display" if progress else "none",
        "save_last_frame": still,
        "write_to_movie": not still,
    }
    if not still:
        settings["format"] = fmt
    return settings


def _render_plain(scene_class: type, trace: Trace, lang: str, options: dict, settings: dict, still: bool, pace: float) -> Path:
    from manim import tempconfig

    with tempconfig(settings):
        scene = scene_class(trace=trace, lang=lang, options=options, pace=pace)
        scene.render()
        writer = scene.renderer.file_writer
        if still:
            return Path(writer.image_file_path)
        return Path(writer.gif_file_path if settings.get("format") == "gif" else writer.movie_file_path)


def _render_slides(scene_class: type, trace: Trace, lang: str, options: dict, settings: dict, html: Path) -> Path:
    """Render as a manim-slides Slide, then convert its slides into ``html``, one file with the
    videos (and, when installed, reveal.js) inside; returns ``html``."""
    from manim import tempconfig

    from explain.draw.base import as_slides

    slides_dir = html.parent / "slides"
    slide_class = as_slides(scene_class)
    logging.getLogger("manim-slides").setLevel(logging.WARNING)
    with tempconfig(settings):
        slide_class(trace=trace, lang=lang, options=options, output_folder=slides_dir).render()
    offline = reveal_assets.installed()
    command = [sys.executable, "-m", "manim_slides", "convert", scene_class.__name__, str(html)]
    command += ["--folder", str(slides_dir), "--one-file", "-ctitle=" + html.stem]
    command += ["-creveal_version=" + reveal_assets.VERSION]
    if offline:
        command += ["-ccdn_url=" + reveal_assets.PLACEHOLDER]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 or not html.is_file():
        last_line = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"manim-slides convert failed: {last_line}")
    if offline:
        html.write_text(reveal_assets.inline(html.read_text(encoding="utf-8"), reveal_assets.local_copy()), encoding="utf-8")
    else:
        print(
            f"note: {html.name} loads reveal.js from the web; scripts/setup.sh installs a local copy "
            "so that slides play offline",
            file=sys.stderr,
        )
    return html


# -- every scene, in parallel, skipping what did not change ----------------------------------


@dataclass(frozen=True)
class RenderResult:
    """What :func:`render_all` did for one scene: ``path`` written or kept, or ``error``."""

    name: str
    path: Path | None
    skipped: bool = False
    seconds: float = 0.0
    error: str = ""
    #: the video's length in seconds (None for stills and slides)
    length: float | None = None


def input_hash(name: str, settings: dict[str, Any]) -> str:
    """A hash of everything a render of ``name`` depends on: sources, weights and settings.

    Sources are the scene's module, the scenes' shared helpers (``scenes/_*.py``) and every module
    of the package outside the scenes (what reads, draws, records and builds the models); the data
    are the weights files of the models its recipe runs (every weights file when the scene has no
    default model).
    """
    import importlib.util

    spec = scene_spec(name)
    digest = hashlib.sha256(json.dumps({"scene": name, **settings}, sort_keys=True, default=str).encode())
    scene_file = Path(importlib.util.find_spec(spec.module).origin)
    scenes_dir = scene_file.parent
    shared = [path for path in sorted(_PACKAGE.rglob("*.py")) if scenes_dir not in path.parents]
    files = [scene_file, *sorted(scenes_dir.glob("_*.py")), *shared]
    weights_dir = _PACKAGE / "models" / "weights"
    from explain.models.recipes import RECIPES

    if spec.default_model:
        used = [spec.default_model, *RECIPES[spec.recipe].also_runs]
        files.extend(weights_dir / f"{model}.safetensors" for model in used)
    else:
        files.extend(sorted(weights_dir.glob("*.safetensors")))
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes() if file.is_file() else b"<missing>")
    return digest.hexdigest()


def render_all(
    names: list[str] | None = None,
    *,
    jobs: int = 2,
    force: bool = False,
    out_dir: str | Path = "renders",
    report: Callable[[RenderResult], None] = lambda result: None,
    **settings: Any,
) -> list[RenderResult]:
    """Render every scene (or ``names``) from its built-in trace in ``jobs`` processes.

    ``settings`` are :func:`render_scene`'s keywords (quality, still, lang, slides, fmt, options);
    each scene takes those of the options it reads (``--stop-after 2`` stops the scenes that have
    steps). A scene whose :func:`input_hash` matches the cache and whose output exists is skipped
    unless ``force``. ``report`` is called as each scene finishes.
    """
    from explain.scenes import catalogue

    if "trace" in settings:
        raise UsageError("--all renders each scene from its built-in model; --trace is for one scene")
    names = list(catalogue()) if names is None else names
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache_path = out_dir / CACHE_FILE
    cache = _read_cache(cache_path)
    results: list[RenderResult] = []
    pending: dict[str, str] = {}
    for name in names:
        key = input_hash(name, settings)
        fmt = settings.get("fmt", "mp4")
        still = settings.get("still", False) or fmt == "png"
        target = out_dir / output_name(
            name, lang=settings.get("lang", "en"), still=still, fmt="png" if still else fmt, slides=settings.get("slides", False)
        )
        if not force and cache.get(target.name) == key and target.is_file():
            results.append(RenderResult(name, target, skipped=True, length=video_length(target)))
            report(results[-1])
        else:
            pending[name] = key
    if pending:
        pool = ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=get_context("spawn"), initializer=_ignore_interrupts)
        try:
            futures = {pool.submit(_render_timed, name, out_dir, settings): name for name in pending}
            for future in as_completed(futures):
                result = future.result()
                if result.error == "":
                    with _interrupts_held():  # a file at its name and its cache entry land together
                        result = _publish(result, out_dir)
                        cache[result.path.name] = pending[result.name]
                        _write_cache(cache_path, cache)
                results.append(result)
                report(result)
        except BaseException:  # Ctrl-C: stop the renders under way now, not after the queue
            _stop_workers(pool, out_dir)
            raise
        pool.shutdown()
    order = {name: index for index, name in enumerate(names)}
    return sorted(results, key=lambda result: order[result.name])


def _ignore_interrupts() -> None:
    """In a worker: Ctrl-C is the parent's to handle (it stops the workers itself)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_workers(pool: ProcessPoolExecutor, out_dir: Path) -> None:
    """Cancel what is queued, kill the workers and remove their unfinished work directories.

    A worker writes into its own ``.render-<pid>-…`` directory and moves only a finished file to
    its name, so nothing that looks complete is left; the cache holds only finished renders.
    """
    workers = list((getattr(pool, "_processes", None) or {}).values())  # no public handle before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        worker.kill()
    for worker in workers:
        worker.join(timeout=1)
        for work in out_dir.glob(f"{WORK_PREFIX}{worker.pid}-*"):
            shutil.rmtree(work, ignore_errors=True)


def _render_timed(name: str, out_dir: Path, settings: dict[str, Any]) -> RenderResult:
    """One scene in a worker process; failures come back as a result, never as a dead pool.

    The finished file stays in the worker's own ``.render-<pid>-…`` directory: only the parent
    moves it to its name (:func:`_publish`), together with its cache entry, so a Ctrl-C between
    the two can never leave a render that the cache does not know.
    """
    start = time.perf_counter()
    staging = out_dir / f"{WORK_PREFIX}{os.getpid()}-{name}"
    try:
        if settings.get("options"):
            reads = scene_spec(name).load().OPTIONS
            settings = {**settings, "options": {key: value for key, value in settings["options"].items() if key in reads}}
        path = render_scene(name, out_dir=staging, progress=False, text_cache=out_dir / TEXT_CACHE, **settings)
    except Exception as error:  # noqa: BLE001 - reported per scene, the others go on
        shutil.rmtree(staging, ignore_errors=True)
        return RenderResult(name, None, seconds=time.perf_counter() - start, error=f"{type(error).__name__}: {error}")
    return RenderResult(name, path, seconds=time.perf_counter() - start, length=video_length(path))


@contextmanager
def _interrupts_held():
    """Hold a Ctrl-C that arrives inside the block until the block is done (then it is raised)."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _publish(result: RenderResult, out_dir: Path) -> RenderResult:
    """In the parent: move a worker's finished file from its staging directory to its name."""
    target = out_dir / result.path.name
    result.path.replace(target)
    result.path.parent.rmdir()
    return dataclasses.replace(result, path=target)


def _read_cache(path: Path) -> dict[str, str]:
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}


def _write_cache(path: Path, cache: dict[str, str]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(cache, indent=1, sort_keys=True), encoding="utf-8")
    temporary.replace(path)
