"""Write a label map as a DICOM Segmentation (highdicom) that references the source series."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cranialseg import __version__
from cranialseg.io.label_files import to_numpy
from cranialseg.utils.atomic import atomic_write

__all__ = ["read_dicom_series", "source_headers", "sample_label_on_series", "write_dicom_seg", "TYPE2_ATTRIBUTES"]

#: Type 2 attributes (present, may be empty) that highdicom copies from the source images into a SEG; anonymised
#: series often lack them
TYPE2_ATTRIBUTES = {
    "PatientName": "PN",
    "PatientID": "LO",
    "PatientBirthDate": "DA",
    "PatientSex": "CS",
    "StudyDate": "DA",
    "StudyTime": "TM",
    "ReferringPhysicianName": "PN",
    "StudyID": "SH",
    "AccessionNumber": "SH",
}
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)


def source_headers(files: Sequence[str | Path]) -> list[Any]:
    """Headers of the source slices, in the given (slice) order, ready for highdicom.

    The headers come from :func:`cranialseg.io.dicom_files.read_dicom_header` (read once per file and kept), and
    are copied without pixel data; Type 2 attributes that the source lacks (:data:`TYPE2_ATTRIBUTES`, e.g.
    PatientBirthDate of an anonymised series) are added empty, as the standard allows, so that the SEG can copy
    them, and an empty DeidentificationMethod of a de-identified series (Type 1C) says that the method is not
    recorded.

    Example:
        >>> from pydicom.data import get_testdata_file
        >>> ds = source_headers([get_testdata_file("CT_small.dcm")])[0]
        >>> "PixelData" in ds, ds.AccessionNumber
        (False, '')
    """
    from pydicom.dataset import Dataset, FileMetaDataset

    from cranialseg.io.dicom_files import read_dicom_header

    out = []
    for file in files:
        header = read_dicom_header(file)
        ds = Dataset()
        for tag in header.keys():
            if int(tag) not in _PIXEL_TAGS:
                ds.add(header[tag])
        ds.file_meta = FileMetaDataset(header.file_meta) if hasattr(header, "file_meta") else FileMetaDataset()
        for keyword, vr in TYPE2_ATTRIBUTES.items():
            if keyword not in ds:
                ds.add_new(keyword, vr, None)  # new elements: the cached header is never changed
        removed = str(ds.get("PatientIdentityRemoved", "")).upper() == "YES"
        if removed and not ds.get("DeidentificationMethod") and not ds.get("DeidentificationMethodCodeSequence"):
            # Type 1C when PatientIdentityRemoved is YES; anonymisers often leave it empty and the SEG copies it
            ds.add_new("DeidentificationMethod", "LO", "de-identified at the source; method not recorded")
        out.append(ds)
    return out


def read_dicom_series(source: str | Path | Sequence[str | Path], series_uid: str | None = None) -> list[Any]:
    """pydicom datasets (with pixel data) of one series, sorted along the slice normal.

    ``source`` is a folder (searched recursively), one file or a list of files. When the files hold several series
    the one with ``series_uid`` is taken, else the one with most instances.

    Example:
        >>> read_dicom_series([])
        Traceback (most recent call last):
        ...
        FileNotFoundError: no DICOM image files found in []
    """
    import pydicom

    if isinstance(source, (str, Path)):
        path = Path(source)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    else:
        files = [Path(p) for p in source]
    series: dict[str, list[Any]] = defaultdict(list)
    for file in files:
        try:
            ds = pydicom.dcmread(file)
        except Exception:
            continue
        if "PixelData" in ds and "SeriesInstanceUID" in ds:
            series[str(ds.SeriesInstanceUID)].append(ds)
    if not series:
        raise FileNotFoundError(f"no DICOM image files found in {source}")
    if series_uid is not None and series_uid in series:
        chosen = series[series_uid]
    else:
        chosen = max(series.values(), key=len)

    def position(ds: Any) -> float:
        iop = np.asarray(getattr(ds, "ImageOrientationPatient", [1, 0, 0, 0, 1, 0]), dtype=float)
        ipp = np.asarray(getattr(ds, "ImagePositionPatient", [0, 0, 0]), dtype=float)
        return float(np.dot(np.cross(iop[:3], iop[3:]), ipp))

    return sorted(chosen, key=position)


def sample_label_on_series(label: Any, affine: Any, datasets: Sequence[Any]) -> np.ndarray:
    """Nearest-neighbour sample a label map on the pixel grid of each source slice.

    Args:
        label: ``(1, X, Y, Z)`` or ``(X, Y, Z)`` label map on the grid given by ``affine``.
        affine: 4x4 voxel-to-world affine in MONAI's RAS convention (as MONAI's DICOM readers return it).
        datasets: the source slices (``ImagePositionPatient``, ``ImageOrientationPatient``, ``PixelSpacing``).

    Returns:
        uint8 array ``(len(datasets), Rows, Columns)``, frame ``i`` aligned with ``datasets[i]``. Working from the
        slice geometry keeps this right whatever axis order or flips the reader used.

    Example:
        >>> sample_label_on_series(np.zeros((2, 2, 1)), np.eye(4), []).shape
        (0,)
    """
    arr = np.rint(to_numpy(label)).astype(np.uint8)
    arr = arr[0] if arr.ndim == 4 else arr
    if arr.ndim != 3:
        raise ValueError(f"label must be 3D (X, Y, Z) for a DICOM SEG, got shape {arr.shape}")
    if not datasets:
        return np.zeros((0,), dtype=np.uint8)
    world_to_voxel = np.linalg.inv(np.asarray(to_numpy(affine), dtype=np.float64))
    frames = []
    for ds in datasets:
        rows, cols = int(ds.Rows), int(ds.Columns)
        iop = np.asarray(ds.ImageOrientationPatient, dtype=np.float64)
        ipp = np.asarray(ds.ImagePositionPatient, dtype=np.float64)
        row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
        r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        lps = ipp[None, None] + c[..., None] * col_spacing * iop[:3] + r[..., None] * row_spacing * iop[3:]
        ras = lps * np.array([-1.0, -1.0, 1.0])
        homo = np.concatenate([ras, np.ones((rows, cols, 1))], axis=-1)
        vox = np.rint(homo @ world_to_voxel.T)[..., :3].astype(np.int64)
        inside = np.all((vox >= 0) & (vox < np.asarray(arr.shape)), axis=-1)
        frame = np.zeros((rows, cols), dtype=np.uint8)
        v = vox[inside]
        frame[inside] = arr[v[:, 0], v[:, 1], v[:, 2]]
        frames.append(frame)
    return np.stack(frames)


def _series_number(ds: Any) -> int:
    """The source's SeriesNumber as an int (0 when absent or not a number, e.g. a hostile ``/../x``)."""
    try:
        return max(0, int(float(str(ds.get("SeriesNumber", 0) or 0))))
    except (TypeError, ValueError, OverflowError):
        return 0


def _segment_codes(name: str) -> tuple[Any, Any]:
    from pydicom.sr.codedict import codes

    key = name.lower()
    if "ventric" in key and "ivh" not in key:
        return codes.SCT.AnatomicalStructure, codes.SCT.LateralVentricle
    if "clot" in key:
        return codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.BloodClot
    return codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Hemorrhage


def write_dicom_seg(
    label: Any,
    affine: Any,
    source: str | Path | Sequence[str | Path],
    path: str | Path,
    class_names: Sequence[str],
    *,
    series_uid: str | None = None,
    overwrite: bool = False,
    algorithm_name: str = "cranialseg DAResUNet",
    algorithm_version: str | None = None,
) -> Path:
    """Write a DICOM SEG (binary, one segment per non-background class) for ``label`` over the source series.

    Args:
        label: label map on the grid of ``affine`` (values are indices into ``class_names``).
        affine: 4x4 RAS voxel-to-world affine of ``label``.
        source: the DICOM files of the series in slice order (the reader's ``source_files`` meta data), or a
            folder / one file (grouped and sorted here); the SEG references them.
        path: output ``.dcm`` file, written atomically.
        class_names: label names, index 0 the background.
        series_uid: SeriesInstanceUID of the source series when the folder holds several.
        overwrite: replace an existing ``path``.

    Example:
        >>> write_dicom_seg(np.zeros((1, 2, 2, 1)), np.eye(4), [], "seg.dcm", ["bg", "a"])
        Traceback (most recent call last):
        ...
        FileNotFoundError: no DICOM image files found in []
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    import cranialseg

    if isinstance(source, (list, tuple)) and source:
        datasets = source_headers(source)  # the reader's source_files: slice order, no re-grouping
    else:
        datasets = read_dicom_series(source, series_uid)
    missing = [k for k in ("FrameOfReferenceUID", "SOPInstanceUID", "StudyInstanceUID") if not datasets[0].get(k)]
    if missing:
        first = source[0] if isinstance(source, (list, tuple)) else source
        raise ValueError(
            f"{first}: cannot write a DICOM SEG, the source series has no {', '.join(missing)} (Type 1); "
            "the label map is written, pass write_dicom_seg=false to skip the SEG"
        )
    mask = sample_label_on_series(label, affine, datasets)
    algorithm = hd.AlgorithmIdentificationSequence(
        name=algorithm_name, version=algorithm_version or __version__, family=codes.cid7162.ArtificialIntelligence
    )
    descriptions = []
    for number, name in enumerate(class_names[1:], start=1):
        category, kind = _segment_codes(name)
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=str(name),
                segmented_property_category=category,
                segmented_property_type=kind,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                algorithm_identification=algorithm,
            )
        )
    seg = hd.seg.Segmentation(
        source_images=datasets,
        pixel_array=mask,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=_series_number(datasets[0]) + 1000,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="cranialseg",
        manufacturer_model_name=algorithm_name,
        software_versions=str(getattr(cranialseg, "__version__", "0")),
        device_serial_number="0",
        series_description="cranialseg segmentation",
        omit_empty_frames=False,
    )
    return atomic_write(path, lambda tmp: seg.save_as(tmp), overwrite=overwrite)
