"""Outputs that appear whole or not at all.

An export writes to a hidden temporary path beside its target and moves it into place only
when every row is written; on any error the temporary file (or folder) is removed and the
target is left as it was. No command leaves a partial or empty output behind.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_output"]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write a file or folder to; it becomes ``path`` when the block
    ends without error (replacing what was there) and is removed when it raises."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if not tmp.exists():  # the block wrote nothing: nothing to move
        return
    if path.is_dir() and not path.is_symlink():
        old = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.old")
        path.rename(old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)
