"""Requests: one conversion and one check for the command line, job files and the web app."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidprior.cli import build_parser
from vidprior.errors import VidpriorError
from vidprior.jobs import Job
from vidprior.methods import METHODS, RunOptions
from vidprior.requests import OPTIONS, Request


def from_command_line(words: list[str]) -> Request:
    args = build_parser().parse_args(words)
    names = {o.name for o in OPTIONS[args.command]}
    return Request.build(args.command, {k: v for k, v in vars(args).items() if k in names})


def test_a_request_travels_as_a_command_line_and_comes_back_equal(tmp_path: Path):
    request = Request.build("inpaint", {
        "input": tmp_path / "in.mp4", "output": tmp_path / "out dir" / "o.mp4", "mask": tmp_path / "m",
        "method": "ilvi", "budget": 1e-5, "mask_dilate": 3, "seed": 7, "device": "cpu", "quiet": True,
        "status": tmp_path / "s.json", "param": {"strides": [1, 2], "lr": 0.0005, "guide": False}})
    again = from_command_line(request.argv())
    assert again.but(param={}) == request.but(param={}) and again.budget == 1e-5  # settings: text, then typed
    assert Request.from_dict(request.to_dict()) == request
    assert METHODS["ilvi"].settings_from(again.param) == METHODS["ilvi"].settings_from(request.param)


def test_text_and_typed_values_give_the_same_request(tmp_path: Path):
    typed = Request.build("upscale", {"input": "a.mp4", "output": "b.mp4", "scale": 4, "sigma": 10, "budget": 90})
    text = from_command_line(["upscale", "a.mp4", "-o", "b.mp4", "--scale", "4", "--sigma", "10", "--budget", "90s"])
    assert typed == text and typed.k == 4


@pytest.mark.parametrize("command, values, says", [
    ("interpolate", {"factor": 0}, "--factor 0 is not supported"),
    ("interpolate", {"factor": 2.5}, "--factor 2.5 is not a whole number"),
    ("denoise", {"sigma": "nan"}, "--sigma 'nan' is not a number"),
    ("denoise", {"colour": "red"}, "denoise has no option 'colour'"),
    ("inpaint", {}, "inpaint needs --mask"),
    ("inpaint", {"mask": "m", "method": "flowfill", "weights": "w.safetensors"},
     "apply to the methods that run a trained network"),
    ("compress", {"bpp": 20}, "hybrid: bpp=20.0 is out of range"),
    ("compress", {"bpp": 20, "method": "dnerv"}, "dnerv: bpp=20.0 is out of range"),
    ("compress", {"bpp": 0.1, "params": 5000, "method": "dnerv"}, "not both"),
    ("compress", {"bpp": 0.1, "param": {"crf": "28"}}, "not both"),
    ("compress", {"params": 5000}, "--params sets the size of DNeRV's network"),
    ("denoise", {"method": "dip", "param": {"lr": "nan"}}, "dip: lr='nan' is not a number"),
])
def test_bad_values_are_refused_in_one_line(command, values, says):
    with pytest.raises(VidpriorError, match=says) as caught:
        Request.build(command, {"input": "a.mp4", "output": "b.vpr" if command == "compress" else "b.mp4", **values})
    assert "\n" not in str(caught.value)


def test_job_files_use_the_flags_names_and_null_means_not_given(tmp_path: Path):
    job = Job.from_spec({"task": "inpaint", "input": "a.mp4", "mask": "m", "mask-dilate": 2, "output": None,
                         "param": {"rounds": None}}, tmp_path, "job1")
    assert job.request.mask_dilate == 2 and job.request.param == {}
    assert job.output == str(tmp_path / "results" / "a.mp4")


def test_records_of_the_earlier_form_still_load(tmp_path: Path):
    old = {"name": "x", "task": "interpolate", "input": str(tmp_path / "a.mp4"), "output": str(tmp_path / "b.mp4"),
           "mask": None, "method": "blend", "options": {"factor": 2, "budget": "30s"}, "param": {}}
    job = Job.from_dict(old)
    assert (job.request.command, job.request.factor, job.request.budget) == ("interpolate", 2, 30.0)


def test_run_folders_are_keyed_by_the_settings_a_user_changed():
    dip = METHODS["dip"]
    assert dip.prepared(RunOptions()).changed() == {}  # the key of a run without --param, as before settings
    assert dip.prepared(RunOptions(params={"steps": "5", "lr": "0.01"})).changed() == {"steps": 5}
    with pytest.raises(KeyError, match="Method.run"):
        RunOptions().param("steps")
