"""Which server-side failures are the client's input (a 4xx with the message) rather than a server fault.

MONAI Label answers any exception raised by an infer task with a bare ``500 Internal Server Error``
(``monailabel/endpoints/infer.py`` has no handler), so 3D Slicer only shows "Failed to run inference". MONAI wraps a
transform's exception in a ``RuntimeError("applying transform ...")``; :func:`find_input_error` walks the chain back
to this project's input errors, which :class:`~cranialseg.label.infer.CranialSegInferTask` turns into FastAPI's
``HTTPException(422, detail=message)``: the only way MONAI Label lets a task choose the status and body.

Example:
    >>> from cranialseg.transforms.modality import ModalityMismatchError
    >>> try:
    ...     try:
    ...         raise ModalityMismatchError("x.png: got a 2D image")
    ...     except ValueError as e:
    ...         raise RuntimeError("applying transform") from e
    ... except RuntimeError as err:
    ...     print(find_input_error(err))
    x.png: got a 2D image
"""

from __future__ import annotations

from typing import Optional

from cranialseg.transforms.modality import ModalityMismatchError
from cranialseg.utils.errors import InputError

__all__ = ["INPUT_ERRORS", "INPUT_ERROR_STATUS", "find_input_error"]

#: Exceptions that mean "this input does not fit this model / is unreadable": the client's fault.
INPUT_ERRORS = (ModalityMismatchError, InputError)
#: HTTP status for them: 422 Unprocessable Entity (the request is well formed, its image is not usable here).
INPUT_ERROR_STATUS = 422


def find_input_error(err: BaseException) -> Optional[BaseException]:
    """The first :data:`INPUT_ERRORS` instance in ``err``'s ``__cause__``/``__context__`` chain, or None."""
    seen = set()
    current: Optional[BaseException] = err
    while current is not None and id(current) not in seen:
        if isinstance(current, INPUT_ERRORS):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
