"""Ten classes of coloured shapes on cluttered backgrounds, generated from a seed (numpy, vectorised).

    >>> from explain.models import shapes
    >>> images, labels = shapes.generate(20, size=32, seed=1)
    >>> images.shape, images.dtype, sorted(labels.tolist()) == sorted(list(range(10)) * 2)   # balanced
    ((20, 3, 32, 32), dtype('uint8'), True)
    >>> shapes.CLASSES[5], shapes.CLASSES_KO[5]
    ('ring', '고리')

The chapter-5 CNNs are trained on this set: the book uses CIFAR-10, which cannot be downloaded
here. Every image has a random background colour with a smooth colour gradient, pixel noise and
clutter (thin lines and a soft blob of other colours), and one object of a random colour that
contrasts with the background, at a random position, scale (radius 18–45 % of the side) and tilt
(±15°, so that horizontal and vertical stripes, squares and diamonds stay apart). Shapes are drawn
at twice the size and averaged down, so their edges are anti-aliased. The same seed always gives
the same images; :func:`split` gives the training and held-out sets.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CLASSES", "CLASSES_KO", "generate", "split", "tensors"]

CLASSES = (
    "circle",
    "square",
    "triangle",
    "star",
    "cross",
    "ring",
    "horizontal stripes",
    "vertical stripes",
    "checkerboard",
    "diamond",
)
#: the same classes in Korean, in the same order
CLASSES_KO = ("원", "정사각형", "삼각형", "별", "십자", "고리", "가로 줄무늬", "세로 줄무늬", "바둑판 무늬", "마름모")

CHUNK = 200


def _inside(label: int, u: np.ndarray, v: np.ndarray, wave: np.ndarray) -> np.ndarray:
    """Inside-the-object mask of class ``label`` for object coordinates u (right), v (down), radius 1."""
    radius = np.sqrt(u**2 + v**2)
    box = np.maximum(np.abs(u), np.abs(v))
    if label == 0:
        return radius < 1
    if label == 1:
        return box < 0.8
    if label == 2:
        return (v < 0.7) & (np.abs(u) * 1.732 < v + 1)
    if label == 3:
        angle = np.arctan2(v, u) + np.pi / 2  # 0 straight up, so the star has a point on top
        spike = np.abs(2 * ((5 * angle / (2 * np.pi)) % 1) - 1)  # 0 at the points, 1 between them
        return radius < 1 - 0.6 * spike
    if label == 4:
        return ((np.abs(u) < 0.3) | (np.abs(v) < 0.3)) & (box < 0.95)
    if label == 5:
        return (radius < 1) & (radius > 0.55)
    if label == 6:
        return (box < 0.9) & (np.sin(wave * v) > 0)
    if label == 7:
        return (box < 0.9) & (np.sin(wave * u) > 0)
    if label == 8:
        return (box < 0.9) & (np.sin(wave * u) * np.sin(wave * v) > 0)
    return np.abs(u) + np.abs(v) < 1


def _masks(labels: np.ndarray, u: np.ndarray, v: np.ndarray, frequency: np.ndarray) -> np.ndarray:
    """Inside-the-object masks [N, S, S]: each image's class drawn at its own coordinates."""
    masks = np.zeros(u.shape, dtype=bool)
    wave = (frequency * np.pi)[:, None, None]
    for label in range(len(CLASSES)):
        chosen = labels == label
        masks[chosen] = _inside(label, u[chosen], v[chosen], wave[chosen])
    return masks


def _contrasting(background: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random colours at least 0.45 (RGB distance) away from each background colour."""
    colour = rng.random(background.shape, dtype=np.float32)
    close = np.linalg.norm(colour - background, axis=1) < 0.45
    colour[close] = (background[close] + 0.5) % 1.0
    return colour


def generate(count: int, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` images [N, 3, size, size] (uint8) and their labels [N] (0–9, balanced, shuffled)."""
    if count < 1 or size < 8:
        raise ValueError(f"need count ≥ 1 and size ≥ 8, got count={count}, size={size}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(count) % len(CLASSES))
    n, fine = count, 2 * size
    axis = ((np.arange(fine) + 0.5) / fine).astype(np.float32)
    y, x = np.meshgrid(axis, axis, indexing="ij")

    def draw(*shape: int) -> np.ndarray:
        return rng.random(shape, dtype=np.float32)

    def per_image(low: float, high: float) -> np.ndarray:
        """One value per image, shaped [N, 1, 1] to broadcast over pixels."""
        return (low + (high - low) * draw(n))[:, None, None]

    def colours() -> np.ndarray:
        return draw(n, 3)[:, :, None, None]

    # background: a colour, a smooth gradient towards a second colour, noise
    base = draw(n, 3)
    direction = per_image(0, 2 * np.pi)
    ramp = (0.5 + 0.5 * (np.cos(direction) * (x - 0.5) + np.sin(direction) * (y - 0.5)))[:, None]
    mix = per_image(0.0, 0.6)[:, None]
    image = base[:, :, None, None] * (1 - mix * ramp) + colours() * mix * ramp

    # clutter: a soft blob and two thin lines in random colours
    blob_x, blob_y, blob_size = per_image(0, 1), per_image(0, 1), per_image(0.08, 0.25)
    blob = np.exp(-((x - blob_x) ** 2 + (y - blob_y) ** 2) / (2 * blob_size**2))
    image += 0.5 * blob[:, None] * (colours() - 0.5)
    for _ in range(2):
        theta, offset = per_image(0, np.pi), per_image(-0.4, 0.4)
        distance = np.abs(np.cos(theta) * (x - 0.5) + np.sin(theta) * (y - 0.5) - offset)
        image = np.where((distance < 1.0 / size)[:, None], colours(), image)

    # the object: contrasting colour with shading, random position, scale and tilt
    scale = per_image(0.18, 0.45)
    centre_x, centre_y = scale + per_image(0, 1) * (1 - 2 * scale), scale + per_image(0, 1) * (1 - 2 * scale)
    tilt = np.deg2rad(per_image(-15, 15))
    dx, dy = (x - centre_x) / scale, (y - centre_y) / scale
    u, v = np.cos(tilt) * dx + np.sin(tilt) * dy, -np.sin(tilt) * dx + np.cos(tilt) * dy
    mask = _masks(labels, u, v, per_image(2.0, 3.5)[:, 0, 0])
    shade = 1 - 0.25 * (v + 1) / 2 * per_image(0, 1)
    colour = _contrasting(base, rng)[:, :, None, None]
    image = np.where(mask[:, None], colour * shade[:, None], image)

    image = image.reshape(n, 3, size, 2, size, 2).mean(axis=(3, 5))  # anti-aliased: 2×2 average
    image += rng.normal(0, 0.04, image.shape).astype(np.float32)
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8), labels


def tensors(count: int, size: int = 32, seed: int = 0, held_out: bool = False):
    """``count`` images as a float tensor [N, 3, size, size] in [0, 1] and labels [N]; ``held_out`` draws the test set.

    Images are drawn in whole chunks of 200 (chunk k of seed s uses seed 1000·s + k; the held-out
    set starts at chunk 500), so the first images of a set do not depend on its length.

    >>> images, labels = tensors(10, size=16, held_out=True)
    >>> tuple(images.shape), float(images.max()) <= 1.0
    ((10, 3, 16, 16), True)
    """
    import torch

    images, labels = [], []
    for chunk in range(-(-count // CHUNK)):
        chunk_images, chunk_labels = generate(CHUNK, size, seed=seed * 1000 + 500 * held_out + chunk)
        images.append(torch.from_numpy(chunk_images))
        labels.append(torch.from_numpy(chunk_labels))
    return torch.cat(images)[:count].float() / 255, torch.cat(labels)[:count].long()


def split(train: int = 6000, test: int = 1000, size: int = 32, seed: int = 0):
    """The training and held-out sets: ((images, labels), (images, labels)).

    >>> (train_x, train_y), (test_x, test_y) = split(20, 10, size=16)
    >>> tuple(train_x.shape), tuple(test_y.shape)
    ((20, 3, 16, 16), (10,))
    """
    return tensors(train, size, seed), tensors(test, size, seed, held_out=True)
