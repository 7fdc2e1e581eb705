"""Check a loaded label against the bundle's label set and its image's grid before it is used."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Hashable, Iterable, Mapping, Sequence

import numpy as np
from monai.config import KeysCollection
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends

from cranialseg.io.nifti import check_label_values, check_same_grid
from cranialseg.io.raster import RASTER_SUFFIXES  # no geometry (identity affine): only shapes are compared
from cranialseg.utils.errors import InputError
from cranialseg.utils.spatial import spatial_shape

__all__ = ["CheckLabel", "CheckLabeld", "CheckLabelD", "CheckLabelDict"]


def _name(x: Any, default: str) -> str:
    meta = getattr(x, "meta", None) or {}
    name = meta.get("filename_or_obj", default)
    return str(name[0] if isinstance(name, (list, tuple)) and name else name)


class CheckLabel(Transform):
    """Raise a clear error for a label that would silently train or evaluate wrongly; return it unchanged otherwise.

    Two checks, each naming the label file, the problem and what was expected (:class:`cranialseg.io.InputError`):

    * values: only whole numbers of the bundle's label set (``range(num_classes)`` or ``allowed_values``), so a
      label holding 255 is reported at loading instead of as "index 255 is out of bounds" at the first iteration;
    * grid: the same spatial shape as the image (a trailing singleton slice is ignored) and, when both files carry
      a geometry, the same affine within ``atol_mm`` (:func:`cranialseg.io.check_same_grid`); a raster label or
      image (PNG, JPEG) has no geometry, so only its shape is compared.

    Args:
        num_classes: label values ``0 .. num_classes - 1`` are allowed.
        allowed_values: the allowed values instead of ``num_classes``.
        check_grid: compare the label's grid with the image given to ``__call__``.
        atol_mm: largest allowed difference of any affine entry (mm).

    Example:
        >>> import torch
        >>> from monai.data import MetaTensor
        >>> image = MetaTensor(torch.zeros(1, 4, 4), meta={"filename_or_obj": "img.nii.gz"})
        >>> label = MetaTensor(torch.tensor([[[0, 1, 255, 0]] * 4]), meta={"filename_or_obj": "lab.nii.gz"})
        >>> try:
        ...     CheckLabel(num_classes=3)(label, image)
        ... except ValueError as err:
        ...     print(err)
        lab.nii.gz: label has unexpected values [255] (expected values in [0, 1, 2])
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        num_classes: int | None = None,
        allowed_values: Iterable[int] | None = None,
        check_grid: bool = True,
        atol_mm: float = 1e-3,
    ) -> None:
        if (num_classes is None) == (allowed_values is None):
            raise ValueError(
                f"give exactly one of num_classes and allowed_values, got num_classes={num_classes!r}, "
                f"allowed_values={allowed_values!r}"
            )
        if num_classes is not None and (not isinstance(num_classes, (int, np.integer)) or num_classes < 1):
            raise ValueError(f"num_classes must be an int >= 1, got {num_classes!r} ({type(num_classes).__name__})")
        self.allowed = list(range(int(num_classes))) if num_classes is not None else sorted(set(allowed_values or ()))
        self.check_grid = check_grid
        self.atol_mm = float(atol_mm)

    def __call__(self, label: Any, image: Any = None) -> Any:
        label_name = _name(label, "<label>")
        if self.check_grid and image is not None:
            image_name = _name(image, "<image>")
            shape_i, shape_l = (
                spatial_shape(image.shape, channel_first=True),
                spatial_shape(label.shape, channel_first=True),
            )
            raster = any(Path(n).suffix.lower() in RASTER_SUFFIXES for n in (image_name, label_name))
            affine_i, affine_l = getattr(image, "affine", None), getattr(label, "affine", None)
            if raster or affine_i is None or affine_l is None:
                affine_i = affine_l = np.eye(4)
            check_same_grid(
                (shape_i, np.asarray(affine_i, np.float64)),
                (shape_l, np.asarray(affine_l, np.float64)),
                atol_mm=self.atol_mm,
                names=(image_name, label_name),
            )
        check_label_values(label, self.allowed, path=label_name)
        return label


class CheckLabeld(MapTransform):
    """Dictionary version of :class:`CheckLabel`: checks each of ``keys`` against the item's ``image_key``.

    Put it right after ``LoadImaged`` (on the files' own grids, before any resampling). The error names the file:
    a bundle training stops at start-up (its ``CacheDataset`` loads every case first); an evaluation lists the case
    as failed and goes on (see :class:`cranialseg.data.ScreenCases`).

    Args:
        keys: label keys.
        image_key: key of the image each label must match (``None``: values only).
        num_classes / allowed_values / check_grid / atol_mm: see :class:`CheckLabel`.
        allow_missing_keys: skip items without a label (e.g. unlabelled images).

    Example:
        ``{"_target_": "cranialseg.io.CheckLabeld", "keys": "label", "image_key": "image",
        "num_classes": "@num_classes", "allow_missing_keys": true}``
    """

    backend = CheckLabel.backend

    def __init__(
        self,
        keys: KeysCollection,
        image_key: str | None = "image",
        num_classes: int | None = None,
        allowed_values: Sequence[int] | None = None,
        check_grid: bool = True,
        atol_mm: float = 1e-3,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.image_key = image_key
        self.checker = CheckLabel(num_classes, allowed_values, check_grid, atol_mm)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        image = d.get(self.image_key) if self.image_key is not None else None
        for key in self.key_iterator(d):
            try:
                self.checker(d[key], image)
            except InputError:
                raise
            except Exception as err:  # noqa: BLE001 - an unexpected label type: still name the file
                raise InputError(_name(d[key], str(key)), f"label cannot be checked: {err}") from err
        return d


CheckLabelD = CheckLabelDict = CheckLabeld
