"""Feature-map drawing pieces: colours equal the theme's scale, shown values are the given ones."""

import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("manim")

from explain.draw import feature_maps, layers, theme  # noqa: E402
from explain.draw.feature_maps import (  # noqa: E402
    FeatureMap,
    FeatureMapGrid,
    NumberGrid,
    channels_label,
    map_rgba,
    map_scale,
)
from explain.draw.strip import format_value  # noqa: E402


@pytest.mark.parametrize("module", [feature_maps, layers])
def test_docstring_examples_hold(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@given(
    st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=12),
    st.sampled_from(["tanh", "sigmoid", (-3.0, 3.0), (0.0, 2.0)]),
)
def test_pixels_are_the_theme_colours(values, scale):
    pixels = map_rgba(np.array([values]), scale)[0]
    for value, pixel in zip(values, pixels):
        expected = np.array(theme.value_color(value, scale).to_rgb()) * 255
        assert np.abs(pixel[:3].astype(float) - expected).max() <= 1.0
        assert pixel[3] == 255


@given(st.floats(1e-6, 1e6))
def test_nice_ceiling_rounds_up_by_less_than_ten_percent(value):
    assert value <= feature_maps.nice_ceiling(value) <= value * 1.1 + 1e-12


def test_map_scale_is_diverging_only_with_negative_values():
    assert map_scale(np.array([[-0.5, 2.0]])) == (-2.0, 2.0)
    assert map_scale(np.array([[0.5, 2.0]])) == (0.0, 2.0)
    assert map_scale(np.array([[0.5, 2.0]]), "diverging") == (-2.0, 2.0)
    with pytest.raises(ValueError, match="kind must be"):
        map_scale(np.zeros(2), "rainbow")


def test_grid_keeps_the_chosen_channels_and_shares_one_scale():
    tensor = np.random.default_rng(0).standard_normal((1, 16, 6, 6))
    grid = FeatureMapGrid(tensor, channels=[3, 5, 7], columns=2)
    np.testing.assert_array_equal(grid.values, tensor[0, [3, 5, 7]])
    assert len(grid.maps) == 3
    mosaic = grid.mosaic.pixel_array  # 6×6 maps enlarged 8× into 48-pixel tiles, gaps 0.06/0.5 of a tile: 6 pixels
    for index, channel in enumerate([3, 5, 7]):
        top, left = (index // 2) * 54, (index % 2) * 54
        expected = map_rgba(tensor[0, channel], grid.scale_range).repeat(8, axis=0).repeat(8, axis=1)
        np.testing.assert_array_equal(mosaic[top : top + 48, left : left + 48], expected)
    assert mosaic[:, 48:54, 3].max() == 0  # the gap is transparent
    assert grid.maps[1].get_left()[0] > grid.maps[0].get_right()[0] and grid.maps[2].get_top()[1] < grid.maps[0].get_bottom()[1]
    largest = np.abs(tensor[0, [3, 5, 7]]).max()
    assert largest <= grid.scale_range[1] <= largest * 1.1
    assert grid.shape_label.text == "16×6×6"
    with pytest.raises(ValueError, match="channels must be chosen among 0–15"):
        FeatureMapGrid(tensor, channels=[16])
    with pytest.raises(ValueError, match="C×H×W"):
        FeatureMapGrid(np.zeros((4, 4)))


def test_channel_labels_in_both_languages():
    assert channels_label(range(4, 12), 64) == "channels 4–11 of 64"
    assert channels_label([1, 2], 8) == "channels 1, 2 of 8"
    assert channels_label(range(8), 8, "ko") == "채널 8개 전체"


def test_pixel_rect_sits_over_the_named_pixels():
    fmap = FeatureMap(np.zeros((10, 20)), height=2.0)  # pixels of 0.2 units
    rect = fmap.pixel_rect(2, 5, rows=3, cols=3)
    left, top = fmap.image.get_left()[0], fmap.image.get_top()[1]
    assert rect.get_left()[0] == pytest.approx(left + 5 * 0.2)
    assert rect.get_top()[1] == pytest.approx(top - 2 * 0.2)
    assert rect.width == pytest.approx(0.6)


def test_rgb_picture_and_number_grid_show_the_given_values():
    picture = FeatureMap(np.random.default_rng(1).random((3, 8, 8)))
    assert picture.image.pixel_array.shape == (8, 8, 4)
    patch = np.array([[0.125, -1.5], [2.0, 0.0]])
    grid = NumberGrid(patch)
    assert grid.texts == [format_value(v) for v in patch.flat]
    assert [len(n) for n in grid.numbers] == [len(t) for t in grid.texts]
    assert all(n.width <= grid.cell_size for n in grid.numbers)



def test_a_feature_map_fades_with_its_border_and_comes_back_whole():
    from manim import Scene

    from explain.draw.fades import fade_out

    fmap = FeatureMap(np.ones((2, 2)))
    fade = fade_out(fmap)
    fade.begin()
    fade.interpolate(0.5)
    assert fmap.image.pixel_array[0, 0, 3] == 127
    assert fmap.border.stroke_rgbas[0, 3] == pytest.approx(0.5)
    fade.clean_up_from_scene(Scene())
    assert fmap.image.pixel_array[0, 0, 3] == 255 and fmap.border.stroke_rgbas[0, 3] == pytest.approx(1.0)
