"""Layer boxes for network diagrams: a box with the layer's name and, under it, its output shape.

    >>> from explain.draw.layers import LayerBox, box_kind
    >>> box = LayerBox("Conv 5×5 · 16", "16×24×24", kind="conv")
    >>> box.kind, box_kind("max_pool"), box_kind("batch_norm")
    ('conv', 'pool', 'pointwise')

Colours follow the book's figures: learned layers (conv, linear) are yellow, operations without
parameters (ReLU, pooling) pink, inputs and outputs the pale module colour.
"""

from __future__ import annotations

from manim import DOWN, RoundedRectangle, Text, VGroup

from explain.draw import theme

__all__ = ["box_kind", "LayerBox"]

_FILLS = {
    "conv": (theme.LAYER_FILL, theme.LAYER_STROKE),
    "linear": (theme.LAYER_FILL, theme.LAYER_STROKE),
    "pointwise": (theme.POINTWISE_FILL, theme.POINTWISE_STROKE),
    "pool": (theme.POINTWISE_FILL, theme.POINTWISE_STROKE),
    "data": (theme.MODULE_FILL, theme.MUTED),
}

def box_kind(kind: str) -> str:
    """The box colour of a recorded module kind (see :mod:`explain.figures.layers`).

    >>> box_kind("conv2d"), box_kind("linear"), box_kind("adaptive_avg_pool"), box_kind("module")
    ('conv', 'linear', 'pool', 'data')
    """
    if kind.startswith("conv"):
        return "conv"
    if kind == "linear":
        return "linear"
    if kind.endswith("pool"):
        return "pool"
    return "pointwise" if kind in ("batch_norm", "activation", "dropout") else "data"


class LayerBox(VGroup):
    """A rounded box labelled ``name``; ``shape`` (e.g. "16×24×24") written under it if given.

    >>> round(float(LayerBox("ReLU", kind="pointwise", width=1.0).box.width), 2)
    1.0

    ``box`` and ``name_text`` / ``shape_text`` are members, so arrows can attach to ``box``.
    """

    def __init__(self, name: str, shape: str | None = None, *, kind: str = "conv", width: float = 1.6, height: float = 0.55, size: float = 20):
        super().__init__()
        if kind not in _FILLS:
            raise ValueError(f"kind must be one of {', '.join(_FILLS)}, got {kind!r}")
        self.kind = kind
        fill, stroke = _FILLS[kind]
        self.box = RoundedRectangle(corner_radius=0.08, width=width, height=height, stroke_color=stroke, stroke_width=2)
        self.box.set_fill(fill, opacity=1)
        self.name_text = Text(name, font=theme.FONT, font_size=size, color=theme.INK)
        self.name_text.scale_to_fit_width(min(self.name_text.width, width * 0.9)).move_to(self.box)
        self.add(self.box, self.name_text)
        self.shape_text = VGroup()
        if shape is not None:
            self.shape_text = Text(shape, font=theme.MONO_FONT, font_size=size * 0.8, color=theme.MUTED)
            self.shape_text.next_to(self.box, DOWN, buff=0.08)
            self.add(self.shape_text)
