"""Figures: manim-free readers that turn a Trace into exactly the numbers a figure shows.

Scenes and plots read these modules; nothing here imports manim or matplotlib, so the numbers a
figure shows are tested without rendering.
"""

__all__: list[str] = []
