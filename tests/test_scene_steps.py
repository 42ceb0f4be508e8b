"""Every CNN scene changes a step's caption in the same animation as its figure, and never shows an empty frame between steps (issue 14)."""

from __future__ import annotations

import pytest

from scene_checks import late_captions, record_book, watch_frames

#: scene, book model and how it is loaded (untrained and small, as in each scene's own tests)
SCENES = [
    ("vgg", "vgg16", {"trained": False, "image_size": 224}),
    ("inception", "googlenet", {"trained": False, "image_size": 224}),
    ("cnn-pipeline", "mnist-cnn", {}),
    ("parameters", "mnist-cnn", {}),
    ("resnet", "resnet50", {"trained": False, "image_size": 224, "base_dim": 16}),
]


@pytest.mark.render
@pytest.mark.slow  # 7–15 s each: every frame of the video is looked at
@pytest.mark.parametrize("scene, model, load", SCENES, ids=[scene for scene, _, _ in SCENES])
def test_captions_change_with_their_figures_and_the_screen_never_empties(scene, model, load, tmp_path):
    """A caption changed after its figure showed the previous step's words (or none) under the
    new figure; fading one figure out before the next fades in showed a frame with no figure."""
    frames = watch_frames(scene, record_book(model, **load), tmp_path)
    late = late_captions(frames)
    assert not late, f"{scene}: frames {late} (of {len(frames)}, 5 a second) show a new figure under another step's caption"
    first = next(i for i, frame in enumerate(frames) if frame.figure)
    blank = [i for i, frame in enumerate(frames[first:], first) if not frame.figure]
    assert not blank, f"{scene}: frames {blank} (of {len(frames)}) show no figure"
