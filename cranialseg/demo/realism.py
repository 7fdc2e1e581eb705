"""How real a head-CT phantom looks where a network confuses normal anatomy with blood: the band under the skull.

A network trained on phantoms learns "blood-dense voxels beside the inner table are a subdural or epidural
haemorrhage" when its phantoms have no other blood-dense voxels there. Real scans do: the tails of the scanner's
point-spread function and slice profile spill the skull's 1000-1500 HU into the 1-3 mm of brain beside it, and
older scanners add beam hardening, so a normal head has a band of 45-70 HU under the inner table (issue 17: the
false subdural rim on the real normal GE series). :func:`skull_band_profile` measures that band on any HU volume
(a phantom or a real scan), so the phantoms can be compared with real scans by one statistic.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from cranialseg.transforms.ct import intracranial_mask

__all__ = ["BAND_EDGES_MM", "skull_band_profile"]

#: Distance bins (mm from the nearest bone voxel, in-plane) of :func:`skull_band_profile`.
BAND_EDGES_MM: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.0)


def skull_band_profile(
    hu: np.ndarray,
    spacing: Sequence[float],
    edges_mm: Sequence[float] = BAND_EDGES_MM,
    bone_threshold: float = 150.0,
    blood_range: tuple[float, float] = (50.0, 100.0),
    min_intracranial_voxels: int = 2000,
) -> list[dict]:
    """HU of the intracranial voxels by their in-plane distance to bone, one row per distance bin.

    Distances are measured slice by slice in the axial plane (thick slices make through-plane distances
    meaningless) from the voxels above ``bone_threshold``; only slices with at least ``min_intracranial_voxels``
    voxels inside the skull (:func:`~cranialseg.transforms.ct.intracranial_mask`) count.

    Args:
        hu: HU array ``(x, y)`` or ``(x, y, z)`` (z the slice axis).
        spacing: voxel size in mm; only the first two (in-plane) values are used.
        edges_mm: increasing bin edges in mm; a row per pair of consecutive edges.
        bone_threshold: HU above which a voxel is bone.
        blood_range: ``[low, high)`` HU range of acute blood for ``blood_fraction``.
        min_intracranial_voxels: slices with fewer voxels inside the skull are skipped (vertex caps, skull base).

    Returns:
        one dict per bin: ``from_mm``, ``to_mm``, ``voxels``, ``median_hu`` (None when empty) and
        ``blood_fraction`` (share of the bin's voxels in ``blood_range``).

    Raises:
        ValueError: for an array that is not 2D or 3D, fewer than two spacings or edges that do not increase.
    """
    hu = np.asarray(hu, dtype=np.float32)
    if hu.ndim not in (2, 3):
        raise ValueError(f"skull_band_profile expects a 2D or 3D HU array, got shape {hu.shape}")
    if len(spacing) < 2 or min(float(s) for s in spacing[:2]) <= 0:
        raise ValueError(f"spacing needs two positive in-plane values, got {spacing!r}")
    edges = [float(e) for e in edges_mm]
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"edges_mm must be at least two increasing values, got {edges_mm!r}")
    vol = hu if hu.ndim == 3 else hu[..., None]
    inside = intracranial_mask(vol, 300.0, -100.0)
    per_bin: list[list[np.ndarray]] = [[] for _ in edges[:-1]]
    for k in range(vol.shape[-1]):
        ins = inside[..., k]
        if ins.sum() < min_intracranial_voxels:
            continue
        bone = vol[..., k] > bone_threshold
        dist = ndimage.distance_transform_edt(~bone, sampling=[float(s) for s in spacing[:2]])
        for b, (lo, hi) in enumerate(zip(edges, edges[1:])):
            per_bin[b].append(vol[..., k][ins & (dist > lo) & (dist <= hi)])
    rows = []
    for (lo, hi), chunks in zip(zip(edges, edges[1:]), per_bin):
        values = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
        blood = (values >= blood_range[0]) & (values < blood_range[1])
        rows.append(
            {
                "from_mm": lo,
                "to_mm": hi,
                "voxels": int(values.size),
                "median_hu": round(float(np.median(values)), 1) if values.size else None,
                "blood_fraction": round(float(blood.mean()), 3) if values.size else None,
            }
        )
    return rows
