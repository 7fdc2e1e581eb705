"""The "(x, y, 1) is a 2D image" rule and the 2D-in-3D affine embedding, written once for io, workflows and label.

A 2D image saved as NIfTI (an ultrasound frame converted by a tool, a 2D label written by MONAI or by us) often has
three axes, ``(x, y, 1)``: many tools write a 2D picture as a volume of one slice. Such a
file is the same grid as the ``(x, y)`` picture (areas in mm², a 2D network, a PNG output), so every place that
asks "is this 2D?" or "what is the spatial shape?" drops a trailing singleton third axis. The rule is about the
third spatial axis only: ``(x, y, z)`` with ``z > 1`` is a volume, and a 4D ``(x, y, 1, t)`` is left as it is
(callers that hold a NIfTI header shape pass its first three axes). A volume with one real slice cannot be told
from a 2D frame by its shape and is treated as 2D (a 3D bundle refuses it as a single slice).

This module imports nothing from cranialseg, so every layer can use it.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["has_singleton_slice", "spatial_shape", "is_2d", "drop_singleton_slice", "embed_affine_2d"]


def has_singleton_slice(shape: Sequence[int], channel_first: bool = False) -> bool:
    """Whether ``shape`` is a 2D image stored as ``(x, y, 1)``: three spatial axes, the last of size 1.

    Args:
        shape: an array's shape.
        channel_first: ``shape`` starts with a channel axis (``(C, x, y, 1)``), as MONAI's transforms hold images.

    Example:
        >>> has_singleton_slice((8, 6, 1)), has_singleton_slice((1, 8, 6, 1), channel_first=True)
        (True, True)
        >>> has_singleton_slice((1, 8, 6)), has_singleton_slice((8, 6, 4)), has_singleton_slice((8, 6, 1, 5))
        (False, False, False)
    """
    spatial = tuple(shape)[1:] if channel_first else tuple(shape)
    return len(spatial) == 3 and int(spatial[-1]) == 1


def spatial_shape(shape: Sequence[int], channel_first: bool = False) -> tuple[int, ...]:
    """The spatial shape without the channel axis (if ``channel_first``) and without a trailing singleton slice.

    Example:
        >>> spatial_shape((8, 6, 1)), spatial_shape((3, 8, 6, 1), channel_first=True), spatial_shape((8, 6, 4))
        ((8, 6), (8, 6), (8, 6, 4))
    """
    spatial = tuple(int(s) for s in (tuple(shape)[1:] if channel_first else shape))
    return spatial[:-1] if has_singleton_slice(spatial) else spatial


def is_2d(shape: Sequence[int], channel_first: bool = False) -> bool:
    """Whether ``shape`` is a 2D image: ``(x, y)`` or ``(x, y, 1)`` (after the channel axis if ``channel_first``).

    Example:
        >>> is_2d((8, 6)), is_2d((8, 6, 1)), is_2d((1, 8, 6), channel_first=True), is_2d((8, 6, 4))
        (True, True, True, False)
    """
    return len(spatial_shape(shape, channel_first)) == 2


def drop_singleton_slice(arr: Any, channel_first: bool = False) -> Any:
    """``arr[..., 0]`` when ``arr`` is a 2D image stored as ``(x, y, 1)`` (``(C, x, y, 1)``), else ``arr`` itself.

    Works on NumPy arrays and torch tensors (a view, no copy).

    Example:
        >>> drop_singleton_slice(np.zeros((8, 6, 1))).shape, drop_singleton_slice(np.zeros((1, 8, 6))).shape
        ((8, 6), (1, 8, 6))
    """
    return arr[..., 0] if has_singleton_slice(arr.shape, channel_first) else arr


def embed_affine_2d(affine: Any, base: Any = None) -> Any:
    """The 4x4 affine of a 2D grid from its 3x3 one: (x, y) rotation/scale into ``[:2, :2]``, translation into
    ``[:2, 3]``; the third axis keeps ``base``'s row and column (identity: unit slice spacing at z = 0).

    Args:
        affine: the 3x3 affine of the 2D grid, NumPy array or torch tensor.
        base: the 4x4 affine to fill, copied (e.g. the file's original 3D affine, so the dropped axis comes back
            as it was); None: the identity (float64 NumPy). A torch ``base`` gives a torch result.

    Example:
        >>> embed_affine_2d(np.array([[2.0, 0, 10], [0, 3.0, 20], [0, 0, 1]])).tolist()
        [[2.0, 0.0, 0.0, 10.0], [0.0, 3.0, 0.0, 20.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    """
    if tuple(affine.shape) != (3, 3):
        raise ValueError(f"embed_affine_2d expects a 3x3 affine (2D grid), got shape {tuple(affine.shape)}")
    if base is None:
        out = np.eye(4)
    elif hasattr(base, "clone"):  # torch, without importing it here
        out = base.clone()
    else:
        out = np.array(base, dtype=np.float64, copy=True)
    if tuple(out.shape) != (4, 4):
        raise ValueError(f"embed_affine_2d expects a 4x4 base affine, got shape {tuple(out.shape)}")
    out[:2, :2] = affine[:2, :2]
    out[:2, 3] = affine[:2, 2]
    return out
