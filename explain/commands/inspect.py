"""``explain diff`` and ``explain plot``: compare two trace files, draw one.

    $ explain diff old.safetensors new.safetensors            # exit 1 if they differ
    $ explain diff a.safetensors b.safetensors --names 'lstm.*' --tolerance '*.grad_h=1e-4,1e-6'
    $ explain plot t.safetensors lstm.l0.fwd grad_h -o gates.png
    $ explain plot cnn.safetensors conv1 --units 0-7 -o conv1.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from explain.errors import UsageError
from explain.commands.checks import int_list, output_file

__all__ = ["diff_command", "plot_command", "register", "tolerance_rule"]


def register(subparsers) -> None:
    diff = subparsers.add_parser(
        "diff",
        help="compare two trace files (exit status 1 if they differ)",
        description="Compare trace B (obtained) with trace A (expected): names, shapes, dtypes, metadata and "
        "values within tolerance. Defaults per dtype: float32 rtol=1e-5 atol=1e-6, float64 1e-10/1e-12, "
        "float16 1e-3/1e-5, bfloat16 1.6e-2/1e-5, other dtypes exact.",
    )
    diff.add_argument("expected", metavar="A", help="the reference trace file")
    diff.add_argument("obtained", metavar="B", help="the trace file to check against A")
    diff.add_argument("--rtol", type=float, help="relative tolerance for every name")
    diff.add_argument("--atol", type=float, help="absolute tolerance for every name")
    diff.add_argument("--names", nargs="+", metavar="GLOB", help="compare only these names")
    diff.add_argument(
        "--tolerance",
        action="append",
        type=tolerance_rule,
        default=[],
        metavar="GLOB=RTOL,ATOL",
        help="tolerance for names matching GLOB (repeatable; the first match wins)",
    )
    diff.add_argument(
        "--ignore-meta", nargs="*", default=["versions"], metavar="KEY", help="metadata keys to ignore (default: versions)"
    )
    diff.set_defaults(handler=diff_command)

    plot = subparsers.add_parser(
        "plot",
        help="draw a trace with matplotlib (gates, states, gradient norms, feature maps)",
        description="Each NAME is a recurrent layer (lstm.l0.fwd: its gates and states), a [T, B, H] name "
        "(a heatmap), grad_h (gradient norms over time) or a [B, C, H, W] name (feature maps). "
        "Without names: every recurrent layer, the gradients and the feature maps.",
    )
    plot.add_argument("trace", help="a trace file (explain record …)")
    plot.add_argument("names", nargs="*", metavar="NAME", help="what to draw (default: a bit of everything)")
    plot.add_argument("-o", "--out", type=output_file, metavar="FILE", help="image file, .png/.svg/.pdf (default: <trace name>.png)")
    plot.add_argument("--batch", type=int, default=0, help="batch item (default 0)")
    plot.add_argument("--units", type=int_list, help="units of heatmaps / channels of feature maps, e.g. 0-11")
    plot.set_defaults(handler=plot_command)


def tolerance_rule(text: str) -> tuple[str, tuple[float, float]]:
    """ "*.grad_h=1e-4,1e-6" → ("*.grad_h", (1e-4, 1e-6)).

    >>> tolerance_rule("lstm.*=0.01,0")
    ('lstm.*', (0.01, 0.0))
    """
    pattern, _, numbers = text.partition("=")
    try:
        rtol, atol = (float(value) for value in numbers.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected GLOB=RTOL,ATOL such as '*.grad_h=1e-4,1e-6', got {text!r}") from None
    if not pattern:
        raise argparse.ArgumentTypeError(f"expected a name glob before '=', got {text!r}")
    return pattern, (rtol, atol)


def diff_command(args: argparse.Namespace) -> int:
    from explain.testing import compare_traces

    difference = compare_traces(
        args.obtained,
        args.expected,
        rtol=args.rtol,
        atol=args.atol,
        names=args.names,
        tolerances=dict(args.tolerance),
        ignore_meta=args.ignore_meta,
    )
    print(difference.report())
    return 1 if difference else 0


def plot_command(args: argparse.Namespace) -> int:
    from explain import load, plot

    out = Path(args.out) if args.out else Path(Path(args.trace).stem + ".png")
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UsageError(f"{out}: the image file must end in .png, .svg or .pdf")
    trace = load(args.trace)
    panels = args.names or plot.default_panels(trace)[: plot.DEFAULT_PANEL_LIMIT]
    try:
        figure = plot.show(trace, panels, batch=args.batch, units=args.units)
    except plot.PlotError as error:
        raise UsageError(str(error)) from None
    plot.save(figure, out)
    skipped = [name for name in plot.default_panels(trace) if name not in panels] if not args.names else []
    print(f"wrote {out}: {', '.join(panels)}")
    if skipped:
        print(f"not drawn (name them to draw them): {', '.join(skipped)}")
    return 0
