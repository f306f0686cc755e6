import numpy as np
import pytest

from vidprior.methods import METHODS, RunOptions
from vidprior.problems import Problem
from vidprior.restore import restore, windows
from vidprior.video import probe, read_video, write_video

QUIET = RunOptions(progress=False)


@pytest.mark.parametrize(("total", "size", "before", "after"),
                         [(10, 3, 0, 0), (10, 4, 2, 1), (5, 0, 1, 1), (7, 7, 3, 3)])
def test_windows_tile_the_stream_with_context(total, size, before, after):
    seen = []
    for lo, a, b, items in windows(iter(range(total)), total, size, before, after):
        assert lo == max(0, a - before)
        assert list(items) == list(range(lo, min(total, b + after)))
        assert len(items) <= (size or total) + before + after
        seen += list(range(a, b))
    assert seen == list(range(total))


def test_inpaint_keeps_known_pixels_bit_exact(tmp_path, clip_file, clip, mask_folder, hole):
    report = restore("inpaint", clip_file, tmp_path / "out.mkv", method="telea", mask=mask_folder, options=QUIET)
    out = read_video(report.output).frames
    assert out.shape == clip.shape
    assert np.array_equal(out[~hole], clip[~hole])
    assert report.frames == len(clip) and report.seconds > 0


def test_windowed_run_equals_one_window_for_a_per_frame_method(tmp_path, clip_file, clip, mask_folder, hole):
    out = read_video(restore("inpaint", clip_file, tmp_path / "o.mkv", method="telea", mask=mask_folder,
                             options=QUIET).output).frames
    whole = Problem("inpaint", clip, hole)
    assert np.array_equal(out, whole.finalize(METHODS["telea"].run(whole, QUIET)))


def test_interpolation_streams_windows_and_keeps_originals(tmp_path, clip_file, clip):
    report = restore("interpolate", clip_file, tmp_path / "o.mkv", method="blend", factor=3, options=QUIET)
    out = read_video(report.output)
    assert len(out) == (len(clip) - 1) * 3 + 1
    assert np.array_equal(out.frames[::3], clip)
    assert out.fps == pytest.approx(75.0)


def test_upscale_and_denoise_sizes(tmp_path, clip_file, clip):
    up = restore("upscale", clip_file, tmp_path / "up.mkv", method="bicubic", factor=2, options=QUIET)
    assert read_video(up.output).frames.shape == (len(clip), 96, 128, 3)
    dn = restore("denoise", clip_file, tmp_path / "dn", method="nlmeans", sigma=10, frames=3, options=QUIET)
    assert read_video(dn.output).frames.shape == (3, *clip.shape[1:])


def test_reference_gives_metrics_and_compare_video(tmp_path, clip_file, clip, mask_folder):
    report = restore("inpaint", clip_file, tmp_path / "o.mp4", method="telea", mask=mask_folder,
                     compare=tmp_path / "cmp.mp4", reference=clip_file, options=QUIET)
    assert report.metrics["psnr"] > 25 and 0 < report.metrics["ssim"] <= 1 and "psnr_hole" in report.metrics
    info = probe(tmp_path / "cmp.mp4")
    assert info.frames == len(clip) and info.width >= 2 * clip.shape[2]


def test_part_of_a_video(tmp_path, clip_file, clip):
    report = restore("denoise", clip_file, tmp_path / "o.mkv", method="nlmeans", start=2, frames=3, sigma=5,
                     options=QUIET)
    assert len(read_video(report.output)) == 3


def test_audio_survives_a_restore(tmp_path, clip):
    from test_video import _clip_with_audio

    source = _clip_with_audio(tmp_path / "a.mp4", np.concatenate([clip] * 3))
    report = restore("upscale", source, tmp_path / "up.mp4", method="bicubic", factor=2, options=QUIET)
    assert probe(report.output).has_audio


def test_frame_folder_in_video_out(tmp_path, clip):
    folder = write_video(tmp_path / "frames", clip)
    report = restore("upscale", folder, tmp_path / "x.mp4", method="lanczos", factor=2, options=QUIET)
    assert probe(report.output).frames == len(clip)
