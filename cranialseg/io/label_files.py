"""Label-map files: a prediction written as NIfTI (on its affine) or PNG, atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cranialseg.utils.atomic import atomic_write
from cranialseg.utils.spatial import drop_singleton_slice, embed_affine_2d

__all__ = [
    "to_numpy",
    "save_label_nifti",
    "save_label_png",
]


def to_numpy(x: Any) -> np.ndarray:
    """A numpy copy of a tensor, MetaTensor or array.

    Example:
        >>> to_numpy([1, 2]).tolist()
        [1, 2]
    """
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        x = x.as_tensor() if hasattr(x, "as_tensor") else x
        return x.numpy()
    return np.asarray(x)


def _spatial(label: Any) -> np.ndarray:
    arr = to_numpy(label)
    if arr.ndim in (3, 4) and arr.shape[0] == 1:
        arr = arr[0]
    return arr


def save_label_nifti(label: Any, affine: Any, path: str | Path, *, overwrite: bool = False) -> Path:
    """Save a label map (``(1, *spatial)`` or ``spatial``) as a uint8 NIfTI with ``affine`` (MONAI's RAS affine).

    Example:
        >>> import tempfile
        >>> p = save_label_nifti(np.ones((1, 4, 4, 2)), np.eye(4), Path(tempfile.mkdtemp()) / "l.nii.gz")
        >>> p.name
        'l.nii.gz'
    """
    import nibabel as nib

    arr = np.rint(_spatial(label)).astype(np.uint8)
    aff = np.asarray(to_numpy(affine), dtype=np.float64)
    if aff.shape == (3, 3):  # a 2D affine: embed in 3D with unit slice spacing
        aff = embed_affine_2d(aff)
    image = nib.Nifti1Image(arr, aff)
    image.set_qform(aff, code=1)
    image.set_sform(aff, code=1)
    return atomic_write(path, lambda tmp: nib.save(image, str(tmp)), overwrite=overwrite)


def save_label_png(label: Any, path: str | Path, *, overwrite: bool = False) -> Path:
    """Save a 2D label map in MONAI's (x, y) order as an 8-bit PNG of the input picture's (rows, columns).

    Example:
        >>> import tempfile
        >>> save_label_png(np.zeros((1, 5, 3)), Path(tempfile.mkdtemp()) / "l.png").suffix
        '.png'
    """
    from PIL import Image

    arr = drop_singleton_slice(np.rint(_spatial(label)).astype(np.uint8))
    if arr.ndim != 2:
        raise ValueError(f"save_label_png needs a 2D label, got shape {arr.shape} for {path}")
    picture = Image.fromarray(np.ascontiguousarray(arr.T))
    return atomic_write(path, lambda tmp: picture.save(tmp, format="PNG"), overwrite=overwrite)
