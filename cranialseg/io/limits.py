"""Limits that refuse an input before memory is allocated for it: voxel counts, affine sanity, gantry tilt."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cranialseg.utils.errors import InputError

__all__ = ["MAX_VOXELS", "MAX_TILT_DEG", "check_voxels", "check_affine"]

#: default largest image (declared, or after resampling) in voxels: 2**31 float32 voxels are 8 GiB
MAX_VOXELS = 2**31
#: default largest gantry tilt (degrees) resampled; CT gantries tilt at most about 30 degrees
MAX_TILT_DEG = 30.0


def check_voxels(path: object, shape: Sequence[int], max_voxels: int | None, what: str = "image") -> None:
    """Refuse ``shape`` when it holds more than ``max_voxels`` voxels (``None``: no limit).

    Example:
        >>> check_voxels("a.nii", (2048, 2048, 300), 2**31)
        >>> check_voxels("a.nii", (2048, 2048, 600), 2**31)
        Traceback (most recent call last):
        ...
        cranialseg.utils.errors.InputError: a.nii: image of 2048 x 2048 x 600 = 2516582400 voxels exceeds max_voxels=...
    """
    count = int(np.prod([int(s) for s in shape], dtype=np.float64)) if len(shape) else 0
    if max_voxels is not None and count > int(max_voxels):
        dims = " x ".join(str(int(s)) for s in shape)
        raise InputError(
            str(path),
            f"{what} of {dims} = {count} voxels exceeds max_voxels={int(max_voxels)}",
            "a damaged or hostile header? raise max_voxels if the image is real",
        )


def check_affine(path: object, affine: np.ndarray, spatial_dims: int = 3) -> None:
    """Refuse an affine with NaN/inf entries, a zero spacing or no inverse.

    Example:
        >>> check_affine("a.nii", np.diag([1.0, 1.0, 0.0, 1.0]))
        Traceback (most recent call last):
        ...
        cranialseg.utils.errors.InputError: a.nii: affine has a zero spacing along axis 2 ...
    """
    aff = np.asarray(affine, dtype=np.float64)
    hint = "expected a voxel-to-world affine with positive spacings"
    if not np.all(np.isfinite(aff)):
        raise InputError(str(path), "affine holds NaN/inf values", hint)
    k = min(spatial_dims, 3)
    spacing = np.linalg.norm(aff[:3, :k], axis=0)
    for axis, value in enumerate(spacing):
        if value < 1e-6:
            raise InputError(
                str(path),
                f"affine has a zero spacing along axis {axis} (spacings {np.round(spacing, 6).tolist()} mm)",
                hint,
            )
    if k == 3 and abs(float(np.linalg.det(aff[:3, :3]))) < 1e-9 * float(np.prod(spacing)):
        raise InputError(str(path), "affine is singular (its axes are parallel)", hint)
