"""Helpers for scene tests: render a low-resolution still, compare it with a committed reference.

    png = render_still("lstm-cell", trace, tmp_path, lang="ko", options={"units": [0, 1, 2]})
    assert_matches_reference(png, "lstm-cell-ko")        # tests/references/lstm-cell-ko.png
    scene = play_through("lstm-cell", trace, tmp_path, options={"steps": [0, 1]})   # no frames drawn
    scene.shown[1]                                       # what the scene put on screen at t = 1
    frames = watch_frames("convolution", trace, tmp_path)   # what each frame of the video shows

References are stored small (REFERENCE_SIZE) and compared with a tolerance, like ManimCE's own
frame-comparison tests: a few anti-aliased pixels may differ, a moved box or a changed colour may
not. After an intended change, look at the new stills, then refresh the references with

    .venv/bin/pytest --trace-update   (also rewrites trace fixtures; EXPLAIN_UPDATE_REFERENCES=1 only the stills)

and commit them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REFERENCES = Path(__file__).with_name("references")
#: references are kept at this size (width, height): small files, and immune to sub-pixel text shifts
REFERENCE_SIZE = (320, 180)
#: mean absolute difference (0–255) allowed over the whole image
MEAN_TOLERANCE = 2.5
#: share of pixels allowed to differ by more than PIXEL_THRESHOLD
PIXEL_SHARE = 0.01
PIXEL_THRESHOLD = 48


def record_book(name: str, **load_options):
    """The trace of book model ``name`` (explain.models.load(name, **load_options).record()),
    recorded on one thread: the models are tiny and extra torch threads only spin on a busy CI."""
    import torch

    from explain import models

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return models.load(name, **load_options).record()
    finally:
        torch.set_num_threads(threads)


def render_still(name: str, trace, tmp_path: Path, lang: str = "en", options: dict | None = None) -> Path:
    """Render scene ``name``'s still at low quality into ``tmp_path`` and return the PNG."""
    from explain.render import render_scene

    return render_scene(name, trace, still=True, lang=lang, options=options, out_dir=tmp_path, progress=False)


def play_through(name: str, trace, tmp_path: Path, lang: str = "en", options: dict | None = None):
    """Run scene ``name`` start to end without drawing a frame; return the scene to read what it showed.

    Every animation is skipped (manim's ``skip_animations``) and nothing is written, so a whole
    walkthrough costs about as much as building its mobjects once.
    """
    from manim import tempconfig

    from explain.render import scene_spec

    settings = {"dry_run": True, "write_to_movie": False, "save_last_frame": False, "disable_caching": True}
    settings.update(media_dir=str(tmp_path / "media"), text_dir=str(tmp_path / ".text-cache"), progress_bar="none")
    with tempconfig(settings):
        scene = scene_spec(name).load()(trace=trace, lang=lang, options=options, skip_animations=True)
        scene.render()
    return scene


@dataclass(frozen=True)
class Frame:
    """What one frame of a video shows: its title and caption (the mobjects, by id), whether
    anything else (a figure) is drawn, the step it belongs to (how many times the scene paused
    before it) and how visible each mobject on screen is (by id, the largest opacity of its parts:
    a fade scales it from 0 up to its own level)."""

    title: int | None
    caption: int | None
    figure: bool
    step: int = 0
    levels: dict = field(default_factory=dict, compare=False)


def watch_frames(name: str, trace, tmp_path: Path, lang: str = "en", fps: int = 5) -> list[Frame]:
    """Play scene ``name`` with every animation, ``fps`` frames a second, drawing no pixels: what each frame shows.

    The title is the text at the top of the frame, the caption the scene's caption line
    (:meth:`TraceScene.caption`); a mobject counts when anything of it is drawn at all (fades
    scale opacities down to 0).
    """
    from manim import ImageMobject, MarkupText, Text, VMobject, config, tempconfig

    from explain.render import scene_spec

    frames: list[Frame] = []

    def level(member) -> float:
        if isinstance(member, ImageMobject):
            return float(member.pixel_array[:, :, 3].max()) / 255
        if isinstance(member, VMobject) and member.has_points():
            return float(max(member.fill_rgbas[:, 3].max(), member.stroke_rgbas[:, 3].max()))
        return 0.0

    def drawn(member) -> bool:
        return level(member) > 0

    def shown(mobject) -> bool:
        return any(drawn(member) for member in mobject.get_family())

    def record(scene, *_args, **_kwargs) -> None:
        members = scene.get_mobject_family_members()
        captions = [m for m in members if getattr(m, "is_caption", False) and shown(m)]
        top = config.frame_height / 2 - 0.8
        titles = [m for m in members if isinstance(m, (Text, MarkupText)) and m not in captions and m.get_bottom()[1] > top and shown(m)]
        texts = {part for m in captions + titles for part in m.get_family()}
        figure = any(drawn(m) for m in members if m not in texts)
        levels = {id(m): max(level(part) for part in m.get_family()) for m in scene.mobjects}
        frames.append(Frame(id(titles[0]) if titles else None, id(captions[0]) if captions else None, figure, steps[0], levels))

    steps = [0]

    def counting(pause):
        def pause_and_count(*args, **kwargs) -> None:
            pause(*args, **kwargs)
            steps[0] += 1

        return pause_and_count

    settings = {"dry_run": True, "write_to_movie": False, "save_last_frame": False, "disable_caching": True, "frame_rate": fps}
    settings.update(pixel_height=180, pixel_width=320, media_dir=str(tmp_path / "media"), text_dir=str(tmp_path / ".text-cache"), progress_bar="none")
    with tempconfig(settings):
        scene = scene_spec(name).load()(trace=trace, lang=lang)
        scene.renderer.render = record
        scene.pause = counting(scene.pause)
        scene.render()
    return frames


def late_captions(frames: list[Frame]) -> list[int]:
    """The frames (indices) where a figure new in its step is fully shown under another caption.

    A step's caption is the one on screen when it ends (during its hold). A figure is new in a
    step if nothing of it was drawn in an earlier step, and fully shown in a frame where it is as
    visible as it ever gets; a caption counts when it is fully shown (while two captions swap, the
    figure is still fading). A scene whose caption changes only after its figure has appeared
    shows the previous step's caption (or none) under the new figure: those frames are returned.
    """
    fullest: dict[int, float] = {}
    for frame in frames:
        for key, value in frame.levels.items():
            fullest[key] = max(fullest.get(key, 0.0), value)

    def full(frame: Frame, key: int | None) -> bool:
        return key is not None and frame.levels.get(key, 0.0) >= 0.99 * fullest.get(key, 0.0) > 0

    own = {frame.step: frame.caption for frame in frames}  # the last frame of each step wins
    texts = {frame.title for frame in frames} | {frame.caption for frame in frames}
    # mobjects drawn in earlier steps (what the scene put up before its first animation counts as seen)
    seen = {key for key, value in frames[0].levels.items() if value > 0} if frames else set()
    late, step, drawn_now = [], 0, set()
    for index, frame in enumerate(frames):
        if frame.step != step:
            seen |= drawn_now
            step, drawn_now = frame.step, set()
        drawn_now |= {key for key, value in frame.levels.items() if value > 0}
        caption_ok = frame.caption == own[step] or (frame.caption is not None and not full(frame, frame.caption))
        if caption_ok or own[step] is None:
            continue
        new = [key for key in frame.levels if key not in seen and key not in texts and full(frame, key)]
        if new:
            late.append(index)
    return late


def _small(png: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(png) as image:
        return np.asarray(image.convert("RGB").resize(REFERENCE_SIZE, Image.Resampling.BOX), dtype=np.int16)


def assert_matches_reference(png: Path, name: str) -> None:
    """Compare ``png`` with ``tests/references/<name>.png``; with EXPLAIN_UPDATE_REFERENCES=1, rewrite it."""
    from PIL import Image

    reference = REFERENCES / f"{name}.png"
    current = _small(png)
    if os.environ.get("EXPLAIN_UPDATE_REFERENCES") == "1":
        REFERENCES.mkdir(exist_ok=True)
        Image.fromarray(current.astype(np.uint8)).save(reference, optimize=True)
        return
    assert reference.is_file(), f"no reference {reference}; look at {png}, then run pytest --trace-update"
    expected = np.asarray(Image.open(reference).convert("RGB"), dtype=np.int16)
    difference = np.abs(current - expected).max(axis=2)
    mean, share = float(difference.mean()), float((difference > PIXEL_THRESHOLD).mean())
    if mean > MEAN_TOLERANCE or share > PIXEL_SHARE:
        diff_png = png.with_name(png.stem + "-diff.png")
        Image.fromarray((255 - np.clip(difference * 3, 0, 255)).astype(np.uint8)).save(diff_png)
        raise AssertionError(
            f"{png.name} differs from {reference.name}: mean difference {mean:.2f} (allowed {MEAN_TOLERANCE}), "
            f"{share:.2%} pixels off (allowed {PIXEL_SHARE:.0%}); see {diff_png}; if intended, refresh with "
            "pytest --trace-update"
        )
