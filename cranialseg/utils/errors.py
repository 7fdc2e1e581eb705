"""The one exception raised for unusable input files: :class:`InputError`."""

from __future__ import annotations

import os
from typing import Optional, Union

__all__ = ["InputError"]


class InputError(ValueError):
    """An input file or folder that cannot be used, with the path and the problem kept apart.

    The message reads ``"<path>: <problem> (<hint>)"`` so a batch log says at once which file is bad,
    what is wrong with it and what was expected. ``InputError`` is a ``ValueError``, so callers that
    already catch ``ValueError`` keep working.

    Args:
        path: the file or folder at fault (a list of files is shown as its first entry and a count).
        problem: what is wrong, with the offending value (e.g. ``"duplicated slice position z=12.0 mm"``).
        hint: what was expected or how to fix it; optional.

    Example:
        >>> err = InputError("/data/case1/IM0001", "missing ImagePositionPatient", "every CT slice needs it")
        >>> str(err)
        '/data/case1/IM0001: missing ImagePositionPatient (every CT slice needs it)'
        >>> err.path, err.problem
        ('/data/case1/IM0001', 'missing ImagePositionPatient')
    """

    def __init__(self, path: Union[str, os.PathLike], problem: str, hint: Optional[str] = None):
        self.path = os.fspath(path)
        self.problem = problem
        self.hint = hint
        message = f"{self.path}: {problem}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)

    def __reduce__(self):  # keep the fields through pickling (DataLoader workers re-raise in the main process)
        return (type(self), (self.path, self.problem, self.hint))
