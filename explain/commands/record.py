"""``explain models``, ``explain record`` and ``explain show``.

    $ explain models                                        # the book's models, one line each
    $ explain record hello-lstm -o hello.safetensors        # the book's run, recorded
    $ explain record mnist-cnn --image digit.png -o digit.safetensors
    $ explain record resnet50 --filter 'layer_2.*' -o r.safetensors
    $ explain record vgg16 --base-dim 64 -o vgg64.safetensors          # the large, untrained variant
    $ explain record my_net.py:build -o mine.safetensors    # build() returns (model, inputs) or an Example
    $ explain record --recipe char-flow char-lstm -o flow.safetensors  # what `render char-flow` draws
    $ explain show hello.safetensors                        # the summary table
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from explain.commands.checks import int_range, output_file
from explain.errors import UsageError
from explain.figures.errors import FigureError, refuse_nan
from explain.models.catalogue import Example
from explain.models.recipes import RECIPES
from explain.recording.base import RecordingError
from explain.trace import Trace

__all__ = ["list_models", "read_image", "record_command", "register", "show_command"]


def register(subparsers) -> None:
    listing = subparsers.add_parser("models", help="list the book's models")
    listing.set_defaults(handler=list_models)

    record = subparsers.add_parser("record", help="record a book model (or FILE.py:FACTORY) into a trace file")
    record.add_argument("model", help="a book model (see: explain models) or path/to/file.py:factory")
    record.add_argument("-o", "--out", required=True, type=output_file, metavar="FILE", help="trace file to write (.safetensors)")
    record.add_argument("--text", help="text the recurrent models read instead of their example")
    record.add_argument("--image", metavar="FILE", help="an image file the CNNs read instead of their example")
    record.add_argument("--filter", nargs="+", metavar="GLOB", help="record only names matching these globs")
    record.add_argument("--base-dim", type=int_range(1, 128, "--base-dim"), help="VGG/GoogLeNet/ResNet width (the book: 16; the course: 64); untrained")
    record.add_argument("--image-size", type=int, help="VGG (32 or 224), GoogLeNet, ResNet (multiples of 32) input size; a variant, untrained")
    record.add_argument("--untrained", action="store_true", help="seeded initial weights instead of the trained ones")
    record.add_argument(
        "--half", action="store_true", help="store float tensors as float16: half the file, values within 2**-11 relative"
    )
    record.add_argument(
        "--recipe",
        choices=list(RECIPES),
        help="how to run the model (default: book, its own example): "
        + "; ".join(f"{name}: {recipe.summary}" for name, recipe in RECIPES.items()),
    )
    record.set_defaults(handler=record_command)

    show = subparsers.add_parser("show", help="print a trace file's summary table")
    show.add_argument("trace", metavar="FILE", help="a trace file")
    show.set_defaults(handler=show_command)


def list_models(args) -> int:
    from explain.models import catalogue

    entries = catalogue()
    width = max(map(len, entries))
    for name, description in entries.items():
        print(f"{name.ljust(width)}  {description}")
    return 0


def record_command(args) -> int:
    import explain

    if ":" in args.model and args.model.split(":", 1)[0].endswith(".py"):
        if any(value is not None for value in (args.text, args.image, args.base_dim, args.image_size)) or args.untrained:
            raise UsageError("--text, --image, --base-dim, --image-size and --untrained apply to book models only")
        made = _from_factory(args.model)
        if args.recipe not in (None, "book"):
            trace = _run_recipe(args, made if isinstance(made, Example) else None)
        elif isinstance(made, Example):
            trace = made.record(names=args.filter)
        else:
            model, inputs = made
            with _users_code(args.model, "the model"):
                trace = explain.record(model, *inputs, names=args.filter)
    elif args.recipe not in (None, "book"):
        trace = _run_recipe(args, args.model)
    else:
        trace = _book_example(args).record(names=args.filter)
    try:
        path = trace.save(args.out, dtype=torch.float16 if args.half else None)
    except ValueError as error:  # a value beyond float16's range
        raise UsageError(f"--half: {error}") from None
    print(f"wrote {len(trace)} tensors to {path}")
    try:
        refuse_nan(trace)
    except FigureError as error:  # kept as the model computed it; said now, not first at render time
        print(f"explain record: warning: {error}", file=sys.stderr)
    return 0


def _run_recipe(args, model) -> Trace:
    """Run ``args.recipe`` on a book model's name or a factory's Example; the options that do not apply are refused."""
    from explain.models import recipes

    if model is None:
        raise UsageError(f"the {args.recipe} recipe needs the factory to return an explain.models.Example (model, inputs, run, loss)")
    if args.filter or args.image is not None or args.base_dim is not None or args.image_size is not None:
        raise UsageError(f"--filter, --image, --base-dim and --image-size do not apply to the {args.recipe} recipe")
    options = {"text": args.text} if args.text is not None else {}
    if args.untrained:
        options["trained"] = False
    try:
        return recipes.run(args.recipe, model, **options)
    except ValueError as error:
        raise UsageError(str(error)) from None


def show_command(args) -> int:
    import explain

    trace = explain.load(args.trace)
    print(trace.summary())
    for message in trace.meta.get("unseen", []):
        print(f"unseen: {message}")
    return 0


def _book_example(args):
    from explain import models

    options = {key: value for key, value in (("base_dim", args.base_dim), ("image_size", args.image_size)) if value is not None}
    if args.model not in models.catalogue():
        raise UsageError(f"unknown model {args.model!r}; see: explain models (or give path/to/file.py:factory)")
    try:
        probe = models.load(args.model, trained=False, **_checked(args.model, options))
    except ValueError as error:  # an option value the model cannot take (VGG's --image-size)
        raise UsageError(str(error)) from None
    image = None
    if args.image is not None:
        if probe.tokens is not None:
            raise UsageError(f"{args.model} reads text, not images (use --text)")
        image = read_image(args.image, tuple(probe.inputs[0].shape[1:]))
    elif args.text is not None and probe.tokens is None:
        raise UsageError(f"{args.model} reads images, not text (use --image)")
    try:
        return models.load(args.model, trained=not args.untrained, text=args.text, image=image, **options)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _checked(name: str, options: dict[str, Any]) -> dict[str, Any]:
    from explain import models

    accepted = models.MODELS[name].options
    unknown = [key.replace("_", "-") for key in options if key not in accepted]
    if unknown:
        raise UsageError(f"{name} has no --{', --'.join(unknown)} option")
    return options


def read_image(path: str, shape: tuple[int, int, int]) -> torch.Tensor:
    """An image file as a [1, C, H, W] tensor in [0, 1], converted and resized to ``shape`` (C, H, W)."""
    import numpy

    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise UsageError("--image needs Pillow: pip install pillow") from None
    channels, height, width = shape
    try:
        with Image.open(path) as image:
            image = image.convert("L" if channels == 1 else "RGB").resize((width, height))
            data = torch.from_numpy(numpy.asarray(image, dtype=numpy.float32).copy())
    except FileNotFoundError:
        raise
    except (UnidentifiedImageError, OSError) as error:
        raise UsageError(f"{path}: not a readable image ({error})") from None
    return (data / 255.0).view(height, width, channels).permute(2, 0, 1).unsqueeze(0)


def _from_factory(spec: str) -> "tuple[torch.nn.Module, tuple] | Example":
    """Import ``path/to/file.py`` and call ``factory()``; it must return (model, inputs) or an Example."""
    file, _, factory_name = spec.rpartition(":")
    path = Path(file)
    if not path.is_file():
        raise UsageError(f"{file}: no such file")
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        module_spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise UsageError(f"{file} has no function {factory_name!r}")
    with _users_code(spec, f"{factory_name}()"):
        made = factory()
    if isinstance(made, Example):
        return made
    if not (isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], torch.nn.Module)):
        raise UsageError(f"{spec} must return (model, inputs) or an explain.models.Example, got {type(made).__name__}")
    model, inputs = made
    return model, inputs if type(inputs) in (tuple, list) else (inputs,)  # a PackedSequence (a named tuple) is one input


#: where explain's own code lies (an error raised there is not the user's)
_PACKAGE = os.path.realpath(Path(__file__).parents[1]) + os.sep


@contextlib.contextmanager
def _users_code(spec: str, who: str) -> Iterator[None]:
    """Say in one line what the user's factory or model raised, and the line of their file it
    passed through (an error that did not come through their file, explain's own, passes as it is)."""
    try:
        yield
    except (UsageError, RecordingError, KeyboardInterrupt):
        raise
    except Exception as error:
        file = os.path.realpath(spec.rpartition(":")[0])
        frames = traceback.extract_tb(error.__traceback__)
        theirs = [frame for frame in frames if os.path.realpath(frame.filename) == file]
        if not theirs or os.path.realpath(frames[-1].filename).startswith(_PACKAGE):  # explain's own error: its traceback matters
            raise
        where = f" at {Path(file).name}:{theirs[-1].lineno} ({theirs[-1].name})"
        raise UsageError(f"{spec}: {who} raised {type(error).__name__}{where}: {error}") from None
