"""`vidprior bench` end to end on a tiny folder of synthetic clips."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from synthetic import panning_clip

from vidprior.cli import main


@pytest.fixture
def clips(tmp_path):
    """Two 6-frame clips; the second has object masks (a moving disc)."""
    root = tmp_path / "clips"
    for index, name in enumerate(("pan", "disc")):
        frames = root / name / "frames"
        frames.mkdir(parents=True)
        for t, frame in enumerate(panning_clip(frames=6, height=48, width=64, seed=index)):
            cv2.imwrite(str(frames / f"{t:05d}.png"), frame[..., ::-1])
    masks = root / "disc" / "masks"
    masks.mkdir()
    for t in range(6):
        mask = np.zeros((48, 64), np.uint8)
        cv2.circle(mask, (16 + 4 * t, 24), 9, 255, -1)
        cv2.imwrite(str(masks / f"{t:05d}.png"), mask)
    return root


def _bench(clips, out, task, methods, *extra):
    code = main(["bench", "--clips", str(clips), "--task", task, "--methods", methods, "--frames", "6",
                 "--out", str(out), "-q", *extra])
    assert code in (0, None)
    data = json.loads((out / f"{task}.json").read_text())
    assert (out / f"{task}.png").stat().st_size > 1000
    return data, (out / f"{task}.md").read_text()


def test_inpaint_bench_scores_every_method_on_every_clip(clips, tmp_path):
    data, table = _bench(clips, tmp_path / "out", "inpaint", "telea,flowfill")
    records = data["records"]
    expected = {(c, m) for c in ("pan", "disc") for m in ("telea", "flowfill")}
    assert {(r["clip"], r["method"]) for r in records} == expected
    for r in records:
        assert r["seconds"] > 0 and r["peak_mb"] > 10
        assert {"psnr", "psnr_hole", "ssim", "warp_error"} <= set(r["metrics"])
        assert r["metrics"]["psnr"] > r["metrics"]["psnr_hole"]  # known pixels are exact
    assert "| object holes | flowfill |" in table and "| clip | telea | flowfill |" in table


@pytest.mark.parametrize(("task", "methods", "cases"), [
    ("denoise", "nlmeans", {"gaussian 25", "gaussian 50", "poisson peak 30", "phone: poisson 100 + x264 crf 30"}),
    ("interpolate", "blend,flowinterp", {"x2"}),
    ("upscale", "bicubic", {"x4", "x4 noisy 10", "x4 old video: x264 crf 28"}),
])
def test_other_tasks_make_their_cases(clips, tmp_path, task, methods, cases):
    data, _ = _bench(clips, tmp_path / task, task, methods, "--only", "pan")
    assert {r["case"] for r in data["records"]} == cases
    main_metric = "psnr_y" if task == "upscale" else "psnr"
    scores = [r["metrics"][main_metric] for r in data["records"]]
    assert min(scores) > 15 and min(scores) < 60  # flowinterp may make a synthetic pan all but exactly (67 dB)


def test_compress_bench_sweeps_the_rate(clips, tmp_path):
    data, table = _bench(clips, tmp_path / "c", "compress", "x264,x265", "--only", "pan")
    for codec in ("x264", "x265"):
        rates = [r["metrics"]["bpp"] for r in data["records"] if r["method"] == codec]
        scores = [r["metrics"]["psnr"] for r in data["records"] if r["method"] == codec]
        assert len(rates) == 7 and rates == sorted(rates, reverse=True) and scores == sorted(scores, reverse=True)
    assert "BD-rate against x264" in table and "| pan |" in table


def test_bench_refuses_a_method_that_does_not_do_the_task(clips, tmp_path, capsys):
    code = main(["bench", "--clips", str(clips), "--task", "denoise", "--methods", "telea", "--out", str(tmp_path)])
    assert code == 2
    assert "'telea' does not do denoise" in capsys.readouterr().err


def test_named_runs_with_params_write_their_own_files(clips, tmp_path):
    out = tmp_path / "named"
    assert main(["bench", "--clips", str(clips), "--task", "inpaint", "--methods", "telea", "--frames", "4",
                 "--only", "pan", "--out", str(out), "--name", "inpaint-wide", "--param", "radius=9", "-q"]) == 0
    data = json.loads((out / "inpaint-wide.json").read_text())
    assert data["meta"]["params"] == ["radius=9"] and not (out / "inpaint.json").exists()
    assert "radius=9" in (out / "inpaint-wide.md").read_text()


def test_entries_with_their_own_settings_and_keeping_an_earlier_run(clips, tmp_path):
    data, _ = _bench(clips, tmp_path, "denoise", "nlmeans,nlmeans:temporal=1", "--only", "pan", "--sigma", "25")
    labels = {r["method"] for r in data["records"]}
    assert labels == {"nlmeans", "nlmeans temporal=1"}
    by_label = {r["method"]: r["metrics"]["psnr"] for r in data["records"] if r["case"] == "gaussian 25"}
    assert by_label["nlmeans"] != by_label["nlmeans temporal=1"]
    again, _ = _bench(clips, tmp_path, "denoise", "nlmeans:temporal=3", "--only", "pan", "--sigma", "25", "--keep")
    assert {r["method"] for r in again["records"]} == labels | {"nlmeans temporal=3"}
    kept = [r for r in again["records"] if r["method"] == "nlmeans"]
    assert kept == [r for r in data["records"] if r["method"] == "nlmeans"]
    code = main(["bench", "--clips", str(clips), "--task", "denoise", "--methods", "nlmeans", "--frames", "5",
                 "--only", "pan", "--sigma", "25", "--out", str(tmp_path), "--keep", "-q"])
    assert code == 2  # other frames than the kept run's
