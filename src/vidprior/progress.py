"""Progress bars that a person reads on the terminal and a program reads from a status file.

Every long loop in vidprior counts through a `Bar`. On the terminal it is a tqdm bar (hidden with
``-q``); when a status file is set (`report_to`, the CLI's ``--status FILE``), the bars that are
open are also written there as JSON, atomically and at most twice a second, so the web app and
batch runner can show loss, ETA and progress of a job running in another process::

    {"bars": [{"label": "inpaint (ilvi)", "unit": "frame", "done": 30, "total": 60, "fraction": 0.5,
               "elapsed": 12.0, "eta": 12.0, "detail": "step 300 loss 0.01"}], "time": 1763920000.0}
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tqdm import tqdm

from .files import atomic_write

_status_path: Path | None = None
_open_bars: list[Bar] = []
_last_write = 0.0
WRITE_EVERY = 0.5


def report_to(path: Path | str | None) -> None:
    """Also write the open bars to ``path`` as JSON (None: stop writing)."""
    global _status_path, _last_write
    _status_path = Path(path) if path is not None else None
    _last_write = 0.0


def read_status(path: Path | str) -> dict:
    """The last status written to ``path`` ({} when there is none yet or it cannot be read)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def _write(force: bool = False) -> None:
    global _last_write
    now = time.monotonic()
    if _status_path is None or (not force and now - _last_write < WRITE_EVERY):
        return
    _last_write = now
    status = {"bars": [b.state() for b in _open_bars], "time": time.time()}
    try:
        with atomic_write(_status_path) as tmp:
            tmp.write_text(json.dumps(status))
    except OSError:  # a status file is a courtesy: never let it stop the work
        pass


class Bar:
    """A counted loop: ``update(k)`` after k more units of ``total``; ``detail`` shows loss and the like.

    Budgeted fits, whose end is a time or a step count, whichever comes first, count to 1000 and
    report their progress with `set_done`. A loop whose next units come from work with a bar of its
    own (the runner's window, fitted by a method) says so with ``expect(units)``: its status then
    counts that inner bar's fraction of those units, so its fraction and ETA move during the window.
    """

    def __init__(self, total: int, label: str, *, unit: str = "it", show: bool = True,
                 bar_format: str | None = None) -> None:
        self.total, self.label, self.unit, self.done, self.detail, self.pending = total, label, unit, 0, "", 0
        self.began = time.monotonic()
        self._tqdm = tqdm(total=total, desc=label, unit=unit, disable=not show, file=sys.stderr,
                          bar_format=bar_format)
        _open_bars.append(self)
        _write(force=True)

    def state(self) -> dict:
        inner = _open_bars[_open_bars.index(self) + 1:] if self in _open_bars else []
        partial = self.pending * inner[0].done / inner[0].total if self.pending and inner and inner[0].total else 0
        fraction = min(1.0, (self.done + partial) / self.total) if self.total else 0.0
        elapsed = time.monotonic() - self.began
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
        return {"label": self.label, "unit": self.unit, "done": self.done, "total": self.total,
                "fraction": round(fraction, 4),
                "elapsed": round(elapsed, 1), "eta": None if eta is None else round(eta, 1), "detail": self.detail}

    def expect(self, units: int) -> None:
        """The next ``units`` come from work that shows a bar of its own (see the class docstring)."""
        self.pending = units

    def update(self, count: int = 1) -> None:
        self.done += count
        self.pending = 0
        self._tqdm.update(count)
        _write()

    def set_done(self, done: int) -> None:
        self.update(done - self.done)

    def set_detail(self, text: str) -> None:
        self.detail = text
        self._tqdm.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        self._tqdm.close()
        if self in _open_bars:
            _open_bars.remove(self)
        _write(force=True)

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

