"""Refuse an image whose resampled grid would not fit in memory, before ``Spacingd`` allocates it."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from monai.config import KeysCollection
from monai.transforms import MapTransform

from cranialseg.io.limits import MAX_VOXELS, check_affine, check_voxels

__all__ = ["CheckResampledSized", "CheckResampledSizeD", "CheckResampledSizeDict", "resampled_shape"]


def resampled_shape(shape: Sequence[int], spacing: Sequence[float], pixdim: Sequence[float]) -> tuple[int, ...]:
    """Spatial shape after resampling ``shape`` at ``spacing`` mm to ``pixdim`` mm (as ``Spacingd`` rounds it).

    Example:
        >>> resampled_shape((512, 512, 28), (0.49, 0.49, 4.0), (2.4, 2.4, 5.0))
        (105, 105, 23)
    """
    k = len(shape)
    target = [float(p) for p in list(pixdim)[:k]]
    target += [float(spacing[i]) for i in range(len(target), k)]
    return tuple(max(1, int(np.ceil(n * s / t - 1e-6))) for n, s, t in zip(shape, spacing, target))


class CheckResampledSized(MapTransform):
    """Check, before ``Spacingd``, that the image's affine is usable and its grid at ``pixdim`` holds at most
    ``max_voxels`` voxels; else an :class:`~cranialseg.io.InputError` naming the file.

    Args:
        keys: image keys (channel-first MetaTensors).
        pixdim: the ``Spacingd`` target spacing (mm).
        max_voxels: largest resampled grid (``None``: no limit).

    Example:
        >>> import torch
        >>> from monai.data import MetaTensor
        >>> img = MetaTensor(torch.zeros(1, 4, 4, 4), affine=torch.diag(torch.tensor([1000.0, 1, 1, 1])))
        >>> try:
        ...     CheckResampledSized("image", pixdim=(0.1, 0.1, 0.1), max_voxels=10**6)({"image": img})
        ... except ValueError as err:
        ...     print(err.problem)
        resampled grid at [0.1, 0.1, 0.1] mm of 40000 x 40 x 40 = 64000000 voxels exceeds max_voxels=1000000
    """

    backend: list = []

    def __init__(
        self,
        keys: KeysCollection,
        pixdim: Sequence[float],
        max_voxels: int | None = MAX_VOXELS,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.pixdim = [float(p) for p in np.atleast_1d(pixdim)]
        self.max_voxels = None if max_voxels is None else int(max_voxels)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            img = d[key]
            source = (getattr(img, "meta", {}) or {}).get("filename_or_obj", "<array>")
            shape = tuple(int(s) for s in img.shape[1:])
            affine = np.asarray(getattr(img, "affine", np.eye(len(shape) + 1)), dtype=np.float64)
            check_affine(source, affine, len(shape))
            spacing = np.linalg.norm(affine[: len(shape), : len(shape)], axis=0)
            grid = resampled_shape(shape, spacing, self.pixdim)
            pix = [round(p, 4) for p in self.pixdim[: len(shape)]]
            check_voxels(source, grid, self.max_voxels, f"resampled grid at {pix} mm")
        return d


CheckResampledSizeD = CheckResampledSizeDict = CheckResampledSized
