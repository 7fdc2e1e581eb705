"""Screen the cases of an evaluation before it starts: keep the usable ones, record each failed one with its file."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cranialseg.io.dicom_files import DICOM_SUFFIXES
from cranialseg.io.nifti import NIFTI_SUFFIXES
from cranialseg.io.raster import RASTER_SUFFIXES
from cranialseg.utils.errors import InputError

__all__ = ["ScreenCases", "case_name", "root_error"]

logger = logging.getLogger(__name__)


def case_name(source: Any) -> str:
    """The case name of an image path: its file name without its NIfTI, raster or DICOM suffix (``.nii.gz``, ...).

    Example:
        >>> case_name("/data/images/ct_001.nii.gz")
        'ct_001'
    """
    source = source[0] if isinstance(source, (list, tuple)) and source else source
    name = Path(str(source)).name
    for suffix in NIFTI_SUFFIXES[::-1] + RASTER_SUFFIXES + DICOM_SUFFIXES:  # .nii.gz before .nii
        name = name[: -len(suffix)] if name.endswith(suffix) else name
    return name


def root_error(err: BaseException) -> BaseException:
    """The :class:`InputError` behind ``err`` (MONAI wraps transform errors in ``RuntimeError``), else its root.

    Example:
        >>> try:
        ...     try:
        ...         raise InputError("lab.nii", "bad")
        ...     except InputError as inner:
        ...         raise RuntimeError("applying transform") from inner
        ... except RuntimeError as outer:
        ...     print(root_error(outer))
        lab.nii: bad
    """
    chain, seen = err, set()
    while chain is not None and id(chain) not in seen:
        if isinstance(chain, InputError):
            return chain
        seen.add(id(chain))
        if chain.__cause__ is None and chain.__context__ is None:
            return chain
        chain = chain.__cause__ or chain.__context__
    return err


class ScreenCases:
    """Run the loading and checking transforms on every case of a data list before an evaluation.

    A case whose image or label cannot be read or fails a check (e.g. :class:`cranialseg.io.CheckLabeld`:
    values outside the label set, a grid other than the image's) is left out of the evaluation and recorded in
    :attr:`failures` (case, image, label, the file at fault and the error), which
    :class:`cranialseg.handlers.EvaluationReport` lists in its report; the evaluation goes on with the other cases.

    Args:
        transform: the loading transforms (e.g. ``$monai.transforms.Compose(@read_transforms)``).

    Example:
        ``"case_screen": {"_target_": "cranialseg.data.ScreenCases", "transform":
        "$monai.transforms.Compose(@read_transforms)"}``, then ``"validate#dataset#data":
        "$@case_screen(@eval_items)"`` and ``"failed_cases": "$@case_screen.failures"`` in ``EvaluationReport``.
    """

    def __init__(self, transform: Callable[[dict], Any]) -> None:
        self.transform = transform
        self.failures: list[dict[str, Any]] = []

    def __call__(self, items: Sequence[dict]) -> list[dict]:
        """The usable items of ``items``; the others are appended to :attr:`failures`.

        Raises:
            ValueError: when no case is usable, listing every failure.
        """
        self.failures.clear()  # the same list object: EvaluationReport holds it
        kept = []
        for item in items:
            try:
                self.transform(dict(item))
            except Exception as err:  # noqa: BLE001 - any failure of one case must not stop the others
                cause = root_error(err)
                image, label = item.get("image"), item.get("label")
                failure = {
                    "case": case_name(image if image is not None else label),
                    "image": None if image is None else str(image),
                    "label": None if label is None else str(label),
                    "file": getattr(cause, "path", None) or str(label if label is not None else image),
                    "error": str(cause) or type(cause).__name__,
                }
                self.failures.append(failure)
                logger.warning(f"evaluation: case {failure['case']} left out: {failure['error']}")
            else:
                kept.append(item)
        if items and not kept:
            listed = "; ".join(f["error"] for f in self.failures)
            raise ValueError(f"no usable case among the {len(items)} to evaluate: {listed}")
        return kept
