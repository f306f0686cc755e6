"""Method settings: every declared setting of every method is checked once, in one line, before any work.

The cases are made from the declarations themselves, so a setting added later is tested too.
"""

from __future__ import annotations

import doctest

import pytest

import vidprior.requests
import vidprior.settings
from vidprior.cli import main
from vidprior.errors import VidpriorError
from vidprior.methods import METHODS
from vidprior.settings import Setting, parse_settings

SETTINGS = [(m.name, s) for m in METHODS.values() for s in m.settings]
WRONG_TYPE = {int: ["2.5", "many", True], float: ["fast", "1e-3x"], bool: ["maybe", "2"], tuple: ["a,b", ""],
              str: [[1, 2]]}


def test_module_examples():
    for module in (vidprior.settings, vidprior.requests):
        assert doctest.testmod(module).failed == 0


def test_every_method_declares_each_setting_once_with_help():
    for method in METHODS.values():
        names = [s.name for s in method.settings]
        assert len(names) == len(set(names)), method.name
        for setting in method.settings:
            assert setting.help and setting.type in WRONG_TYPE, (method.name, setting.name)
            if setting.default is not None:
                assert setting.convert(setting.default, method.name) == setting.default


@pytest.mark.parametrize("name", list(METHODS))
def test_defaults_fill_every_setting_and_a_typo_names_the_closest_key(name):
    method = METHODS[name]
    assert method.settings_from({}) == {s.name: s.default for s in method.settings}
    for setting in method.settings:
        typo = setting.name + setting.name[-1]
        with pytest.raises(VidpriorError, match=f"{name} has no setting '{typo}'") as caught:
            method.settings_from({typo: "1"})
        assert f"did you mean '{setting.name}'" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(VidpriorError, match="its settings" if method.settings else "it takes none"):
        method.settings_from({"zzz": "1"})


@pytest.mark.parametrize("name, setting", SETTINGS, ids=[f"{n}.{s.name}" for n, s in SETTINGS])
def test_wrong_types_and_out_of_range_values_are_refused(name, setting: Setting):
    method = METHODS[name]
    for value in WRONG_TYPE[setting.type]:
        with pytest.raises(VidpriorError, match=f"{name}: {setting.name}="):
            method.settings_from({setting.name: value})
    below = setting.low - (1 if setting.type in (int, tuple) else setting.low / 2 or 1) if setting.low is not None \
        else None
    above = setting.high * 2 + 1 if setting.high is not None else None
    for value in (below, above):
        if value is not None:
            text = ",".join([str(int(value))] * 2) if setting.type is tuple else str(value)
            with pytest.raises(VidpriorError, match="out of range"):
                method.settings_from({setting.name: text})
    if setting.choices:
        with pytest.raises(VidpriorError, match="choose one of"):
            method.settings_from({setting.name: "nonsense"})


def test_text_and_typed_values_convert_alike():
    rounds = Setting("rounds", 2, "flow rounds", low=1, high=10)
    sizes = Setting("sizes", (16, 32), "channels", low=1)
    switch = Setting("guide", True, "use the guide")
    assert parse_settings((rounds, sizes, switch), {"rounds": "3", "sizes": "8,4", "guide": "0"}, "m") == \
        parse_settings((rounds, sizes, switch), {"rounds": 3, "sizes": [8, 4], "guide": False}, "m") == \
        {"rounds": 3, "sizes": (8, 4), "guide": False}
    with pytest.raises(VidpriorError, match="is not a whole number"):  # no silent 0.5 -> 0
        parse_settings((rounds,), {"rounds": 0.5}, "m")


def test_the_command_refuses_a_bad_setting_in_one_line_before_reading_the_input(tmp_path, capsys):
    cases = [(["denoise", "missing.mp4", "-o", tmp_path / "o.mkv", "--method", "nlmeans", "--param", "stpes=10"],
              "nlmeans has no setting 'stpes'"),
             (["inpaint", "missing.mp4", "--mask", "m", "-o", tmp_path / "o.mp4", "--method", "ilvi", "--param",
               "guide=0.5"], "ilvi: guide='0.5' is not true/false"),
             (["inpaint", "missing.mp4", "--mask", "m", "-o", tmp_path / "o.mp4", "--param", "rounds=11"],
              "fill: rounds=11 is out of range; give 1 to 10"),
             (["compress", "missing.mp4", "-o", tmp_path / "o.vpr", "--method", "dnerv", "--param", "prune=2"],
              "dnerv: prune=2"),
             (["compress", "missing.mp4", "-o", tmp_path / "o.vpr", "--param", "prune=2"],
              "hybrid has no setting 'prune'")]
    for words, says in cases:
        assert main([str(w) for w in words]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"vidprior: error: {says}"), err
    assert not list(tmp_path.iterdir())


def test_methods_name_lists_the_settings(capsys):
    assert main(["methods", "flowfill"]) == 0
    out = capsys.readouterr().out
    for setting in METHODS["flowfill"].settings:
        assert f"--param {setting.name}=" in out
    assert main(["methods", "nosuch"]) == 2
