"""NIfTI images and labels, grid checks between an image and its label, and label value checks."""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple, Union

import nibabel as nib
import numpy as np

from cranialseg.io.dicom_files import PathLike
from cranialseg.io.limits import MAX_VOXELS, check_affine, check_voxels
from cranialseg.utils.errors import InputError
from cranialseg.utils.suffixes import NIFTI_SUFFIXES

__all__ = ["load_nifti", "read_grid", "check_same_grid", "check_label_values", "NIFTI_SUFFIXES"]


def _open(path: PathLike) -> Any:
    if not os.path.exists(path):
        raise InputError(path, "no such file")
    try:
        return nib.load(os.fspath(path))
    except Exception as err:  # noqa: BLE001 - nibabel raises many types for bad headers
        problem = f"unreadable NIfTI file: {type(err).__name__}: {err}"
        raise InputError(path, problem, "truncated or not NIfTI?") from err


#: deflate cannot compress better than about 1032:1, so a .nii.gz holds at most this many bytes per stored byte
_MAX_DEFLATE_RATIO = 1100


def _check_declared_size(path: PathLike, img: Any, shape: Tuple[int, ...], max_voxels: Optional[int]) -> None:
    """Refuse before reading voxels: too many voxels, or more voxel bytes declared than the file can hold."""
    check_voxels(path, shape, max_voxels)
    header = img.header
    itemsize = np.dtype(header.get_data_dtype()).itemsize
    declared = int(np.prod(shape, dtype=np.float64)) * itemsize + int(header.get("vox_offset", 0) or 0)
    size = os.path.getsize(path)
    compressed = os.fspath(path).lower().endswith(".gz")
    limit = size * _MAX_DEFLATE_RATIO + 2**20 if compressed else size
    if declared > limit:
        kind = f"{size}-byte compressed file" if compressed else f"{size}-byte file"
        raise InputError(
            path,
            f"header declares {shape} = {declared} bytes of voxel data but the {kind} cannot hold them",
            "truncated file or a damaged header",
        )


def load_nifti(
    path: PathLike, *, allow_nonfinite: bool = False, max_voxels: Optional[int] = MAX_VOXELS
) -> Tuple[np.ndarray, Dict[str, Any]]:
    """Load a NIfTI image or label as float32 with its RAS affine (the NIfTI sform/qform).

    Returns:
        ``(array, meta)``; the array keeps the file's axis order (``(x, y, z)``, extra axes after the spatial
        ones); ``meta`` holds ``affine``, ``spacing``, ``spatial_dims`` (3, or 2 for a 2D file) and
        ``source_files``.

    Raises:
        InputError: unreadable, zero-size, more voxels than ``max_voxels`` or than the file can hold, an affine
            with NaN, a zero spacing or no inverse, or NaN/inf values (unless ``allow_nonfinite``).

    Example:
        >>> import tempfile
        >>> f = os.path.join(tempfile.mkdtemp(), "a.nii.gz")
        >>> nib.save(nib.Nifti1Image(np.zeros((2, 3, 4), np.int16), np.diag([2, 2, 3, 1.0])), f)
        >>> arr, meta = load_nifti(f)
        >>> arr.shape, meta["spacing"].tolist()
        ((2, 3, 4), [2.0, 2.0, 3.0])
    """
    img = _open(path)
    shape = tuple(int(s) for s in img.shape)
    if len(shape) == 0 or 0 in shape:
        raise InputError(path, f"zero-size image, shape {shape}", "expected every dimension > 0")
    _check_declared_size(path, img, shape, max_voxels)
    check_affine(path, img.affine, 2 if len(shape) == 2 else 3)
    try:
        data = np.asarray(img.get_fdata(dtype=np.float32))
    except Exception as err:  # noqa: BLE001
        raise InputError(path, f"voxel data cannot be read: {type(err).__name__}: {err}", "file truncated?") from err
    if not allow_nonfinite and not np.all(np.isfinite(data)):
        bad = ~np.isfinite(data)
        nan, inf = int(np.isnan(data).sum()), int(bad.sum() - np.isnan(data).sum())
        raise InputError(path, f"{nan} NaN and {inf} inf voxels", "expected finite values")
    spatial = 2 if len(shape) == 2 else 3
    affine = np.asarray(img.affine, dtype=np.float64)
    meta: Dict[str, Any] = {
        "affine": affine,
        "spacing": np.linalg.norm(affine[:3, :spatial], axis=0),
        "spatial_dims": spatial,
        "modality": "",
        "source_series_uid": "",
        "source_files": [os.fspath(path)],
        "geometry_fixes": [],
        "resampled": False,
    }
    return data, meta


GridLike = Union[PathLike, Tuple[Sequence[int], np.ndarray], Any]


def read_grid(item: GridLike) -> Tuple[Tuple[int, ...], np.ndarray, str]:
    """``(spatial shape, 4x4 affine, name)`` of a NIfTI path, a ``(shape, affine)`` pair or a MetaTensor.

    A NIfTI path is read from its header only (no voxel data). A channel-first MetaTensor drops its channel.
    """
    if isinstance(item, (str, os.PathLike)):
        img = _open(item)
        return tuple(int(s) for s in img.shape[:3]), np.asarray(img.affine, np.float64), os.fspath(item)
    if isinstance(item, tuple) and len(item) == 2:
        return tuple(int(s) for s in item[0]), np.asarray(item[1], np.float64), "<array>"
    meta = getattr(item, "meta", None)
    affine = getattr(item, "affine", None)
    if meta is not None and affine is not None:
        shape = tuple(int(s) for s in item.shape[1:])  # MONAI tensors are channel-first
        name = str(meta.get("filename_or_obj", "<tensor>"))
        return shape, np.asarray(affine, np.float64), name
    raise TypeError(f"expected a NIfTI path, a (shape, affine) pair or a MetaTensor, got {type(item).__name__}.")


def check_same_grid(
    image: GridLike, label: GridLike, *, atol_mm: float = 1e-3, names: Optional[Tuple[str, str]] = None
) -> None:
    """Check that an image and its label lie on the same voxel grid (shape and affine within ``atol_mm``).

    Args:
        image: NIfTI path, ``(spatial_shape, affine)`` pair or channel-first MetaTensor.
        label: same kinds as ``image``.
        atol_mm: largest allowed difference of any affine entry (mm).
        names: names to print for ``(image, label)``; default their paths.

    Raises:
        InputError: on the label's path, saying whether the shape or which part of the affine (spacing,
            orientation, origin) differs, with both files' values.

    Example:
        >>> check_same_grid(((4, 4, 4), np.eye(4)), ((4, 4, 4), np.eye(4)))  # passes silently
        >>> try:
        ...     check_same_grid(((4, 4, 4), np.eye(4)), ((4, 4, 5), np.eye(4)), names=("img.nii", "lab.nii"))
        ... except InputError as err:
        ...     print(err.problem)
        shape (4, 4, 5) differs from image img.nii shape (4, 4, 4)
    """
    shape_i, aff_i, name_i = read_grid(image)
    shape_l, aff_l, name_l = read_grid(label)
    if names is not None:
        name_i, name_l = names
    hint = f"resample the label onto the image grid; image {name_i}, label {name_l}"
    if tuple(shape_i) != tuple(shape_l):
        raise InputError(name_l, f"shape {tuple(shape_l)} differs from image {name_i} shape {tuple(shape_i)}", hint)
    diff = np.abs(aff_i - aff_l)
    if diff.max() <= atol_mm:
        return
    sp_i, sp_l = np.linalg.norm(aff_i[:3, :3], axis=0), np.linalg.norm(aff_l[:3, :3], axis=0)
    parts = []
    if np.abs(sp_i - sp_l).max() > atol_mm:
        parts.append(f"spacing {np.round(sp_l, 4).tolist()} vs {np.round(sp_i, 4).tolist()}")
    if np.abs(aff_i[:3, :3] / sp_i - aff_l[:3, :3] / sp_l).max() > 1e-4:
        parts.append("orientation (direction cosines)")
    if diff[:3, 3].max() > atol_mm:
        parts.append(f"origin {np.round(aff_l[:3, 3], 3).tolist()} vs {np.round(aff_i[:3, 3], 3).tolist()}")
    raise InputError(
        name_l,
        f"affine differs from image {name_i} by up to {diff.max():.4g} mm ({', '.join(parts) or 'shear'}); "
        f"label affine {np.round(aff_l, 4).tolist()} vs image affine {np.round(aff_i, 4).tolist()}",
        hint,
    )


def check_label_values(label: Any, allowed: Iterable[int], *, path: PathLike = "<label>") -> None:
    """Check that a label map holds only whole numbers from ``allowed``.

    Raises:
        InputError: naming ``path``, the unexpected values and the allowed ones.

    Example:
        >>> check_label_values(np.array([0, 1, 5]), range(6))
        >>> try:
        ...     check_label_values(np.array([0, 1, 7]), range(6), path="lab.nii.gz")
        ... except InputError as err:
        ...     print(err)
        lab.nii.gz: label has unexpected values [7] (expected values in [0, 1, 2, 3, 4, 5])
    """
    arr = np.asarray(label.detach().cpu() if hasattr(label, "detach") else label)
    allowed_set = sorted({int(v) for v in allowed})
    if arr.size == 0:
        raise InputError(path, "zero-size label", "expected a label map")
    if not np.all(np.isfinite(arr)):
        raise InputError(path, "label holds NaN/inf values", f"expected values in {allowed_set}")
    values = np.unique(arr)
    fractional = values[values != np.round(values)]
    if fractional.size:
        raise InputError(path, f"label has non-integer values {fractional[:5].tolist()}", "expected a label map")
    bad = sorted(set(values.astype(np.int64).tolist()) - set(allowed_set))
    if bad:
        raise InputError(path, f"label has unexpected values {bad[:10]}", f"expected values in {allowed_set}")
