"""DNeRV: the blocks, sizing, a tiny fit, and compress -> decompress through the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidprior import metrics
from vidprior.codec import bitstream
from vidprior.methods import METHODS, RunOptions
from vidprior.methods.dnerv import (
    DnervObjective,
    compress,
    config_for,
    decoder_parameters,
    decompress,
    interpolate_embeddings,
)
from vidprior.nn.dnerv import DnervConfig, frame_differences
from vidprior.nn.nerv import CollaborativeContentUnit, UpBlock
from vidprior.problems import Problem, drop_frames
from vidprior.video import read_video

FAST = {"steps": 300, "lr": 0.005, "precision": "fp32", "warmup": 10}


def test_blocks_upsample_and_the_gate_can_keep_the_content():
    assert UpBlock(5, 7, 3)(torch.rand(2, 5, 4, 6)).shape == (2, 7, 12, 18)
    ccu = CollaborativeContentUnit(4)
    c, d = torch.rand(1, 4, 5, 5), torch.rand(1, 4, 5, 5)
    with torch.no_grad():
        for conv in (ccu.sc, ccu.sd):
            conv.weight.zero_()
            conv.bias.fill_(-30.0)  # gate shut: the difference stream is ignored
    assert torch.allclose(ccu(c, d), c, atol=1e-6)


def test_frame_differences_and_embedding_interpolation():
    frames = torch.arange(3.0).view(3, 1, 1, 1).expand(3, 3, 2, 2)
    diffs = frame_differences(frames)
    assert diffs.shape == (3, 6, 2, 2)
    assert diffs[0, :3].abs().sum() == 0 and torch.all(diffs[0, 3:] == 1)  # no frame before the first
    assert torch.all(diffs[1] == 1) and diffs[2, 3:].abs().sum() == 0
    observed = torch.tensor([[0.0], [2.0], [4.0]])
    assert interpolate_embeddings(observed, 5, np.array([0, 2, 4])).flatten().tolist() == [0, 1, 2, 3, 4]


def test_shapes_at_odd_sizes():
    frames = np.random.default_rng(0).integers(0, 256, (4, 37, 53, 3), dtype=np.uint8)
    config = DnervConfig(37, 53, width=8, encoder_width=8)
    assert config.padded == (64, 64)
    objective = DnervObjective(Problem("fit", frames), config)
    content, difference = objective.embeddings()
    assert tuple(content.shape[1:]) == config.embedding_shapes()[0] == (8, 2, 2)
    assert tuple(difference.shape[1:]) == config.embedding_shapes()[1] == (2, 4, 4)
    assert objective.render().shape == (4, 37, 53, 3)


def test_size_follows_the_target_rate():
    sizes = [decoder_parameters(config_for(144, 256, 60, bpp=b)) for b in (0.1, 0.3, 1.0)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1] / 4
    assert abs(decoder_parameters(config_for(144, 256, 60, params=50000)) - 50000) < 5000
    with pytest.raises(Exception, match="bpp"):
        config_for(144, 256, 60, bpp=100.0)


def test_inpainting_loss_ignores_what_is_under_the_hole(clip, hole):
    other = clip.copy()
    other[hole] = 255 - other[hole]
    config = DnervConfig(*clip.shape[1:3], width=8, encoder_width=8)
    losses = []
    for frames in (clip, other):
        torch.manual_seed(0)
        objective = DnervObjective(Problem("inpaint", frames, hole), config)
        torch.manual_seed(1)
        losses.append(float(objective.loss(0)[0].detach()))
    assert losses[0] == losses[1]


@pytest.mark.slow
def test_tiny_fit_compresses_and_decodes_from_the_file_alone(clip):
    data = compress(clip, 25.0, RunOptions(progress=False, params={**FAST, "params": 6000}))
    meta, tensors, _ = bitstream.decode(data)
    assert meta["frames"] == len(clip) and meta["fps"] == 25.0 and meta["config"]["height"] == clip.shape[1]
    assert not any(name.startswith(("content_encoder", "difference_encoder")) for name in tensors)
    decoded, fps = decompress(data)
    assert decoded.shape == clip.shape and fps == 25.0
    assert np.array_equal(decompress(data)[0], decoded)  # decoding is deterministic
    grey = np.full_like(clip, 128)
    assert metrics.psnr(decoded, clip) > metrics.psnr(grey, clip) + 4
    weights = [t for n, t in tensors.items() if n.startswith("decoder") and t.symbols.ndim > 1]
    assert sum(int((t.values() == 0).sum()) for t in weights) >= 0.09 * sum(t.symbols.size for t in weights)


@pytest.mark.slow
def test_interpolation_decodes_frames_it_never_saw(clip):
    observed = drop_frames(clip, 2)
    out = METHODS["dnerv"].run(Problem("interpolate", observed, factor=2), RunOptions(progress=False, params=FAST))
    assert out.shape == (len(clip) - 1, *clip.shape[1:])
    between = out[1::2].astype(float)
    assert not np.array_equal(out[1], out[0]) and between.std() > 1


@pytest.mark.slow
def test_compress_and_decompress_from_the_command_line(tmp_path, clip_file, clip, vidprior):
    packed = tmp_path / "clip.vpr"
    params = [x for k, v in FAST.items() for x in ("--param", f"{k}={v}")]
    done = vidprior("compress", clip_file, "-o", packed, "--method", "dnerv", "--params", "6000", *params, "-q")
    assert done.returncode == 0, done.stderr
    assert "bpp" in done.stdout and packed.stat().st_size > 100
    out = tmp_path / "back.mkv"
    done = vidprior("decompress", packed, "-o", out)
    assert done.returncode == 0, done.stderr
    assert read_video(out).frames.shape == clip.shape
    broken = tmp_path / "broken.vpr"
    broken.write_bytes(packed.read_bytes()[:-20])
    for args, says in ([str(broken), "-o", str(tmp_path / "x.mkv")], "damaged or truncated"), \
            ([str(clip_file), "-o", str(tmp_path / "y.mkv")], "signature"):
        bad = vidprior("decompress", *args)
        assert bad.returncode == 2 and says in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.mkv").exists()
    wrong = vidprior("compress", clip_file, "-o", tmp_path / "a.mp4")
    assert wrong.returncode == 2 and ".vpr" in wrong.stderr
