"""Ultrasound intensity transforms: screen capture to grey and imaging-sector (fan) masking.

Ultrasound images exported from scanners or grabbed from the screen carry burned-in annotations around the
imaging sector (patient text, depth rulers, a grey-scale bar, coloured callipers). These transforms turn such an
image into one grey channel and find the sector; the cranial-US bundle's inference zeroes its prediction outside
the sector with :class:`SectorMaskd` (after ``AsDiscreted``: its weights never saw masked inputs).
Array transforms do the work; dictionary versions hold one and loop over ``keys`` (MONAI's
``intensity/array.py`` + ``dictionary.py`` pattern). None of them moves pixels, so nothing needs inverting.

Spatial layout follows MONAI's ``PILReader``: channel-first ``(C, x, y)`` with ``x`` the column (lateral) and
``y`` the row (depth, the beam direction). Extra trailing axes (``(C, x, y, t)``: cine frames) share one sector.
"""

from __future__ import annotations

from typing import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, convert_to_dst_type, convert_to_tensor
from scipy import ndimage
from skimage.morphology import convex_hull_image, disk

from .source_mask import MaskFromSourced

__all__ = [
    "UltrasoundToGrey",
    "UltrasoundToGreyd",
    "UltrasoundToGreyD",
    "UltrasoundToGreyDict",
    "SectorMask",
    "SectorMaskd",
    "SectorMaskD",
    "SectorMaskDict",
    "estimate_sector_mask",
]


def _to_numpy(img: NdarrayOrTensor) -> np.ndarray:
    return np.asarray(img.detach().cpu() if isinstance(img, torch.Tensor) else img)


class UltrasoundToGrey(Transform):
    """Convert a channel-first ultrasound image (grey, RGB or RGBA) to one grey channel.

    RGB is combined with ITU-R BT.601 luma weights (a B-mode image is stored grey in all three channels, so this
    returns it unchanged). Coloured pixels (annotation text, callipers, colour Doppler overlays) are set to 0
    when their chroma ``max(R, G, B) - min(R, G, B)`` exceeds ``colour_tolerance`` times the image's maximum:
    grey B-mode pixels have a chroma of (almost) 0.

    Args:
        weights: weights of R, G, B.
        colour_tolerance: relative chroma above which a pixel counts as a coloured overlay and is zeroed;
            None keeps coloured pixels (as their luma).
        dtype: output dtype.

    Example:
        >>> import numpy as np
        >>> rgb = np.zeros((3, 2, 1)); rgb[:, 0, 0] = 100; rgb[:, 1, 0] = (255, 255, 0)  # grey, yellow text
        >>> UltrasoundToGrey()(rgb)[0, :, 0].tolist()
        [100.0, 0.0]
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        weights: Sequence[float] = (0.299, 0.587, 0.114),
        colour_tolerance: float | None = 0.1,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if len(weights) != 3:
            raise ValueError(f"weights must hold 3 values (R, G, B), got {weights!r}")
        if colour_tolerance is not None and not 0.0 <= colour_tolerance <= 1.0:
            raise ValueError(f"colour_tolerance must be in [0, 1] or None, got {colour_tolerance!r}")
        self.weights = tuple(float(w) for w in weights)
        self.colour_tolerance = colour_tolerance
        self.dtype = dtype

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Args: img: ``(1, *spatial)``, ``(3, *spatial)`` (RGB) or ``(4, *spatial)`` (RGBA)."""
        if img.ndim < 3 or img.shape[0] not in (1, 3, 4):
            raise ValueError(
                f"UltrasoundToGrey expects a channel-first image with 1, 3 (RGB) or 4 (RGBA) channels, "
                f"got shape {tuple(img.shape)}; add EnsureChannelFirst before it"
            )
        x = convert_to_tensor(img, track_meta=get_track_meta(), dtype=self.dtype)
        if x.shape[0] == 1:
            return x
        rgb = x[:3]
        w = torch.as_tensor(self.weights, dtype=self.dtype, device=x.device).view([3] + [1] * (x.ndim - 1))
        grey = (rgb * w).sum(dim=0, keepdim=True)
        if self.colour_tolerance is not None:
            chroma = rgb.amax(dim=0, keepdim=True) - rgb.amin(dim=0, keepdim=True)
            scale = rgb.amax().clamp_min(1e-8)
            grey = torch.where(chroma > self.colour_tolerance * scale, torch.zeros_like(grey), grey)
        out, *_ = convert_to_dst_type(grey, dst=x, dtype=self.dtype)
        return out


def estimate_sector_mask(
    grey: np.ndarray,
    threshold: float = 0.04,
    opening_radius: float = 0.012,
    convex: bool = True,
    working_size: int = 384,
) -> np.ndarray:
    """Estimate the imaging sector (fan) of a 2D grey ultrasound frame.

    Steps: downsample to about ``working_size`` pixels on the long side; smooth (speckle has dark pixels inside
    the fan); threshold at ``threshold`` times the 99th percentile of the non-zero pixels; a morphological
    opening detaches text, rulers and tick marks touching the fan; keep the largest connected component; fill
    its holes; take its convex hull (sectors of linear, curvilinear and phased probes are convex); upsample.

    Args:
        grey: 2D array.
        threshold: relative intensity threshold.
        opening_radius: radius of the opening disk as a fraction of the short side of the working image.
        convex: replace the component by its convex hull.
        working_size: long side of the working image.

    Returns:
        boolean mask of ``grey``'s shape, True inside the sector (all False for an all-zero frame).
    """
    if grey.ndim != 2:
        raise ValueError(f"estimate_sector_mask expects a 2D frame, got shape {grey.shape}")
    g = np.asarray(grey, dtype=np.float32)
    step = max(1, int(np.ceil(max(g.shape) / working_size)))
    if step > 1:  # block mean
        pad = [(0, (-s) % step) for s in g.shape]
        gp = np.pad(g, pad, mode="edge")
        small = gp.reshape(gp.shape[0] // step, step, gp.shape[1] // step, step).mean(axis=(1, 3))
    else:
        small = g
    positive = small[small > 0]
    if positive.size == 0:
        return np.zeros(g.shape, dtype=bool)
    size = max(3, int(round(min(small.shape) * 0.015)) | 1)
    smooth = ndimage.uniform_filter(small, size=size)
    fg = smooth > threshold * float(np.percentile(positive, 99))
    radius = max(1, int(round(min(small.shape) * opening_radius)))
    fg = ndimage.binary_opening(fg, structure=disk(radius))
    labels, n = ndimage.label(fg)
    if n == 0:
        return np.zeros(g.shape, dtype=bool)
    sizes = np.bincount(labels.ravel())[1:]
    fan = ndimage.binary_fill_holes(labels == (int(np.argmax(sizes)) + 1))
    if convex:
        fan = convex_hull_image(fan)
    if step > 1:
        fan = np.repeat(np.repeat(fan, step, axis=0), step, axis=1)[: g.shape[0], : g.shape[1]]
    return fan


class SectorMask(Transform):
    """Zero everything outside the ultrasound imaging sector (fan), estimated from the image itself.

    Burned-in annotations (text, depth rulers, grey-scale bars, logos) lie outside the sector and are removed.
    The sector is estimated by :func:`estimate_sector_mask` on the channel mean; for inputs with more than two
    spatial axes (cine ``(C, x, y, t)``) on the maximum over the trailing axes, and applied to every frame.

    Args:
        threshold, opening_radius, convex, working_size: see :func:`estimate_sector_mask`.
        return_mask: return the boolean mask ``(1, *spatial)`` instead of the masked image.

    Example:
        >>> import numpy as np
        >>> img = np.zeros((1, 64, 64)); img[0, 10:50, 10:50] = 100.0; img[0, 60:63, 1:4] = 255.0  # "text"
        >>> out = SectorMask()(img)
        >>> float(out[0, 61, 2]), float(out[0, 30, 30])
        (0.0, 100.0)
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        threshold: float = 0.04,
        opening_radius: float = 0.012,
        convex: bool = True,
        working_size: int = 384,
        return_mask: bool = False,
    ) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1) (fraction of the 99th percentile), got {threshold!r}")
        self.threshold, self.opening_radius = float(threshold), float(opening_radius)
        self.convex, self.working_size = bool(convex), int(working_size)
        self.return_mask = return_mask

    def compute_mask(self, img: NdarrayOrTensor) -> np.ndarray:
        """The boolean sector mask ``(1, *spatial)`` of a channel-first image."""
        if img.ndim < 3:
            raise ValueError(f"SectorMask expects a channel-first image (C, x, y[, t]), got shape {tuple(img.shape)}")
        arr = _to_numpy(img).astype(np.float32).mean(axis=0)
        frame = arr.max(axis=tuple(range(2, arr.ndim))) if arr.ndim > 2 else arr
        mask2d = estimate_sector_mask(frame, self.threshold, self.opening_radius, self.convex, self.working_size)
        mask = np.broadcast_to(mask2d.reshape(mask2d.shape + (1,) * (arr.ndim - 2)), arr.shape)
        return np.array(mask, copy=True)[None]

    def __call__(self, img: NdarrayOrTensor, mask: NdarrayOrTensor | None = None) -> NdarrayOrTensor:
        """Mask ``img``; a given ``mask`` (truthy inside, broadcastable) skips the estimation."""
        x = convert_to_tensor(img, track_meta=get_track_meta())
        m = self.compute_mask(img) if mask is None else _to_numpy(mask).astype(bool)
        if self.return_mask:
            out, *_ = convert_to_dst_type(m.astype(np.uint8), dst=x, dtype=torch.uint8)
            return out
        m_t = torch.as_tensor(m, device=x.device)
        out = torch.where(m_t, x, torch.zeros((), dtype=x.dtype, device=x.device))
        result, *_ = convert_to_dst_type(out, dst=x)
        return result


class UltrasoundToGreyd(MapTransform):
    """Dictionary-based :class:`UltrasoundToGrey`.

    Args:
        keys: keys of the images to convert.
        weights, colour_tolerance, dtype: see :class:`UltrasoundToGrey`.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = UltrasoundToGrey.backend

    def __init__(
        self,
        keys: KeysCollection,
        weights: Sequence[float] = (0.299, 0.587, 0.114),
        colour_tolerance: float | None = 0.1,
        dtype: torch.dtype = torch.float32,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.converter = UltrasoundToGrey(weights=weights, colour_tolerance=colour_tolerance, dtype=dtype)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.converter(d[key])
        return d


class SectorMaskd(MaskFromSourced):
    """Dictionary-based :class:`SectorMask`.

    The sector is estimated from ``source_key`` (default: the first key) and applied to every key; ``mask_key``
    also stores it (uint8 ``(1, *spatial)``), e.g. to mask a loss. To mask a prediction with the sector of its
    input image: ``SectorMaskd(keys="pred", source_key="original_image")``.

    Args:
        keys: keys of the images to mask.
        source_key: key of the image the sector is estimated from; None: the first key present.
        mask_key: if given, write the mask under this key.
        threshold, opening_radius, convex, working_size: see :func:`estimate_sector_mask`.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = SectorMask.backend

    def __init__(
        self,
        keys: KeysCollection,
        source_key: str | None = None,
        mask_key: str | None = None,
        threshold: float = 0.04,
        opening_radius: float = 0.012,
        convex: bool = True,
        working_size: int = 384,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(
            keys, SectorMask(threshold, opening_radius, convex, working_size), source_key, mask_key, allow_missing_keys
        )


UltrasoundToGreyD = UltrasoundToGreyDict = UltrasoundToGreyd
SectorMaskD = SectorMaskDict = SectorMaskd
