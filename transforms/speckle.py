"""Random ultrasound augmentations: multiplicative speckle noise and acoustic shadowing.

Both follow MONAI's random intensity transforms (``RandGaussianNoise`` / ``RandGaussianNoised``): the parameters
are drawn once per call in ``randomize`` and applied to every key of a dictionary, with probability ``prob``.
Neither moves pixels, so nothing needs inverting. Apply them to images only, never to labels.

Spatial layout: channel-first ``(C, x, y[, z])`` with ``x`` lateral and ``y`` the depth (beam) direction,
as MONAI's ``PILReader`` returns a B-mode screen image (rows go down into the body).
"""

from __future__ import annotations

from typing import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import MapTransform, RandomizableTransform
from monai.utils import TransformBackends, convert_to_dst_type, convert_to_tensor, look_up_option
from scipy import ndimage

__all__ = [
    "RandSpeckleNoise",
    "RandSpeckleNoised",
    "RandSpeckleNoiseD",
    "RandSpeckleNoiseDict",
    "RandAcousticShadow",
    "RandAcousticShadowd",
    "RandAcousticShadowD",
    "RandAcousticShadowDict",
]

_DISTRIBUTIONS = ("gamma", "rayleigh")


def _check_range(name: str, value: Sequence[float], low: float, high: float) -> tuple[float, float]:
    if len(value) != 2 or not low <= float(value[0]) <= float(value[1]) <= high:
        raise ValueError(f"{name} must be a (min, max) pair with {low} <= min <= max <= {high}, got {value!r}")
    return float(value[0]), float(value[1])


class RandSpeckleNoise(RandomizableTransform):
    """Multiply the image by random speckle of mean 1.

    Fully developed speckle has a Rayleigh-distributed amplitude; after incoherent averaging of ``L`` looks its
    intensity is Gamma(L, 1/L) distributed (Goodman, "Statistical properties of laser speckle patterns", 1975;
    Tuthill et al., "Deviations from Rayleigh statistics in ultrasonic speckle", Ultrason Imaging 1988). The
    output is ``img * (1 + strength * (n - 1))`` with ``n`` drawn per pixel (one field shared by all channels),
    optionally smoothed by a Gaussian of ``grain_sigma`` pixels to give the grain a size (variance kept).

    Random draws, in this order from ``self.R``: ``do`` (``rand() < prob``), ``looks`` (uniform in ``looks``),
    ``strength`` (uniform in ``strength``), then the field (``gamma(looks, 1 / looks)`` or
    ``rayleigh(sqrt(2 / pi))``, both of mean 1).

    Args:
        prob: probability of applying the transform.
        distribution: ``"gamma"`` (intensity speckle with ``looks``) or ``"rayleigh"`` (amplitude speckle).
        looks: range of the gamma shape ``L`` (1: exponential intensity, larger: milder speckle).
        strength: range of the mixing weight of the noise (0: none, 1: full multiplicative speckle).
        grain_sigma: Gaussian smoothing of the field in pixels (0: white speckle).
        dtype: output dtype.

    Example:
        >>> import numpy as np
        >>> t = RandSpeckleNoise(prob=1.0, strength=(1.0, 1.0)); _ = t.set_random_state(0)
        >>> t(np.ones((1, 64, 64))).shape
        torch.Size([1, 64, 64])
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        prob: float = 0.1,
        distribution: str = "gamma",
        looks: Sequence[float] = (1.0, 4.0),
        strength: Sequence[float] = (0.3, 1.0),
        grain_sigma: float = 0.0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        RandomizableTransform.__init__(self, prob)
        self.distribution = look_up_option(distribution, _DISTRIBUTIONS)
        self.looks = _check_range("looks", looks, 1e-3, 1e6)
        self.strength = _check_range("strength", strength, 0.0, 1.0)
        if grain_sigma < 0:
            raise ValueError(f"grain_sigma must be >= 0 (pixels), got {grain_sigma!r}")
        self.grain_sigma = float(grain_sigma)
        self.dtype = dtype
        self.field: np.ndarray | None = None

    def randomize(self, img: NdarrayOrTensor) -> None:  # type: ignore[override]
        super().randomize(None)
        if not self._do_transform:
            return
        looks = self.R.uniform(*self.looks)
        strength = self.R.uniform(*self.strength)
        shape = tuple(img.shape[1:])
        if self.distribution == "gamma":
            n = self.R.gamma(looks, 1.0 / looks, size=shape)
        else:
            n = self.R.rayleigh(np.sqrt(2.0 / np.pi), size=shape)
        if self.grain_sigma > 0:
            dev = n - 1.0
            smooth = ndimage.gaussian_filter(dev, self.grain_sigma)
            n = np.clip(1.0 + smooth * (dev.std() / max(float(smooth.std()), 1e-12)), 0.0, None)
        self.field = (1.0 + strength * (n - 1.0)).astype(np.float32)[None]

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True) -> NdarrayOrTensor:
        img = convert_to_tensor(img, track_meta=get_track_meta(), dtype=self.dtype)
        if randomize:
            self.randomize(img)
        if not self._do_transform:
            return img
        if self.field is None:
            raise RuntimeError("RandSpeckleNoise: call randomize() first (or call with randomize=True)")
        if tuple(self.field.shape[1:]) != tuple(img.shape[1:]):
            raise ValueError(
                f"RandSpeckleNoise: the drawn field has spatial shape {self.field.shape[1:]}, the image "
                f"{tuple(img.shape[1:])}; all keys must share one spatial shape"
            )
        field, *_ = convert_to_dst_type(self.field, dst=img)
        return img * field


class RandAcousticShadow(RandomizableTransform):
    """Darken random bands below strong reflectors, as acoustic shadows behind bone or calcification do.

    Each shadow is a band of the lateral axis starting at a random depth and continuing to the far field; inside
    it the intensity is multiplied by ``1 - attenuation``; edges ramp linearly over ``softness`` (fraction of the
    axis). Several shadows multiply. For 3D inputs the band spans every axis other than ``lateral_axis`` and
    ``depth_axis``. See Szabo, "Diagnostic Ultrasound Imaging: Inside Out" (2014), ch. 4 and 8.

    Random draws, in this order from ``self.R``: ``do``; the number of shadows (``randint(min, max + 1)``); per
    shadow its lateral centre (uniform in [0, 1]), ``width``, ``attenuation`` and ``start_depth``.

    Args:
        prob: probability of applying the transform.
        num_shadows: inclusive (min, max) number of shadows.
        width: range of the shadow width, fraction of the lateral size.
        attenuation: range of the fraction of intensity removed inside the shadow.
        start_depth: range of the depth where the shadow starts, fraction of the depth size.
        softness: edge ramp width, fraction of each axis (0: hard edges).
        lateral_axis: spatial axis (0-based, without the channel) across the beams.
        depth_axis: spatial axis along the beams (increasing depth).
        dtype: output dtype.

    Example:
        >>> import numpy as np
        >>> t = RandAcousticShadow(prob=1.0, attenuation=(1.0, 1.0), softness=0.0); _ = t.set_random_state(0)
        >>> float(t(np.ones((1, 8, 8)))[0, :, :2].min())  # the near field is never shadowed here
        1.0
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        prob: float = 0.1,
        num_shadows: Sequence[int] = (1, 2),
        width: Sequence[float] = (0.05, 0.2),
        attenuation: Sequence[float] = (0.3, 0.9),
        start_depth: Sequence[float] = (0.2, 0.8),
        softness: float = 0.02,
        lateral_axis: int = 0,
        depth_axis: int = 1,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        RandomizableTransform.__init__(self, prob)
        if len(num_shadows) != 2 or not 1 <= int(num_shadows[0]) <= int(num_shadows[1]):
            raise ValueError(f"num_shadows must be an inclusive (min >= 1, max >= min) pair, got {num_shadows!r}")
        self.num_shadows = (int(num_shadows[0]), int(num_shadows[1]))
        self.width = _check_range("width", width, 0.0, 1.0)
        self.attenuation = _check_range("attenuation", attenuation, 0.0, 1.0)
        self.start_depth = _check_range("start_depth", start_depth, 0.0, 1.0)
        if not 0.0 <= softness < 1.0:
            raise ValueError(f"softness must be in [0, 1), got {softness!r}")
        if lateral_axis == depth_axis or min(lateral_axis, depth_axis) < 0:
            raise ValueError(
                f"lateral_axis ({lateral_axis}) and depth_axis ({depth_axis}) must be distinct spatial axes >= 0"
            )
        self.softness = float(softness)
        self.lateral_axis, self.depth_axis = int(lateral_axis), int(depth_axis)
        self.dtype = dtype
        self.shadows: list[tuple[float, float, float, float]] = []

    def randomize(self, img: NdarrayOrTensor | None = None) -> None:  # type: ignore[override]
        super().randomize(None)
        if not self._do_transform:
            return
        n = int(self.R.randint(self.num_shadows[0], self.num_shadows[1] + 1))
        self.shadows = [
            (
                float(self.R.uniform(0.0, 1.0)),
                float(self.R.uniform(*self.width)),
                float(self.R.uniform(*self.attenuation)),
                float(self.R.uniform(*self.start_depth)),
            )
            for _ in range(n)
        ]

    def _ramp(self, signed: np.ndarray) -> np.ndarray:
        """1 where ``signed > 0`` (inside), 0 outside, linear over ``softness`` around 0."""
        if self.softness == 0:
            return (signed > 0).astype(np.float64)
        return np.clip(signed / self.softness + 0.5, 0.0, 1.0)

    def shadow_field(self, spatial_shape: Sequence[int]) -> np.ndarray:
        """The multiplicative field ``(1, *spatial_shape)`` of the drawn shadows."""
        ndim = len(spatial_shape)
        if max(self.lateral_axis, self.depth_axis) >= ndim:
            raise ValueError(
                f"RandAcousticShadow: lateral_axis={self.lateral_axis} / depth_axis={self.depth_axis} need at "
                f"least {max(self.lateral_axis, self.depth_axis) + 1} spatial axes, the image has {ndim}"
            )
        n_lat, n_dep = spatial_shape[self.lateral_axis], spatial_shape[self.depth_axis]
        u = (np.arange(n_lat) + 0.5) / n_lat
        d = (np.arange(n_dep) + 0.5) / n_dep
        lat_view = [1] * ndim
        lat_view[self.lateral_axis] = n_lat
        dep_view = [1] * ndim
        dep_view[self.depth_axis] = n_dep
        field = np.ones(spatial_shape, dtype=np.float64)
        for centre, width, att, start in self.shadows:
            w = self._ramp(width / 2.0 - np.abs(u - centre)).reshape(lat_view)
            h = self._ramp(d - start).reshape(dep_view)
            field = field * (1.0 - att * w * h)
        return field.astype(np.float32)[None]

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True) -> NdarrayOrTensor:
        img = convert_to_tensor(img, track_meta=get_track_meta(), dtype=self.dtype)
        if randomize:
            self.randomize(img)
        if not self._do_transform:
            return img
        field, *_ = convert_to_dst_type(self.shadow_field(tuple(img.shape[1:])), dst=img)
        return img * field


class RandSpeckleNoised(RandomizableTransform, MapTransform):
    """Dictionary-based :class:`RandSpeckleNoise`: one field, drawn from the first key, for every key.

    Args:
        keys: keys of the images (not labels) to corrupt; they must share one spatial shape.
        prob, distribution, looks, strength, grain_sigma, dtype: see :class:`RandSpeckleNoise`.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = RandSpeckleNoise.backend

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 0.1,
        distribution: str = "gamma",
        looks: Sequence[float] = (1.0, 4.0),
        strength: Sequence[float] = (0.3, 1.0),
        grain_sigma: float = 0.0,
        dtype: torch.dtype = torch.float32,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        self.speckle = RandSpeckleNoise(1.0, distribution, looks, strength, grain_sigma, dtype)

    def set_random_state(
        self, seed: int | None = None, state: np.random.RandomState | None = None
    ) -> RandSpeckleNoised:
        super().set_random_state(seed, state)
        self.speckle.set_random_state(seed, state)
        return self

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        self.randomize(None)
        first_key: Hashable = self.first_key(d)
        if not self._do_transform or first_key == ():
            for key in self.key_iterator(d):
                d[key] = convert_to_tensor(d[key], track_meta=get_track_meta())
            return d
        self.speckle.randomize(d[first_key])
        for key in self.key_iterator(d):
            d[key] = self.speckle(d[key], randomize=False)
        return d


class RandAcousticShadowd(RandomizableTransform, MapTransform):
    """Dictionary-based :class:`RandAcousticShadow`: the same shadows on every key.

    Args:
        keys: keys of the images (not labels) to shadow.
        prob, num_shadows, width, attenuation, start_depth, softness, lateral_axis, depth_axis, dtype: see
            :class:`RandAcousticShadow`.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = RandAcousticShadow.backend

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 0.1,
        num_shadows: Sequence[int] = (1, 2),
        width: Sequence[float] = (0.05, 0.2),
        attenuation: Sequence[float] = (0.3, 0.9),
        start_depth: Sequence[float] = (0.2, 0.8),
        softness: float = 0.02,
        lateral_axis: int = 0,
        depth_axis: int = 1,
        dtype: torch.dtype = torch.float32,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        self.shadow = RandAcousticShadow(
            1.0, num_shadows, width, attenuation, start_depth, softness, lateral_axis, depth_axis, dtype
        )

    def set_random_state(
        self, seed: int | None = None, state: np.random.RandomState | None = None
    ) -> RandAcousticShadowd:
        super().set_random_state(seed, state)
        self.shadow.set_random_state(seed, state)
        return self

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        self.randomize(None)
        if not self._do_transform or self.first_key(d) == ():
            for key in self.key_iterator(d):
                d[key] = convert_to_tensor(d[key], track_meta=get_track_meta())
            return d
        self.shadow.randomize(None)
        for key in self.key_iterator(d):
            d[key] = self.shadow(d[key], randomize=False)
        return d


RandSpeckleNoiseD = RandSpeckleNoiseDict = RandSpeckleNoised
RandAcousticShadowD = RandAcousticShadowDict = RandAcousticShadowd
