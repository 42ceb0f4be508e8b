"""Manim-free readers: a Trace in, the exact numbers a figure shows out (tested without manim).

    >>> from explain.figures.params import book_example
    >>> book_example().parameters
    34944

Scenes (``scenes/``) and plots read these functions; ``import explain.figures`` never imports manim.
"""
