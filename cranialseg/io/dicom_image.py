"""Load a single-file DICOM image — ultrasound frame or cine, any photometric interpretation — as grey.

Ultrasound DICOM comes as MONOCHROME2, RGB, YBR_FULL(_422) (often JPEG) or PALETTE COLOR, single-frame or
multi-frame (cine). All become one grey channel (ITU-R BT.601 luma) in MONAI's axis order: ``(x, y)`` for a
frame and ``(x, y, frames)`` for a cine (MONAI 1.6's PydicomReader returns a cine as ``(rows, frames, cols)``).
The in-plane spacing comes from PixelSpacing, else from the ultrasound region calibration
(SequenceOfUltrasoundRegions PhysicalDeltaX/Y in cm), else 1 mm, and ``meta["spacing_source"]`` says which.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pydicom

from cranialseg.io.colour import rgb_to_luma
from cranialseg.io.dicom_files import PathLike, read_dicom_header
from cranialseg.io.dicom_series import decode_pixels
from cranialseg.io.limits import MAX_VOXELS, check_voxels
from cranialseg.io.pydicom_pixels import apply_color_lut
from cranialseg.utils.errors import InputError

__all__ = ["load_dicom_image", "ultrasound_spacing"]

_CM_UNITS = 3  # PhysicalUnitsXDirection code for cm


def ultrasound_spacing(ds: pydicom.Dataset) -> Tuple[float, float, str]:
    """In-plane pixel size ``(dx, dy)`` in mm and where it came from.

    Order: PixelSpacing (row, column spacing), then the largest 2D ultrasound region in cm
    (SequenceOfUltrasoundRegions, PhysicalDeltaX/Y x 10), then 1 mm.

    Example:
        >>> from pydicom.data import get_testdata_file
        >>> ultrasound_spacing(pydicom.dcmread(get_testdata_file("US1_UNCR.dcm")))
        (1.0, 1.0, 'none: 1 mm assumed (no PixelSpacing or ultrasound region calibration)')
    """
    spacing = ds.get("PixelSpacing")
    if spacing is not None and len(spacing) == 2 and all(float(v) > 0 for v in spacing):
        return float(spacing[1]), float(spacing[0]), "PixelSpacing"
    best, best_area = None, -1.0
    for region in ds.get("SequenceOfUltrasoundRegions", []) or []:
        units = (region.get("PhysicalUnitsXDirection"), region.get("PhysicalUnitsYDirection"))
        deltas = (region.get("PhysicalDeltaX"), region.get("PhysicalDeltaY"))
        if units != (_CM_UNITS, _CM_UNITS) or None in deltas or min(abs(float(d)) for d in deltas) <= 0:
            continue
        if region.get("RegionSpatialFormat", 1) not in (1, None):  # 1 = 2D tissue image
            continue
        area = float(
            (int(region.get("RegionLocationMaxX1", 0)) - int(region.get("RegionLocationMinX0", 0)))
            * (int(region.get("RegionLocationMaxY1", 0)) - int(region.get("RegionLocationMinY0", 0)))
        )
        if area > best_area:
            best, best_area = deltas, area
    if best is not None:
        return abs(float(best[0])) * 10.0, abs(float(best[1])) * 10.0, "SequenceOfUltrasoundRegions (cm -> mm)"
    return 1.0, 1.0, "none: 1 mm assumed (no PixelSpacing or ultrasound region calibration)"


def _to_grey(path: PathLike, ds: pydicom.Dataset, frames: int) -> Tuple[np.ndarray, List[str]]:
    """Decode to ``(frames, rows, cols)`` float32 grey and note the conversion."""
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    notes: List[str] = []
    if photometric in ("YBR_FULL", "YBR_FULL_422"):
        arr, ds = decode_pixels(path, as_rgb=False)  # Y of YBR_FULL is BT.601 luma: no colour round trip
        grey = arr[..., 0].astype(np.float32)
        notes.append(f"{photometric}: Y channel kept (ITU-R BT.601 luma)")
    else:
        arr, ds = decode_pixels(path)
        samples = int(ds.get("SamplesPerPixel", 1))
        if photometric == "PALETTE COLOR":
            rgb = apply_color_lut(arr, ds)
            bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
            grey = (rgb_to_luma(rgb) / np.float32(257.0 if bits == 16 else 1.0)).astype(np.float32)
            notes.append("PALETTE COLOR: colour LUT applied, then ITU-R BT.601 luma (8-bit range)")
        elif samples >= 3:
            grey = rgb_to_luma(arr)
            notes.append(f"{photometric}: ITU-R BT.601 luma of RGB")
        else:
            grey = arr.astype(np.float32)
            slope = float(ds.get("RescaleSlope", 1) or 1)
            intercept = float(ds.get("RescaleIntercept", 0) or 0)
            if (slope, intercept) != (1.0, 0.0):
                grey = grey * np.float32(slope) + np.float32(intercept)
                notes.append(f"RescaleSlope {slope:g} / RescaleIntercept {intercept:g} applied")
            if photometric == "MONOCHROME1":
                grey = grey.max() + grey.min() - grey
                notes.append("MONOCHROME1 inverted so that bright means high")
    if frames == 1 and grey.ndim == 2:
        grey = grey[None]
    if grey.ndim != 3 or grey.shape[0] != frames:
        raise InputError(path, f"decoded pixel array {arr.shape} does not match NumberOfFrames={frames}")
    return grey, notes


def load_dicom_image(path: PathLike, *, max_voxels: Optional[int] = MAX_VOXELS) -> Tuple[np.ndarray, Dict[str, Any]]:
    """Load one single-file DICOM image as grey float32: ``(x, y)`` for a frame, ``(x, y, frames)`` for a cine.

    Args:
        path: a DICOM file (ultrasound frame or cine, or any other one-file 2D image).
        max_voxels: refuse larger images before decoding them.

    Returns:
        ``(array, meta)``; ``meta`` holds ``affine`` (4x4, ``diag(dx, dy, 1, 1)`` in image-plane mm: ultrasound
        has no patient frame), ``spacing``, ``spacing_source``, ``modality``, ``num_frames``, ``frame_time_ms``,
        ``source_series_uid``, ``source_files``, ``photometric_interpretation``, ``conversions`` and
        ``geometry_fixes``.

    Example:
        >>> from pydicom.data import get_testdata_file
        >>> arr, meta = load_dicom_image(get_testdata_file("US1_UNCR.dcm"))
        >>> arr.shape, meta["modality"]
        ((640, 480), 'US')
    """
    header = read_dicom_header(path)
    frames = int(header.get("NumberOfFrames", 1) or 1)
    rows, cols = int(header.get("Rows", 0) or 0), int(header.get("Columns", 0) or 0)
    if rows <= 0 or cols <= 0 or frames <= 0:
        raise InputError(path, f"zero-size image (Rows={rows}, Columns={cols}, frames={frames})")
    check_voxels(path, (cols, rows, frames), max_voxels, "image")
    modality = str(header.get("Modality", "")).upper()
    if frames > 1 and modality in ("CT", "MR", "PT", "NM"):
        raise InputError(
            path,
            f"multi-frame (enhanced) {modality} with {frames} frames is not supported",
            "convert it to a single-frame slice series first (e.g. dcm2niix, or dcmtk/emf2sf)",
        )
    grey, notes = _to_grey(path, header, frames)
    if not np.all(np.isfinite(grey)):
        raise InputError(path, f"{int((~np.isfinite(grey)).sum())} NaN/inf pixels", "expected finite values")
    dx, dy, source = ultrasound_spacing(header)
    fixes = [] if source.startswith(("PixelSpacing", "Sequence")) else ["no pixel calibration: 1 mm pixels assumed"]
    array = np.ascontiguousarray(np.moveaxis(grey, 0, -1).transpose(1, 0, 2))  # (cols, rows, frames)
    if frames == 1:
        array = array[..., 0]
    affine = np.diag([dx, dy, 1.0, 1.0])
    frame_time = header.get("FrameTime")
    meta: Dict[str, Any] = {
        "affine": affine,
        "spacing": np.array([dx, dy] + ([1.0] if frames > 1 else [])),
        "spacing_source": source,
        "modality": str(header.get("Modality", "")),
        "num_frames": frames,
        "frame_time_ms": float(frame_time) if frame_time not in (None, "") else 0.0,
        "source_series_uid": str(header.get("SeriesInstanceUID", "")),
        "source_study_uid": str(header.get("StudyInstanceUID", "")),
        "source_files": [str(path)],
        "photometric_interpretation": str(header.get("PhotometricInterpretation", "")),
        "conversions": notes,
        "geometry_fixes": fixes,
        "resampled": False,
    }
    return array, meta
