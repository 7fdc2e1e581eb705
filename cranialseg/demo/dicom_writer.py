"""Write a 3D HU volume as a valid DICOM CT Image Storage series with pydicom.

The volume is MONAI/NIfTI style: array ``(x, y, z)`` with a RAS affine. DICOM patient coordinates are LPS, so
the writer flips the first two rows of the affine; ``pixel_array[r, c]`` of slice ``k`` is ``volume[c, r, k]``
(rows run along the affine's second axis, columns along its first). Each file carries ImagePositionPatient,
ImageOrientationPatient, PixelSpacing, SliceThickness, SpacingBetweenSlices, RescaleSlope/Intercept (stored
values are ``HU + 1024`` as unsigned 16 bit, intercept -1024) and a complete file meta header, so pydicom,
dcm2niix and PACS such as Orthanc accept the series. UIDs are derived deterministically from ``uid_seed``.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Sequence

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, CTImageStorage, ExplicitVRLittleEndian, generate_uid

__all__ = ["write_ct_series", "lps_affine_from_ras"]

_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def lps_affine_from_ras(affine_ras: np.ndarray) -> np.ndarray:
    """The same voxel-to-world map in DICOM's LPS patient coordinates."""
    return _LPS @ np.asarray(affine_ras, dtype=np.float64)


def _ds(value: float) -> str:
    """A DICOM decimal string (at most 16 characters)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text[:16]


def write_ct_series(
    volume_hu: np.ndarray,
    affine_ras: np.ndarray,
    folder: str | Path,
    *,
    patient_id: str = "DEMO",
    series_description: str = "cranialseg demo head CT",
    uid_seed: Sequence[object] = ("cranialseg-demo",),
    study_date: str = "20240101",
    window: tuple[float, float] = (40.0, 80.0),
) -> list[Path]:
    """Write ``volume_hu`` as one DICOM file per axial slice into ``folder``.

    Args:
        volume_hu: integer HU volume ``(x, y, z)`` (values in [-1024, 64511]).
        affine_ras: 4x4 voxel-to-RAS affine (MONAI / NIfTI convention); its third column is the slice step.
        folder: output folder (created).
        patient_id: PatientID; PatientName is ``Phantom^<patient_id>``.
        series_description: SeriesDescription.
        uid_seed: values hashed into the Study/Series/Frame-of-reference/SOP instance UIDs (deterministic output).
        study_date: StudyDate/SeriesDate/ContentDate (YYYYMMDD).
        window: default display (center, width) in HU.

    Returns:
        the written file paths, ordered by slice index.
    """
    vol = np.asarray(volume_hu)
    if vol.ndim != 3 or min(vol.shape) < 1:
        raise ValueError(f"volume_hu must be a 3D (x, y, z) array, got shape {vol.shape}")
    if vol.min() < -1024 or vol.max() > 65535 - 1024:
        raise ValueError(f"volume_hu values must lie in [-1024, 64511] HU, got [{vol.min()}, {vol.max()}]")
    lps = lps_affine_from_ras(affine_ras)
    col_step, row_step, slice_step = lps[:3, 0], lps[:3, 1], lps[:3, 2]
    dx, dy, dz = (float(np.linalg.norm(s)) for s in (col_step, row_step, slice_step))
    row_dir, col_dir = col_step / dx, row_step / dy  # IOP: direction along a row (increasing column), then column
    normal = np.cross(row_dir, col_dir)
    if abs(float(normal @ slice_step) / dz) < 0.999:
        raise ValueError("affine_ras: the slice axis must be orthogonal to the in-plane axes (no gantry tilt)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    seed = [str(s) for s in uid_seed]
    study_uid = generate_uid(entropy_srcs=seed + ["study"])
    series_uid = generate_uid(entropy_srcs=seed + ["series"])
    frame_uid = generate_uid(entropy_srcs=seed + ["frame"])
    stored = (vol.astype(np.int32) + 1024).astype(np.uint16)
    now = datetime.time(12, 0, 0).strftime("%H%M%S")
    paths = []
    for k in range(vol.shape[2]):
        sop_uid = generate_uid(entropy_srcs=seed + ["sop", str(k)])
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        meta.ImplementationVersionName = "CRANIALSEG_DEMO"
        path = folder / f"IM{k + 1:04d}.dcm"
        ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = sop_uid
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = study_date
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = ds.AcquisitionTime = now
        ds.AccessionNumber = ""
        ds.Modality = "CT"
        ds.Manufacturer = "cranialseg synthetic phantom"
        ds.ReferringPhysicianName = ""
        ds.StudyDescription = "Synthetic head CT"
        ds.SeriesDescription = series_description
        ds.PatientName = f"Phantom^{patient_id}"  # family^given (a bare name is the retired PN form)
        ds.PatientID = patient_id
        ds.PatientBirthDate = ""
        ds.PatientSex = "O"
        ds.BodyPartExamined = "HEAD"
        ds.SliceThickness = _ds(dz)
        ds.SpacingBetweenSlices = _ds(dz)
        ds.KVP = "120"
        ds.PatientPosition = "HFS"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = "1"
        ds.SeriesNumber = 1
        ds.AcquisitionNumber = 1
        ds.InstanceNumber = k + 1
        position = lps[:3, :3] @ np.array([0.0, 0.0, float(k)]) + lps[:3, 3]
        ds.ImagePositionPatient = [_ds(v) for v in position]
        ds.ImageOrientationPatient = [_ds(v) for v in (*row_dir, *col_dir)]
        ds.FrameOfReferenceUID = frame_uid
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = _ds(float(position @ normal))
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = int(vol.shape[1]), int(vol.shape[0])
        ds.PixelSpacing = [_ds(dy), _ds(dx)]  # (between rows, between columns)
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.WindowCenter = _ds(window[0])
        ds.WindowWidth = _ds(window[1])
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        ds.PixelData = np.ascontiguousarray(stored[:, :, k].T).tobytes()
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
        paths.append(path)
    return paths
