"""Reading and writing files: loading DICOM series / ultrasound DICOM / NIfTI / PNG-JPEG with checked geometry.

Public API:
    - :func:`load_image`: any supported input -> ``(array, meta)`` in MONAI axis order.
    - :class:`CranialImageReader`: the same as a MONAI ``ImageReader`` for ``LoadImage(d)`` and bundle configs.
    - :class:`LoadCranialImaged`: ``LoadImaged`` reading with that reader only (no fallback to MONAI's readers).
    - :func:`discover_cases`: the cases (and unusable files) of a batch input folder.
    - :func:`list_dicom_series`: the DICOM series of a folder, to pick or iterate them.
    - :func:`check_same_grid`, :func:`check_label_values`: image/label consistency checks.
    - :class:`CheckLabeld`: a loaded label checked against the bundle's label set and its image's grid.
    - :class:`CheckResampledSized`: the size of an image after resampling checked before it is allocated.
    - writers (:mod:`.writers`, :mod:`.label_files`, :mod:`.overlays`, :mod:`.dicom_seg`): per-case outputs of batch
      inference (NIfTI/PNG label maps, DICOM SEG, volumes, overlays, head measurements), written atomically.
    - :class:`InputError`: the one error for unusable inputs (``.path``, ``.problem``), defined in
      :mod:`cranialseg.utils.errors`.
"""

from __future__ import annotations

from cranialseg.io.dicom_files import DicomSeries
from cranialseg.io.dicom_seg import read_dicom_series, sample_label_on_series, source_headers, write_dicom_seg
from cranialseg.io.discover import Case, discover_cases
from cranialseg.io.grid_check import CheckResampledSizeD, CheckResampledSized, CheckResampledSizeDict, resampled_shape
from cranialseg.io.label_check import CheckLabel, CheckLabelD, CheckLabeld, CheckLabelDict
from cranialseg.io.label_files import save_label_nifti, save_label_png, to_numpy
from cranialseg.io.limits import MAX_TILT_DEG, MAX_VOXELS
from cranialseg.io.load_transforms import LoadCranialImage, LoadCranialImageD, LoadCranialImaged, LoadCranialImageDict
from cranialseg.io.loader import load_image
from cranialseg.io.nifti import check_label_values, check_same_grid
from cranialseg.io.overlays import CLASS_COLOURS, overlay_picture, save_head_overlay, save_overlay_png
from cranialseg.io.reader import CranialImageReader
from cranialseg.io.series import list_dicom_series
from cranialseg.io.writers import (
    CASE_KEY,
    HC18_CSV_HEADER,
    OUTPUTS_KEY,
    CaseWriterd,
    SaveDicomSegd,
    SaveHeadMeasurementsd,
    SaveLabelNiftid,
    SaveLabelPngd,
    SaveOverlayd,
    SaveVolumesd,
    case_output_path,
    label_and_affine,
    write_hc18_csv,
)
from cranialseg.utils.errors import InputError

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
    "CheckLabel",
    "CheckLabeld",
    "CheckLabelD",
    "CheckLabelDict",
    "CheckResampledSized",
    "CheckResampledSizeD",
    "CheckResampledSizeDict",
    "resampled_shape",
    "save_label_nifti",
    "save_label_png",
    "to_numpy",
    "CLASS_COLOURS",
    "overlay_picture",
    "save_head_overlay",
    "save_overlay_png",
    "read_dicom_series",
    "sample_label_on_series",
    "source_headers",
    "write_dicom_seg",
    "CASE_KEY",
    "HC18_CSV_HEADER",
    "OUTPUTS_KEY",
    "CaseWriterd",
    "SaveDicomSegd",
    "SaveHeadMeasurementsd",
    "SaveLabelNiftid",
    "SaveLabelPngd",
    "SaveOverlayd",
    "SaveVolumesd",
    "case_output_path",
    "label_and_affine",
    "write_hc18_csv",
]
