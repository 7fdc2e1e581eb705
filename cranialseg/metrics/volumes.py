"""Per-class volumes (mL) or areas (mm2) of a label map from its affine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cranialseg.io.label_files import _spatial, to_numpy
from cranialseg.utils.spatial import spatial_shape

__all__ = [
    "class_volumes",
]


def class_volumes(label: Any, affine: Any, class_names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Voxel count and volume (mL, 3D) or area (mm², 2D) per class, background excluded.

    Example:
        >>> class_volumes(np.ones((1, 10, 10, 10)), np.diag([1.0, 1.0, 2.0, 1.0]), ["bg", "a"])["a"]["volume_ml"]
        2.0
    """
    arr = np.rint(_spatial(label)).astype(np.int64)
    aff = np.asarray(to_numpy(affine), dtype=np.float64)
    dims = len(spatial_shape(arr.shape))
    unit = abs(float(np.linalg.det(aff[:dims, :dims]))) if aff.shape[0] > dims else 1.0
    out: dict[str, dict[str, float]] = {}
    for value, name in enumerate(class_names):
        if value == 0:
            continue
        count = int((arr == value).sum())
        entry: dict[str, float] = {"label": value, "voxels": count}
        if dims == 3:
            entry["volume_ml"] = round(count * unit / 1000.0, 4)
        else:
            entry["area_mm2"] = round(count * unit, 3)
        out[name] = entry
    return out
