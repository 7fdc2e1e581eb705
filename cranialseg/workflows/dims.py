"""Invertibly drop a trailing singleton slice axis, so a single-frame ``(W, H, 1)`` image feeds a 2D network."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import InvertibleTransform, MapTransform

from cranialseg.utils.spatial import embed_affine_2d, has_singleton_slice

__all__ = ["DropSingletonSlice", "DropSingletonSliced", "DropSingletonSliceD", "DropSingletonSliceDict"]


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
