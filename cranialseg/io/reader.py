"""MONAI ``ImageReader`` for everything cranialseg reads, usable from ``LoadImage(d)`` and bundle configs."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from monai.data.image_reader import ImageReader, _copy_compatible_dict, _stack_images
from monai.utils import MetaKeys, SpaceKeys, ensure_tuple, look_up_option

from cranialseg.io.dicom_files import DICOM_SUFFIXES, PathLike, is_dicom_file
from cranialseg.io.dicom_series import IRREGULAR_OPTIONS
from cranialseg.io.limits import MAX_TILT_DEG, MAX_VOXELS
from cranialseg.io.loader import load_image
from cranialseg.io.nifti import NIFTI_SUFFIXES
from cranialseg.io.raster import RASTER_SUFFIXES

__all__ = ["CranialImageReader"]


class CranialImageReader(ImageReader):
    """Read DICOM series folders, DICOM files (CT slice, ultrasound frame or cine), NIfTI and PNG/JPEG.

    Wraps :func:`cranialseg.io.load_image`, so DICOM slices are sorted along the slice normal and rescaled to
    HU, gantry tilt / uneven slice gaps are resampled or refused (never averaged), colour ultrasound becomes
    one BT.601 luma channel and a cine is ``(x, y, frames)``. Outputs follow MONAI's readers: no channel axis
    (``original_channel_dim`` is NaN, so ``EnsureChannelFirstd`` adds one; a 4D NIfTI has its extra axis at
    ``-1``), ``affine`` = ``original_affine`` (RAS for patient data), ``spatial_shape``, ``space``, and also
    ``modality``, ``source_series_uid``, ``source_files`` (DICOM paths in slice order) and
    ``geometry_fixes`` (a string, ``""`` when nothing was changed; meta values stay collatable).

    A list of several DICOM files is read as ONE series (the files of a case from
    :func:`cranialseg.io.discover_cases`); a list of other files is stacked as channels like MONAI does.

    Args:
        spatial_dims: ``3`` or ``2`` to refuse inputs of the other kind (see :func:`load_image`); ``None`` any.
        series_uid: the series to read from a folder holding several.
        on_irregular: ``"resample"`` (default) or ``"error"`` for tilted / unevenly spaced slice stacks.
        slice_spacing: output slice spacing in mm when resampling; default the smallest gap.
        pixel_spacing: ``(dx, dy)`` mm for raster images; default 1 mm (said in ``geometry_fixes``).
        allow_nonfinite: let NaN/inf voxels of NIfTI files through.
        max_voxels: refuse larger images (declared, or after resampling a tilted stack) before allocating.
        max_tilt_deg: refuse a larger gantry tilt.

    Example:
        >>> from monai.transforms import LoadImaged
        >>> from pydicom.data import get_testdata_file
        >>> load = LoadImaged("image", reader=CranialImageReader(), ensure_channel_first=True)
        >>> out = load({"image": get_testdata_file("US1_UNCR.dcm")})
        >>> tuple(out["image"].shape), out["image"].meta["modality"]
        ((1, 640, 480), 'US')

        In a bundle config: ``{"_target_": "LoadImaged", "keys": "image",
        "reader": {"_target_": "cranialseg.io.CranialImageReader", "on_irregular": "error"}}``.
    """

    def __init__(
        self,
        *,
        spatial_dims: Optional[int] = None,
        series_uid: Optional[str] = None,
        on_irregular: str = "resample",
        slice_spacing: Optional[float] = None,
        pixel_spacing: Optional[Sequence[float]] = None,
        allow_nonfinite: bool = False,
        max_voxels: Optional[int] = MAX_VOXELS,
        max_tilt_deg: float = MAX_TILT_DEG,
    ):
        super().__init__()
        if spatial_dims not in (None, 2, 3):
            kind = type(spatial_dims).__name__
            raise ValueError(f"spatial_dims must be None, 2 or 3, got {spatial_dims!r} ({kind}).")
        self.kwargs: Dict[str, Any] = {
            "spatial_dims": spatial_dims,
            "series_uid": series_uid,
            "on_irregular": look_up_option(on_irregular, IRREGULAR_OPTIONS),
            "slice_spacing": slice_spacing,
            "pixel_spacing": pixel_spacing,
            "allow_nonfinite": allow_nonfinite,
            "max_voxels": None if max_voxels is None else int(max_voxels),
            "max_tilt_deg": float(max_tilt_deg),
        }

    def verify_suffix(self, filename: Union[Sequence[PathLike], PathLike]) -> bool:
        """True for folders, NIfTI, PNG/JPEG/BMP/TIFF, ``.dcm``/``.dicom``/``.ima`` and files with the DICM marker."""
        for name in ensure_tuple(filename):
            path = os.fspath(name)
            low = path.lower()
            if os.path.isdir(path) or low.endswith(NIFTI_SUFFIXES + RASTER_SUFFIXES + DICOM_SUFFIXES):
                continue
            if not is_dicom_file(path):
                return False
        return True

    def read(self, data: Union[Sequence[PathLike], PathLike], **kwargs: Any) -> List[Tuple[np.ndarray, Dict]]:
        """Load the file(s); returns a list of ``(array, meta)``, one per image (one for a DICOM file list)."""
        opts = {**self.kwargs, **kwargs}
        names = [os.fspath(n) for n in ensure_tuple(data)]
        dicom_list = len(names) > 1 and all(
            not os.path.isdir(n) and not n.lower().endswith(NIFTI_SUFFIXES + RASTER_SUFFIXES) for n in names
        )
        if dicom_list:
            return [load_image(names, **opts)]
        return [load_image(n, **opts) for n in names]

    def get_data(self, img: Any) -> Tuple[np.ndarray, Dict]:
        """Array and MONAI-style meta of what :meth:`read` returned (several images are stacked as channels)."""
        items = img if isinstance(img, list) else [img]
        arrays: List[np.ndarray] = []
        compatible: Dict = {}
        for array, meta in items:
            out = self._monai_meta(array, meta)
            arrays.append(array)
            _copy_compatible_dict(out, compatible)
        return _stack_images(arrays, compatible), compatible

    @staticmethod
    def _monai_meta(array: np.ndarray, meta: Dict[str, Any]) -> Dict[str, Any]:
        extra = array.ndim > 3  # 4D/5D NIfTI: time or components after (x, y, z)
        spatial_shape = tuple(array.shape[:3]) if extra else tuple(array.shape)
        affine = np.asarray(meta["affine"], dtype=np.float64)
        out: Dict[str, Any] = {
            MetaKeys.AFFINE: affine.copy(),
            MetaKeys.ORIGINAL_AFFINE: affine.copy(),
            MetaKeys.SPATIAL_SHAPE: np.asarray(spatial_shape),
            MetaKeys.SPACE: SpaceKeys.RAS,
            MetaKeys.ORIGINAL_CHANNEL_DIM: -1 if extra else float("nan"),
            "spacing": np.linalg.norm(affine[:3, : min(3, len(spatial_shape))], axis=0),
            "modality": str(meta.get("modality", "")),
            "source_series_uid": str(meta.get("source_series_uid", "")),
            "source_files": [str(f) for f in meta.get("source_files", [])],
            "geometry_fixes": "; ".join(meta.get("geometry_fixes", [])),
            "conversions": "; ".join(meta.get("conversions", [])),
            "resampled": bool(meta.get("resampled", False)),
            "num_frames": int(meta.get("num_frames", 1)),
            "input_kind": str(meta.get("kind", "")),
            "spacing_source": str(meta.get("spacing_source", "")),
            "input_ndim": int(meta.get("input_ndim", array.ndim)),
        }
        if "gantry_tilt_deg" in meta:
            out["gantry_tilt_deg"] = float(meta["gantry_tilt_deg"])
        return out
