"""Command-line options that mean what users type, and output names that stay inside the output folder."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

__all__ = ["as_bool", "safe_name", "path_inside", "MAX_NAME_LENGTH"]

_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")

#: longest output name stem: leaves room for ``_overlay.png`` etc. under the usual 255-byte file-name limit
MAX_NAME_LENGTH = 120


def as_bool(value: Any, name: str) -> bool:
    """A boolean option from what a user typed: ``true/false/1/0/yes/no`` in any case, or a bool / 0 / 1.

    ``monai.bundle run ... --overwrite false`` hands the config the string ``"false"``, which Python takes as true;
    this reads it as ``False`` and refuses anything else, naming the option.

    Args:
        value: the option's value.
        name: the option's name, shown in the error.

    Raises:
        ValueError: not a recognised boolean.

    Example:
        >>> as_bool("FALSE", "overwrite"), as_bool(1, "amp"), as_bool("True", "x")
        (False, True, True)
        >>> as_bool("maybe", "overwrite")
        Traceback (most recent call last):
        ...
        ValueError: option 'overwrite' must be true or false (also 1/0, yes/no, any case), got 'maybe' (str).
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(
        f"option {name!r} must be true or false (also 1/0, yes/no, any case), got {value!r} ({type(value).__name__})."
    )


def safe_name(text: Any, max_length: int = MAX_NAME_LENGTH) -> str:
    """A file-name-safe stem from any text (a file name, a SeriesNumber, a PatientID ...).

    Keeps letters, digits, ``_``, ``-`` and single dots; path separators, ``..``, control characters and the rest
    become ``_``; leading dots and underscores go (no hidden files, no ``..``). Names longer than ``max_length``
    are cut and end with a hash of the full text, so they stay unique and stable.

    Example:
        >>> safe_name("/../../../x"), safe_name("CT head 1.2"), safe_name("..")
        ('x', 'CT_head_1.2', 'case')
        >>> safe_name("good__ct_a_series7")
        'good__ct_a_series7'
        >>> len(safe_name("a" * 500))
        120
    """
    text = str(text)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", text)
    name = re.sub(r"\.{2,}", "_", name)
    name = name.strip("._-") or "case"
    if len(name) > max_length:
        digest = hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:10]
        name = f"{name[: max_length - 11].rstrip('._-')}-{digest}"
    return name


def path_inside(folder: str | os.PathLike, name: str) -> Path:
    """``folder / name``, checked to resolve inside ``folder`` (symbolic links followed).

    Raises:
        ValueError: the path would leave ``folder``.

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> path_inside(d, "a_seg.nii.gz").name
        'a_seg.nii.gz'
        >>> path_inside(d, "../x")
        Traceback (most recent call last):
        ...
        ValueError: output name '../x' leaves the output folder ...
    """
    root = Path(folder).resolve()
    path = (root / name).resolve()
    if path.parent != root and root not in path.parents:
        raise ValueError(f"output name {name!r} leaves the output folder {root} (it resolves to {path})")
    return path
