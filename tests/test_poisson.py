"""Gradient-domain fusion (`vidprior.poisson.fuse`): a region solved from pixel differences meets its border
without a step, and nothing outside the region changes."""

from __future__ import annotations

import doctest

import numpy as np

from vidprior import poisson


def _ramp(height: int = 20, width: int = 40) -> np.ndarray:
    """(H, W, 3) float: a horizontal intensity ramp, 50 + 3 x."""
    return np.tile(50.0 + 3.0 * np.arange(width), (height, 1))[..., None].repeat(3, axis=2)


def _box(height: int = 20, width: int = 40) -> np.ndarray:
    region = np.zeros((height, width), bool)
    region[5:15, 10:25] = True
    return region


def _differences(source: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The wishes (N, 4, C) of ``region``'s pixels: their differences to their `poisson.STEPS` neighbours in
    ``source``."""
    ys, xs = np.nonzero(region)
    return np.stack([source[ys, xs] - source[ys + dy, xs + dx] for dy, dx in poisson.STEPS], axis=1)


def test_the_docstring_ramp_example_holds():
    runner = doctest.DocTestRunner(verbose=False)
    for test in doctest.DocTestFinder().find(poisson.fuse, "fuse", globs=dict(vars(poisson))):
        runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert (failed, attempted) == (0, 4)


def test_fusing_the_gradients_of_a_brighter_copy_leaves_no_step_at_the_border():
    ramp, region = _ramp(), _box()
    brighter = ramp + 20  # the copy source: the same gradients, 20 levels off
    ys, xs = np.nonzero(region)
    image = np.where(region[..., None], 0.0, ramp)  # what the hole holds must not matter
    out = poisson.fuse(image, region, _differences(brighter, region), brighter[ys, xs], weight=1e-3)
    assert np.abs(out - ramp)[region].max() < 0.5
    copied = np.where(region[..., None], brighter, ramp)
    assert np.abs(copied - ramp)[region].min() == 20  # a plain copy keeps the whole step


def test_pixels_outside_the_region_are_unchanged():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (20, 40, 3))
    region = _box()
    n = region.sum()
    out = poisson.fuse(image, region, rng.normal(0, 5, (n, 4, 3)), rng.uniform(0, 255, (n, 3)), weight=0.3)
    assert out.dtype == np.float64 and out is not image
    assert np.array_equal(out[~region], image[~region])
    assert not np.allclose(out[region], image[region])


def test_an_empty_region_returns_a_float_copy():
    image = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    out = poisson.fuse(image, np.zeros((2, 2), bool), np.zeros((0, 4, 3)), np.zeros((0, 3)))
    assert out.dtype == np.float64 and np.array_equal(out, image)


def test_weight_zero_with_flat_wishes_is_harmonic_and_ignores_the_guess():
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, (20, 40, 3))
    region = _box()
    n = region.sum()
    zero = np.zeros((n, 4, 3))
    out = poisson.fuse(image, region, zero, np.zeros((n, 3)), weight=0)
    other = poisson.fuse(image, region, zero, np.full((n, 3), 1000.0), weight=0)
    np.testing.assert_allclose(out, other, atol=1e-8)
    ys, xs = np.nonzero(region)  # every region pixel is the mean of its four neighbours
    mean = sum(out[ys + dy, xs + dx] for dy, dx in poisson.STEPS) / 4
    np.testing.assert_allclose(out[ys, xs], mean, atol=1e-8)


def test_unusable_neighbours_do_not_leak_into_the_region():
    ramp, region = _ramp(), _box()
    ys, xs = np.nonzero(region)
    usable = np.ones_like(region)
    usable[:, 25:] = False  # the pixels right of the region are not known
    results = []
    for garbage in (0.0, 1e6):
        image = ramp.copy()
        image[:, 25:] = garbage
        results.append(poisson.fuse(image, region, _differences(ramp, region), ramp[ys, xs], usable, weight=1e-3))
    np.testing.assert_allclose(results[0][region], results[1][region], atol=1e-9)
    assert np.abs(results[0] - ramp)[region].max() < 1e-6
