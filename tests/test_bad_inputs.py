"""Bad inputs are refused before any work with one line; compress picks a rate a user would choose."""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from synthetic import panning_clip
from test_cli import assert_refused, run

from vidprior import video
from vidprior.compression import DEFAULT_BPP, input_figures
from vidprior.errors import VidpriorError
from vidprior.video import VideoWriter, image_size, probe, read_image, write_video


def tree(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


@pytest.fixture
def frames(tmp_path: Path, clip: np.ndarray) -> Path:
    """The panning clip as a folder of 8 PNG frames."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(clip):
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame[:, :, ::-1])
    return folder


# ----------------------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("output, compare", [
    ("note.txt/x.mp4", None),
    ("note.txt/deeper/x.mp4", None),
    ("note.txt/pngs", None),  # a folder of PNG frames
    ("ok.mp4", "note.txt/side.mp4"),
])
def test_an_output_inside_a_file_is_refused_and_nothing_is_written(tmp_path, capsys, frames, output, compare):
    (tmp_path / "note.txt").write_text("not a folder")
    before = tree(tmp_path)
    extra = ["--compare", tmp_path / compare] if compare else []
    assert_refused(capsys, "upscale", frames, "-o", tmp_path / output, "--scale", "2", "-q", *extra,
                   says="note.txt is a file, not a folder")
    assert tree(tmp_path) == before


def test_an_output_in_a_folder_that_cannot_be_written_is_refused(tmp_path, capsys, frames):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root writes anywhere: /proc takes no new files
        folder = Path("/proc")
    assert_refused(capsys, "denoise", frames, "-o", folder / "x.mkv", "-q", says="cannot write in")
    assert not (folder / "x.mkv").exists()


@pytest.mark.parametrize("name, make, says", [
    ("out.mp4", Path.mkdir, "exists and is a folder"),
    ("pngs", Path.touch, "exists and is a file, not a folder of frames"),
])
def test_an_output_of_the_other_kind_is_refused_before_work(tmp_path, capsys, frames, name, make, says):
    make(tmp_path / name)
    before = tree(tmp_path)
    assert_refused(capsys, "upscale", frames, "-o", tmp_path / name, "--scale", "2", "-q", says=says)
    assert tree(tmp_path) == before


def test_compress_output_inside_a_file_or_on_a_folder_is_refused(tmp_path, capsys, clip_file):
    (tmp_path / "note.txt").write_text("not a folder")
    (tmp_path / "old.vpr").mkdir()
    before = tree(tmp_path)
    assert_refused(capsys, "compress", clip_file, "-o", tmp_path / "note.txt" / "c.vpr", "-q", says="is a file")
    assert_refused(capsys, "compress", clip_file, "-o", tmp_path / "old.vpr", "-q", says="exists and is a folder")
    assert tree(tmp_path) == before


def test_a_commit_that_fails_leaves_no_temporary_file(tmp_path, clip):
    writer = VideoWriter(tmp_path / "out.mp4")
    (tmp_path / "out.mp4").mkdir()  # appears while the writer works
    with pytest.raises(OSError), writer:
        writer.write_all(clip)
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


# ----------------------------------------------------------------------------------------- frame folders


def test_a_frame_of_another_size_is_refused_by_probe(tmp_path, capsys, frames, clip):
    odd = frames / "005.png"
    cv2.imwrite(str(odd), cv2.resize(clip[5], (60, 40)))
    with pytest.raises(VidpriorError, match=r"005\.png: size 60x40 differs from the first frame's 64x48"):
        probe(frames)
    before = tree(tmp_path)
    assert_refused(capsys, "denoise", frames, "-o", tmp_path / "o.mkv", "--method", "nlmeans", "-q",
                   says=f"{odd}: size 60x40 differs from the first frame's 64x48")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("damage", [
    lambda data: data[: len(data) // 2],  # a copy cut short: the header is whole
    lambda data: b"\x00" * len(data),
    lambda data: b"",
])
def test_a_corrupt_frame_is_refused_by_probe(tmp_path, capsys, frames, damage):
    bad = frames / "003.png"
    bad.write_bytes(damage(bad.read_bytes()))
    with pytest.raises(VidpriorError, match=r"003\.png: not a readable image"):
        probe(frames)
    assert_refused(capsys, "denoise", frames, "-o", tmp_path / "o.mkv", "-q", says=f"{bad}: not a readable image")
    assert not (tmp_path / "o.mkv").exists()


@pytest.mark.parametrize("name, convert, params", [
    ("rgb.png", lambda f: f, []),
    ("gray.png", lambda f: f[:, :, 0], []),
    ("alpha.png", lambda f: np.dstack([f, f[:, :, :1]]), []),
    ("deep.png", lambda f: f.astype(np.uint16) * 257, []),
    ("base.jpg", lambda f: f, []),
    ("gray.jpg", lambda f: f[:, :, 0], []),
    ("progressive.jpg", lambda f: f, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
    ("plain.bmp", lambda f: f, []),
])
def test_header_sizes_match_the_decoded_images(tmp_path, monkeypatch, name, convert, params):
    path = tmp_path / name
    cv2.imwrite(str(path), convert(panning_clip(1, 37, 53)[0]), params)
    assert read_image(path).shape[:2] == (37, 53)
    monkeypatch.setattr(video, "read_image", None)  # PNG and JPEG sizes come from the header alone
    assert image_size(path) == ((37, 53) if path.suffix != ".bmp" else None)  # others are checked when read


# ----------------------------------------------------------------------------------------- compress


def test_compress_aims_at_the_rate_of_x264_and_reports_the_input(tmp_path, capsys):
    source = write_video(tmp_path / "clip.mkv", panning_clip(8, 96, 128))
    code, out, err = run(capsys, "compress", source, "-o", tmp_path / "c.vpr", "--method", "dnerv", "--param",
                         "steps=5", "-q")
    assert code == 0, err
    x264 = float(re.search(r"x264 CRF 23: \d+ bytes = ([\d.]+) bpp, PSNR [\d.]+ dB", out).group(1))
    target = float(re.search(r"target ([\d.]+) bpp", out).group(1))
    assert target == pytest.approx(min(max(x264, DEFAULT_BPP[0]), DEFAULT_BPP[1]), abs=1e-4)
    written = float(re.search(r"c\.vpr: 8 frames 128x96 in \d+ bytes = ([\d.]+) bpp", out).group(1))
    assert written < 3 * target  # the decoder's own overhead at this tiny size; 24 bpp with no target
    assert f"input {source.stat().st_size} bytes for 8 frames" in out


def test_a_frame_folder_input_counts_the_files_compressed(frames):
    info = probe(frames)
    files = sorted(frames.iterdir())[2:5]
    size = sum(f.stat().st_size for f in files)
    assert input_figures(frames, info, 2, 3).startswith(f"input {size} bytes for 3 files = ")
