"""Method settings, declared once: what ``--param key=value`` may set, with type, default, range and help.

Each method lists its `Setting`s; `parse_settings` checks the user's values against that list once,
before any work, and returns every setting with its default filled in:

    >>> rounds = Setting("rounds", 2, "flow rounds", low=1, high=10)
    >>> parse_settings((rounds,), {"rounds": "3"}, "flowfill")
    {'rounds': 3}
    >>> parse_settings((rounds,), {"round": "3"}, "flowfill")
    Traceback (most recent call last):
    vidprior.errors.VidpriorError: flowfill has no setting 'round' (did you mean 'rounds'?); its settings: rounds

Values come as text (command line, ``--param rounds=3``) or typed (job files, the web app).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from .errors import VidpriorError

KINDS = {bool: "true/false", int: "a whole number", float: "a number", str: "text", tuple: "whole numbers, e.g. 16,32"}


@dataclass(frozen=True)
class Setting:
    """One method setting. ``kind`` is bool, int, float, str or tuple (comma-separated whole numbers);
    it is the default's type unless given (needed when the default is None, i.e. set from the input)."""

    name: str
    default: object
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    kind: type | None = None

    @property
    def type(self) -> type:
        return self.kind or type(self.default)

    def convert(self, value: object, method: str) -> object:
        """``value`` (text or typed) as this setting's type, checked against its range and choices."""
        kind = self.type
        try:
            converted = _CONVERT[kind](value)
        except (TypeError, ValueError):
            raise VidpriorError(f"{method}: {self.name}={value!r} is not {KINDS[kind]} ({self.help})") from None
        numbers = converted if kind is tuple else (converted,) if kind in (int, float) else ()
        for number in numbers:
            if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
                raise VidpriorError(f"{method}: {self.name}={value} is out of range; give {self.range()}")
        if self.choices and converted not in self.choices:
            raise VidpriorError(f"{method}: {self.name}={value!r}: choose one of {', '.join(self.choices)}")
        return converted

    def range(self) -> str:
        if self.choices:
            return " | ".join(self.choices)
        if self.low is not None and self.high is not None:
            return f"{self.low:g} to {self.high:g}"
        if self.low is not None:
            return f"at least {self.low:g}"
        return f"at most {self.high:g}" if self.high is not None else KINDS[self.type]

    def describe(self) -> dict:
        """The setting as plain data (for `vidprior methods NAME` and the web app)."""
        default = self.default
        if isinstance(default, tuple):
            default = ",".join(map(str, default))
        elif isinstance(default, bool):
            default = str(default).lower()
        return {"name": self.name, "type": self.type.__name__ if self.type is not tuple else "ints",
                "default": default, "range": self.range(), "help": self.help}


def _boolean(value: object) -> bool:
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def whole(value: object) -> int:
    """A whole number from text or a number; 2.5, 'many' or True raise ValueError (no silent rounding)."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    return int(value) if not isinstance(value, str) else int(value.strip())


def number(value: object) -> float:
    """A finite number from text or a number; 'nan', 'inf' or True raise ValueError."""
    if isinstance(value, bool) or not math.isfinite(converted := float(value)):
        raise ValueError(value)
    return converted


def _text(value: object) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(value)
    return str(value)


def _wholes(value: object) -> tuple[int, ...]:
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    numbers = tuple(whole(v) for v in items if str(v).strip())
    if not numbers:
        raise ValueError(value)
    return numbers


_CONVERT = {bool: _boolean, int: whole, float: number, str: _text, tuple: _wholes}


def parse_settings(settings: tuple[Setting, ...], values: dict[str, object], method: str) -> dict[str, object]:
    """Every setting of ``method``: the given ``values`` checked and converted, the rest at their defaults.

    An unknown key, a value of the wrong type or out of range raises a one-line `VidpriorError`.
    """
    declared = {s.name: s for s in settings}
    for key in values:
        if key not in declared:
            close = difflib.get_close_matches(key, list(declared), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            known = f"its settings: {', '.join(declared)}" if declared else "it takes none"
            raise VidpriorError(f"{method} has no setting '{key}'{hint}; {known}")
    return {name: setting.convert(values[name], method) if values.get(name) is not None else setting.default
            for name, setting in declared.items()}
