"""`vidprior enhance`: denoise, upscale and interpolate in one streaming pass, from the CLI, the API and batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic import textured_image

from vidprior import enhance
from vidprior.batch import load_jobs
from vidprior.errors import VidpriorError
from vidprior.jobs import JobState, run_job
from vidprior.methods import RunOptions
from vidprior.problems import add_gaussian_noise
from vidprior.requests import enhance_chain
from vidprior.video import probe, read_video, write_video

QUIET = RunOptions(progress=False)


def _panning(frames: int, height: int, width: int) -> np.ndarray:
    """A textured picture panning two pixels a frame: (T, H, W, 3) uint8."""
    texture = textured_image(height, width + 2 * frames, seed=3)
    return np.stack([texture[:, 2 * t: 2 * t + width] for t in range(frames)])


def test_the_chain_follows_the_settings_and_refuses_nothing_to_do():
    assert enhance_chain(2, 2, "auto") == [("denoise", 1, None), ("upscale", 2, None), ("interpolate", 2, None)]
    assert enhance_chain(3, 1, 0) == [("upscale", 3, None)]
    assert enhance_chain(1, 4, 12.0) == [("denoise", 1, 12.0), ("interpolate", 4, None)]
    with pytest.raises(VidpriorError, match="nothing to do"):
        enhance_chain(1, 1, 0)
    with pytest.raises(VidpriorError, match="scale 0"):
        enhance_chain(0, 2, None)


@pytest.mark.slow
def test_odd_sizes_come_out_scaled_and_with_the_frames_between(tmp_path: Path):
    clip = _panning(5, 29, 37)
    source = write_video(tmp_path / "odd.mkv", clip, fps=12.0)
    report = enhance(source, tmp_path / "out.mkv", scale=2, factor=3, options=QUIET)
    out = read_video(tmp_path / "out.mkv")
    assert out.frames.shape == (13, 58, 74, 3) and report.frames == 13
    assert abs(out.fps - 36.0) < 1e-6
    # the kept frames are the input's, upscaled: close to a plain resize of it (not noise, not another frame)
    import cv2

    plain = cv2.resize(clip[2], (74, 58), interpolation=cv2.INTER_CUBIC).astype(float)
    assert np.abs(out.frames[6].astype(float) - plain).mean() < 12
    assert np.abs(out.frames[6].astype(float) - cv2.resize(clip[0], (74, 58)).astype(float)).mean() > \
        np.abs(out.frames[6].astype(float) - plain).mean()


def test_short_clips(tmp_path: Path):
    two = write_video(tmp_path / "two.mkv", _panning(2, 32, 48), fps=10.0)
    report = enhance(two, tmp_path / "two-out.mkv", scale=1, factor=2, sigma=0, options=QUIET)
    assert report.frames == 3 and probe(tmp_path / "two-out.mkv").frames == 3
    one = write_video(tmp_path / "one.mkv", _panning(1, 32, 48), fps=10.0)
    with pytest.raises(VidpriorError, match="at least 2 frames"):
        enhance(one, tmp_path / "one-out.mkv", scale=2, factor=2, options=QUIET)
    assert not (tmp_path / "one-out.mkv").exists()
    enhance(one, tmp_path / "one-up.mkv", scale=2, factor=1, sigma=0, options=QUIET)
    assert read_video(tmp_path / "one-up.mkv").frames.shape == (1, 64, 96, 3)


@pytest.mark.slow
def test_the_command_line_refuses_bad_input_in_one_line(tmp_path: Path, vidprior):
    source = write_video(tmp_path / "clip.mkv", _panning(3, 32, 48), fps=10.0)
    for words, said in ((["--scale", "0"], "scale 0"), (["--sigma", "loud"], "--sigma 'loud' is not auto or a number"),
                        (["--scale", "1", "--factor", "1", "--sigma", "0"], "nothing to do"),
                        (["--method", "lanczos"], "unrecognized arguments: --method")):
        done = vidprior("enhance", str(source), "-o", str(tmp_path / "out.mkv"), *words)
        assert done.returncode == 2, done.stderr
        assert said in done.stderr and "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "out.mkv").exists()


@pytest.mark.slow
def test_the_command_line_and_batch_enhance(tmp_path: Path, vidprior):
    source = write_video(tmp_path / "clip.mkv", _panning(4, 32, 48), fps=10.0)
    noisy = write_video(tmp_path / "noisy.mkv", add_gaussian_noise(_panning(4, 32, 48), 15.0), fps=10.0)
    for clip, chain in ((source, "by upscaler in"), (noisy, "by denoiser + upscaler in")):  # auto: mild noise is
        done = vidprior("enhance", str(clip), "-o", str(tmp_path / f"{clip.stem}-cli.mkv"), "--factor", "1")
        assert done.returncode == 0, done.stderr  # left to the upscaler
        assert chain in done.stdout and probe(tmp_path / f"{clip.stem}-cli.mkv").width == 96
    (tmp_path / "jobs.yaml").write_text("jobs:\n  - {name: old, task: enhance, input: clip.mkv, scale: 2, factor: 2, "
                                        "sigma: 0, output: batch.mkv}\n")
    (job,) = load_jobs(tmp_path / "jobs.yaml")
    result = run_job(job, tmp_path / "old")
    assert result.state == JobState.DONE, result.message
    assert probe(tmp_path / "batch.mkv").frames == 7
