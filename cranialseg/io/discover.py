"""Find the cases of a batch-inference input folder: DICOM series, single DICOM images, NIfTI, PNG/JPEG."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import nibabel as nib
from PIL import Image, UnidentifiedImageError

from cranialseg.io.dicom_files import PathLike, group_dicom_series, list_folder_files, read_dicom_header
from cranialseg.io.errors import InputError
from cranialseg.io.loader import is_planar_dicom
from cranialseg.io.nifti import NIFTI_SUFFIXES
from cranialseg.io.raster import RASTER_SUFFIXES

__all__ = ["Case", "discover_cases"]

Problem = Tuple[str, str]


@dataclass
class Case:
    """One loadable input found by :func:`discover_cases`.

    Attributes:
        case_id: stable, unique, file-system-safe id derived from the relative path (and series).
        image: what :func:`cranialseg.io.load_image` / ``LoadImage(reader=CranialImageReader())`` takes: a file
            path, or the list of a DICOM series' files.
        kind: ``"dicom-series"``, ``"dicom-image"`` (one file: US frame/cine), ``"nifti"`` or ``"raster"``.
        modality: DICOM Modality ("CT", "US", ...); for NIfTI and raster files the ``discover_cases`` defaults
            (``volume_modality`` for 3D, ``image_modality`` for 2D).
        spatial_dims: 3 for volumes, 2 for images and cines.
        num_frames: frames of a cine (1 otherwise).
        series_uid: SeriesInstanceUID for DICOM cases, ``""`` otherwise.
    """

    case_id: str
    image: Union[str, List[str]]
    kind: str
    modality: str
    spatial_dims: int
    num_frames: int = 1
    series_uid: str = ""
    files: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        """Plain dict (e.g. a datalist item: ``{"image": ..., "case_id": ...}``)."""
        return asdict(self)


def _safe_id(rel: str) -> str:
    for suffix in NIFTI_SUFFIXES[::-1] + RASTER_SUFFIXES + (".dcm", ".dicom", ".ima"):
        if rel.lower().endswith(suffix):
            rel = rel[: -len(suffix)]
            break
    return re.sub(r"[^A-Za-z0-9._-]+", "_", rel.replace(os.sep, "__")).strip("_") or "case"


def discover_cases(
    input_dir: PathLike,
    *,
    volume_modality: str = "CT",
    image_modality: str = "US",
) -> Tuple[List[Case], List[Problem]]:
    """Walk ``input_dir`` (recursively) and return one case per DICOM series / DICOM image / NIfTI / image file.

    DICOM files are grouped by SeriesInstanceUID across the whole tree; a series of single-frame slices is one
    ``"dicom-series"`` case, each multi-frame or ultrasound file its own ``"dicom-image"`` case. Only headers are
    read here; loading (which validates geometry and pixel data) is left to :func:`load_image`, so a batch loop
    catches :class:`InputError` per case and goes on.

    Args:
        input_dir: the folder to walk.
        volume_modality: modality reported for 3D NIfTI files (NIfTI carries none).
        image_modality: modality reported for 2D NIfTI and PNG/JPEG files.

    Returns:
        ``(cases, problems)``: cases sorted by ``case_id``; problems as ``(path, reason)`` for every file that
        cannot be used (not an image, unreadable, DICOM without pixel data, ...).

    Example:
        >>> import tempfile
        >>> cases, problems = discover_cases(tempfile.mkdtemp())
        >>> cases, problems[0][1]
        ([], 'empty folder: no files found (expected DICOM, NIfTI or PNG/JPEG inputs)')
    """
    root = Path(input_dir)
    if not root.is_dir():
        raise InputError(root, "not a folder", "discover_cases expects the folder holding the inputs")
    files = list_folder_files(root, recursive=True)
    problems: List[Problem] = []
    if not files:
        return [], [(os.fspath(root), "empty folder: no files found (expected DICOM, NIfTI or PNG/JPEG inputs)")]
    cases: List[Case] = []
    dicom_candidates: List[str] = []
    for path in files:
        low = path.lower()
        rel = os.path.relpath(path, root)
        if low.endswith(NIFTI_SUFFIXES):
            try:
                shape = nib.load(path).shape  # type: ignore[attr-defined]
            except Exception as err:  # noqa: BLE001
                problems.append((path, f"unreadable NIfTI file: {type(err).__name__}: {err}"))
                continue
            dims = 2 if len(shape) == 2 or (len(shape) >= 3 and shape[2] == 1 and len(shape) == 3) else 3
            cases.append(
                Case(_safe_id(rel), path, "nifti", volume_modality if dims == 3 else image_modality, dims, files=[path])
            )
        elif low.endswith(RASTER_SUFFIXES):
            try:
                with Image.open(path) as img:
                    img.verify()
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
                problems.append((path, f"unreadable image: {type(err).__name__}: {err}"))
                continue
            cases.append(Case(_safe_id(rel), path, "raster", image_modality, 2, files=[path]))
        else:
            dicom_candidates.append(path)
    series_list, dicom_problems = group_dicom_series(dicom_candidates, skip_non_dicom=True)
    for path, why in dicom_problems:
        if why.startswith("not a DICOM file"):
            why = "not an image file (no DICOM marker; not NIfTI or PNG/JPEG)"
        problems.append((path, why))
    for series in series_list:
        headers = {f: read_dicom_header(f) for f in series.files}
        planar = [f for f in series.files if is_planar_dicom(headers[f])]
        slices = [f for f in series.files if f not in planar]
        for path in planar:
            ds = headers[path]
            frames = int(ds.get("NumberOfFrames", 1) or 1)
            rel = os.path.relpath(path, root)
            cases.append(
                Case(_safe_id(rel), path, "dicom-image", series.modality, 2, frames, series.series_uid, [path])
            )
        if slices:
            slices = sorted(slices + series.files_without_pixels)  # loading then names the lost slice
            folders = sorted({os.path.relpath(os.path.dirname(f), root) for f in slices})
            base = _safe_id(folders[0]) if folders[0] != "." else "dicom"
            tag = series.series_number or hashlib.sha1(series.series_uid.encode()).hexdigest()[:8]
            case_id = f"{base}_series{tag}"
            image: Union[str, List[str]] = slices if len(slices) > 1 else slices[0]
            dims = 3 if len(slices) > 1 else 2
            cases.append(Case(case_id, image, "dicom-series", series.modality, dims, 1, series.series_uid, slices))
    cases.sort(key=lambda c: c.case_id)
    seen: Dict[str, int] = {}
    for case in cases:  # make ids unique, deterministically
        n = seen.get(case.case_id, 0)
        seen[case.case_id] = n + 1
        if n:
            case.case_id = f"{case.case_id}_{n + 1}"
    return cases, problems
