"""Refuse inputs of the other modality or dimension, naming the bundle that handles them."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, Transform

from cranialseg.utils.spatial import spatial_shape
from cranialseg.utils.suffixes import DICOM_SUFFIXES

__all__ = [
    "BUNDLE_FOR",
    "ModalityMismatchError",
    "read_dicom_modality",
    "CheckModality",
    "CheckModalityd",
    "CheckModalityD",
    "CheckModalityDict",
]

#: which bundle serves which (modality, spatial dimension)
BUNDLE_FOR = {"CT": "head_ct_haemorrhage_segmentation", "US": "cranial_us_ventricle_segmentation"}
_DIMS_OF = {"CT": 3, "US": 2}


class ModalityMismatchError(ValueError):
    """The input is of another modality or dimension than the bundle's network expects."""


def _tag_value(meta: Mapping, *names: str) -> str | None:
    for name in names:
        value = meta.get(name)
        if isinstance(value, dict):  # pydicom JSON model {"vr": "CS", "Value": ["CT"]}
            value = (value.get("Value") or [None])[0]
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if value:
            return str(value).strip().upper()
    return None


def read_dicom_modality(path: str | Path) -> str | None:
    """Modality (0008,0060) of a DICOM file, or of the first DICOM file in a folder; ``None`` if not DICOM.

    Example:
        >>> read_dicom_modality("missing-folder") is None
        True
    """
    import pydicom

    path = Path(path)
    candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for candidate in candidates[:50]:
        try:
            ds = pydicom.dcmread(candidate, stop_before_pixels=True, specific_tags=["Modality"])
        except Exception:
            continue
        modality = getattr(ds, "Modality", None)
        if modality:
            return str(modality).strip().upper()
    return None


class CheckModality(Transform):
    """Check that a channel-first image is of the bundle's modality and spatial dimension.

    A 3D array whose last spatial axis has size 1 (a single-frame ultrasound stored as ``(W, H, 1)``) counts as 2D.
    The modality comes from the image meta data (``Modality``, ``00080060`` or ``0008|0060``) or, for a DICOM file or
    folder named by ``filename_or_obj``, from its header; inputs without a modality (NIfTI, PNG) are judged by their
    dimension only. On a mismatch a :class:`ModalityMismatchError` names the bundle to use instead.

    Args:
        modality: the bundle's modality, ``"CT"`` or ``"US"``.
        spatial_dims: the network's spatial dimension (3 for CT, 2 for ultrasound).
        bundle_name: this bundle's name (shown in the message).

    Example:
        >>> CheckModality("CT", 3)(torch.zeros(1, 8, 8, 4)).shape
        torch.Size([1, 8, 8, 4])
    """

    backend: list = []

    def __init__(self, modality: str = "CT", spatial_dims: int = 3, bundle_name: str | None = None) -> None:
        modality = str(modality).upper()
        if modality not in BUNDLE_FOR:
            raise ValueError(f"modality must be one of {sorted(BUNDLE_FOR)}, got {modality!r} ({type(modality)})")
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r} ({type(spatial_dims)})")
        self.modality = modality
        self.spatial_dims = spatial_dims
        self.bundle_name = bundle_name or BUNDLE_FOR[modality]

    @staticmethod
    def effective_dims(img: Any) -> int:
        return len(spatial_shape(img.shape, channel_first=True))

    def input_modality(self, img: Any) -> str | None:
        meta = getattr(img, "meta", {}) or {}
        found = _tag_value(meta, "Modality", "modality", "00080060", "0008|0060")
        if found is None and not meta.get("input_kind"):  # not read by CranialImageReader: look at the file
            source = meta.get("filename_or_obj")
            if isinstance(source, (list, tuple)):
                source = source[0] if source else None
            if source and (Path(str(source)).is_dir() or str(source).lower().endswith(DICOM_SUFFIXES)):
                found = read_dicom_modality(source)
        return found

    def __call__(self, img: Any) -> Any:
        meta = getattr(img, "meta", {}) or {}
        source = meta.get("filename_or_obj", "<array>")
        found = self.input_modality(img)
        if found is not None and found != self.modality:
            use = (
                f"use the bundle {BUNDLE_FOR[found]!r} for {found} images"
                if found in BUNDLE_FOR
                else f"no cranialseg bundle segments {found} images"
            )
            raise ModalityMismatchError(
                f"{source}: DICOM Modality is {found!r} but the bundle {self.bundle_name!r} expects "
                f"{self.modality}; {use}."
            )
        input_ndim = int(meta.get("input_ndim", 0) or 0)
        if input_ndim > self.spatial_dims and input_ndim >= 4:
            shape = tuple(int(n) for n in meta.get("spatial_shape", ()))
            raise ModalityMismatchError(
                f"{source}: {input_ndim}D input, expected {self.spatial_dims}D (the file holds {shape} x "
                f"{img.shape[0]}; split the volumes or pick one)."
            )
        dims = self.effective_dims(img)
        if dims != self.spatial_dims:
            if self.spatial_dims == 3 and dims == 2 and found == self.modality:
                raise ModalityMismatchError(
                    f"{source}: a single slice; the bundle {self.bundle_name!r} needs a volume (pass the folder "
                    f"holding the whole {found} series)."
                )
            other = {v: k for k, v in _DIMS_OF.items()}.get(dims)
            hint = f"; use the bundle {BUNDLE_FOR[other]!r} for {dims}D {other} images" if other else ""
            raise ModalityMismatchError(
                f"{source}: got a {dims}D image of shape {tuple(img.shape[1:])} (channel-first array of shape "
                f"{tuple(img.shape)}) but the bundle {self.bundle_name!r} expects {self.spatial_dims}D "
                f"{self.modality} input{hint}."
            )
        return img


class CheckModalityd(MapTransform):
    """Dictionary version of :class:`CheckModality`.

    Example:
        >>> CheckModalityd("image", modality="US", spatial_dims=2)({"image": torch.zeros(1, 8, 8)})["image"].shape
        torch.Size([1, 8, 8])
    """

    backend = CheckModality.backend

    def __init__(
        self,
        keys: KeysCollection,
        modality: str = "CT",
        spatial_dims: int = 3,
        bundle_name: str | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.checker = CheckModality(modality, spatial_dims, bundle_name)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.checker(d[key])
        return d


CheckModalityD = CheckModalityDict = CheckModalityd
