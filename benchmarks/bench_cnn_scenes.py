"""Render cost of the CNN scenes: seconds per still, frames per second, and the cost of one drawn frame.

    .venv/bin/python benchmarks/bench_cnn_scenes.py                      # low quality, all three
    .venv/bin/python benchmarks/bench_cnn_scenes.py --quality medium convolution
    .venv/bin/python benchmarks/bench_cnn_scenes.py --runs 1 --stop-after 1 parameters   # a smoke run

In one process, on the book's MNIST trace, each scene is rendered as a still, as a video, and
"built only" (every mobject made, no frame drawn: ``tests/scene_checks.play_through``), alternating,
``--runs`` times; medians are reported. (video − built only) / frames is the cost of drawing one
frame, the number to set beside another tool's frames at the same resolution.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

SCENES = ["convolution", "cnn-pipeline", "parameters"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenes", nargs="*", default=SCENES)
    parser.add_argument("--quality", choices=["low", "medium", "high"], default="low")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stop-after", type=int, metavar="STEP", help="play each scene up to this step only")
    args = parser.parse_args()
    torch.set_num_threads(2)

    import av

    from explain import models
    from explain.render import render_scene
    from scene_checks import play_through

    trace = models.load("mnist-cnn").record()
    options = {} if args.stop_after is None else {"step": args.stop_after}
    for name in args.scenes:
        still, video, built = [], [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as work:
                start = time.perf_counter()
                render_scene(name, trace, quality=args.quality, still=True, out_dir=work, progress=False, options=options)
                still.append(time.perf_counter() - start)
                start = time.perf_counter()
                path = render_scene(name, trace, quality=args.quality, out_dir=work, progress=False, options=options)
                video.append(time.perf_counter() - start)
                with av.open(str(path)) as container:
                    stream = container.streams.video[0]
                    frames, size = sum(1 for _ in container.decode(video=0)), f"{stream.width}×{stream.height}"
                start = time.perf_counter()
                play_through(name, trace, Path(work), options=options)
                built.append(time.perf_counter() - start)
        s, v, b = (statistics.median(x) for x in (still, video, built))
        print(
            f"{name:13} {size}: still {s:.2f} s | video {frames} frames in {v:.1f} s = {frames / v:.1f} fps | "
            f"built only {b:.1f} s -> {1000 * (v - b) / frames:.1f} ms per drawn frame",
            flush=True,
        )


if __name__ == "__main__":
    main()
