"""Atomic file writes: every output goes through a temporary file and ``os.replace``."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "atomic_write",
    "write_json",
]


def atomic_write(path: str | Path, write: Callable[[Path], Any], *, overwrite: bool = False) -> Path:
    """Write ``path`` through a temporary file in the same folder, then ``os.replace`` it into place.

    A reader never sees a half-written file, and a crash leaves no partial output. An existing ``path`` is kept
    (``FileExistsError``) unless ``overwrite`` is true.

    Args:
        path: final file path; its suffixes are kept on the temporary name so writers that look at the
            extension (``.nii.gz``, ``.png``) choose the right format.
        write: called with the temporary path; must create that file.
        overwrite: replace an existing ``path``.

    Example:
        >>> import tempfile
        >>> p = atomic_write(Path(tempfile.mkdtemp()) / "a.txt", lambda t: t.write_text("x"))
        >>> p.read_text()
        'x'
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"output {path} exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    tmp = path.parent / f".{stem}.tmp-{uuid.uuid4().hex[:8]}{suffix}"
    try:
        write(tmp)
        if not tmp.is_file():
            raise RuntimeError(f"the writer did not create the temporary file {tmp} for {path}")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_json(path: str | Path, content: Any, *, overwrite: bool = False) -> Path:
    """Atomically write ``content`` as JSON indented by 4 spaces.

    Example:
        >>> import tempfile
        >>> json.loads(write_json(Path(tempfile.mkdtemp()) / "a.json", {"a": 1}).read_text())
        {'a': 1}
    """
    text = json.dumps(content, indent=4, default=_json_default) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text), overwrite=overwrite)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)
