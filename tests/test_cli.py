"""The command line: task commands work, and every bad input ends in one line and exit code 2."""

import cv2
import numpy as np
import pytest

from vidprior.cli import main
from vidprior.errors import VidpriorError
from vidprior.requests import parse_duration, parse_params
from vidprior.video import write_video


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_refused(capsys, *argv, says):
    code, _, err = run(capsys, *argv)
    lines = [line for line in err.strip().splitlines() if line]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("vidprior: error:"), err
    assert says in lines[0]


def test_inpaint_from_the_command_line(tmp_path, capsys, clip_file, mask_folder):
    code, out, _ = run(capsys, "inpaint", clip_file, "--mask", mask_folder, "-o", tmp_path / "o.mp4", "-q")
    assert code == 0 and "o.mp4: 8 frames by fill" in out
    assert (tmp_path / "o.mp4").is_file()


def test_methods_lists_every_task(capsys):
    code, out, _ = run(capsys, "methods")
    for name in ("telea", "flowfill", "nlmeans", "bm3d", "flowinterp", "lanczos", "x264"):
        assert name in out


@pytest.mark.slow
def test_console_command_reports_errors_without_traceback(tmp_path, vidprior):
    proc = vidprior("denoise", tmp_path / "missing.mp4", "-o", tmp_path / "o.mp4")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"vidprior: error: {tmp_path / 'missing.mp4'}: no such file or folder"]


def test_corrupt_input(tmp_path, capsys):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00garbage" * 100)
    assert_refused(capsys, "denoise", bad, "-o", tmp_path / "o.mp4", says="cannot open as a video")
    assert not (tmp_path / "o.mp4").exists()


def test_mask_count_mismatch(tmp_path, capsys, clip, mask_folder):
    longer = write_video(tmp_path / "long.mkv", np.concatenate([clip, clip]))
    assert_refused(capsys, "inpaint", longer, "--mask", mask_folder, "-o", tmp_path / "o.mp4",
                   says="8 masks for a video of 16 frames")


def test_mask_size_mismatch(tmp_path, capsys, clip_file):
    cv2.imwrite(str(tmp_path / "m.png"), np.full((10, 40), 255, np.uint8))
    assert_refused(capsys, "inpaint", clip_file, "--mask", tmp_path / "m.png", "-o", tmp_path / "o.mp4",
                   says="aspect ratio")


def test_empty_and_full_masks(tmp_path, capsys, clip_file):
    cv2.imwrite(str(tmp_path / "black.png"), np.zeros((48, 64), np.uint8))
    cv2.imwrite(str(tmp_path / "white.png"), np.full((48, 64), 255, np.uint8))
    assert_refused(capsys, "inpaint", clip_file, "--mask", tmp_path / "black.png", "-o", tmp_path / "o.mp4",
                   says="empty")
    assert_refused(capsys, "inpaint", clip_file, "--mask", tmp_path / "white.png", "-o", tmp_path / "o.mp4",
                   says="covers the whole frame")
    assert not (tmp_path / "o.mp4").exists()


def test_tiny_frames(tmp_path, capsys):
    tiny = write_video(tmp_path / "tiny.mkv", np.zeros((3, 4, 4, 3), np.uint8))
    assert_refused(capsys, "denoise", tiny, "-o", tmp_path / "o.mp4", says="too small")


@pytest.mark.parametrize("factor", ["0", "-2", "1000"])
def test_absurd_factors(tmp_path, capsys, clip_file, factor):
    assert_refused(capsys, "upscale", clip_file, "--scale", factor, "-o", tmp_path / "o.mp4", says="from 2 to 16")
    assert_refused(capsys, "interpolate", clip_file, "--factor", factor, "-o", tmp_path / "o.mp4",
                   says="from 2 to 16")


def test_output_equal_to_input(capsys, clip_file):
    assert_refused(capsys, "denoise", clip_file, "-o", clip_file, says="overwrite the input")
    assert clip_file.stat().st_size > 0


def test_other_bad_parameters(tmp_path, capsys, clip_file):
    out = tmp_path / "o.mp4"
    assert_refused(capsys, "denoise", clip_file, "-o", out, "--crf", "99", says="--crf 99")
    assert_refused(capsys, "denoise", clip_file, "-o", out, "--sigma", "-3", says="--sigma")
    assert_refused(capsys, "denoise", clip_file, "-o", out, "--start", "50", says="--start 50")
    assert_refused(capsys, "denoise", clip_file, "-o", out, "--budget", "soon", says="--budget")
    assert_refused(capsys, "denoise", clip_file, "-o", out, "--method", "telea", says="does not do denoise")
    assert_refused(capsys, "denoise", clip_file, "-o", tmp_path / "o.gif", says="cannot write")
    assert_refused(capsys, "denoise", clip_file, "-o", tmp_path / "nofolder" / "o.mp4", says="does not exist")
    assert not out.exists()


def test_grayscale_and_alpha_inputs_work(tmp_path, capsys):
    gray, rgba = tmp_path / "gray", tmp_path / "rgba"
    gray.mkdir(), rgba.mkdir()
    for i in range(3):
        cv2.imwrite(str(gray / f"{i}.png"), np.full((16, 24), 60 + i, np.uint8))
        cv2.imwrite(str(rgba / f"{i}.png"), np.full((16, 24, 4), 200, np.uint8))
    for folder in (gray, rgba):
        code, _, err = run(capsys, "upscale", folder, "--scale", "2", "-o", tmp_path / f"{folder.name}.mkv", "-q")
        assert code == 0, err


def test_argument_parsers():
    assert parse_duration("3m") == 180 and parse_duration("90") == 90 and parse_duration("1.5h") == 5400
    with pytest.raises(VidpriorError):
        parse_duration("-1s")
    assert parse_params(["iters=3", "lr=0.5", "mode=x"]) == {"iters": "3", "lr": "0.5", "mode": "x"}  # typed later
    with pytest.raises(VidpriorError):
        parse_params(["novalue"])


@pytest.mark.slow
def test_demo_removes_the_ball(tmp_path, capsys):
    from vidprior.demo import demo_clip, paint_ball
    from vidprior.metrics import psnr
    from vidprior.video import read_video

    code, out, err = run(capsys, "demo", "-o", tmp_path / "demo", "-q")
    assert code == 0, err
    for name in ("input.mkv", "mask.mkv", "result.mp4", "compare.mp4"):
        assert (tmp_path / "demo" / name).is_file()
    clean = read_video(demo_clip()).frames
    painted, hole = paint_ball(clean)
    result = read_video(tmp_path / "demo" / "result.mp4").frames
    assert psnr(result, clean, hole) > psnr(painted, clean, hole) + 10
    assert "psnr=" in out


@pytest.mark.parametrize("argv, says", [(["inpaint", "x.mp4", "-o", "y.mp4"], "required: --mask"),
                                        (["upscale", "x.mp4", "-o", "y.mp4", "--scale"], "--scale: expected one"),
                                        (["denoise", "x.mp4", "-o", "y.mp4", "--colour", "red"], "unrecognized"),
                                        (["transmogrify"], "invalid choice")])
def test_a_malformed_command_line_is_refused_in_one_line(capsys, argv, says):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and err[0].startswith("vidprior: error:") and says in err[0]
