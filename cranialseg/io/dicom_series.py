"""Load a DICOM slice series (CT, MR, ...) as a (x, y, z) volume with a RAS affine, in HU."""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pydicom
from monai.utils import look_up_option

from cranialseg.io.dicom_files import PathLike, read_dicom_header, select_series
from cranialseg.io.geometry import analyze_slice_stack, lps_to_ras, resample_slice_stack
from cranialseg.io.limits import MAX_TILT_DEG, MAX_VOXELS, check_voxels
from cranialseg.io.pydicom_pixels import pixel_array
from cranialseg.utils.errors import InputError

__all__ = ["load_dicom_series", "decode_pixels", "IRREGULAR_OPTIONS"]

IRREGULAR_OPTIONS = ("resample", "error")
_logger = logging.getLogger(__name__)


def decode_pixels(path: PathLike, **kwargs: Any) -> Tuple[np.ndarray, pydicom.Dataset]:
    """Read one DICOM file with its pixel data decoded (``pydicom.pixels.pixel_array`` keyword arguments).

    Raises:
        InputError: no pixel data, or it cannot be decoded (truncated file, missing codec).
    """
    try:
        ds = pydicom.dcmread(os.fspath(path))
    except Exception as err:  # noqa: BLE001 - any parser failure is a bad file
        raise InputError(path, f"unreadable DICOM file: {type(err).__name__}: {err}", "file truncated?") from err
    if not any(t in ds for t in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise InputError(path, "DICOM file without pixel data", "expected an image (CT slice, US frame or cine)")
    try:
        if kwargs:
            try:
                arr = pixel_array(ds, **kwargs)
            except TypeError:  # pydicom 2.x shim without pydicom 3's decoding options
                arr = ds.pixel_array
        else:
            arr = ds.pixel_array
    except Exception as err:  # noqa: BLE001 - decoder errors come in many types
        syntax = ds.file_meta.get("TransferSyntaxUID")
        hint = "file truncated?"
        if syntax is not None and syntax.is_compressed:
            hint = f"{syntax.name}: truncated file or missing codec (pip install pylibjpeg pylibjpeg-libjpeg)?"
        raise InputError(path, f"pixel data cannot be decoded: {type(err).__name__}: {err}", hint) from err
    if arr.size == 0:
        raise InputError(path, f"zero-size image {arr.shape}", "expected Rows and Columns > 0")
    return arr, ds


def _tag(ds: pydicom.Dataset, path: str, keyword: str, length: int) -> np.ndarray:
    value = ds.get(keyword)
    if value is None:
        raise InputError(path, f"missing {keyword}", "every slice of a volume needs it to place the slice")
    try:
        arr = np.asarray([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(path, f"{keyword} is not numeric: {value!r}") from None
    if arr.shape != (length,) or not np.all(np.isfinite(arr)):
        raise InputError(path, f"{keyword} must be {length} finite numbers, got {list(value)!r}")
    return arr


def load_dicom_series(
    source: Union[PathLike, Sequence[PathLike]],
    *,
    series_uid: Optional[str] = None,
    on_irregular: str = "resample",
    slice_spacing: Optional[float] = None,
    tolerance_mm: float = 0.01,
    min_slices: int = 1,
    max_voxels: Optional[int] = MAX_VOXELS,
    max_tilt_deg: float = MAX_TILT_DEG,
) -> Tuple[np.ndarray, Dict[str, Any]]:
    """Load one DICOM slice series as a float32 ``(x, y, z)`` volume (HU for CT) with a RAS affine.

    Slices are grouped by SeriesInstanceUID, sorted by ImagePositionPatient along the slice normal (never by
    file name or InstanceNumber), rescaled with RescaleSlope/RescaleIntercept, and placed with
    ImageOrientationPatient, PixelSpacing and the positions. Gantry tilt and uneven gaps are detected: with
    ``on_irregular="resample"`` the stack is resampled onto a regular grid aligned with the slice plane
    (see :func:`cranialseg.io.geometry.resample_slice_stack`) and ``meta["geometry_fixes"]`` says so; with
    ``"error"`` an :class:`InputError` is raised. Stray non-DICOM files in the folder are ignored and listed
    in ``meta["skipped_files"]``.

    Args:
        source: a folder, one file, or a list of files.
        series_uid: the series to load when the folder holds several.
        on_irregular: ``"resample"`` or ``"error"`` for tilted / unevenly spaced stacks.
        slice_spacing: output slice spacing (mm) when resampling; default the smallest gap.
        tolerance_mm: largest gap difference or in-plane slice shift treated as regular.
        min_slices: fewer slices raise an :class:`InputError` (use 2 where a volume is required).
        max_voxels: refuse, before decoding, a series whose stack or resampled grid holds more voxels.
        max_tilt_deg: refuse a gantry tilt above this (degrees) rather than resample it.

    Returns:
        ``(array, meta)`` with ``meta`` keys ``affine`` (RAS, 4x4), ``spacing``, ``modality``,
        ``source_series_uid``, ``source_files`` (slice order), ``geometry_fixes``, ``gantry_tilt_deg``,
        ``slice_gaps_mm``, ``rescale`` and ``skipped_files``.

    Example:
        >>> from pydicom.data import get_testdata_file
        >>> arr, meta = load_dicom_series(get_testdata_file("CT_small.dcm"))
        >>> arr.shape, meta["modality"]
        ((128, 128, 1), 'CT')
    """
    on_irregular = look_up_option(on_irregular, IRREGULAR_OPTIONS)
    series, problems, where = select_series(source, series_uid)
    files = series.files
    if series.multiframe:
        raise InputError(
            files[0],
            f"multi-frame {series.modality} file in a slice series",
            "load a multi-frame (enhanced or cine) file on its own with load_image()",
        )
    headers = [read_dicom_header(f) for f in files]
    first = headers[0]
    rows, cols = int(first.get("Rows", 0)), int(first.get("Columns", 0))
    if rows <= 0 or cols <= 0:
        raise InputError(files[0], f"zero-size image (Rows={rows}, Columns={cols})", "expected Rows, Columns > 0")
    if len(files) < min_slices:
        raise InputError(
            where,
            f"{len(files)} slice(s) in series {series.series_uid} where a volume of at least {min_slices} is expected",
            "pass a folder with the whole series, or load it as a 2D image",
        )
    single = len(files) == 1
    if single and "ImageOrientationPatient" not in first:
        orientation = np.array([1.0, 0, 0, 0, 1, 0])
        positions = np.zeros((1, 3))
    else:
        orientation = _tag(first, files[0], "ImageOrientationPatient", 6)
        positions = np.stack([_tag(h, f, "ImagePositionPatient", 3) for h, f in zip(headers, files)])
    fixes: List[str] = []
    spacing_raw = first.get("PixelSpacing")
    if spacing_raw is None:
        pixel_spacing = np.array([1.0, 1.0])
        fixes.append("no PixelSpacing: 1 mm assumed in-plane")
    else:
        pixel_spacing = _tag(first, files[0], "PixelSpacing", 2)
    for h, f in zip(headers[1:], files[1:]):
        if (int(h.get("Rows", 0)), int(h.get("Columns", 0))) != (rows, cols):
            raise InputError(
                f,
                f"slice size {h.get('Rows')}x{h.get('Columns')} differs from {rows}x{cols} of {files[0]}",
                "all slices of a series must have the same Rows and Columns",
            )
        ori = _tag(h, f, "ImageOrientationPatient", 6)
        if not np.allclose(ori, orientation, atol=1e-4):
            raise InputError(f, f"ImageOrientationPatient {ori.tolist()} differs from {orientation.tolist()}")
        if spacing_raw is not None and not np.allclose(_tag(h, f, "PixelSpacing", 2), pixel_spacing, atol=1e-4):
            raise InputError(f, f"PixelSpacing {list(h.PixelSpacing)} differs from {pixel_spacing.tolist()}")
    if np.any(pixel_spacing <= 0):
        raise InputError(files[0], f"PixelSpacing {pixel_spacing.tolist()} is not positive", "expected mm > 0")
    if np.linalg.norm(np.cross(orientation[:3], orientation[3:])) < 1e-3:
        raise InputError(files[0], f"ImageOrientationPatient {orientation.tolist()} has parallel or zero axes")
    check_voxels(where, (cols, rows, len(files)), max_voxels, "slice stack")
    geo = analyze_slice_stack(positions, orientation, tolerance_mm=tolerance_mm)
    order = geo.order
    if len(geo.gaps) and geo.gaps.min() < max(tolerance_mm, 1e-3):
        k = int(np.argmin(geo.gaps))
        a, b = files[order[k]], files[order[k + 1]]
        raise InputError(
            b,
            f"duplicated slice position {positions[order[k + 1]].tolist()} (same as {a})",
            "a series must not hold the same slice twice; remove duplicates or split the series",
        )
    sorted_files = [files[i] for i in order]
    if geo.tilted and geo.tilt_deg > max_tilt_deg:
        raise InputError(
            where,
            f"gantry tilt {geo.tilt_deg:.1f} deg exceeds max_tilt_deg={max_tilt_deg:g}",
            "positions or orientation damaged? raise max_tilt_deg if the series is real",
        )
    if not geo.regular and on_irregular == "resample":
        dz = float(slice_spacing) if slice_spacing is not None else float(geo.gaps.min())
        span = float(geo.along_normal[-1] - geo.along_normal[0])
        shift = np.ptp(geo.inplane_offsets, axis=0) / np.array([pixel_spacing[1], pixel_spacing[0]])
        grid = (cols + int(np.ceil(shift[0])) + 1, rows + int(np.ceil(shift[1])) + 1, int(span / dz) + 1)
        check_voxels(where, grid, max_voxels, f"regular grid for resampling ({geo.describe()})")
    if not geo.regular and on_irregular == "error":
        raise InputError(
            where,
            f"irregular slice geometry: {geo.describe()}",
            "one affine cannot describe it; pass on_irregular='resample' to resample to a regular grid",
        )
    slices, slopes = [], []
    for path in sorted_files:
        arr, ds = decode_pixels(path)
        if arr.shape != (rows, cols):
            raise InputError(path, f"pixel array shape {arr.shape} differs from Rows x Columns {(rows, cols)}")
        try:
            slope = float(ds.get("RescaleSlope", 1) or 1)
            intercept = float(ds.get("RescaleIntercept", 0) or 0)
        except (TypeError, ValueError):
            raise InputError(path, f"RescaleSlope/Intercept not numeric: {ds.get('RescaleSlope')!r}") from None
        if not (np.isfinite(slope) and np.isfinite(intercept)):
            raise InputError(path, f"RescaleSlope {slope} / RescaleIntercept {intercept} not finite")
        slopes.append((slope, intercept))
        slices.append((arr.astype(np.float32) * np.float32(slope) + np.float32(intercept)).T)
    volume = np.stack(slices, axis=-1)
    if not np.all(np.isfinite(volume)):
        raise InputError(where, f"{int((~np.isfinite(volume)).sum())} NaN/inf voxels", "expected finite values")
    dx, dy = float(pixel_spacing[1]), float(pixel_spacing[0])
    pos_sorted = positions[order]
    affine = np.eye(4)
    affine[:3, 0] = orientation[:3] * dx
    affine[:3, 1] = orientation[3:] * dy
    affine[:3, 3] = pos_sorted[0]
    if geo.regular:
        if single:
            thickness = float(first.get("SpacingBetweenSlices", 0) or first.get("SliceThickness", 0) or 1.0)
            affine[:3, 2] = np.cross(orientation[:3], orientation[3:]) * thickness
        else:
            affine[:3, 2] = (pos_sorted[-1] - pos_sorted[0]) / (len(files) - 1)
    else:
        what = geo.describe()
        volume, affine = resample_slice_stack(
            volume,
            pos_sorted,
            orientation,
            (dx, dy),
            slice_spacing=slice_spacing,
            geometry=analyze_slice_stack(pos_sorted, orientation, tolerance_mm=tolerance_mm),
        )
        dz = float(np.linalg.norm(affine[:3, 2]))
        fixes.append(
            f"{what}: resampled to a regular grid aligned with the slice plane, slice spacing {dz:.4g} mm, "
            f"{volume.shape[2]} slices from {len(files)} (bilinear in-plane, linear along the normal)"
        )
        _logger.warning("%s: %s", where, fixes[-1])
    skipped = [p for p, _ in problems]
    meta: Dict[str, Any] = {
        "affine": lps_to_ras(affine),
        "spacing": np.linalg.norm(affine[:3, :3], axis=0),
        "modality": series.modality,
        "source_series_uid": series.series_uid,
        "source_study_uid": str(first.get("StudyInstanceUID", "")),
        "series_description": series.description,
        "source_files": sorted_files,
        "geometry_fixes": fixes,
        "resampled": not geo.regular,
        "gantry_tilt_deg": float(geo.tilt_deg),
        "gantry_detector_tilt_tag": float(first.get("GantryDetectorTilt", 0) or 0),
        "slice_gaps_mm": geo.gaps.tolist(),
        "rescale": "HU" if series.modality == "CT" else "RescaleSlope/Intercept applied",
        "skipped_files": skipped,
    }
    return volume, meta
