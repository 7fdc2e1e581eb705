"""Loading layer of cranialseg: DICOM series / ultrasound DICOM / NIfTI / PNG-JPEG with checked geometry.

Public API:
    - :func:`load_image`: any supported input -> ``(array, meta)`` in MONAI axis order.
    - :class:`CranialImageReader`: the same as a MONAI ``ImageReader`` for ``LoadImage(d)`` and bundle configs.
    - :class:`LoadCranialImaged`: ``LoadImaged`` reading with that reader only (no fallback to MONAI's readers).
    - :func:`discover_cases`: the cases (and unusable files) of a batch input folder.
    - :func:`list_dicom_series`: the DICOM series of a folder, to pick or iterate them.
    - :func:`check_same_grid`, :func:`check_label_values`: image/label consistency checks.
    - :class:`InputError`: the one error for unusable inputs (``.path``, ``.problem``).
"""

from __future__ import annotations

from cranialseg.io.dicom_files import DicomSeries
from cranialseg.io.discover import Case, discover_cases
from cranialseg.io.errors import InputError
from cranialseg.io.limits import MAX_TILT_DEG, MAX_VOXELS
from cranialseg.io.load_transforms import LoadCranialImage, LoadCranialImageD, LoadCranialImaged, LoadCranialImageDict
from cranialseg.io.loader import load_image
from cranialseg.io.nifti import check_label_values, check_same_grid
from cranialseg.io.reader import CranialImageReader
from cranialseg.io.series import list_dicom_series

__all__ = [
    "Case",
    "CranialImageReader",
    "DicomSeries",
    "InputError",
    "LoadCranialImage",
    "LoadCranialImaged",
    "LoadCranialImageD",
    "LoadCranialImageDict",
    "MAX_TILT_DEG",
    "MAX_VOXELS",
    "check_label_values",
    "check_same_grid",
    "discover_cases",
    "list_dicom_series",
    "load_image",
]
