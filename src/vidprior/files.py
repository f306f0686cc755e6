"""Writing a file so that readers see the old one or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path: Path | str) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; it replaces ``path`` when the block ends, and is
    removed if the block raises.

    The temporary name is hidden, unique and keeps the suffix (``.NAME.RANDOM.partial.SUFFIX``), for
    writers that pick the format from it (``cv2.imwrite``, ``np.save``)::

        with atomic_write(path) as tmp:
            torch.save(state, tmp)
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
