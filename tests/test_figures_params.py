"""explain.figures.params: the slide's example and one memory unit per column, without manim."""

from __future__ import annotations

import doctest

import pytest
import torch

from explain.figures import params
from explain.figures.params import arithmetic_cells, book_example, bytes_text, conv_output_size, memory_column


def test_the_book_example_is_alexnets_first_layer_as_torch_builds_it():
    conv = torch.nn.Conv2d(3, 96, 11, stride=4)
    a = book_example()
    assert (a.weights_per_filter, a.per_filter, a.filters, a.parameters) == (363, 364, 96, 34_944)
    assert a.parameters == sum(p.numel() for p in conv.parameters())
    assert a.output_shape == tuple(conv(torch.zeros(1, 3, 227, 227)).shape[1:]) == (96, 55, 55)
    assert a.parameter_bytes == 34_944 * 4 and a.output_bytes == 96 * 55 * 55 * 4
    assert arithmetic_cells(a)["parameters"] == "96 × 364 = 34,944"


def test_a_memory_column_has_one_unit():
    unit, cells = memory_column([9216, 12800, 1664, 40])
    assert unit == "KB" and cells == ["9.0", "12.5", "1.6", "0.039"]
    unit, cells = memory_column([5 * 1024**2, 1024])
    assert unit == "MB" and cells == ["5.0", "0.00098"]
    assert memory_column([]) == ("B", [])


def test_bytes_text_and_output_sizes():
    assert [bytes_text(n) for n in (4040, 51_264 * 4, 3 * 1024**3)] == ["4,040 B", "200.2 KB", "3.0 GB"]
    assert conv_output_size(32, 3, padding=1) == 32
    with pytest.raises(ValueError, match="11×11 kernel does not fit a 5×5 input"):
        conv_output_size(5, 11)


def test_docstring_examples_hold():
    result = doctest.testmod(params)
    assert result.attempted > 0 and result.failed == 0
