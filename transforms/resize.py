"""Resize a frame so that its short side has a given length, keeping its aspect ratio (invertible).

Ultrasound screen captures come in many shapes (1442 x 898, 850 x 648, 800 x 540 ...). Squeezing them to a square
grid distorts the anatomy and, at 128 px, loses the ventricle wall; :class:`ResizeShortSided` brings every frame to
the same scale on its short side (the cranial ultrasound bundle uses 256) and the sliding-window inferer covers the
long side. MONAI's :class:`monai.transforms.Resize` scales the *longest* side (``size_mode="longest"``); this is
the short-side counterpart, a subclass so that MONAI's inverse (``Invertd``) restores the original grid.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import InvertibleTransform, MapTransform, Resize
from monai.transforms.spatial.functional import resize
from monai.utils import ensure_tuple_rep, get_equivalent_dtype

__all__ = [
    "ResizeShortSide",
    "ResizeShortSided",
    "ResizeShortSideD",
    "ResizeShortSideDict",
    "short_side_size",
]


def short_side_size(spatial_shape: Sequence[int], short_side: int) -> tuple[int, ...]:
    """The spatial shape whose shortest axis is ``short_side``, the aspect ratio kept (each axis at least 1).

    Example:
        >>> short_side_size((1442, 898), 256)
        (411, 256)
    """
    if int(short_side) < 1:
        raise ValueError(f"short_side must be a positive number of pixels, got {short_side!r}")
    if not spatial_shape or min(spatial_shape) < 1:
        raise ValueError(f"cannot resize an image with spatial shape {tuple(spatial_shape)}: an axis is empty")
    scale = int(short_side) / min(spatial_shape)
    return tuple(max(1, int(round(s * scale))) for s in spatial_shape)


class ResizeShortSide(Resize):
    """Resize a channel-first image so that its shortest spatial axis has ``short_side`` pixels.

    The other axes scale by the same factor (aspect ratio kept, rounded to whole pixels). Invertible with
    :meth:`monai.transforms.Resize.inverse`, so ``Invertd`` brings a prediction back to the input's grid.

    Args:
        short_side: length of the shortest spatial axis after resizing, in pixels.
        mode: interpolation mode of :func:`torch.nn.functional.interpolate` (``"area"`` for images that shrink,
            ``"nearest"`` for label maps).
        anti_aliasing: Gaussian smoothing before downsampling (see :class:`monai.transforms.Resize`).
        dtype: data type of the resampling computation; the input's when ``None``.

    Example:
        >>> ResizeShortSide(256)(torch.zeros(1, 1442, 898)).shape
        torch.Size([1, 411, 256])
    """

    def __init__(
        self,
        short_side: int,
        mode: str = "area",
        anti_aliasing: bool = False,
        dtype: Any = torch.float32,
        lazy: bool = False,
    ) -> None:
        short_side_size((1,), short_side)  # validates short_side
        super().__init__(spatial_size=int(short_side), mode=mode, anti_aliasing=anti_aliasing, dtype=dtype, lazy=lazy)
        self.short_side = int(short_side)

    def __call__(  # type: ignore[override]
        self, img: torch.Tensor, mode: str | None = None, lazy: bool | None = None, **kwargs: Any
    ) -> torch.Tensor:
        img_size = img.peek_pending_shape() if isinstance(img, MetaTensor) else img.shape[1:]
        out_size = short_side_size([int(s) for s in img_size], self.short_side)
        dtype = get_equivalent_dtype(self.dtype or img.dtype, torch.Tensor)
        return resize(  # type: ignore[no-any-return]
            img,
            out_size,
            self.mode if mode is None else mode,
            self.align_corners,
            dtype,
            len(img_size),
            self.anti_aliasing,
            self.anti_aliasing_sigma,
            self.lazy if lazy is None else lazy,
            self.get_transform_info(),
        )


class ResizeShortSided(MapTransform, InvertibleTransform):
    """Dictionary version of :class:`ResizeShortSide`: every key resized to the same grid (per-key ``mode``).

    Example:
        >>> out = ResizeShortSided(["image", "label"], 128, mode=["area", "nearest"])(
        ...     {"image": torch.zeros(1, 300, 200), "label": torch.zeros(1, 300, 200)})
        >>> tuple(out["label"].shape)
        (1, 192, 128)
    """

    backend = ResizeShortSide.backend

    def __init__(
        self,
        keys: KeysCollection,
        short_side: int,
        mode: str | Sequence[str] = "area",
        anti_aliasing: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.mode = ensure_tuple_rep(mode, len(self.keys))
        self.resizer = ResizeShortSide(short_side, anti_aliasing=anti_aliasing)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key, mode in self.key_iterator(d, self.mode):
            d[key] = self.resizer(d[key], mode=mode)
        return d

    def inverse(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.resizer.inverse(d[key])
        return d


ResizeShortSideD = ResizeShortSideDict = ResizeShortSided
