"""The arithmetic of figure 11: parameters of a filter and a layer, and memory at 4 bytes per float.

    >>> a = book_example()                      # the slide's example: 96 filters of 11×11×3
    >>> a.per_filter, a.parameters, a.parameter_bytes, a.output_shape, a.output_bytes
    (364, 34944, 139776, (96, 55, 55), 1161600)
    >>> memory_column([9216, 12800, 400])       # one unit for a whole column
    ('KB', ['9.0', '12.5', '0.4'])

:class:`LayerArithmetic` holds what the figure computes for one layer from its configuration and
output shape; the parameters scene builds one from a recorded layer and shows :func:`book_example`
beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

__all__ = [
    "BOOK_EXAMPLE",
    "BYTES_PER_FLOAT",
    "LayerArithmetic",
    "ARITHMETIC_ROWS",
    "arithmetic_cells",
    "book_example",
    "bytes_text",
    "conv_output_size",
    "memory_column",
    "memory_unit",
]

BYTES_PER_FLOAT = 4
#: the slide's example (AlexNet's first layer): 96 filters of 11×11 over 3 channels, stride 4, on a 227×227 image
BOOK_EXAMPLE = {"kernel": 11, "in_channels": 3, "filters": 96, "stride": 4, "padding": 0, "image": 227}
#: memory units, 1 KB = 1,024 bytes
UNITS = (("B", 1), ("KB", 1024), ("MB", 1024**2), ("GB", 1024**3))


@dataclass(frozen=True)
class LayerArithmetic:
    """What figure 11 computes for one layer, from its configuration and its output shape."""

    name: str
    type: str
    filter_shape: tuple[int, ...]  # (kh, kw, in/groups) for a conv, (in_features,) for a linear layer, () otherwise
    bias: bool
    filters: int  # out_channels / out_features; 0 for layers without parameters
    output_shape: tuple[int, ...]  # without the batch axis

    @property
    def is_convolution(self) -> bool:
        """True for a convolution (its filters have a height, a width and input channels), whatever its class."""
        return len(self.filter_shape) == 3

    @property
    def weights_per_filter(self) -> int:
        return prod(self.filter_shape) if self.filters else 0

    @property
    def per_filter(self) -> int:
        """Weights of one filter plus its bias (an 11×11×3 filter: 363 + 1 = 364)."""
        return self.weights_per_filter + int(self.bias and self.filters > 0)

    @property
    def parameters(self) -> int:
        return self.filters * self.per_filter

    @property
    def parameter_bytes(self) -> int:
        return self.parameters * BYTES_PER_FLOAT

    @property
    def output_values(self) -> int:
        return prod(self.output_shape)

    @property
    def output_bytes(self) -> int:
        """Feature-map memory of one image's output at 4 bytes per float."""
        return self.output_values * BYTES_PER_FLOAT

    @property
    def multiply_adds(self) -> int:
        """Multiply-adds of one image: every output value needs one filter's weights."""
        return self.output_values * self.weights_per_filter if self.filters else 0


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """The side of a convolution's output: ⌊(size + 2·padding − kernel) / stride⌋ + 1.

    >>> conv_output_size(227, 11, 4), conv_output_size(28, 5)
    (55, 24)
    """
    if kernel > size + 2 * padding:
        raise ValueError(f"a {kernel}×{kernel} kernel does not fit a {size}×{size} input with padding {padding}")
    return (size + 2 * padding - kernel) // stride + 1


def book_example() -> LayerArithmetic:
    """The slide's layer (:data:`BOOK_EXAMPLE`): 11×11×3 filters with bias, 96 of them, output 96×55×55."""
    e = BOOK_EXAMPLE
    side = conv_output_size(e["image"], e["kernel"], e["stride"], e["padding"])
    return LayerArithmetic(
        "AlexNet conv1", "Conv2d", (e["kernel"], e["kernel"], e["in_channels"]), True, e["filters"], (e["filters"], side, side)
    )


#: the rows of :func:`arithmetic_cells`, in order
ARITHMETIC_ROWS = ("filter", "parameters", "parameter_bytes", "output", "output_bytes")


def arithmetic_cells(a: LayerArithmetic) -> dict[str, str]:
    """The slide's arithmetic for layer ``a`` as short cells, memory in bytes (one row per :data:`ARITHMETIC_ROWS`).

    >>> cells = arithmetic_cells(book_example())
    >>> cells["filter"], cells["parameters"], cells["parameter_bytes"]
    ('11×11×3 + 1 = 364', '96 × 364 = 34,944', '34,944 × 4 B = 139,776 B')
    >>> cells["output"], cells["output_bytes"]
    ('96×55×55 = 290,400', '290,400 × 4 B = 1,161,600 B')
    """
    shape = "×".join(map(str, a.filter_shape)) if a.filters else "–"
    bias = " + 1" if a.bias and a.filters else ""
    return {
        "filter": f"{shape}{bias} = {a.per_filter:,}" if a.filters else "0",
        "parameters": f"{a.filters} × {a.per_filter:,} = {a.parameters:,}",
        "parameter_bytes": f"{a.parameters:,} × {BYTES_PER_FLOAT} B = {a.parameter_bytes:,} B",
        "output": f"{'×'.join(map(str, a.output_shape))} = {a.output_values:,}",
        "output_bytes": f"{a.output_values:,} × {BYTES_PER_FLOAT} B = {a.output_bytes:,} B",
    }


def memory_unit(counts: list[int]) -> tuple[str, int]:
    """The unit a column of byte counts is written in: the largest unit its biggest value reaches 1 of.

    >>> memory_unit([1664, 400]), memory_unit([5 * 1024**2, 10]), memory_unit([0])
    (('KB', 1024), ('MB', 1048576), ('B', 1))
    """
    largest = max(counts, default=0)
    return next(((name, size) for name, size in reversed(UNITS) if largest >= size), UNITS[0])


def memory_column(counts: list[int]) -> tuple[str, list[str]]:
    """A column of byte counts in one unit (:func:`memory_unit`): whole bytes, else one decimal
    (two significant digits for what one decimal would show as 0).

    >>> memory_column([400, 1664, 40, 0])
    ('KB', ['0.4', '1.6', '0.039', '0'])
    >>> memory_column([400, 64])
    ('B', ['400', '64'])
    """
    unit, size = memory_unit(counts)
    if size == 1:
        return unit, [f"{count:,}" for count in counts]
    return unit, [_decimal(count / size) for count in counts]


def bytes_text(count: int) -> str:
    """One byte count on its own: "1,664 B", "36.0 KB", "5.0 MB" (1 KB = 1,024 bytes).

    >>> bytes_text(1664), bytes_text(36864), bytes_text(5 * 1024 * 1024)
    ('1,664 B', '36.0 KB', '5.0 MB')
    """
    if count < 10 * 1024:
        return f"{count:,} B"
    unit, [number] = memory_column([count])
    return f"{number} {unit}"


def _decimal(value: float) -> str:
    if value == 0:
        return "0"
    return f"{value:,.1f}" if value >= 0.05 else f"{value:.2g}"
