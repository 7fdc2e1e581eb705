"""List the DICOM series of a folder, to pick one (``load_image(folder, series_uid=...)``) or iterate them."""

from __future__ import annotations

import os
from typing import List, Tuple

from cranialseg.io.dicom_files import DicomSeries, PathLike, group_dicom_series, list_folder_files
from cranialseg.utils.errors import InputError

__all__ = ["list_dicom_series"]


def list_dicom_series(folder: PathLike, *, recursive: bool = False) -> Tuple[List[DicomSeries], List[Tuple[str, str]]]:
    """The DICOM image series in ``folder`` and the files that are not usable DICOM images.

    Returns:
        ``(series, problems)``: :class:`DicomSeries` sorted by series number; ``(path, reason)`` problems.

    Example:
        >>> import tempfile
        >>> list_dicom_series(tempfile.mkdtemp())
        ([], [])
    """
    if not os.path.isdir(folder):
        raise InputError(folder, "not a folder", "expected a folder of DICOM files")
    return group_dicom_series(list_folder_files(folder, recursive=recursive))
