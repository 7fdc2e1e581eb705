"""Per-case outputs: atomic file writes, NIfTI label maps, per-class volumes and overlay pictures."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cranialseg.utils.spatial import drop_singleton_slice, embed_affine_2d, has_singleton_slice, spatial_shape

__all__ = [
    "CLASS_COLOURS",
    "atomic_write",
    "write_json",
    "to_numpy",
    "save_label_nifti",
    "save_label_png",
    "class_volumes",
    "overlay_picture",
    "save_overlay_png",
]

#: RGB colours of label values 1, 2, ... in overlays
CLASS_COLOURS = [(255, 215, 0), (255, 64, 64), (64, 160, 255), (64, 255, 96), (255, 96, 255), (0, 255, 255)]


def atomic_write(path: str | Path, write: Callable[[Path], Any], *, overwrite: bool = False) -> Path:
    """Write ``path`` through a temporary file in the same folder, then ``os.replace`` it into place.

    A reader never sees a half-written file, and a crash leaves no partial output. An existing ``path`` is kept
    (``FileExistsError``) unless ``overwrite`` is true.

    Args:
        path: final file path; its suffixes are kept on the temporary name so writers that look at the
            extension (``.nii.gz``, ``.png``) choose the right format.
        write: called with the temporary path; must create that file.
        overwrite: replace an existing ``path``.

    Example:
        >>> import tempfile
        >>> p = atomic_write(Path(tempfile.mkdtemp()) / "a.txt", lambda t: t.write_text("x"))
        >>> p.read_text()
        'x'
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"output {path} exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    tmp = path.parent / f".{stem}.tmp-{uuid.uuid4().hex[:8]}{suffix}"
    try:
        write(tmp)
        if not tmp.is_file():
            raise RuntimeError(f"the writer did not create the temporary file {tmp} for {path}")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_json(path: str | Path, content: Any, *, overwrite: bool = False) -> Path:
    """Atomically write ``content`` as JSON indented by 4 spaces.

    Example:
        >>> import tempfile
        >>> json.loads(write_json(Path(tempfile.mkdtemp()) / "a.json", {"a": 1}).read_text())
        {'a': 1}
    """
    text = json.dumps(content, indent=4, default=_json_default) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text), overwrite=overwrite)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def to_numpy(x: Any) -> np.ndarray:
    """A numpy copy of a tensor, MetaTensor or array.

    Example:
        >>> to_numpy([1, 2]).tolist()
        [1, 2]
    """
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        x = x.as_tensor() if hasattr(x, "as_tensor") else x
        return x.numpy()
    return np.asarray(x)


def _spatial(label: Any) -> np.ndarray:
    arr = to_numpy(label)
    if arr.ndim in (3, 4) and arr.shape[0] == 1:
        arr = arr[0]
    return arr


def save_label_nifti(label: Any, affine: Any, path: str | Path, *, overwrite: bool = False) -> Path:
    """Save a label map (``(1, *spatial)`` or ``spatial``) as a uint8 NIfTI with ``affine`` (MONAI's RAS affine).

    Example:
        >>> import tempfile
        >>> p = save_label_nifti(np.ones((1, 4, 4, 2)), np.eye(4), Path(tempfile.mkdtemp()) / "l.nii.gz")
        >>> p.name
        'l.nii.gz'
    """
    import nibabel as nib

    arr = np.rint(_spatial(label)).astype(np.uint8)
    aff = np.asarray(to_numpy(affine), dtype=np.float64)
    if aff.shape == (3, 3):  # a 2D affine: embed in 3D with unit slice spacing
        aff = embed_affine_2d(aff)
    image = nib.Nifti1Image(arr, aff)
    image.set_qform(aff, code=1)
    image.set_sform(aff, code=1)
    return atomic_write(path, lambda tmp: nib.save(image, str(tmp)), overwrite=overwrite)


def save_label_png(label: Any, path: str | Path, *, overwrite: bool = False) -> Path:
    """Save a 2D label map in MONAI's (x, y) order as an 8-bit PNG of the input picture's (rows, columns).

    Example:
        >>> import tempfile
        >>> save_label_png(np.zeros((1, 5, 3)), Path(tempfile.mkdtemp()) / "l.png").suffix
        '.png'
    """
    from PIL import Image

    arr = drop_singleton_slice(np.rint(_spatial(label)).astype(np.uint8))
    if arr.ndim != 2:
        raise ValueError(f"save_label_png needs a 2D label, got shape {arr.shape} for {path}")
    picture = Image.fromarray(np.ascontiguousarray(arr.T))
    return atomic_write(path, lambda tmp: picture.save(tmp, format="PNG"), overwrite=overwrite)


def class_volumes(label: Any, affine: Any, class_names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Voxel count and volume (mL, 3D) or area (mm², 2D) per class, background excluded.

    Example:
        >>> class_volumes(np.ones((1, 10, 10, 10)), np.diag([1.0, 1.0, 2.0, 1.0]), ["bg", "a"])["a"]["volume_ml"]
        2.0
    """
    arr = np.rint(_spatial(label)).astype(np.int64)
    aff = np.asarray(to_numpy(affine), dtype=np.float64)
    dims = len(spatial_shape(arr.shape))
    unit = abs(float(np.linalg.det(aff[:dims, :dims]))) if aff.shape[0] > dims else 1.0
    out: dict[str, dict[str, float]] = {}
    for value, name in enumerate(class_names):
        if value == 0:
            continue
        count = int((arr == value).sum())
        entry: dict[str, float] = {"label": value, "voxels": count}
        if dims == 3:
            entry["volume_ml"] = round(count * unit / 1000.0, 4)
        else:
            entry["area_mm2"] = round(count * unit, 3)
        out[name] = entry
    return out


def _grey(image: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(image, [1, 99]) if image.size else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    return (np.clip((image - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def overlay_picture(
    image: Any, pred: Any, label: Any | None = None, *, slice_index: int | None = None, min_size: int = 0
) -> np.ndarray:
    """An RGB picture (rows, columns, 3): the image's first channel with predicted contours in class colours and,
    when given, the true contours in white. For 3D, the axial slice with the most foreground (or ``slice_index``).
    Small pictures are enlarged by an integer factor (nearest neighbour) until the shorter side is at least
    ``min_size`` pixels, before the one-pixel contours are drawn, so they stay readable.

    Example:
        >>> overlay_picture(np.zeros((1, 8, 6)), np.zeros((1, 8, 6))).shape
        (6, 8, 3)
    """
    from skimage.segmentation import find_boundaries

    img = to_numpy(image)
    img = img[0] if img.ndim in (3, 4) and img.ndim == _spatial(pred).ndim + 1 else img
    seg = np.rint(_spatial(pred)).astype(np.int64)
    ref = None if label is None else np.rint(_spatial(label)).astype(np.int64)
    if has_singleton_slice(seg.shape):  # a 2D picture stored as (x, y, 1)
        seg, img = seg[..., 0], img[..., 0]
        ref = None if ref is None else ref[..., 0]
    if seg.ndim == 3:
        if slice_index is None:
            fg = (seg > 0).sum(axis=(0, 1)) + (0 if ref is None else (ref > 0).sum(axis=(0, 1)))
            slice_index = int(np.argmax(fg)) if fg.max() > 0 else seg.shape[-1] // 2
        seg, img = seg[..., slice_index], img[..., slice_index]
        ref = None if ref is None else ref[..., slice_index]
    factor = max(1, -(-min_size // max(1, min(seg.shape)))) if min_size > 0 else 1

    def enlarge(a: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(a.T, factor, axis=0), factor, axis=1)

    grey = enlarge(_grey(img.astype(np.float32)))
    rgb = np.stack([grey] * 3, axis=-1)
    if ref is not None:
        rgb[find_boundaries(enlarge(ref), mode="inner")] = (255, 255, 255)
    seg_t = enlarge(seg)
    for value in range(1, int(seg_t.max()) + 1):
        edge = find_boundaries(seg_t == value, mode="inner")
        rgb[edge] = CLASS_COLOURS[(value - 1) % len(CLASS_COLOURS)]
    return rgb


def save_overlay_png(
    image: Any, pred: Any, path: str | Path, label: Any | None = None, *, overwrite: bool = False, min_size: int = 512
) -> Path:
    """Save :func:`overlay_picture` as a PNG (atomically), enlarged until its shorter side is >= ``min_size``.

    Example:
        >>> import tempfile
        >>> save_overlay_png(np.zeros((1, 8, 6)), np.zeros((1, 8, 6)), Path(tempfile.mkdtemp()) / "o.png").suffix
        '.png'
    """
    from PIL import Image

    picture = Image.fromarray(overlay_picture(image, pred, label, min_size=min_size))
    return atomic_write(path, lambda tmp: picture.save(tmp, format="PNG"), overwrite=overwrite)
