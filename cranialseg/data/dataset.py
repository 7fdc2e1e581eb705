"""Training data of one spatial dimension: a ``CacheDataset`` that keeps only the items its bundle can train on.

MONAI Label (its stock ``monaibundle`` app as much as the project's) hands every labelled image of the datastore to
every bundle trainer (``monailabel/tasks/train/bundle.py:160-178``), so a studies folder that mixes head CT volumes
and ultrasound frames feeds frames to the 3D trainer ("Sequence must have length 2, got 3"). The bundles' train
configs use :class:`FilteredCacheDataset`, so the filter travels with the bundle: it keeps the items of the bundle's
spatial dimension and logs how many it skipped. A set left empty (one labelled image, or only images of the other
kind on one side of MONAI Label's split) falls back to the other set's items, so a short run still trains, validates
and saves ``model.pt``; no item of the bundle's dimension at all is refused with a message.

Example:
    >>> import tempfile, os, numpy as np
    >>> from PIL import Image
    >>> d = tempfile.mkdtemp(); png = os.path.join(d, "f.png"); Image.fromarray(np.zeros((4, 4), np.uint8)).save(png)
    >>> image_spatial_dims(png), image_spatial_dims("frame.dcm")  # a DICOM cannot be told from its name: kept
    (2, None)
    >>> len(keep_items_of_dims([{"image": png, "label": png}], 3)[0])
    0
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, cast

from monai.data import CacheDataset

from cranialseg.io.nifti import NIFTI_SUFFIXES
from cranialseg.io.raster import RASTER_SUFFIXES
from cranialseg.utils.spatial import is_2d

__all__ = ["FilteredCacheDataset", "image_spatial_dims", "keep_items_of_dims"]

_logger = logging.getLogger(__name__)


def image_spatial_dims(path: str) -> Optional[int]:
    """2 for a frame (PNG/JPEG/TIFF, or a NIfTI whose third axis has one voxel), 3 for a NIfTI volume, else None.

    Reads headers only. None (DICOM, other formats) means "cannot tell from the header": such items are kept.
    """
    lower = str(path).lower()
    if lower.endswith(RASTER_SUFFIXES):
        return 2
    if lower.endswith(NIFTI_SUFFIXES) and os.path.isfile(path):
        import nibabel as nib

        shape = tuple(cast(Any, nib.load(path)).shape)
        return 2 if is_2d(shape[:3]) else 3  # (x, y, z[, t, ...]): the spatial axes come first
    return None


def keep_items_of_dims(
    data: Sequence[Dict[str, Any]], spatial_dims: int, key: str = "image"
) -> Tuple[List[Dict[str, Any]], int]:
    """The items whose ``key`` image has ``spatial_dims`` spatial dimensions (or cannot be told), and how many not."""
    kept = [d for d in data if image_spatial_dims(d[key]) in (spatial_dims, None)]
    return kept, len(data) - len(kept)


class FilteredCacheDataset(CacheDataset):
    """``CacheDataset`` over the items of ``data`` of ``spatial_dims`` dimensions (others skipped and counted).

    Args:
        data: datalist items (``{"image": path, "label": path}``); MONAI Label overrides it with its datastore's.
        transform: as for ``CacheDataset``.
        spatial_dims: the bundle's spatial dimension (2 for ultrasound frames, 3 for CT volumes).
        fallback: items to use when none of ``data`` is left (the training set for validation and the reverse: a
            set MONAI Label's split left empty); ``None`` to refuse an empty set.
        name: what the set is, for the messages (``"training"``, ``"validation"``).
        image_key: the image key of the items.
        kwargs: passed to ``CacheDataset`` (``cache_rate``, ``num_workers``, ...).

    Raises:
        ValueError: no item of ``spatial_dims`` dimensions in ``data`` (nor in ``fallback``).
    """

    def __init__(
        self,
        data: Sequence[Dict[str, Any]],
        transform: Any = None,
        spatial_dims: int = 3,
        fallback: Optional[Sequence[Dict[str, Any]]] = None,
        name: str = "training",
        image_key: str = "image",
        **kwargs: Any,
    ) -> None:
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r} ({type(spatial_dims)})")
        data = list(data or [])
        kept, skipped = keep_items_of_dims(data, spatial_dims, image_key)
        if skipped:
            _logger.warning(
                f"{name} data: {skipped} of {len(data)} item(s) skipped (not {spatial_dims}D images for this bundle)"
            )
        if not kept and fallback is not None:
            kept, _ = keep_items_of_dims(list(fallback), spatial_dims, image_key)
            if kept:
                _logger.warning(f"{name} data: none left; using the {len(kept)} item(s) of the other set instead")
        if not kept:
            raise ValueError(
                f"{name} data: no labelled {spatial_dims}D image among {len(data)} item(s) "
                f"({skipped} of another dimension); label at least one {spatial_dims}D image for this bundle"
            )
        _logger.info(f"{name} data: {len(kept)} item(s) of {spatial_dims}D kept, {skipped} skipped")
        self.skipped = skipped
        super().__init__(data=kept, transform=transform, **kwargs)
