"""Colour to grey: ITU-R BT.601 luma for RGB, YBR and palette-colour pixel data."""

from __future__ import annotations

import numpy as np

__all__ = ["BT601_WEIGHTS", "rgb_to_luma"]

#: ITU-R BT.601 luma weights for (R, G, B) — the Y of JPEG/DICOM YBR_FULL.
BT601_WEIGHTS = (0.299, 0.587, 0.114)


def rgb_to_luma(rgb: np.ndarray) -> np.ndarray:
    """Grey values ``Y = 0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601) of a channel-last RGB array.

    Args:
        rgb: ``(..., 3)`` array (an alpha fourth channel is ignored).

    Returns:
        float32 array of shape ``rgb.shape[:-1]``.

    Example:
        >>> [round(float(v), 3) for v in rgb_to_luma(np.array([[255, 0, 0], [255, 255, 255]], np.uint8))]
        [76.245, 255.0]
    """
    arr = np.asarray(rgb)
    if arr.ndim < 1 or arr.shape[-1] not in (3, 4):
        raise ValueError(f"rgb must be channel-last with 3 (or 4) channels, got shape {arr.shape}.")
    r, g, b = (arr[..., i].astype(np.float32) for i in range(3))
    return np.float32(BT601_WEIGHTS[0]) * r + np.float32(BT601_WEIGHTS[1]) * g + np.float32(BT601_WEIGHTS[2]) * b
