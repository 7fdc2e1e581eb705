"""Head-CT intensity transforms: multi-window channel stacking and intracranial masking.

Array transforms do the work; the dictionary versions hold one array transform and loop over ``keys`` with
``key_iterator``, following ``monai/transforms/intensity/array.py`` + ``dictionary.py``. Both transforms act on
intensities only (no spatial change), so nothing needs inverting for ``Invertd``.
"""

from __future__ import annotations

from typing import Hashable, Mapping, Sequence, Union

import numpy as np
import torch
from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, convert_to_dst_type, convert_to_tensor, look_up_option
from scipy import ndimage

from .source_mask import MaskFromSourced

__all__ = [
    "CT_WINDOW_PRESETS",
    "CTWindows",
    "CTWindowsd",
    "CTWindowsD",
    "CTWindowsDict",
    "MaskIntracranial",
    "MaskIntracraniald",
    "MaskIntracranialD",
    "MaskIntracranialDict",
    "intracranial_mask",
    "head_foreground",
]

#: Named CT windows as ``(width, level)`` in Hounsfield units.
CT_WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "brain": (80.0, 40.0),
    "subdural": (200.0, 80.0),
    "stroke": (40.0, 40.0),
    "bone": (2800.0, 600.0),
    "soft_tissue": (350.0, 40.0),
}

WindowSpec = Union[str, Sequence[float]]


def _parse_windows(windows: Sequence[WindowSpec]) -> list[tuple[float, float]]:
    if isinstance(windows, str) or len(windows) == 0:
        raise ValueError(
            f"windows must be a non-empty sequence of preset names or (width, level) pairs, got {windows!r} "
            f"({type(windows).__name__}); presets: {sorted(CT_WINDOW_PRESETS)}"
        )
    parsed = []
    for w in windows:
        if isinstance(w, str):
            parsed.append(tuple(look_up_option(w, CT_WINDOW_PRESETS)))
            continue
        if len(w) != 2 or float(w[0]) <= 0:
            raise ValueError(f"each window must be (width > 0, level) in HU or a preset name, got {w!r}")
        parsed.append((float(w[0]), float(w[1])))
    return parsed


class CTWindows(Transform):
    """Stack several CT display windows of a one-channel HU image as channels, each scaled to [0, 1].

    A window (width W, level L) maps HU ``x`` to ``clip((x - (L - W / 2)) / W, 0, 1)``. Radiologists read head CT
    in a brain window (W80/L40), a subdural window (W200/L80) and a bone window (W2800/L600); giving the network
    all three as channels keeps both the 5-10 HU grey/white contrast and the skull (Kuo et al., "Expert-level
    detection of acute intracranial hemorrhage on head CT", PNAS 2019; Lee et al., Nat Biomed Eng 2019).

    Args:
        windows: preset names (see :data:`CT_WINDOW_PRESETS`) or ``(width, level)`` pairs in HU, one output
            channel each. Defaults to brain, subdural, bone.
        dtype: output dtype.

    Example:
        >>> import torch
        >>> CTWindows()(torch.tensor([[[0.0, 40.0, 80.0, 2000.0]]])).shape
        torch.Size([3, 1, 4])
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self, windows: Sequence[WindowSpec] = ("brain", "subdural", "bone"), dtype: torch.dtype = torch.float32
    ) -> None:
        self.windows = _parse_windows(windows)
        self.dtype = dtype

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Args: img: channel-first HU image with one channel, ``(1, *spatial)``."""
        if img.ndim < 2 or img.shape[0] != 1:
            raise ValueError(
                f"CTWindows expects a channel-first HU image with 1 channel (1, *spatial), got shape "
                f"{tuple(img.shape)}; add EnsureChannelFirst before it"
            )
        x = convert_to_tensor(img, track_meta=get_track_meta(), dtype=self.dtype)
        out = torch.cat([((x - (lvl - w / 2.0)) / w).clamp(0.0, 1.0) for w, lvl in self.windows], dim=0)
        result, *_ = convert_to_dst_type(out, dst=x, dtype=self.dtype)
        return result


def head_foreground(hu: NdarrayOrTensor, threshold: float = -500.0) -> NdarrayOrTensor:
    """Voxels denser than air (``hu > threshold``): the ``select_fn`` of MONAI's ``CropForegroundd`` that crops a CT
    to the head before sliding-window inference (the air around it costs windows and finds nothing).

    An image without any such voxel keeps its whole extent (every voxel selected), so the crop never empties it.

    Example:
        >>> import numpy as np
        >>> from monai.transforms import CropForeground
        >>> hu = np.full((1, 8, 8, 4), -1000.0); hu[0, 2:5, 3:6, 1:3] = 40.0
        >>> tuple(CropForeground(select_fn=head_foreground, allow_smaller=True)(hu).shape)
        (1, 3, 3, 2)
    """
    selected = hu > threshold
    return selected if selected.any() else selected | True


def intracranial_mask(hu: np.ndarray, bone_threshold: float = 300.0, soft_min: float = -100.0) -> np.ndarray:
    """Estimate the intracranial space of a 2D ``(x, y)`` or 3D ``(x, y, z)`` HU array.

    Bone is ``hu > bone_threshold``; holes of the bone are filled slice by slice in the axial ``(x, y)`` plane
    (the skull is open at the foramen magnum, so a 3D fill would fail); the inside is the filled region minus
    bone and minus air (``hu <= soft_min``), restricted to its largest connected component.

    Returns:
        boolean array of the same shape, True inside the skull.
    """
    if hu.ndim not in (2, 3):
        raise ValueError(f"intracranial_mask expects a 2D or 3D array, got shape {hu.shape}")
    bone = hu > bone_threshold
    # close small gaps (sutures, thin temporal bone) in-plane before filling
    structure = ndimage.generate_binary_structure(2, 2)
    if hu.ndim == 3:
        structure = structure[..., None]
    closed = ndimage.binary_closing(bone, structure=structure, iterations=2, border_value=0)
    if hu.ndim == 2:
        filled = ndimage.binary_fill_holes(closed)
    else:
        filled = np.stack([ndimage.binary_fill_holes(closed[..., k]) for k in range(hu.shape[-1])], axis=-1)
    inside = filled & ~bone & (hu > soft_min)
    labels, n = ndimage.label(inside)
    if n == 0:
        return inside
    sizes = np.bincount(labels.ravel())[1:]
    return labels == (int(np.argmax(sizes)) + 1)


class MaskIntracranial(Transform):
    """Set every voxel outside the intracranial space of a one-channel HU image to ``outside_value``.

    The mask comes from the HU values themselves (:func:`intracranial_mask`: threshold bone, fill the skull's
    holes, keep the inside), so scalp, skull, head holder and air stop competing with the brain for the
    network's attention. Apply it before :class:`CTWindows`: with the default ``outside_value=-1024`` every
    window then maps the outside to exactly 0.

    Args:
        bone_threshold: HU above which a voxel is bone.
        soft_min: HU at or below which a voxel is air, never intracranial.
        outside_value: value written outside the mask.
        keep_skull: also keep the bone voxels (e.g. so that a bone window still shows the skull).

    Example:
        >>> import numpy as np
        >>> img = np.full((1, 9, 9), -1000.0); img[0, 1:8, 1:8] = 1000.0; img[0, 3:6, 3:6] = 40.0
        >>> out = MaskIntracranial(outside_value=0.0)(img)
        >>> float(out.sum())  # only the 9 brain voxels of 40 HU remain
        360.0
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        bone_threshold: float = 300.0,
        soft_min: float = -100.0,
        outside_value: float = -1024.0,
        keep_skull: bool = False,
    ) -> None:
        if soft_min >= bone_threshold:
            raise ValueError(f"soft_min ({soft_min}) must be below bone_threshold ({bone_threshold})")
        self.bone_threshold = bone_threshold
        self.soft_min = soft_min
        self.outside_value = outside_value
        self.keep_skull = keep_skull

    def compute_mask(self, img: NdarrayOrTensor) -> np.ndarray:
        """The boolean intracranial mask ``(1, *spatial)`` of a one-channel HU image."""
        if img.ndim not in (3, 4) or img.shape[0] != 1:
            raise ValueError(
                f"MaskIntracranial expects a channel-first HU image (1, x, y) or (1, x, y, z), got shape "
                f"{tuple(img.shape)}"
            )
        hu = np.asarray(img.detach().cpu() if isinstance(img, torch.Tensor) else img, dtype=np.float32)[0]
        mask = intracranial_mask(hu, self.bone_threshold, self.soft_min)
        if self.keep_skull:
            mask |= hu > self.bone_threshold
        return mask[None]

    def __call__(self, img: NdarrayOrTensor, mask: NdarrayOrTensor | None = None) -> NdarrayOrTensor:
        """Mask ``img``; ``mask`` (same shape, truthy inside) skips the estimation when given."""
        x = convert_to_tensor(img, track_meta=get_track_meta())
        m = self.compute_mask(img) if mask is None else mask
        m_t = convert_to_tensor(m, device=x.device, track_meta=False).bool()  # a CUDA mask stays on its device
        out = torch.where(m_t, x, torch.as_tensor(self.outside_value, dtype=x.dtype, device=x.device))
        result, *_ = convert_to_dst_type(out, dst=x)
        return result


class CTWindowsd(MapTransform):
    """Dictionary-based :class:`CTWindows`.

    Args:
        keys: keys of the HU images to window.
        windows: see :class:`CTWindows`.
        dtype: output dtype.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = CTWindows.backend

    def __init__(
        self,
        keys: KeysCollection,
        windows: Sequence[WindowSpec] = ("brain", "subdural", "bone"),
        dtype: torch.dtype = torch.float32,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.windower = CTWindows(windows=windows, dtype=dtype)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.windower(d[key])
        return d


class MaskIntracraniald(MaskFromSourced):
    """Dictionary-based :class:`MaskIntracranial`.

    The mask is estimated once from ``source_key`` (default: the first key) and applied to every key, so several
    images of one case share it; ``mask_key`` also stores the boolean mask in the dictionary.

    Args:
        keys: keys of the images to mask.
        source_key: key of the HU image the mask is estimated from; None: the first key present.
        mask_key: if given, write the mask ``(1, *spatial)`` (uint8) under this key.
        bone_threshold, soft_min, outside_value, keep_skull: see :class:`MaskIntracranial`.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = MaskIntracranial.backend

    def __init__(
        self,
        keys: KeysCollection,
        source_key: str | None = None,
        mask_key: str | None = None,
        bone_threshold: float = 300.0,
        soft_min: float = -100.0,
        outside_value: float = -1024.0,
        keep_skull: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(
            keys,
            MaskIntracranial(bone_threshold, soft_min, outside_value, keep_skull),
            source_key,
            mask_key,
            allow_missing_keys,
        )


CTWindowsD = CTWindowsDict = CTWindowsd
MaskIntracranialD = MaskIntracranialDict = MaskIntracraniald
