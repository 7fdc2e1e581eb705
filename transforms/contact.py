"""Lesion components that must lie against a host structure: an intraventricular clot is bordered by ventricle.

An IVH clot lies inside a lateral ventricle, so on a coronal cranial ultrasound view it is surrounded, at least in
part, by ventricular fluid (or by the ventricle's label where the network draws the ventricle). The echogenic
normal anatomy that a phantom-trained network mistakes for clot on real views (choroid plexus in the ventricle
floor, the thalami and caudothalamic grooves, the brain stem and the skull base) lies mostly outside that fluid.
:class:`RemoveDetachedLesions` keeps a lesion component only when at least ``min_contact`` of the ring of pixels
around it (``margin_fraction`` of the image's short side wide) carries the host label; the others become
background. Limitation: a clot that casts the whole ventricle, with no fluid left beside it, is removed too.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, convert_to_dst_type
from scipy import ndimage

__all__ = [
    "RemoveDetachedLesions",
    "RemoveDetachedLesionsd",
    "RemoveDetachedLesionsD",
    "RemoveDetachedLesionsDict",
    "lesion_contacts",
]


def lesion_contacts(
    label: np.ndarray, lesion_label: int, host_label: int, margin_fraction: float = 0.01
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Connected components of ``lesion_label`` in a label map (no channel axis) and their contact with the host.

    Args:
        label: integer label map, 2D or 3D.
        lesion_label: value of the lesion (e.g. 2, IVH clot).
        host_label: value of the structure the lesion must lie against (e.g. 1, ventricles).
        margin_fraction: width of the ring around each component as a fraction of the shortest axis (at least
            one pixel): 0.01 is 2.6 pixels at the network's 256-pixel short side, whatever the frame's size.

    Returns:
        the component map (0 outside, 1..n) and one dict per component: ``pixels`` and ``contact`` (fraction of
        the ring's pixels with ``host_label``).
    """
    if label.ndim < 1 or min(label.shape) < 1:
        raise ValueError(f"label map must have a non-empty spatial shape, got {label.shape}")
    if not 0.0 <= float(margin_fraction) <= 1.0:
        raise ValueError(f"margin_fraction must be in [0, 1], got {margin_fraction!r}")
    margin = max(1, int(round(float(margin_fraction) * min(label.shape))))
    components, n = ndimage.label(label == lesion_label)
    host = label == host_label
    stats = []
    for i, box in enumerate(ndimage.find_objects(components), start=1):
        grown = tuple(slice(max(s.start - margin, 0), min(s.stop + margin, size)) for s, size in zip(box, label.shape))
        comp = components[grown] == i
        ring = ndimage.binary_dilation(comp, iterations=margin) & ~comp
        contact = float(host[grown][ring].mean()) if ring.any() else 0.0
        stats.append({"component": i, "pixels": int(comp.sum()), "contact": contact})
    return components, stats


class RemoveDetachedLesions(Transform):
    """Set lesion components with too little contact with their host structure to ``replacement``.

    Works on a label map with a leading channel (``(1, W, H[, D])``) or without one, 2D or 3D, any integer or
    float type; other labels are unchanged.

    Args:
        lesion_label: value of the lesion (IVH clot: 2 in the cranial ultrasound bundle).
        host_label: value of the structure the lesion must lie against (ventricles: 1).
        min_contact: smallest fraction of a component's surrounding ring that must be host; 0 keeps everything.
        margin_fraction: ring width as a fraction of the shortest spatial axis (see :func:`lesion_contacts`).
        replacement: label given to removed pixels (background by default).

    Example:
        >>> import numpy as np
        >>> seg = np.zeros((1, 40, 40), dtype=np.uint8)
        >>> seg[0, 10:20, 10:20] = 1; seg[0, 13:17, 13:17] = 2  # clot inside a ventricle
        >>> seg[0, 30:34, 30:34] = 2                            # echogenic tissue far from any ventricle
        >>> out = RemoveDetachedLesions(lesion_label=2, host_label=1, min_contact=0.15)(seg)
        >>> int((out == 2).sum())
        16
    """

    backend = [TransformBackends.NUMPY, TransformBackends.TORCH]

    def __init__(
        self,
        lesion_label: int = 2,
        host_label: int = 1,
        min_contact: float = 0.15,
        margin_fraction: float = 0.01,
        replacement: int = 0,
    ) -> None:
        if not 0.0 <= float(min_contact) <= 1.0:
            raise ValueError(f"min_contact must be a fraction in [0, 1], got {min_contact!r}")
        if int(lesion_label) == int(host_label):
            raise ValueError(f"lesion_label and host_label must differ, both are {lesion_label!r}")
        self.lesion_label, self.host_label = int(lesion_label), int(host_label)
        self.min_contact, self.margin_fraction = float(min_contact), float(margin_fraction)
        self.replacement = int(replacement)

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        arr = np.asarray(img.detach().cpu() if hasattr(img, "detach") else img)
        channel = arr.ndim in (3, 4) and arr.shape[0] == 1
        seg = np.rint(arr[0] if channel else arr).astype(np.int64)
        components, stats = lesion_contacts(seg, self.lesion_label, self.host_label, self.margin_fraction)
        drop = [s["component"] for s in stats if s["contact"] < self.min_contact]
        if not drop:
            return img
        seg[np.isin(components, drop)] = self.replacement
        out = seg[None] if channel else seg
        return convert_to_dst_type(out.astype(arr.dtype), img)[0]


class RemoveDetachedLesionsd(MapTransform):
    """Dictionary version of :class:`RemoveDetachedLesions` (on the label map under ``keys``, e.g. ``"pred"``)."""

    backend = RemoveDetachedLesions.backend

    def __init__(
        self,
        keys: KeysCollection,
        lesion_label: int = 2,
        host_label: int = 1,
        min_contact: float = 0.15,
        margin_fraction: float = 0.01,
        replacement: int = 0,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.remover = RemoveDetachedLesions(lesion_label, host_label, min_contact, margin_fraction, replacement)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.remover(d[key])
        return d


RemoveDetachedLesionsD = RemoveDetachedLesionsDict = RemoveDetachedLesionsd
