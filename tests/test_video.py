from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from vidprior.errors import VidpriorError
from vidprior.video import VideoWriter, check_output, iter_frames, probe, read_video, to_rgb, write_video


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return 10 * np.log10(255**2 / max(mse, 1e-10))


def test_mkv_round_trip_is_bit_exact_and_keeps_fps(tmp_path, clip):
    path = write_video(tmp_path / "a.mkv", clip, fps=30000 / 1001)
    back = read_video(path)
    assert np.array_equal(back.frames, clip)
    assert back.fps == pytest.approx(29.97, abs=0.01)


def test_png_folder_round_trip_is_bit_exact(tmp_path, clip):
    path = write_video(tmp_path / "frames", clip)
    assert sorted(p.name for p in path.iterdir())[:2] == ["00000.png", "00001.png"]
    assert np.array_equal(read_video(path).frames, clip)


def test_mp4_round_trip_is_close_and_keeps_fps(tmp_path, clip):
    path = write_video(tmp_path / "a.mp4", clip, fps=24.0, crf=12)
    back = read_video(path)
    assert back.frames.shape == clip.shape
    assert back.fps == pytest.approx(24.0)
    assert _psnr(back.frames, clip) > 30  # 4:2:0 chroma on a colour-noise texture limits this


def test_mp4_lower_crf_is_bigger_and_better(tmp_path, clip):
    good, bad = write_video(tmp_path / "g.mp4", clip, crf=10), write_video(tmp_path / "b.mp4", clip, crf=40)
    assert good.stat().st_size > bad.stat().st_size
    assert _psnr(read_video(good).frames, clip) > _psnr(read_video(bad).frames, clip) + 3


def test_odd_sizes_are_written_whole(tmp_path, clip):
    odd = clip[:, :47, :63]
    back = read_video(write_video(tmp_path / "odd.mp4", odd, crf=10))
    assert back.frames.shape == odd.shape
    assert _psnr(back.frames, odd) > 38  # odd sizes keep full chroma (4:4:4)



def test_range_reading(clip_file, clip):
    assert np.array_equal(read_video(clip_file, start=3, count=2).frames, clip[3:5])
    assert np.array_equal(np.stack(list(iter_frames(clip_file, start=6))), clip[6:])
    info = probe(clip_file)
    assert (info.frames, info.height, info.width, info.has_audio) == (8, 48, 64, False)


def _clip_with_audio(path: Path, frames: np.ndarray, fps: int = 25, seconds_of_audio: float = 2.0) -> Path:
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        audio = container.add_stream("aac", rate=44100)
        for f in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        container.mux(video.encode(None))
        t = np.arange(int(44100 * seconds_of_audio)) / 44100
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for i in range(0, tone.size, 1024):
            chunk = av.AudioFrame.from_ndarray(tone[None, i: i + 1024], format="fltp", layout="mono")
            chunk.sample_rate = 44100
            container.mux(audio.encode(chunk))
        container.mux(audio.encode(None))
    return path


def _audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        return sum(f.samples for f in container.decode(audio=0)) / container.streams.audio[0].rate


def test_audio_passes_through_trimmed_to_the_frames(tmp_path, clip):
    frames = np.concatenate([clip] * 6)  # 48 frames = 1.92 s at 25 fps
    source = _clip_with_audio(tmp_path / "with_audio.mp4", frames)
    assert probe(source).has_audio
    part = read_video(source, start=25, count=10)  # 0.4 s from t = 1.0 s
    out = write_video(tmp_path / "out.mp4", part)
    assert probe(out).has_audio
    assert _audio_seconds(out) == pytest.approx(0.4, abs=0.1)
    assert not probe(write_video(tmp_path / "mute.mp4", part, audio=False)).has_audio


def test_images_of_any_kind_become_rgb():
    gray = np.full((4, 5), 100, np.uint8)
    assert to_rgb(gray).shape == (4, 5, 3) and (to_rgb(gray) == 100).all()
    bgra = np.zeros((4, 5, 4), np.uint8)
    bgra[..., 2], bgra[..., 3] = 200, 255  # opaque red in BGRA
    assert tuple(to_rgb(bgra)[0, 0]) == (200, 0, 0)
    bgra[..., 3] = 0  # fully transparent -> black
    assert (to_rgb(bgra) == 0).all()
    deep = np.full((4, 5, 3), 65535, np.uint16)
    assert (to_rgb(deep) == 255).all()


def test_grayscale_and_alpha_frame_folders_are_read(tmp_path):
    folder = tmp_path / "gray"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"f{i}.png"), np.full((16, 20), 40 * i, np.uint8))
    video = read_video(folder)
    assert video.frames.shape == (3, 16, 20, 3) and video.frames[2, 0, 0, 0] == 80


def test_natural_frame_order(tmp_path):
    folder = tmp_path / "order"
    folder.mkdir()
    for i in (1, 2, 10):
        cv2.imwrite(str(folder / f"frame{i}.png"), np.full((8, 8, 3), i, np.uint8))
    assert [f[0, 0, 0] for f in iter_frames(folder)] == [1, 2, 10]


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 50])
def test_corrupt_files_give_clear_errors(tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(VidpriorError, match="bad.mp4"):
        read_video(bad)


def test_truncated_video_is_refused_or_read_partially(tmp_path, clip):
    good = write_video(tmp_path / "good.mp4", np.concatenate([clip] * 4))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(VidpriorError):
        read_video(cut)


def test_missing_and_unsupported_inputs(tmp_path):
    with pytest.raises(VidpriorError, match="no such file"):
        probe(tmp_path / "nope.mp4")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(VidpriorError, match="unsupported input"):
        probe(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VidpriorError, match="holds no frames"):
        probe(tmp_path / "empty")


def test_failed_write_leaves_nothing_behind(tmp_path, clip):
    with pytest.raises(RuntimeError), VideoWriter(tmp_path / "out.mp4") as writer:
        writer.write(clip[0])
        raise RuntimeError("method crashed")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_survives_a_failed_write(tmp_path, clip):
    target = write_video(tmp_path / "out.mkv", clip)
    before = target.read_bytes()
    with pytest.raises(RuntimeError), VideoWriter(target) as writer:
        writer.write(clip[0])
        raise RuntimeError
    assert target.read_bytes() == before


def test_output_must_not_be_the_input(clip_file):
    with pytest.raises(VidpriorError, match="overwrite the input"):
        check_output(clip_file, clip_file)


def test_unknown_output_form_is_refused(tmp_path):
    with pytest.raises(VidpriorError, match="cannot write"):
        check_output(tmp_path / "out.gif")


def test_fps_is_kept_as_a_fraction(tmp_path, clip):
    path = write_video(tmp_path / "ntsc.mp4", clip, fps=30000 / 1001)
    with av.open(str(path)) as c:
        assert Fraction(c.streams.video[0].average_rate) == Fraction(30000, 1001)


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])  # AVI keeps decode-order times: its numbering is checked
def test_a_late_start_seeks_and_gives_exactly_the_frames_of_a_sequential_decode(tmp_path, suffix):
    """Short GOPs with B-frames (presentation order != decode order): every start lands on its frame."""
    rng = np.random.default_rng(0)
    frames = []
    for t in range(40):  # flat, a moving square and a noisy corner: x264 uses B-frames here
        frame = np.full((48, 64, 3), t * 6, np.uint8)
        frame[:8, :8] = rng.integers(0, 255, (8, 8, 3))
        frame[20:28, (t * 3) % 56: (t * 3) % 56 + 8] = 255
        frames.append(frame)
    path = tmp_path / f"gop{suffix}"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.gop_size = 8
        stream.codec_context.options = {"bf": "3", "crf": "20"}
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())
    with av.open(str(path)) as container:
        sequential = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    for start in range(1, 40):
        got = np.stack(list(iter_frames(path, start, 3)))
        assert np.array_equal(got, sequential[start: start + 3]), start
