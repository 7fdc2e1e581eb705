"""Head-CT intensity transforms: multi-window channel stacking, and the intracranial mask of a HU image.

Array transforms do the work; the dictionary versions hold one array transform and loop over ``keys`` with
``key_iterator``, following ``monai/transforms/intensity/array.py`` + ``dictionary.py``. Windowing acts on
intensities only (no spatial change), so nothing needs inverting for ``Invertd``. :func:`intracranial_mask` is the
one skull logic of the package: :class:`~cranialseg.transforms.lesions.RemoveImplausibleLesions` (CT inference)
and the demo baseline use it.
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

__all__ = [
    "CT_WINDOW_PRESETS",
    "CTWindows",
    "CTWindowsd",
    "CTWindowsD",
    "CTWindowsDict",
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


CTWindowsD = CTWindowsDict = CTWindowsd
