"""The value colours shared by scenes (explain.draw.theme) and plots (explain.plot), without manim.

    >>> from explain.palette import POSITIVE, SCALES
    >>> POSITIVE, SCALES["tanh"]
    ('#1F5FA8', (-1.0, 1.0))
"""

__all__ = ["NEGATIVE", "POSITIVE", "SCALES", "ZERO"]

NEGATIVE = "#B03A2E"  # −1 on a tanh scale
ZERO = "#FFFFFF"
POSITIVE = "#1F5FA8"  # +1 on a tanh scale, 1 on a sigmoid scale

#: named value scales: sigmoid gates 0 → 1, tanh values −1 → 1
SCALES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}
