"""Ultrasound intensity transforms: screen capture to grey, imaging-sector (fan) masking, speckle-aware scaling.

Ultrasound images exported from scanners or grabbed from the screen carry burned-in annotations around the
imaging sector (patient text, depth rulers, a grey-scale bar, coloured callipers). These transforms turn such an
image into one grey channel whose only non-zero pixels are inside the sector, scaled robustly to [0, 1].
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
    "NormalizeSector",
    "NormalizeSectord",
    "NormalizeSectorD",
    "NormalizeSectorDict",
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


class NormalizeSector(Transform):
    """Speckle-aware intensity normalisation inside the imaging sector.

    Fully developed speckle is multiplicative with heavy tails (Rayleigh amplitude, Goodman 1975; Wagner et al.,
    "Statistics of speckle in ultrasound B-scans", IEEE Trans Sonics Ultrason 1983), so mean/std scaling is
    driven by a few bright specular echoes. Instead the ``lower`` and ``upper`` percentiles of the pixels inside
    the sector map to 0 and 1; pixels outside stay 0. With ``log_compress=True`` (linear envelope input,
    e.g. raw RF envelope or a linear-intensity export) the image is first log-compressed,
    ``log1p(x / median_inside)``, which turns multiplicative speckle into additive noise as a scanner does.

    Args:
        lower: lower percentile (0-100) mapped to 0.
        upper: upper percentile (0-100) mapped to 1.
        log_compress: log-compress the (linear) input first.
        clip: clip the result to [0, 1].
        dtype: output dtype.

    Example:
        >>> import numpy as np
        >>> img = np.zeros((1, 3, 4)); img[0, :, 1:] = np.arange(1.0, 10.0).reshape(3, 3)
        >>> NormalizeSector(lower=0, upper=100)(img)[0, 0].tolist()
        [0.0, 0.0, 0.125, 0.25]
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        lower: float = 1.0,
        upper: float = 99.0,
        log_compress: bool = False,
        clip: bool = True,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if not 0.0 <= lower < upper <= 100.0:
            raise ValueError(f"need 0 <= lower < upper <= 100, got lower={lower!r}, upper={upper!r}")
        self.lower, self.upper = float(lower), float(upper)
        self.log_compress = log_compress
        self.clip = clip
        self.dtype = dtype

    def __call__(self, img: NdarrayOrTensor, mask: NdarrayOrTensor | None = None) -> NdarrayOrTensor:
        """Normalise ``img``; ``mask`` (broadcastable, truthy inside) defaults to the non-zero pixels."""
        x = convert_to_tensor(img, track_meta=get_track_meta(), dtype=self.dtype)
        m = (x != 0) if mask is None else torch.as_tensor(_to_numpy(mask).astype(bool), device=x.device)
        m = torch.broadcast_to(m, x.shape)
        if not bool(m.any()):
            return torch.zeros_like(x)
        y = x.as_tensor() if hasattr(x, "as_tensor") else x
        if self.log_compress:
            scale = torch.quantile(y[m].double(), 0.5).clamp_min(1e-12).to(y.dtype)
            y = torch.log1p(y.clamp_min(0) / scale)
        inside = y[m].double()
        q = torch.tensor([self.lower / 100.0, self.upper / 100.0], dtype=torch.float64, device=y.device)
        lo, hi = (float(v) for v in torch.quantile(inside, q))
        out = (y - lo) / max(hi - lo, 1e-12)
        if self.clip:
            out = out.clamp(0.0, 1.0)
        out = torch.where(m, out, torch.zeros((), dtype=out.dtype, device=out.device))
        result, *_ = convert_to_dst_type(out, dst=x, dtype=self.dtype)
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
    also stores it (uint8 ``(1, *spatial)``), e.g. for :class:`NormalizeSectord` or to mask the loss.

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


class NormalizeSectord(MapTransform):
    """Dictionary-based :class:`NormalizeSector`.

    Args:
        keys: keys of the images to normalise.
        mask_key: key of a sector mask (e.g. written by :class:`SectorMaskd`); None: the non-zero pixels.
        lower, upper, log_compress, clip, dtype: see :class:`NormalizeSector`.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = NormalizeSector.backend

    def __init__(
        self,
        keys: KeysCollection,
        mask_key: str | None = None,
        lower: float = 1.0,
        upper: float = 99.0,
        log_compress: bool = False,
        clip: bool = True,
        dtype: torch.dtype = torch.float32,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.mask_key = mask_key
        self.normalizer = NormalizeSector(lower, upper, log_compress, clip, dtype)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        mask = None
        if self.mask_key is not None:
            if self.mask_key not in d:
                raise KeyError(f"NormalizeSectord: mask_key {self.mask_key!r} not in the data (keys: {list(d)})")
            mask = d[self.mask_key]
        for key in self.key_iterator(d):
            d[key] = self.normalizer(d[key], mask=mask)
        return d


UltrasoundToGreyD = UltrasoundToGreyDict = UltrasoundToGreyd
SectorMaskD = SectorMaskDict = SectorMaskd
NormalizeSectorD = NormalizeSectorDict = NormalizeSectord
