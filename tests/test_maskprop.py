"""The mask-propagation network: it starts at the carried mask, trains and resumes like the others, decides the
carried masks of `carry_masks`, and fits itself to a video's painted keyframes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from helpers import stopped_and_resumed
from test_carry import _curved_clip, _write

from vidprior.carry import carry_masks, has_holes, pieces
from vidprior.maskprop import MaskProp, MaskPropConfig, load_maskprop, train_maskprop
from vidprior.maskprop.adaptation import adapt, pair
from vidprior.maskprop.data import draw_sample, mask_clip, spoil
from vidprior.maskprop.inference import Refiner, keyframe_pairs
from vidprior.maskprop.training import MaskPropTraining, hard_iou


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A clip folder with frames/ and masks/ (the curved ellipse of test_carry), its frames and true masks."""
    frames, masks = _curved_clip()
    root = tmp_path_factory.mktemp("maskprop") / "curve"
    root.mkdir()
    _write(root / "frames", frames)
    (root / "masks").mkdir()
    for t, mask in enumerate(masks):
        cv2.imwrite(str(root / "masks" / f"{t:05d}.png"), mask.astype(np.uint8) * 255)
    return root, frames, masks


def test_spoilt_masks_are_wrong_but_near_and_samples_have_their_shapes(clip_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("VIDPRIOR_CACHE", str(tmp_path))
    _, frames, masks = clip_folder
    rng = np.random.default_rng(0)
    spoilt = [spoil(masks[5], rng) > 0.5 for _ in range(20)]
    overlaps = [(s & masks[5]).sum() / (s | masks[5]).sum() for s in spoilt]
    assert 0.3 < np.mean(overlaps) < 0.98 and min(overlaps) > 0.1
    clip = mask_clip("curve", frames, masks)
    assert (tmp_path / "maskprop").is_dir()  # the flows are cached
    torch.manual_seed(0)
    sample = draw_sample([clip], batch=3, crop=48)
    assert sample.frame.shape == (3, 3, 48, 48) and sample.carried.shape == (3, 1, 48, 48)
    assert float(sample.carried.min()) >= 0 and float(sample.carried.max()) <= 1


@pytest.mark.slow
def test_training_writes_weights_resumes_and_refines_carried_masks(clip_folder, tmp_path, monkeypatch, one_thread):
    monkeypatch.setenv("VIDPRIOR_CACHE", str(tmp_path / "cache"))
    root, frames, masks = clip_folder
    out = tmp_path / "mp.safetensors"
    common = dict(budget=60, width=4, crop=48, batch=2, steps=6, run_dir=tmp_path / "run", progress=False)
    figures = train_maskprop([root], out, **common)
    assert figures["steps"] == 6 and 0 <= figures["valid iou"] <= 1
    net, notes = load_maskprop(out)
    assert net.config == MaskPropConfig(width=4) and notes["steps"] == "6"
    carried = list(carry_masks(root / "frames", {0: masks[0], 16: masks[16]}, len(masks), refine=Refiner(net)))
    assert all(m.shape == masks[0].shape for m in carried) and carried[8].any()


def test_an_interrupted_training_resumes_where_it_stopped(clip_folder, tmp_path, monkeypatch, one_thread):
    monkeypatch.setenv("VIDPRIOR_CACHE", str(tmp_path / "cache"))
    root, frames, masks = clip_folder
    clips = [mask_clip("curve", frames, masks)]

    def objective() -> MaskPropTraining:
        torch.manual_seed(0)
        return MaskPropTraining(MaskProp(MaskPropConfig(width=4)), clips, batch=2, crop=32)

    straight, resumed = stopped_and_resumed(objective, 12, 5, tmp_path / "run", monkeypatch)
    assert len(resumed.history) == 6  # steps 7-12: the checkpoint of step 6 was kept
    for a, b in zip(straight.net.state_dict().values(), resumed.net.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.slow
def test_an_untrained_network_returns_the_carried_mask(clip_folder):
    root, frames, masks = clip_folder
    keys = {0: masks[0], 16: masks[16]}
    plain = list(carry_masks(root / "frames", keys, len(masks), snap=False))
    refined = list(carry_masks(root / "frames", keys, len(masks), snap=False,
                               refine=Refiner(MaskProp(MaskPropConfig(width=4)))))
    assert all((a == b).mean() > 0.995 for a, b in zip(plain, refined))


def test_carried_masks_of_a_whole_keyframe_have_no_holes_or_loose_pieces(clip_folder):
    root, frames, masks = clip_folder
    assert not has_holes(masks[0]) and pieces(masks[0]) == 1
    for mask in carry_masks(root / "frames", {0: masks[0], 16: masks[16]}, len(masks)):
        assert not has_holes(mask) and pieces(mask) <= 1


@pytest.mark.slow
def test_adaptation_fits_the_network_to_the_keyframes(clip_folder, one_thread):
    root, frames, masks = clip_folder
    pairs = keyframe_pairs(root / "frames", {0: masks[0], 8: masks[8]})
    assert pairs[1][0].shape == frames[8].shape and pairs[1][1].sum() == masks[8].sum()
    rng = np.random.default_rng(1)
    background = cv2.inpaint(frames[8], masks[8].astype(np.uint8), 3, cv2.INPAINT_TELEA)
    made = pair(frames[8], masks[8], background, rng)
    assert made[0].shape == frames[8].shape and made[1].any() and made[3].any()
    torch.manual_seed(0)
    start = MaskProp(MaskPropConfig(width=8))
    tuned = adapt(start, pairs, steps=60, seed=0)
    assert any(not torch.equal(a, b) for a, b in zip(start.state_dict().values(), tuned.state_dict().values()))

    def score(net: MaskProp) -> float:  # mask IoU on spoilt masks of the true frames, carried one step
        from vidprior.carry import flow_to
        from vidprior.maskprop.data import one_sample, stack_samples

        rng = np.random.default_rng(7)
        parts = [one_sample(frames[t], frames[t - 1], flow_to(frames[t], frames[t - 1]), masks[t - 1], masks[t], rng)
                 for t in range(2, 16, 2)]
        sample = stack_samples(parts)
        with torch.no_grad():
            return hard_iou(torch.sigmoid(net(*sample.inputs())), sample.truth)

    assert score(tuned) > score(start) + 0.02
