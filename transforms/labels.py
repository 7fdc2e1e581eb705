"""Presence of label classes in a mask: the image-level target of the network's classification head."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Union

import numpy as np
import torch
from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, convert_to_tensor, ensure_tuple_rep

__all__ = [
    "LabelToPresence",
    "LabelToPresenced",
    "LabelToPresenceD",
    "LabelToPresenceDict",
    "presence_targets",
]

ClassSpec = Union[int, Sequence[int]]


def _parse_classes(classes: Sequence[ClassSpec]) -> list[tuple[int, ...]]:
    if isinstance(classes, (str, int)) or len(classes) == 0:
        raise ValueError(
            f"classes must be a non-empty sequence of label values or groups of label values, got {classes!r} "
            f"({type(classes).__name__}); e.g. [2, 3, 4, 5] (per class) or [[2, 3, 4, 5]] (any lesion)"
        )
    parsed = []
    for c in classes:
        group = (c,) if isinstance(c, (int, np.integer)) else tuple(c)
        if len(group) == 0 or not all(isinstance(v, (int, np.integer)) and v >= 0 for v in group):
            raise ValueError(f"each class must be a label value >= 0 or a non-empty group of them, got {c!r}")
        parsed.append(tuple(int(v) for v in group))
    return parsed


class LabelToPresence(Transform):
    """Presence vector of label classes in a mask, the target of an image-level (classification) head.

    For a label map ``(1, *spatial)`` entry ``i`` of the output is 1 when at least ``min_size`` voxels carry a
    value of ``classes[i]`` (an int or a group of ints, e.g. all haemorrhage types), else 0. For a one-hot or
    multi-channel mask ``(C, *spatial)`` (C > 1) the values index channels instead. Deep supervision with an
    image-level head helps small-lesion detection (e.g. Wang et al., "A deep learning algorithm for automatic
    detection and classification of acute intracranial hemorrhages in head CT scans", NeuroImage Clin 2021).

    Args:
        classes: label values (or groups of values) to report, one output entry each.
        min_size: voxels needed to count a class as present (suppresses isolated noise voxels).
        dtype: output dtype.

    Returns:
        a 1D tensor (or array, for array input) of ``len(classes)`` values in {0, 1}; no spatial metadata.

    Example:
        >>> import numpy as np
        >>> mask = np.zeros((1, 4, 4, 2)); mask[0, 0, 0, 0] = 3; mask[0, 1:3, 1:3, 1] = 1
        >>> LabelToPresence(classes=[1, 2, 3, [2, 3, 4, 5]])(mask).tolist()
        [1.0, 0.0, 1.0, 1.0]
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, classes: Sequence[ClassSpec], min_size: int = 1, dtype: torch.dtype = torch.float32) -> None:
        self.classes = _parse_classes(classes)
        if int(min_size) < 1:
            raise ValueError(f"min_size must be >= 1 voxel, got {min_size!r}")
        self.min_size = int(min_size)
        self.dtype = dtype

    def __call__(self, label: NdarrayOrTensor) -> NdarrayOrTensor:
        if label.ndim < 2:
            raise ValueError(f"LabelToPresence expects a channel-first mask (C, *spatial), got {tuple(label.shape)}")
        lab = convert_to_tensor(label, track_meta=False)
        if lab.shape[0] == 1:  # a label map: the package's presence rule
            out = presence_targets(lab[None], self.classes, self.min_size)[0].to(self.dtype)
        else:
            n_ch = lab.shape[0]
            bad = [v for group in self.classes for v in group if v >= n_ch]
            if bad:
                raise ValueError(f"LabelToPresence: channel indices {bad} out of range for a {n_ch}-channel mask")
            counts = [sum(int((lab[v] > 0.5).sum()) for v in group) for group in self.classes]
            out = torch.tensor([float(c >= self.min_size) for c in counts], dtype=self.dtype)
        if isinstance(label, np.ndarray):
            return out.cpu().numpy()
        return out.to(label.device)


class LabelToPresenced(MapTransform):
    """Dictionary-based :class:`LabelToPresence`: writes the presence vector of ``keys`` to ``output_keys``.

    Args:
        keys: keys of the masks.
        classes, min_size, dtype: see :class:`LabelToPresence`.
        output_keys: new key(s), one per key; the mask itself stays unchanged.
        allow_missing_keys: don't raise an exception if a key is missing.

    Example:
        >>> import numpy as np
        >>> d = LabelToPresenced("label", classes=[[2, 3, 4, 5]])({"label": np.full((1, 2, 2), 4)})
        >>> d["image_label"].tolist()
        [1.0]
    """

    backend = LabelToPresence.backend

    def __init__(
        self,
        keys: KeysCollection,
        classes: Sequence[ClassSpec],
        output_keys: KeysCollection = "image_label",
        min_size: int = 1,
        dtype: torch.dtype = torch.float32,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.output_keys = ensure_tuple_rep(output_keys, len(self.keys))
        if len(set(self.output_keys)) != len(self.output_keys):
            raise ValueError(f"output_keys must be distinct, one per key, got {self.output_keys!r}")
        self.converter = LabelToPresence(classes=classes, min_size=min_size, dtype=dtype)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key, out_key in self.key_iterator(d, self.output_keys):
            d[out_key] = self.converter(d[key])
        return d


LabelToPresenceD = LabelToPresenceDict = LabelToPresenced


def presence_targets(label: torch.Tensor, classes: Sequence[ClassSpec], min_voxels: int = 1) -> torch.Tensor:
    """Per-class presence ``(B, K)`` (0./1.) of label values ``classes`` in a batch of label maps ``(B, 1, *S)``.

    The one presence rule of the package: the target of :class:`cranialseg.losses.SegmentationPresenceLoss` and the
    output of :class:`LabelToPresence`. Entry ``k`` is 1 when at least ``min_voxels`` voxels (rounded to whole label
    values) carry ``classes[k]``, an int or a group of ints (e.g. all haemorrhage types).

    Example:
        >>> lab = torch.zeros(2, 1, 4, 4); lab[0, 0, 0, 0] = 3
        >>> presence_targets(lab, [2, 3, [2, 3]]).tolist()
        [[0.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    """
    if label.ndim < 3 or label.shape[1] != 1:
        raise ValueError(f"label must be a batch of label maps (B, 1, *spatial), got shape {tuple(label.shape)}")
    flat = torch.round(label.reshape(label.shape[0], -1))
    counts = [sum((flat == float(v)).sum(dim=1) for v in group) for group in _parse_classes(classes)]
    return (torch.stack(counts, dim=1) >= max(1, int(min_voxels))).to(torch.float32)
