"""Base of the dictionary transforms that estimate one mask from a source key and apply it to every key."""

from __future__ import annotations

from typing import Hashable, Mapping, Protocol

import numpy as np
import torch
from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms import MapTransform
from monai.utils import convert_to_dst_type

__all__ = ["MaskFromSourced"]


class _Masker(Protocol):
    def compute_mask(self, img: NdarrayOrTensor) -> np.ndarray: ...

    def __call__(self, img: NdarrayOrTensor, mask: np.ndarray | None = None) -> NdarrayOrTensor: ...


class MaskFromSourced(MapTransform):
    """Estimate a mask once from ``source_key`` (default: the first key present) with ``masker.compute_mask``,
    apply ``masker`` with that mask to every key, and optionally store the mask (uint8, ``(1, *spatial)``) under
    ``mask_key``. Several images of one case thus share one mask.

    Args:
        keys: keys of the images to mask.
        masker: an array transform with ``compute_mask(img)`` and ``__call__(img, mask=...)``.
        source_key: key of the image the mask is estimated from; None: the first key present.
        mask_key: if given, write the mask under this key.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    def __init__(
        self,
        keys: KeysCollection,
        masker: _Masker,
        source_key: str | None = None,
        mask_key: str | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.masker = masker
        self.source_key = source_key
        self.mask_key = mask_key

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        source = self.source_key if self.source_key is not None else self.first_key(d)
        if source == ():
            return d
        if source not in d:
            raise KeyError(f"{type(self).__name__}: source_key {source!r} not in the data (keys: {list(d)})")
        mask = self.masker.compute_mask(d[source])
        if self.mask_key is not None:
            m, *_ = convert_to_dst_type(mask.astype(np.uint8), dst=d[source], dtype=torch.uint8)
            d[self.mask_key] = m
        for key in self.key_iterator(d):
            d[key] = self.masker(d[key], mask=mask)
        return d
