"""Find the cases of a batch-inference input folder: DICOM series, single DICOM images, NIfTI, PNG/JPEG."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple, Union

import nibabel as nib
from PIL import Image

from cranialseg.io.dicom_files import DICOM_SUFFIXES, PathLike, group_dicom_series, read_dicom_header
from cranialseg.io.loader import is_planar_dicom
from cranialseg.io.nifti import NIFTI_SUFFIXES
from cranialseg.io.raster import RASTER_SUFFIXES
from cranialseg.utils.errors import InputError
from cranialseg.utils.spatial import is_2d

__all__ = ["Case", "discover_cases", "safe_case_id", "MAX_ID_LENGTH"]

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


#: longest case id: room for ``_overlay.png`` and a hash under the usual 255-byte file-name limit
MAX_ID_LENGTH = 120


def safe_case_id(rel: str, max_length: int = MAX_ID_LENGTH) -> str:
    """A file-name-safe, length-limited id: no path separators, no ``..``, no leading dot; long ids end with a hash.

    Example:
        >>> safe_case_id("study/../x.nii.gz"), safe_case_id("/../../../x"), len(safe_case_id("d" * 300))
        ('study__x', 'x', 120)
    """
    for suffix in NIFTI_SUFFIXES[::-1] + RASTER_SUFFIXES + DICOM_SUFFIXES:
        if rel.lower().endswith(suffix):
            rel = rel[: -len(suffix)]
            break
    text = rel.replace(os.sep, "__").replace("/", "__")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text)
    name = re.sub(r"\.{2,}", "_", name)
    name = re.sub(r"_{3,}", "__", name).strip("._-") or "case"
    if len(name) > max_length:
        digest = hashlib.sha1(rel.encode("utf-8", "surrogateescape")).hexdigest()[:10]
        name = f"{name[: max_length - 11].rstrip('._-')}-{digest}"
    return name


def _walk(root: Path, exclude: List[Path], problems: List[Problem]) -> List[str]:
    """Regular files under ``root`` (sorted), never raising: unreadable folders and files under ``exclude`` are
    reported in ``problems``."""
    found: List[str] = []
    excluded = [os.path.realpath(e) for e in exclude]

    def onerror(err: OSError) -> None:
        problems.append((os.fspath(err.filename or root), f"cannot list folder: {type(err).__name__}: {err}"))

    for folder, dirs, names in os.walk(root, onerror=onerror):
        real = os.path.realpath(folder)
        if any(real == e or real.startswith(e + os.sep) for e in excluded):
            problems.append((folder, "inside the output folder: not read as input (outputs of an earlier run)"))
            dirs[:] = []
            continue
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(folder, name)
            try:
                if os.path.isfile(path):
                    found.append(path)
            except OSError as err:  # e.g. a path longer than the system allows
                problems.append((path, f"cannot access file: {type(err).__name__}: {err}"))
    return found


def discover_cases(
    input_dir: PathLike,
    *,
    volume_modality: str = "CT",
    image_modality: str = "US",
    exclude: Sequence[PathLike] = (),
) -> Tuple[List[Case], List[Problem]]:
    """Walk ``input_dir`` (recursively) and return one case per DICOM series / DICOM image / NIfTI / image file.

    DICOM files are grouped by SeriesInstanceUID across the whole tree; a series of single-frame slices is one
    ``"dicom-series"`` case, each multi-frame or ultrasound file its own ``"dicom-image"`` case. Only headers are
    read here; loading (which validates geometry and pixel data) is left to :func:`load_image`, so a batch loop
    catches :class:`InputError` per case and goes on.

    Args:
        input_dir: the folder to walk, or one input file.
        volume_modality: modality reported for 3D NIfTI files (NIfTI carries none).
        image_modality: modality reported for 2D NIfTI and PNG/JPEG files.
        exclude: folders not to read (the output folder when it lies inside ``input_dir``); reported in problems.

    Case ids are unique and stable: the relative path without its suffix, made file-name safe (see
    :func:`_safe_id`); ids that would clash (``foo.nii`` and ``foo.nii.gz``) all get a hash of their relative path
    (``foo-1a2b3c4d``), so a real ``foo_2.nii.gz`` keeps ``foo_2``. Any error while looking at one file (a
    decompression bomb, a name too long, an unreadable header) makes that file a problem, never stops the walk.

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
    problems: List[Problem] = []
    if root.is_file():  # one file: that file's case only (its folder is not walked)
        files, root = [os.fspath(root)], root.parent
    elif root.is_dir():
        files = _walk(root, [Path(e) for e in exclude], problems)
    else:
        raise InputError(root, "no such folder or file", "discover_cases expects the folder holding the inputs")
    if not files and not problems:
        return [], [(os.fspath(root), "empty folder: no files found (expected DICOM, NIfTI or PNG/JPEG inputs)")]
    cases: List[Case] = []
    dicom_candidates: List[str] = []
    for path in files:
        low = path.lower()
        rel = os.path.relpath(path, root)
        if low.endswith(NIFTI_SUFFIXES):
            try:
                shape = nib.load(path).shape  # type: ignore[attr-defined]
            except Exception as err:  # noqa: BLE001 - one bad file never stops the walk
                problems.append((path, f"unreadable NIfTI file: {type(err).__name__}: {err}"))
                continue
            dims = 2 if is_2d(shape) else 3
            cases.append(
                Case(
                    safe_case_id(rel),
                    path,
                    "nifti",
                    volume_modality if dims == 3 else image_modality,
                    dims,
                    files=[path],
                )
            )
        elif low.endswith(RASTER_SUFFIXES):
            try:
                with Image.open(path):  # header only: the size limit is the reader's (max_voxels)
                    pass
            except Exception as err:  # noqa: BLE001 - e.g. PIL's DecompressionBombError: a problem, not a crash
                problems.append((path, f"unreadable image: {type(err).__name__}: {err}"))
                continue
            cases.append(Case(safe_case_id(rel), path, "raster", image_modality, 2, files=[path]))
        else:
            dicom_candidates.append(path)
    try:
        series_list, dicom_problems = group_dicom_series(dicom_candidates, skip_non_dicom=True)
    except Exception as err:  # noqa: BLE001 - group_dicom_series reports per file; this is a last resort
        series_list, dicom_problems = [], [(p, f"{type(err).__name__}: {err}") for p in dicom_candidates]
    for path, why in dicom_problems:
        if why.startswith("not a DICOM file") and not path.lower().endswith(DICOM_SUFFIXES):
            why = "not an image file (no DICOM marker; not NIfTI or PNG/JPEG)"
        problems.append((path, why))
    for series in series_list:
        try:
            headers = {f: read_dicom_header(f) for f in series.files}
        except Exception as err:  # noqa: BLE001 - a file changed since grouping
            problems.append((series.files[0], f"{type(err).__name__}: {err}"))
            continue
        planar = [f for f in series.files if is_planar_dicom(headers[f])]
        slices = [f for f in series.files if f not in planar]
        for path in planar:
            ds = headers[path]
            frames = int(ds.get("NumberOfFrames", 1) or 1)
            rel = os.path.relpath(path, root)
            cases.append(
                Case(safe_case_id(rel), path, "dicom-image", series.modality, 2, frames, series.series_uid, [path])
            )
        if slices:
            slices = sorted(slices + series.files_without_pixels)  # loading then names the lost slice
            folders = sorted({os.path.relpath(os.path.dirname(f), root) for f in slices})
            base = folders[0] if folders[0] != "." else "dicom"
            tag = series.series_number or hashlib.sha1(series.series_uid.encode()).hexdigest()[:8]
            case_id = safe_case_id(f"{base}_series{tag}")  # SeriesNumber is text from the file: sanitised too
            image: Union[str, List[str]] = slices if len(slices) > 1 else slices[0]
            dims = 3 if len(slices) > 1 else 2
            cases.append(Case(case_id, image, "dicom-series", series.modality, dims, 1, series.series_uid, slices))
    counts: Dict[str, int] = {}
    for case in cases:
        counts[case.case_id.lower()] = counts.get(case.case_id.lower(), 0) + 1
    for case in cases:  # clashing ids (also by case: macOS/Windows file systems) get a hash of their source
        if counts[case.case_id.lower()] > 1:
            key = os.path.relpath(case.files[0], root) + "|" + case.series_uid
            digest = hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()[:8]
            case.case_id = f"{case.case_id[: MAX_ID_LENGTH - 9]}-{digest}"
    cases.sort(key=lambda c: c.case_id)
    return cases, problems
