"""Singleton axes: invertibly drop a trailing slice axis (a ``(W, H, 1)`` frame feeds a 2D network), drop a channel.

:class:`DropSingletonSliced` is part of the bundles' pre-processing; :class:`SqueezeChanneld` drops the leading
singleton channel of a 2D label map ``(1, W, H)`` for MONAI Label's writer, whose ``Restored``
(``monailabel/transform/post.py:157``) drops it only when there are more than three axes, so ITK would write a 3D
image instead of a PNG (``monailabel/transform/writer.py:232``).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, Dict, Optional

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import InvertibleTransform, MapTransform
from monai.utils import TransformBackends

from cranialseg.utils.spatial import embed_affine_2d, has_singleton_slice

__all__ = [
    "DropSingletonSlice",
    "DropSingletonSliced",
    "DropSingletonSliceD",
    "DropSingletonSliceDict",
    "SqueezeChanneld",
    "SqueezeChannelD",
    "SqueezeChannelDict",
]


def _drop_affine_axis(affine: torch.Tensor, axis: int) -> torch.Tensor:
    keep = [i for i in range(affine.shape[0]) if i != axis]
    return affine[keep][:, keep]


class DropSingletonSlice(InvertibleTransform):
    """Turn a channel-first ``(C, W, H, 1)`` array into ``(C, W, H)``; other shapes pass unchanged.

    The affine loses its third axis; :meth:`inverse` restores the axis and the original 3D affine, so ``Invertd``
    brings a 2D prediction back to the ``(C, W, H, 1)`` grid of the input.

    Example:
        >>> DropSingletonSlice()(torch.zeros(1, 8, 6, 1)).shape
        torch.Size([1, 8, 6])
    """

    backend = ["torch"]

    def __call__(self, img: Any) -> Any:
        img = img if isinstance(img, MetaTensor) else MetaTensor(torch.as_tensor(img))
        squeeze = has_singleton_slice(img.shape, channel_first=True)
        old_affine = img.affine.clone()
        if squeeze:
            out = img.squeeze(-1)
            out.affine = _drop_affine_axis(old_affine, 2)
        else:
            out = img
        self.push_transform(out, extra_info={"squeezed": bool(squeeze), "affine": old_affine})
        return out

    def inverse(self, data: Any) -> Any:
        transform = self.pop_transform(data)
        info = transform["extra_info"]
        if not info["squeezed"]:
            return data
        out = data.unsqueeze(-1)
        if isinstance(out, MetaTensor):
            # the 2D affine back into the stored 3D one: the dropped axis keeps its original column and row
            out.affine = embed_affine_2d(data.affine, torch.as_tensor(info["affine"]).to(data.affine.dtype))
        return out


class DropSingletonSliced(MapTransform, InvertibleTransform):
    """Dictionary version of :class:`DropSingletonSlice`.

    Example:
        >>> DropSingletonSliced("image")({"image": torch.zeros(1, 8, 6, 1)})["image"].shape
        torch.Size([1, 8, 6])
    """

    backend = DropSingletonSlice.backend

    def __init__(self, keys: KeysCollection, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.dropper = DropSingletonSlice()

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.dropper(d[key])
        return d

    def inverse(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.dropper.inverse(d[key])
        return d


DropSingletonSliceD = DropSingletonSliceDict = DropSingletonSliced


class SqueezeChanneld(MapTransform):
    """Drop a leading singleton channel from a label map that has ``spatial_dims + 1`` axes.

    A 2D prediction arrives at MONAI Label's writer as ``(1, W, H)``; the writer needs ``(W, H)`` to write a PNG on
    the input's grid. Arrays that already have ``spatial_dims`` axes, or several channels, pass unchanged.

    Args:
        keys: the label keys, e.g. ``"pred"``.
        spatial_dims: number of spatial axes of the model (2 for ultrasound frames, 3 for CT volumes).
        allow_missing_keys: skip a missing key instead of raising ``KeyError``.

    Example:
        >>> import torch
        >>> SqueezeChanneld(keys="pred", spatial_dims=2)({"pred": torch.zeros(1, 5, 4)})["pred"].shape
        torch.Size([5, 4])
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, keys: KeysCollection, spatial_dims: int = 2, allow_missing_keys: bool = False):
        super().__init__(keys, allow_missing_keys=allow_missing_keys)
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r} ({type(spatial_dims).__name__})")
        self.spatial_dims = spatial_dims

    def __call__(self, data: Mapping[Hashable, Any]) -> Dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            value = d[key]
            shape: Optional[tuple] = tuple(getattr(value, "shape", ()))
            if shape and len(shape) == self.spatial_dims + 1 and shape[0] == 1:
                d[key] = value[0]
        return d


SqueezeChannelD = SqueezeChannelDict = SqueezeChanneld
