"""Unpack the network's heads in post-processing: the segmentation stays in ``pred``, the image-level logits move.

The network's image-level head (``DAResUNet(num_image_classes=K)``) predicts, for each of ``K`` lesion classes,
whether that class is present in the input; :class:`cranialseg.inferers.SlidingWindowImageHeadInferer` returns
``{"seg", "image"}`` and :class:`UnpackHeadsd` turns it back into the items MONAI's post-processing expects.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from monai.config import KeysCollection
from monai.transforms import MapTransform

__all__ = [
    "PRESENCE_KEY",
    "UnpackHeadsd",
    "UnpackHeadsD",
    "UnpackHeadsDict",
]

#: where :class:`UnpackHeadsd` puts the image-level logits (not ``pred_*``/``image_*``, which MONAI transforms
#: treat as meta-data siblings of ``pred``/``image``)
PRESENCE_KEY = "presence_logits"


class UnpackHeadsd(MapTransform):
    """Turn a dict of heads in ``d[key]`` into the segmentation in ``d[key]`` and the image logits in
    ``d[image_logits_key]``; a tensor is left as it is. Put it first in post-processing.

    Args:
        keys: prediction keys (usually ``"pred"``).
        image_logits_key: where the image-level logits go (one key; with several ``keys`` it gets the key as
            suffix, ``"<key>_presence_logits"`` is avoided because MONAI treats ``<key>_*`` as meta data).
        allow_missing_keys: don't raise when a key is missing.

    Example:
        >>> import torch
        >>> d = UnpackHeadsd("pred")({"pred": {"seg": torch.zeros(2, 4, 4), "image": torch.ones(3)}})
        >>> tuple(d["pred"].shape), d["presence_logits"].tolist()
        ((2, 4, 4), [1.0, 1.0, 1.0])
    """

    def __init__(
        self, keys: KeysCollection, image_logits_key: str = PRESENCE_KEY, allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.image_logits_key = image_logits_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            heads = d[key]
            if not isinstance(heads, Mapping):
                continue
            if "seg" not in heads:
                raise KeyError(f"'{key}' holds heads {sorted(heads)} without 'seg'")
            d[key] = heads["seg"]
            if "image" in heads:
                name = self.image_logits_key if len(self.keys) == 1 else f"{self.image_logits_key}_{key}"
                d[name] = heads["image"]
        return d


UnpackHeadsD = UnpackHeadsDict = UnpackHeadsd
