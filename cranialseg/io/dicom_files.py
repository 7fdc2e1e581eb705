"""Reading DICOM headers safely and grouping the files of a folder into series."""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple, Union

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from cranialseg.utils.errors import InputError
from cranialseg.utils.suffixes import DICOM_SUFFIXES

__all__ = [
    "DicomSeries",
    "read_dicom_header",
    "clear_header_cache",
    "is_dicom_file",
    "group_dicom_series",
    "PathLike",
    "DICOM_SUFFIXES",
]


PathLike = Union[str, os.PathLike]
Problem = Tuple[str, str]

_PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
#: DICOM objects that are not images to segment (segmentations, structures, reports, ...), even with pixel data
NON_IMAGE_MODALITIES = ("SEG", "RTSTRUCT", "RTPLAN", "RTDOSE", "SR", "PR", "KO", "REG", "FID", "DOC", "AU", "ECG")


def is_dicom_file(path: PathLike) -> bool:
    """True when the file carries the DICOM Part 10 preamble (``DICM`` at byte 128)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


#: headers kept by :func:`read_dicom_header` (a few thousand slices of a batch's current studies)
HEADER_CACHE_SIZE = 4096
_HEADER_CACHE: OrderedDict[tuple, Dataset] = OrderedDict()


def clear_header_cache() -> None:
    """Forget the DICOM headers kept by :func:`read_dicom_header`."""
    _HEADER_CACHE.clear()


def read_dicom_header(path: PathLike, *, defer_size: str = "2 KB") -> Dataset:
    """Read a DICOM file's header, leaving large values (pixel data) on disk.

    Headers are kept (keyed by path, size and modification time, at most :data:`HEADER_CACHE_SIZE`), so
    discovery, the reader and the DICOM SEG writer read each file's header once: a changed file is read again.
    Treat the returned dataset as read-only.

    Raises:
        InputError: the file is not DICOM, is truncated inside its header, or cannot be opened.

    Example:
        >>> from pydicom.data import get_testdata_file
        >>> read_dicom_header(get_testdata_file("CT_small.dcm")).Modality
        'CT'
    """
    try:
        stat = os.stat(path)
        key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns, defer_size)
    except OSError:
        key = None
    if key is not None and key in _HEADER_CACHE:
        _HEADER_CACHE.move_to_end(key)
        return _HEADER_CACHE[key]
    ds = _read_header(path, defer_size)
    if key is not None:
        _HEADER_CACHE[key] = ds
        while len(_HEADER_CACHE) > HEADER_CACHE_SIZE:
            _HEADER_CACHE.popitem(last=False)
    return ds


def _read_header(path: PathLike, defer_size: str) -> Dataset:
    try:
        ds = pydicom.dcmread(os.fspath(path), defer_size=defer_size)
    except InvalidDicomError:
        raise InputError(path, "not a DICOM file (no 'DICM' marker at byte 128)", "expected DICOM Part 10") from None
    except (OSError, EOFError, ValueError, KeyError, TypeError, IndexError, OverflowError) as err:
        raise InputError(path, f"unreadable DICOM header: {type(err).__name__}: {err}", "file truncated?") from err
    if "SOPClassUID" not in ds and "SeriesInstanceUID" not in ds:
        raise InputError(path, "truncated or empty DICOM header (no SOPClassUID or SeriesInstanceUID)")
    return ds


def has_pixel_data(ds: Dataset) -> bool:
    """True when the dataset holds (possibly deferred) pixel data."""
    return any(tag in ds for tag in _PIXEL_TAGS)


@dataclass
class DicomSeries:
    """The files of one DICOM series found in a folder (in file-name order, not slice order).

    Attributes:
        series_uid: SeriesInstanceUID.
        files: paths of the image files of the series.
        modality: the Modality of its first file ("CT", "US", ...).
        description: SeriesDescription, "" when absent.
        series_number: SeriesNumber as text, "" when absent.
        multiframe: the series is made of multi-frame files (each file is its own image, e.g. US cine).
        files_without_pixels: files of this series that hold no pixel data (a lost slice).
    """

    series_uid: str
    files: List[str] = field(default_factory=list)
    modality: str = ""
    description: str = ""
    series_number: str = ""
    multiframe: bool = False
    files_without_pixels: List[str] = field(default_factory=list)

    def summary(self) -> str:
        """``"CT series 3 'head' (28 files) uid=1.2..."`` for messages."""
        label = f"{self.modality or '?'} series {self.series_number or '?'}"
        if self.description:
            label += f" '{self.description}'"
        return f"{label} ({len(self.files)} files) uid={self.series_uid}"


def group_dicom_series(
    files: Iterable[PathLike], *, skip_non_dicom: bool = True
) -> Tuple[List[DicomSeries], List[Problem]]:
    """Group DICOM files by SeriesInstanceUID.

    Args:
        files: candidate files (any order; stray non-DICOM files allowed).
        skip_non_dicom: list files without the DICOM marker among the problems instead of reading them.

    Returns:
        ``(series, problems)``: series sorted by (series number, uid); problems as ``(path, reason)`` for files
        that are not DICOM, unreadable, or hold no pixel data.
    """
    groups: dict = {}
    problems: List[Problem] = []
    pixelless: List[Tuple[str, str]] = []
    for path in sorted(os.fspath(f) for f in files):
        if skip_non_dicom and not is_dicom_file(path):
            problems.append((path, "not a DICOM file (no 'DICM' marker at byte 128)"))
            continue
        try:
            ds = read_dicom_header(path)
        except InputError as err:
            problems.append((path, err.problem))
            continue
        modality = str(ds.get("Modality", ""))
        if modality.upper() in NON_IMAGE_MODALITIES:
            problems.append((path, f"DICOM {modality} object, not an image to segment"))
            continue
        if not has_pixel_data(ds):
            kind = modality or str(ds.get("SOPClassUID", "")) or "no Modality, e.g. a DICOMDIR"
            problems.append((path, f"DICOM file without pixel data ({kind}); not an image"))
            pixelless.append((path, str(ds.get("SeriesInstanceUID", ""))))
            continue
        uid = str(ds.get("SeriesInstanceUID", "")) or f"no-series-uid:{path}"
        series = groups.get(uid)
        if series is None:
            series = groups[uid] = DicomSeries(
                series_uid=uid,
                modality=str(ds.get("Modality", "")),
                description=str(ds.get("SeriesDescription", "")),
                series_number=str(ds.get("SeriesNumber", "")),
            )
        series.files.append(path)
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            series.multiframe = True

    for path, uid in pixelless:
        if uid in groups:
            groups[uid].files_without_pixels.append(path)

    def _key(s: DicomSeries):
        try:
            return (0, float(s.series_number), s.series_uid)
        except ValueError:
            return (1, 0.0, s.series_uid)

    return sorted(groups.values(), key=_key), problems


def list_folder_files(folder: PathLike, *, recursive: bool = False) -> List[str]:
    """Regular files of a folder (sorted), hidden files included so they can be reported."""
    root = Path(folder)
    pattern = root.rglob("*") if recursive else root.glob("*")
    return sorted(os.fspath(p) for p in pattern if p.is_file())


def select_series(
    source: Union[PathLike, Sequence[PathLike]], series_uid: Optional[str] = None
) -> Tuple[DicomSeries, List[Problem], str]:
    """The one series to load from a folder or a list of files.

    Raises:
        InputError: no DICOM image in ``source``, several series and no ``series_uid``, or an unknown uid.
    """
    if isinstance(source, (str, os.PathLike)):
        where = os.fspath(source)
        if not os.path.exists(where):
            raise InputError(where, "no such file or folder")
        files = list_folder_files(where, recursive=True) if os.path.isdir(where) else [where]
    else:
        files = [os.fspath(f) for f in source]
        where = files[0] if files else "<empty file list>"
        if len(files) > 1:
            where = os.path.dirname(files[0]) or where
    if not files:
        raise InputError(where, "empty folder", "expected DICOM files of one series")
    series, problems = group_dicom_series(files, skip_non_dicom=False)
    if len(files) == 1 and problems:
        raise InputError(problems[0][0], problems[0][1], "expected a DICOM image file")
    broken = [
        (p, why)
        for p, why in problems
        if why.startswith(("unreadable", "truncated"))
        or (why.startswith("not a DICOM") and p.lower().endswith(DICOM_SUFFIXES))
    ]
    if broken:
        path, why = broken[0]
        more = f"; {len(broken) - 1} more bad files" if len(broken) > 1 else ""
        raise InputError(path, why + more, "remove or replace the file; a missing slice would leave a gap")
    if not series:
        reasons = "; ".join(sorted({why for _, why in problems}))
        raise InputError(where, f"no DICOM image found among {len(files)} files ({reasons})", "expected DICOM")
    if series_uid is not None:
        chosen = [s for s in series if s.series_uid == series_uid]
        if not chosen:
            known = ", ".join(s.series_uid for s in series)
            raise InputError(where, f"series {series_uid!r} not found", f"series present: {known}")
        series = chosen
    if len(series) > 1:
        listing = "; ".join(s.summary() for s in series)
        raise InputError(
            where,
            f"{len(series)} DICOM series in one folder: {listing}",
            "pass series_uid=... to pick one, or use discover_cases() to load them all",
        )
    lost = series[0].files_without_pixels
    if lost:
        more = f" (and {len(lost) - 1} more)" if len(lost) > 1 else ""
        raise InputError(lost[0], f"slice of series {series[0].series_uid} without pixel data{more}", "truncated?")
    return series[0], problems, where
