"""Reusable Manim pieces (imports manim: never imported by ``import explain``)."""
