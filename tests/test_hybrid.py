"""The hybrid codec (x265 base + post-filter + per-clip update) and the post-filter package."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import write_training_folder
from synthetic import blocks_clip, panning_clip
from test_cli import assert_refused, run

from vidprior import metrics
from vidprior.cli import main
from vidprior.codec import bitstream
from vidprior.demo import demo_clip
from vidprior.errors import VidpriorError
from vidprior.methods import RunOptions, hybrid
from vidprior.mp4 import X265_BASE, decode
from vidprior.nn.weights import save_network
from vidprior.postfilter import PostFilter, PostFilterConfig, load_postfilter, weights_id
from vidprior.postfilter.adaptation import ClipSample, Update, basis, fit_update, updated
from vidprior.postfilter.inference import filter_stream
from vidprior.video import read_video, write_video


@pytest.fixture
def weights(tmp_path):
    """A small post-filter with random weights (its head too, so that it changes frames)."""
    torch.manual_seed(0)
    net = PostFilter(PostFilterConfig(width=8, blocks=1))
    torch.nn.init.normal_(net.head[0].weight, 0, 0.02)
    return save_network(net, tmp_path / "pf.safetensors")


def _code(frames, weights, **params):
    """The random test network hurts every clip: its filter is kept on, so that the tests exercise it."""
    return hybrid.compress(frames, 25.0, RunOptions(progress=False, params={"weights": str(weights), "filter": "on",
                                                                            **params}))


def test_the_update_is_exactly_linear_in_its_parameters(weights):
    net = load_postfilter(weights)[0]
    frames, crf = torch.rand(2, 3, 3, 13, 18), torch.tensor([30.0, 34.0])
    u = np.random.default_rng(0).normal(0, 0.1, 2 * 8 + 12).astype(np.float32)
    with torch.no_grad():
        change = updated(net, Update.from_vector(u, 8))(frames, crf) - net(frames, crf)
        predicted = (basis(net, net.features(frames, crf), (13, 18)) * torch.from_numpy(u).view(1, -1, 1, 1, 1)).sum(1)
    assert torch.allclose(change, predicted, atol=1e-5)


def test_fitting_the_update_lowers_the_error_on_the_clip_it_saw(weights):
    clip = blocks_clip(6, 48, 64)
    decoded = decode(X265_BASE(clip, 25.0, 38))
    net = load_postfilter(weights)[0]
    sample = ClipSample(decoded, clip)
    tuned = updated(net, fit_update(net, sample, 38))
    before = np.stack(list(filter_stream(net, iter(decoded), 38)))
    after = np.stack(list(filter_stream(tuned, iter(decoded), 38)))
    assert metrics.psnr(after, clip) > metrics.psnr(before, clip) + 0.1
    assert sample.error(tuned, 38) < sample.error(net, 38)
    assert sample.error(net, 38) == pytest.approx(((before.astype(float) - clip) ** 2).mean())


def test_a_sample_of_frames_larger_than_a_chunk_is_read_a_frame_at_a_time(weights):
    clip = np.random.default_rng(0).integers(0, 255, (3, 400, 420, 3), dtype=np.uint8)  # frames over CHUNK_PIXELS
    sample = ClipSample(clip, clip)
    assert [len(stacks) for stacks, _ in sample.chunks()] == [1, 1, 1]
    assert fit_update(load_postfilter(weights)[0], sample, 30).scale.shape == (8,)


def test_round_trip_keeps_the_base_stream_bit_exact_and_decodes_the_same_twice(weights):
    clip = panning_clip(6, 48, 64)
    data = _code(clip, weights, crf=30)
    stream = hybrid.base_stream(data)
    assert stream == X265_BASE(clip, 25.0, 30)  # the encoder's own bytes, untouched
    first, fps, count = hybrid.read(data, weights)
    first = np.stack(list(first))
    again = np.stack(list(hybrid.read(data, weights)[0]))
    assert np.array_equal(first, again) and fps == 25.0 and count == 6 and first.shape == clip.shape
    base = np.stack(list(hybrid.read(data, weights, base_only=True)[0]))
    assert np.array_equal(base, decode(stream)) and not np.array_equal(first, base)


def test_the_update_costs_what_the_file_says(weights):
    clip = blocks_clip(6, 48, 64)
    with_update, without = _code(clip, weights, crf=38), _code(clip, weights, crf=38, update=False)
    assert "update" in bitstream.decode(with_update)[1] and "update" not in bitstream.decode(without)[1]
    spent = hybrid.parts(with_update)
    assert sum(spent.values()) == len(with_update)
    assert spent["update"] == len(with_update) - len(without) > 0 and hybrid.parts(without)["update"] == 0
    assert spent["base"] == len(hybrid.base_stream(without))


def test_a_target_rate_picks_the_best_file_that_fits(weights):
    clip = blocks_clip(6, 48, 64)
    at_30 = _code(clip, weights, crf=30, update=False)
    target = len(at_30) + 40  # room for CRF 30, not for its update
    data = _code(clip, weights, bpp=8 * target / clip[..., 0].size)

    def quality(file: bytes) -> float:
        return metrics.psnr(np.stack(list(hybrid.read(file, weights)[0])), clip)

    assert len(data) <= target and quality(data) >= quality(at_30)
    with pytest.raises(VidpriorError, match="below what the hybrid codec can reach"):
        _code(clip, weights, bpp=0.001)
    with pytest.raises(VidpriorError, match="not both"):
        _code(clip, weights, bpp=0.5, crf=30)


def test_a_file_of_other_weights_is_refused_but_its_base_still_plays(weights, tmp_path):
    data = _code(panning_clip(4, 48, 64), weights, crf=30)
    other = PostFilter(PostFilterConfig(width=8, blocks=1))
    assert weights_id(other) != weights_id(load_postfilter(weights)[0])
    with pytest.raises(VidpriorError, match="--base-only"):
        hybrid.read(data, save_network(other, tmp_path / "other.safetensors"))
    assert len(list(hybrid.read(data, tmp_path / "other.safetensors", base_only=True)[0])) == 4


def test_compress_decompress_and_extract_from_the_command_line(tmp_path, capsys, weights):
    clip = panning_clip(6, 48, 64)
    source = write_video(tmp_path / "clip.mkv", clip, fps=25.0)
    packed = tmp_path / "c.vpr"
    code, out, err = run(capsys, "compress", source, "-o", packed, "--param", "crf=30", "--param",
                         f"weights={weights}", "--param", "filter=on", "-q")
    assert code == 0, err
    spent = hybrid.parts(packed.read_bytes())
    assert f"x265 CRF 30 base {spent['base']} bytes" in out and f"in {packed.stat().st_size} bytes" in out
    code, out, err = run(capsys, "decompress", packed, "-o", tmp_path / "full.mkv", "--weights", weights)
    assert code == 0, err
    full = read_video(tmp_path / "full.mkv").frames
    code, out, err = run(capsys, "decompress", packed, "-o", tmp_path / "base.mkv", "--base-only")
    assert code == 0 and "base stream only" in out
    assert np.array_equal(read_video(tmp_path / "base.mkv").frames, decode(hybrid.base_stream(packed.read_bytes())))
    assert full.shape == clip.shape
    code, out, err = run(capsys, "extract", packed, "-o", tmp_path / "base.mp4")
    assert code == 0 and (tmp_path / "base.mp4").read_bytes() == hybrid.base_stream(packed.read_bytes())
    assert "64x64, the video's 64x48 padded" in out  # x265 takes no frames under 64 pixels here
    played = read_video(tmp_path / "base.mp4").frames  # any reader plays it
    assert played.shape == (6, 64, 64, 3) and np.array_equal(played[:, :48], read_video(tmp_path / "base.mkv").frames)


def test_bad_hybrid_requests_and_files_are_refused_in_one_line(tmp_path, capsys, weights, clip_file):
    packed = tmp_path / "c.vpr"
    packed.write_bytes(_code(panning_clip(4, 48, 64), weights, crf=30))
    truncated, flipped = tmp_path / "t.vpr", tmp_path / "f.vpr"
    truncated.write_bytes(packed.read_bytes()[:-50])
    damaged = bytearray(packed.read_bytes())
    damaged[len(damaged) // 2] ^= 1
    flipped.write_bytes(bytes(damaged))
    for bad in (truncated, flipped):
        assert_refused(capsys, "decompress", bad, "-o", tmp_path / "x.mkv", says="damaged or truncated")
    assert_refused(capsys, "compress", clip_file, "-o", tmp_path / "a.vpr", "--params", "5000", says="--params")
    assert_refused(capsys, "compress", clip_file, "-o", tmp_path / "a.vpr", "--bpp", "0.2", "--param", "crf=30",
                   says="not both")
    assert_refused(capsys, "compress", clip_file, "-o", tmp_path / "a.vpr", "--param", "crf=60", says="crf=60")
    with pytest.raises(SystemExit) as stopped:
        main(["compress", str(clip_file), "-o", str(tmp_path / "a.vpr"), "--method", "x265"])
    assert stopped.value.code == 2 and "choose from 'hybrid', 'dnerv'" in capsys.readouterr().err
    assert_refused(capsys, "extract", clip_file, "-o", tmp_path / "e.mp4", says="signature")
    assert_refused(capsys, "extract", packed, "-o", tmp_path / "e.mkv", says=".mp4")
    other = tmp_path / "d.vpr"
    other.write_bytes(bitstream.encode({"format": "dnerv"}, {}))
    assert_refused(capsys, "extract", other, "-o", tmp_path / "e.mp4", says="no base stream")
    assert_refused(capsys, "decompress", other, "-o", tmp_path / "x.mkv", "--base-only", says="no base stream")
    assert not any(tmp_path.glob("[axe]*.*"))


def test_the_shipped_post_filter_beats_plain_hevc_on_a_real_clip():
    clip = read_video(demo_clip()).frames[:12]  # the demo clip (bedroom, a benchmark clip: not trained on)
    net = load_postfilter()[0]
    for crf in (28, 38):
        decoded = decode(X265_BASE(clip, 25.0, crf))
        filtered = np.stack(list(filter_stream(net, iter(decoded), crf)))
        assert metrics.psnr(filtered, clip) > metrics.psnr(decoded, clip) + 0.2, crf


def test_the_encoder_turns_the_filter_off_where_it_would_hurt():
    clip = panning_clip(8, 96, 128, seed=4)  # synthetic texture, unlike any training clip: the filter loses ~0.7 dB
    data = hybrid.compress(clip, 25.0, RunOptions(progress=False, params={"crf": 38}))
    assert bitstream.decode(data)[0]["level"] is None
    assert np.array_equal(np.stack(list(hybrid.read(data)[0])), decode(hybrid.base_stream(data)))
    forced = hybrid.compress(clip, 25.0, RunOptions(progress=False, params={"crf": 38, "filter": "on"}))
    assert bitstream.decode(forced)[0]["level"] is not None


# ------------------------------------------------------------------------------------ training the post-filter


def test_coded_training_clips_come_from_the_cache_the_second_time(tmp_path, monkeypatch):
    from vidprior.postfilter.data import cache_dir, load_coded_clips

    monkeypatch.setenv("VIDPRIOR_CACHE", str(tmp_path / "cache"))
    data = write_training_folder(tmp_path / "data", frames=4, height=48, width=64)
    clips = load_coded_clips([data], crfs=(30, 40), progress=False)
    stored = sorted(cache_dir().iterdir())
    assert len(clips) == 2 and len(stored) == 4 and set(clips[0].decoded) == {30, 40}
    assert metrics.psnr(clips[0].decoded[30], clips[0].frames) > metrics.psnr(clips[0].decoded[40], clips[0].frames)
    for path in stored:  # a stored stream is read, not coded again
        path.write_bytes(X265_BASE(clips[1].frames, 25.0, 51))
    again = load_coded_clips([data], crfs=(30, 40), progress=False)
    assert sorted(cache_dir().iterdir()) == stored and np.array_equal(again[0].decoded[30], again[1].decoded[40])


def test_training_lowers_the_loss(tmp_path, monkeypatch, one_thread):
    from vidprior.fit import Schedule, fit
    from vidprior.postfilter.data import load_coded_clips
    from vidprior.postfilter.training import PostFilterTraining

    monkeypatch.setenv("VIDPRIOR_CACHE", str(tmp_path / "cache"))
    clips = load_coded_clips([write_training_folder(tmp_path / "data", frames=4, height=48, width=64, step=1)],
                             crfs=(40,), progress=False)
    torch.manual_seed(0)
    objective = PostFilterTraining(PostFilter(PostFilterConfig(width=8, blocks=1)), clips, batch=4, crop=32)
    before = objective.validate()
    assert before["psnr"] == pytest.approx(before["decoded psnr"], abs=0.01)  # untrained: the decoded frame
    fit(objective, Schedule(steps=150, lr=3e-3, warmup=10, clip_grad=1.0), progress=False)
    after = objective.validate()
    assert after["decoded psnr"] == before["decoded psnr"] and after["psnr"] > before["psnr"] + 0.3


@pytest.mark.slow
def test_train_command_writes_weights_the_codec_uses(tmp_path, monkeypatch, vidprior):
    monkeypatch.setenv("VIDPRIOR_CACHE", str(tmp_path / "cache"))
    data = write_training_folder(tmp_path / "data", frames=4, height=48, width=64)
    out = tmp_path / "pf.safetensors"
    done = vidprior("train", "postfilter", "--data", str(data), "-o", str(out), "--budget", "3s", "--width", "8",
                    "--crop", "32", "--batch", "2", "-q")
    assert done.returncode == 0, done.stderr
    net, meta = load_postfilter(out)
    assert net.config.width == 8 and int(meta["steps"]) > 0 and "decoded" in meta["psnr"]
    data_file = _code(panning_clip(4, 48, 64), out, crf=34)
    assert bitstream.decode(data_file)[0]["filter"] == weights_id(net)
