"""Helpers that write small, real-looking DICOM series and images into a test folder (not collected by pytest).

Slices are cut from pydicom-data's ``693_UNCR.dcm`` head CT, so the headers are a real scanner's; the pixel
content differs per slice (a shifted crop plus the slice index) so any mis-ordering shows in the arrays.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

__all__ = ["ct_template", "write_ct_series", "expected_ras_affine", "deid_ultrasound"]

OBLIQUE = (0.9659258, 0.2588190, 0.0, -0.0669873, 0.25, -0.9659258)  # rows 15 deg about z, then tilted


def ct_template() -> pydicom.Dataset:
    """The real head CT slice ``693_UNCR.dcm`` (512x512, int16, intercept -1024)."""
    return pydicom.dcmread(get_testdata_file("693_UNCR.dcm"))


def _orthonormal(orientation: Sequence[float]) -> np.ndarray:
    ori = np.asarray(orientation, dtype=np.float64).reshape(2, 3)
    row = ori[0] / np.linalg.norm(ori[0])
    col = ori[1] - row * (row @ ori[1])
    return np.stack([row, col / np.linalg.norm(col)])


def write_ct_series(
    folder: Path,
    *,
    num_slices: int = 5,
    rows: int = 48,
    cols: int = 40,
    spacing: float = 2.5,
    pixel_spacing: Sequence[float] = (0.7, 0.6),
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    origin: Sequence[float] = (-80.0, -60.0, 30.0),
    positions: Optional[np.ndarray] = None,
    shuffle: bool = True,
    seed: int = 0,
    series_uid: Optional[str] = None,
    series_number: int = 7,
    slopes: Optional[Sequence[float]] = None,
    prefix: str = "IM",
) -> Dict[str, object]:
    """Write a CT series (file names and InstanceNumbers shuffled) and return what a reader must find.

    Returns:
        dict with ``files`` (in true slice order along the normal), ``hu`` (``(cols, rows, N)`` expected HU,
        MONAI axis order), ``positions``, ``orientation`` (orthonormalised), ``pixel_spacing``, ``series_uid``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    template = ct_template()
    base = template.pixel_array
    ori = _orthonormal(orientation)
    normal = np.cross(ori[0], ori[1])
    if positions is None:
        positions = np.asarray(origin, float) + np.outer(np.arange(num_slices) * spacing, normal)
    positions = np.asarray(positions, dtype=np.float64)
    num_slices = len(positions)
    rng = random.Random(seed)
    instance_numbers = list(range(1, num_slices + 1))
    names = [f"{prefix}{i:04d}.dcm" for i in range(num_slices)]
    if shuffle:
        rng.shuffle(instance_numbers)
        rng.shuffle(names)
    uid = series_uid or generate_uid()
    frame_of_reference = generate_uid()
    slopes = list(slopes) if slopes is not None else [1.0] * num_slices
    files: List[str] = []
    hu = []
    for k in range(num_slices):
        ds = copy.deepcopy(template)
        y0, x0 = 200 + 3 * k, 180 + 2 * k
        stored = base[y0 : y0 + rows, x0 : x0 + cols].astype(np.int16) + np.int16(k)
        ds.Rows, ds.Columns = rows, cols
        ds.PixelData = stored.tobytes()
        ds.ImagePositionPatient = [f"{v:.6f}" for v in positions[k]]
        ds.ImageOrientationPatient = [f"{v:.7f}" for v in ori.ravel()]
        ds.PixelSpacing = [f"{v:g}" for v in pixel_spacing]
        ds.SliceThickness = f"{spacing:g}"
        ds.SpacingBetweenSlices = f"{spacing:g}"
        ds.SliceLocation = f"{positions[k] @ normal:.6f}"
        ds.InstanceNumber = instance_numbers[k]
        ds.SeriesInstanceUID = uid
        ds.FrameOfReferenceUID = frame_of_reference
        ds.SeriesNumber = series_number
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.RescaleSlope = f"{slopes[k]:g}"
        ds.RescaleIntercept = "-1024"
        path = folder / names[k]
        ds.save_as(path, enforce_file_format=True)
        files.append(str(path))
        hu.append((stored.astype(np.float32) * np.float32(slopes[k]) - 1024).T)
    return {
        "files": files,
        "hu": np.stack(hu, axis=-1),
        "positions": positions,
        "orientation": ori.ravel(),
        "pixel_spacing": tuple(float(v) for v in pixel_spacing),
        "series_uid": uid,
        "spacing": spacing,
    }


def expected_ras_affine(info: Dict[str, object]) -> np.ndarray:
    """The RAS affine of a regular series written by :func:`write_ct_series` (slices sorted along the normal)."""
    ori = np.asarray(info["orientation"]).reshape(2, 3)
    dy, dx = info["pixel_spacing"]
    pos = np.asarray(info["positions"])
    normal = np.cross(ori[0], ori[1])
    order = np.argsort(pos @ normal)
    aff = np.eye(4)
    aff[:3, 0] = ori[0] * dx
    aff[:3, 1] = ori[1] * dy
    aff[:3, 2] = (pos[order[-1]] - pos[order[0]]) / (len(pos) - 1)
    aff[:3, 3] = pos[order[0]]
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ aff


def deid_ultrasound(name: str) -> Path:
    """A file of deid-data's ``data/ultrasounds`` folder."""
    import deid_data

    return Path(deid_data.__file__).parent / "data" / "ultrasounds" / name
