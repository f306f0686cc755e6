"""Ctrl-C and SIGTERM as requests to stop cleanly (checkpoint, then leave) rather than at once."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def on_stop_signals(request: Callable[[int], None]) -> Iterator[None]:
    """Inside the block, SIGINT and SIGTERM call ``request(signum)`` instead of their handlers, which
    come back after it. Outside the main thread (where Python cannot catch signals) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, lambda signum, frame: request(signum)) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
