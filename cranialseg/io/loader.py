"""One entry point, :func:`load_image`, for every input the project reads: DICOM series folders or file
lists, single DICOM files (CT slice, ultrasound frame or cine), NIfTI, PNG/JPEG."""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
from monai.utils import look_up_option

from cranialseg.io.dicom_files import DICOM_SUFFIXES, PathLike, is_dicom_file, read_dicom_header, select_series
from cranialseg.io.dicom_image import load_dicom_image
from cranialseg.io.dicom_series import IRREGULAR_OPTIONS, load_dicom_series
from cranialseg.io.limits import MAX_TILT_DEG, MAX_VOXELS
from cranialseg.io.nifti import NIFTI_SUFFIXES, load_nifti
from cranialseg.io.raster import RASTER_SUFFIXES, load_raster_image
from cranialseg.utils.errors import InputError
from cranialseg.utils.spatial import has_singleton_slice, is_2d

__all__ = ["load_image", "input_kind", "is_planar_dicom"]

#: modalities stored as single 2D frames or cines rather than slice stacks
PLANAR_MODALITIES = ("US", "IVUS", "XC", "ES", "GM", "SM", "OP", "DX", "CR", "MG", "XA", "RF", "IO", "PX")


def input_kind(path: PathLike) -> str:
    """``"nifti"``, ``"raster"``, ``"dicom-folder"`` or ``"dicom"`` from the path (suffix, folder, DICM marker).

    Raises:
        InputError: the path does not exist or is none of these.
    """
    p = os.fspath(path)
    low = p.lower()
    if os.path.isdir(p):
        return "dicom-folder"
    if not os.path.exists(p):
        raise InputError(p, "no such file or folder")
    if low.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if low.endswith(RASTER_SUFFIXES):
        return "raster"
    if is_dicom_file(p) or low.endswith(DICOM_SUFFIXES):
        return "dicom"
    raise InputError(p, "not an image file", "expected DICOM, NIfTI (.nii, .nii.gz) or PNG/JPEG")


#: modalities whose single-frame files are slices of a volume (a missing position is then an error)
SLICE_MODALITIES = ("CT", "MR", "PT", "NM")


def is_planar_dicom(ds: Any) -> bool:
    """True for DICOM images that are 2D frames or cines: ultrasound and other projection modalities, colour or
    multi-frame files, and files of other modalities without a patient position. CT/MR/PET slices are not."""
    modality = str(ds.get("Modality", "")).upper()
    return (
        modality in PLANAR_MODALITIES
        or int(ds.get("NumberOfFrames", 1) or 1) > 1
        or int(ds.get("SamplesPerPixel", 1) or 1) > 1
        or (modality not in SLICE_MODALITIES and "ImagePositionPatient" not in ds)
    )


def _check_dims(array: np.ndarray, meta: Dict[str, Any], spatial_dims: Optional[int], where: str) -> np.ndarray:
    frames = int(meta.get("num_frames", 1))
    if spatial_dims is None:
        return array
    if spatial_dims == 3:
        if frames > 1:
            raise InputError(where, f"a {frames}-frame cine (2D + time) where a 3D volume is expected")
        if is_2d(array.shape):
            raise InputError(where, f"single slice {array.shape} where a 3D volume is expected", "pass the series")
        if array.ndim > 3:
            raise InputError(where, f"{array.ndim}D image {array.shape} where a 3D volume is expected")
        return array
    # spatial_dims == 2
    if frames > 1:
        return array  # (x, y, frames): the caller iterates the frames
    if has_singleton_slice(array.shape):
        meta["spatial_dims"] = 2
        return array[..., 0]
    if array.ndim != 2:
        raise InputError(where, f"{array.ndim}D image {array.shape} where a 2D image is expected")
    return array


def load_image(
    source: Union[PathLike, Sequence[PathLike]],
    *,
    spatial_dims: Optional[int] = None,
    series_uid: Optional[str] = None,
    on_irregular: str = "resample",
    slice_spacing: Optional[float] = None,
    pixel_spacing: Optional[Sequence[float]] = None,
    allow_nonfinite: bool = False,
    max_voxels: Optional[int] = MAX_VOXELS,
    max_tilt_deg: float = MAX_TILT_DEG,
) -> Tuple[np.ndarray, Dict[str, Any]]:
    """Load any supported input as a float32 array in MONAI axis order with its meta data.

    Args:
        source: a DICOM series folder, a list of DICOM files of one series, a DICOM file, a NIfTI file or a
            PNG/JPEG/BMP/TIFF file.
        spatial_dims: ``3`` refuses single slices, 2D images, cines and 4D files; ``2`` refuses volumes and
            squeezes a single slice to ``(x, y)``; ``None`` keeps what the file holds.
        series_uid: which series to read from a folder that holds several.
        on_irregular: ``"resample"`` or ``"error"`` for tilted / unevenly spaced DICOM slice stacks.
        slice_spacing: output slice spacing (mm) when such a stack is resampled; default the smallest gap.
        pixel_spacing: ``(dx, dy)`` mm for raster images (which carry no calibration).
        allow_nonfinite: let NaN/inf voxels of NIfTI files through.
        max_voxels: refuse, before allocating, an image (declared, or resampled from a tilted / unevenly
            spaced stack) with more voxels; ``None`` for no limit.
        max_tilt_deg: refuse a gantry tilt above this (degrees).

    Returns:
        ``(array, meta)``: array ``(x, y)``, ``(x, y, z)`` or ``(x, y, frames)`` (grey, no channel axis; a 4D
        NIfTI keeps its extra axis last); meta with ``affine`` (4x4 RAS for patient-space data), ``spacing``,
        ``spatial_dims``, ``num_frames``, ``modality``, ``source_series_uid``, ``source_files``,
        ``geometry_fixes`` and ``kind``.

    Raises:
        InputError: for anything that cannot be used, naming the file and the problem.

    Example:
        >>> from pydicom.data import get_testdata_file
        >>> arr, meta = load_image(get_testdata_file("693_UNCR.dcm"), spatial_dims=2)
        >>> arr.shape, meta["modality"], float(arr.min())
        ((512, 512), 'CT', -3024.0)
    """
    if spatial_dims not in (None, 2, 3):
        raise ValueError(f"spatial_dims must be None, 2 or 3, got {spatial_dims!r} ({type(spatial_dims).__name__}).")
    look_up_option(on_irregular, IRREGULAR_OPTIONS)
    series_kw: Dict[str, Any] = {
        "series_uid": series_uid,
        "on_irregular": on_irregular,
        "slice_spacing": slice_spacing,
        "max_voxels": max_voxels,
        "max_tilt_deg": max_tilt_deg,
    }
    if not isinstance(source, (str, os.PathLike)):
        files = [os.fspath(f) for f in source]
        if not files:
            raise InputError("<empty file list>", "no files given", "expected a DICOM series or one image file")
        if len(files) == 1:
            return load_image(files[0], spatial_dims=spatial_dims, pixel_spacing=pixel_spacing,
                              allow_nonfinite=allow_nonfinite, **series_kw)  # fmt: skip
        array, meta = load_dicom_series(files, min_slices=2 if spatial_dims == 3 else 1, **series_kw)
        kind, where = "dicom-series", os.path.dirname(files[0])
    else:
        where = os.fspath(source)
        kind = input_kind(where)
        if kind == "nifti":
            array, meta = load_nifti(where, allow_nonfinite=allow_nonfinite, max_voxels=max_voxels)
        elif kind == "raster":
            array, meta = load_raster_image(where, pixel_spacing=pixel_spacing, max_voxels=max_voxels)
        elif kind == "dicom-folder":
            series, _, _ = select_series(where, series_uid)
            if len(series.files) == 1 and is_planar_dicom(read_dicom_header(series.files[0])):
                array, meta = load_dicom_image(series.files[0], max_voxels=max_voxels)
                kind = "dicom-image"
            else:
                array, meta = load_dicom_series(where, min_slices=2 if spatial_dims == 3 else 1, **series_kw)
                kind = "dicom-series"
        else:
            header = read_dicom_header(where)
            if is_planar_dicom(header):
                array, meta = load_dicom_image(where, max_voxels=max_voxels)
                kind = "dicom-image"
            else:
                array, meta = load_dicom_series([where], min_slices=2 if spatial_dims == 3 else 1, **series_kw)
                kind = "dicom-series"
    meta.setdefault("num_frames", 1)
    meta.setdefault("spatial_dims", 2 if array.ndim == 2 or meta["num_frames"] > 1 else 3)
    meta["kind"] = kind
    meta["input_ndim"] = int(array.ndim)
    array = _check_dims(array, meta, spatial_dims, where)
    return array, meta
