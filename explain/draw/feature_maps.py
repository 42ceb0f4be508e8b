"""Feature maps on screen: a map as a pixel image, a grid of channels, a grid of numbers.

    >>> import numpy as np
    >>> from explain.draw.feature_maps import FeatureMap, FeatureMapGrid, NumberGrid, format_shape
    >>> fmap = FeatureMap(np.random.rand(24, 24), height=1.5)     # white → blue, nearest-neighbour
    >>> grid = FeatureMapGrid(np.random.randn(16, 24, 24), channels=range(8), columns=4)
    >>> grid.channels[-1], grid.values.shape
    (7, (8, 24, 24))
    >>> NumberGrid([[0.1, -0.5], [0.3, 0.9]]).values.shape       # a small patch with its numbers
    (2, 2)
    >>> format_shape((16, 24, 24))
    '16×24×24'

Colours follow :func:`explain.draw.theme.value_color`: a map with negative values uses a diverging
scale symmetric around 0 (red ← white → blue), a non-negative map a sequential one (white → blue),
so a :class:`~explain.draw.strip.ScaleBar` of the same ``scale`` is its legend. A 3-channel map
(an RGB input picture) is drawn in its own colours. Every value drawn is kept on the object
(``values``) so tests can compare the screen with the trace.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from manim import (
    DOWN,
    LEFT,
    RESAMPLING_ALGORITHMS,
    RIGHT,
    UP,
    Group,
    ImageMobject,
    Rectangle,
    Square,
    Text,
    VGroup,
)

from explain.draw import theme
from explain.draw.reading import mark
from explain.draw.strip import format_value

__all__ = [
    "channels_label",
    "common_exponent",
    "decimals_for",
    "exponent_text",
    "FeatureMap",
    "FeatureMapGrid",
    "format_shape",
    "map_rgba",
    "map_scale",
    "MOSAIC_TILE_PIXELS",
    "nice_ceiling",
    "NOT_COMPUTED",
    "NumberGrid",
    "PADDING_FILL",
    "picture_rgba",
    "Scale",
]

Scale = str | tuple[float, float]
#: a grid's maps are enlarged (by a whole factor) to at least this many pixels a side in its mosaic
MOSAIC_TILE_PIXELS = 48
#: RGBA of pixels not computed yet (see :meth:`FeatureMap.reveal`)
NOT_COMPUTED = np.array([238, 238, 238, 255], dtype=np.uint8)
#: fill of a number-grid cell that lies on padding
PADDING_FILL = "#DDDDDD"


def format_shape(shape: Sequence[int]) -> str:
    """A tensor shape as the book writes it: "16×24×24" (a leading batch axis is the caller's to drop).

    >>> format_shape([1, 28, 28]), format_shape((100,))
    ('1×28×28', '100')
    """
    return "×".join(str(int(size)) for size in shape)


def channels_label(channels: Sequence[int], total: int, lang: str = "en") -> str:
    """Which channels are shown: "channels 0–7 of 16", "all 16 channels", "channels 0, 3, 5 of 16".

    >>> channels_label(range(8), 16), channels_label(range(16), 16), channels_label([0, 3, 5], 16, "ko")
    ('channels 0–7 of 16', 'all 16 channels', '채널 16개 중 0, 3, 5번')
    """
    channels = [int(c) for c in channels]
    if channels == list(range(total)):
        return f"채널 {total}개 전체" if lang == "ko" else f"all {total} channels"
    contiguous = len(channels) > 2 and channels == list(range(channels[0], channels[-1] + 1))
    which = f"{channels[0]}–{channels[-1]}" if contiguous else ", ".join(map(str, channels))
    return f"채널 {total}개 중 {which}번" if lang == "ko" else f"channels {which} of {total}"


def nice_ceiling(value: float) -> float:
    """``value`` rounded up to two significant digits, so a scale's end reads "0.34", not "0.33963".

    >>> nice_ceiling(0.33963), nice_ceiling(3.2572), nice_ceiling(2.0), nice_ceiling(0.0)
    (0.34, 3.3, 2.0, 0.0)
    """
    if value <= 0:
        return 0.0
    step = 10.0 ** (np.floor(np.log10(value)) - 1)
    steps = np.ceil(value / step - 1e-9)  # 0.34 stays 0.34 despite float noise in 0.34 / 0.01
    nice = float(f"{steps * step:.3g}")  # a clean decimal: 3.3, not 3.3000000000000003
    return nice if nice >= value else float(f"{(steps + 1) * step:.3g}")


def map_scale(values: np.ndarray, kind: str = "auto") -> tuple[float, float]:
    """The colour range of a map: (−m, m) if it has negative values ("diverging"), else (0, m).

    ``m`` is the largest magnitude rounded up by :func:`nice_ceiling` (1 for an all-zero map).

    >>> map_scale(np.array([-2.0, 1.0])), map_scale(np.array([0.0, 0.33963])), map_scale(np.zeros(3))
    ((-2.0, 2.0), (0.0, 0.34), (0.0, 1.0))
    """
    values = np.asarray(values, dtype=np.float64)
    if kind not in ("auto", "diverging", "sequential"):
        raise ValueError(f"kind must be 'auto', 'diverging' or 'sequential', got {kind!r}")
    largest = nice_ceiling(float(np.abs(values).max())) if values.size else 0.0
    largest = largest if largest > 0 else 1.0
    if kind == "diverging" or (kind == "auto" and values.size and values.min() < 0):
        return (-largest, largest)
    return (0.0, largest)


def map_rgba(values: np.ndarray, scale: Scale) -> np.ndarray:
    """Pixels ([H, W, 4] uint8) of a 2-D map on a scale: the vectorised :func:`theme.value_color`.

    >>> map_rgba(np.array([[0.0, 1.0]]), "sigmoid")[0, :, :3].tolist()
    [[255, 255, 255], [31, 95, 168]]
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"a feature map is 2-D (H×W), got shape {values.shape}")
    low, high = theme.SCALES[scale] if isinstance(scale, str) else scale
    if high <= low:
        high = low + 1e-12
    clipped = np.clip(values, low, high)[..., None]
    white, positive, negative = (np.array(c.to_rgb()) for c in (theme.ZERO, theme.POSITIVE, theme.NEGATIVE))
    if low < 0 < high:
        rgb = np.where(
            clipped < 0,
            white + (negative - white) * (clipped / low),
            white + (positive - white) * (clipped / high),
        )
    else:
        rgb = white + (positive - white) * ((clipped - low) / (high - low))
    rgba = np.concatenate([rgb, np.ones_like(clipped)], axis=-1)
    return np.round(rgba * 255).astype(np.uint8)


def picture_rgba(values: np.ndarray) -> np.ndarray:
    """Pixels of a 3×H×W picture (e.g. a normalised CIFAR input), stretched to its own min…max."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 3 or values.shape[0] != 3:
        raise ValueError(f"a picture is 3×H×W, got shape {values.shape}")
    low, high = values.min(), values.max()
    rgb = (values - low) / (high - low if high > low else 1.0)
    rgba = np.concatenate([np.moveaxis(rgb, 0, -1), np.ones(values.shape[1:] + (1,))], axis=-1)
    return np.round(rgba * 255).astype(np.uint8)


class FeatureMap(Group):
    """One map (H×W) as a pixel image with a thin border; a 3×H×W map is drawn as an RGB picture.

    >>> m = FeatureMap(np.arange(6.0).reshape(2, 3), height=1.0)
    >>> m.scale_range, round(float(m.width), 2)
    ((0.0, 5.0), 1.5)

    ``scale`` is "sigmoid", "tanh", a (low, high) pair, or None for :func:`map_scale` of the values.
    Pixels stay square and sharp (nearest-neighbour) at every size.
    """

    def __init__(self, values, *, height: float = 1.0, scale: Scale | None = None, border: bool = True):
        super().__init__()
        self.values = np.asarray(values, dtype=np.float64)
        if self.values.ndim == 3 and self.values.shape[0] == 1:
            self.values = self.values[0]
        if self.values.ndim == 3:
            self.scale_range = (float(self.values.min()), float(self.values.max()))
            pixels = picture_rgba(self.values)
        else:
            self.scale_range = map_scale(self.values) if scale is None else _as_range(scale)
            pixels = map_rgba(self.values, self.scale_range)
        self.pixels = pixels
        self.image = ImageMobject(pixels)
        self.image.set_resampling_algorithm(RESAMPLING_ALGORITHMS["nearest"])
        self.image.height = height
        self.add(self.image)
        self.border = Rectangle(width=self.image.width, height=height, stroke_color=theme.MUTED, stroke_width=1.5)
        self.border.move_to(self.image)
        if border:
            self.add(self.border)

    def reveal(self, count: int | None = None, *, mask: np.ndarray | None = None) -> None:
        """Show the first ``count`` pixels in reading order (or where ``mask`` is True); the rest are pale.

        >>> m = FeatureMap(np.ones((2, 2))); m.reveal(1)
        >>> m.image.pixel_array[:, :, 0].tolist()
        [[31, 238], [238, 238]]
        >>> m.reveal(mask=np.array([[False, True], [False, True]])); m.image.pixel_array[:, :, 0].tolist()
        [[238, 31], [238, 31]]

        Pale pixels read as "not computed yet" while a scene fills the map.
        """
        h, w = self.values.shape[-2:]
        shown = (np.arange(h * w) < count).reshape(h, w) if mask is None else np.asarray(mask, dtype=bool)
        self.image.pixel_array[:] = np.where(shown[..., None], self.pixels, NOT_COMPUTED)

    def pixel_rect(self, row: int, col: int, rows: int = 1, cols: int = 1, *, color=theme.HIGHLIGHT) -> Rectangle:
        """An outline over pixels [row:row+rows, col:col+cols] of this map (e.g. a kernel window)."""
        h, w = self.values.shape[-2:]
        size = self.image.height / h
        rect = Rectangle(width=cols * size, height=rows * size, stroke_color=color, stroke_width=3)
        top_left = self.image.get_corner(UP + LEFT)
        return rect.move_to(top_left + RIGHT * (col + cols / 2) * size + DOWN * (row + rows / 2) * size)


class FeatureMapGrid(Group):
    """Chosen channels of a C×H×W tensor in rows, one shared colour scale, labelled with what is shown.

    >>> g = FeatureMapGrid(np.random.rand(32, 20, 20), channels=[0, 1, 2, 3], columns=2, map_height=0.6)
    >>> len(g.maps), g.channels, g.scale_range[0]
    (4, [0, 1, 2, 3], 0.0)

    The pixels of all shown maps are one image (``mosaic``): Manim composites every image over the
    whole frame, so one image per grid draws many times faster than one per map. ``maps`` holds
    one bordered outline per shown channel, in reading order, where that map sits.
    ``channel_label`` ("channels 0–3 of 32", below) and ``shape_label`` ("32×20×20", above; left
    out with ``show_shape=False``) are separate members so a scene can move them; ``lang`` picks
    English or Korean.
    """

    def __init__(
        self,
        maps,
        *,
        channels: Iterable[int] | None = None,
        columns: int = 8,
        map_height: float = 0.5,
        gap: float = 0.06,
        scale: Scale | None = None,
        lang: str = "en",
        label_size: float = 18,
        show_shape: bool = True,
    ):
        super().__init__()
        self.tensor = np.asarray(maps, dtype=np.float64)
        if self.tensor.ndim == 4 and self.tensor.shape[0] == 1:
            self.tensor = self.tensor[0]
        if self.tensor.ndim != 3:
            raise ValueError(f"a grid of feature maps needs C×H×W (or 1×C×H×W), got shape {self.tensor.shape}")
        total = self.tensor.shape[0]
        self.channels = list(range(total)) if channels is None else [int(c) for c in channels]
        bad = [c for c in self.channels if not 0 <= c < total]
        if bad or not self.channels:
            raise ValueError(f"channels must be chosen among 0–{total - 1}, got {self.channels}")
        self.scale_range = map_scale(self.tensor[self.channels]) if scale is None else _as_range(scale)
        self.mosaic, self.maps = self._mosaic(min(columns, len(self.channels)), map_height, gap)
        self.add(self.mosaic, self.maps)
        self.shape_label = VGroup()
        if show_shape:
            self.shape_label = Text(format_shape(self.tensor.shape), font=theme.MONO_FONT, font_size=label_size, color=theme.INK)
            self.shape_label.next_to(self.maps, UP, buff=0.1)
        self.channel_label = Text(
            channels_label(self.channels, total, lang), font=theme.FONT, font_size=label_size, color=theme.MUTED
        )
        self.channel_label.next_to(self.maps, DOWN, buff=0.08)
        self.add(self.shape_label, self.channel_label)

    @property
    def values(self) -> np.ndarray:
        """The shown maps, [len(channels), H, W]."""
        return self.tensor[self.channels]

    def _mosaic(self, columns: int, map_height: float, gap: float) -> tuple[ImageMobject, VGroup]:
        """The shown maps as one image, tiles enlarged by a whole factor so the gaps are whole pixels."""
        height, width = self.tensor.shape[1:]
        factor = max(1, int(np.ceil(MOSAIC_TILE_PIXELS / max(height, width))))
        tile_h, tile_w = height * factor, width * factor
        gap_pixels = max(1, round(gap / map_height * tile_h))
        rows = -(-len(self.channels) // columns)
        canvas = np.zeros((rows * tile_h + (rows - 1) * gap_pixels, columns * tile_w + (columns - 1) * gap_pixels, 4), np.uint8)
        corners = []
        for index, channel in enumerate(self.channels):
            top, left = (index // columns) * (tile_h + gap_pixels), (index % columns) * (tile_w + gap_pixels)
            tile = map_rgba(self.tensor[channel], self.scale_range).repeat(factor, axis=0).repeat(factor, axis=1)
            canvas[top : top + tile_h, left : left + tile_w] = tile
            corners.append((top, left))
        mosaic = ImageMobject(canvas)
        mosaic.set_resampling_algorithm(RESAMPLING_ALGORITHMS["nearest"])
        unit = map_height / tile_h  # scene units per mosaic pixel
        mosaic.height = canvas.shape[0] * unit
        origin = mosaic.get_corner(UP + LEFT)
        borders = VGroup(
            *[
                Rectangle(width=tile_w * unit, height=tile_h * unit, stroke_color=theme.MUTED, stroke_width=1.5).move_to(
                    origin + RIGHT * (left + tile_w / 2) * unit + DOWN * (top + tile_h / 2) * unit
                )
                for top, left in corners
            ]
        )
        return mosaic, borders


def decimals_for(values: np.ndarray, most: int = 4) -> int:
    """Decimals that give the largest magnitude two significant digits (at least 2, at most ``most``).

    >>> decimals_for(np.array([0.5, -0.2])), decimals_for(np.array([0.085])), decimals_for(np.zeros(2))
    (2, 3, 2)
    """
    largest = float(np.abs(values).max()) if np.size(values) else 0.0
    if largest == 0:
        return 2
    return int(min(most, max(2, 1 - np.floor(np.log10(largest)))))


def common_exponent(values: np.ndarray) -> int:
    """The power of ten that writes the largest magnitude as a two-digit whole number (10 to 99).

    >>> common_exponent(np.array([-0.060, 0.082])), common_exponent(np.array([0.66, 0.99])), common_exponent(np.array([0.0996]))
    (-3, -2, -2)
    """
    largest = float(np.abs(values).max()) if np.size(values) else 0.0
    if largest == 0:
        return 0
    exponent = int(np.floor(np.log10(largest))) - 1
    return exponent + 1 if round(largest / 10.0**exponent) >= 100 else exponent


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def exponent_text(exponent: int) -> str:
    """ "×10⁻³": what the whole numbers of a grid drawn with ``exponent`` are multiplied by.

    >>> exponent_text(-3), exponent_text(2)
    ('×10⁻³', '×10²')
    """
    return "×10" + str(exponent).translate(_SUPERSCRIPTS)


class NumberGrid(VGroup):
    """A small 2-D patch as coloured squares with their numbers (a kernel, a window of an input).

    ``digits`` (decimals) defaults to :func:`decimals_for` the values; ``texts`` keeps the numbers
    as written on screen. With ``exponent`` (e.g. :func:`common_exponent` of the values) each
    number is written as a whole number of 10^exponent ("-60" for -0.060 at -3): a large kernel's
    small cells then still hold numbers a lecture hall can read, and the grid's label says the
    power once (:func:`exponent_text`).

    >>> g = NumberGrid([[1.0, -2.0], [0.5, 0.0]], cell=0.5)
    >>> bool(g.cell(1, 0).get_y() < g.cell(0, 0).get_y()), g.scale_range
    (True, (-2.0, 2.0))
    """

    def __init__(
        self,
        values,
        *,
        cell: float = 0.42,
        scale: Scale | None = None,
        digits: int | None = None,
        show_values: bool = True,
        padded: np.ndarray | None = None,
        exponent: int | None = None,
    ):
        super().__init__()
        self.values = np.asarray(values, dtype=np.float64)
        if self.values.ndim != 2:
            raise ValueError(f"a number grid is 2-D, got shape {self.values.shape}")
        #: cells that lie on padding outside the map: grey, their value (0, or −∞ for a max-pool) in grey ink
        self.padded = np.zeros(self.values.shape, dtype=bool) if padded is None else np.asarray(padded, dtype=bool)
        real = self.values[~self.padded]
        self.scale_range = map_scale(real if real.size else np.zeros(1)) if scale is None else _as_range(scale)
        self.cell_size = cell
        rows, cols = self.values.shape
        self.cells = VGroup(
            *[
                Square(side_length=cell, stroke_color=theme.MUTED, stroke_width=1)
                .set_fill(PADDING_FILL if self.padded[r, c] else theme.value_color(self.values[r, c], self.scale_range), opacity=1)
                .shift(RIGHT * cell * c + DOWN * cell * r)
                for r in range(rows)
                for c in range(cols)
            ]
        )
        self.add(self.cells)
        digits = decimals_for(real if real.size else np.zeros(1)) if digits is None else digits
        #: the numbers as written on screen, row by row
        self.exponent = exponent
        if exponent is not None:
            self.texts = [_whole_text(v, exponent) for v in self.values.flat] if show_values else []
        else:
            self.texts = [_cell_text(v, digits) for v in self.values.flat] if show_values else []
        self.numbers = VGroup(*self._number_glyphs())
        if show_values:
            fit = min(1.0, min(cell * 0.84 / number.width for number in self.numbers))
            for number, square, value, pad in zip(self.numbers, self.cells, self.values.flat, self.padded.flat):
                number.scale(fit).move_to(square).set_color(theme.MUTED if pad else self._ink(value))
            self.add(self.numbers)

    def cell(self, row: int, col: int) -> Square:
        """The square at (row, col)."""
        return self.cells[row * self.values.shape[1] + col]

    def _number_glyphs(self) -> list[VGroup]:
        """One glyph group per number, cut from a single Text (one Pango layout instead of one per cell)."""
        if not self.texts:
            return []
        line = Text(" ".join(self.texts), font=theme.MONO_FONT, font_size=self.cell_size * 40)
        glyphs = line.submobjects
        if len(glyphs) != sum(len(text) for text in self.texts):  # a font that merges glyphs: set each alone
            return [Text(text, font=theme.MONO_FONT, font_size=self.cell_size * 40) for text in self.texts]
        groups, start = [], 0
        for text in self.texts:
            groups.append(mark(VGroup(*glyphs[start : start + len(text)]), text))
            start += len(text)
        return groups

    def _ink(self, value: float):
        low, high = self.scale_range
        return theme.BACKGROUND if abs(value) > 0.6 * max(abs(low), abs(high)) else theme.INK


def _whole_text(value: float, exponent: int) -> str:
    """A cell's number as a whole number of 10^exponent; −∞ (a max-pool's padding) as "−∞".

    >>> _whole_text(-0.0604, -3), _whole_text(-0.0004, -3), _whole_text(0.66, -2)
    ('-60', '0', '66')
    """
    if not np.isfinite(value):
        return "−∞" if value < 0 else "∞"
    return str(int(round(value / 10.0**exponent)) + 0)


def _cell_text(value: float, digits: int) -> str:
    """A cell's number; −∞ (a max-pool's padding) as "−∞".

    >>> _cell_text(0.1234, 2), _cell_text(-np.inf, 2)
    ('0.12', '−∞')
    """
    return format_value(value, digits) if np.isfinite(value) else ("−∞" if value < 0 else "∞")


def _as_range(scale: Scale) -> tuple[float, float]:
    low, high = theme.SCALES[scale] if isinstance(scale, str) else scale
    return (float(low), float(high))
