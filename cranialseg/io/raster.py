"""Load PNG / JPEG / BMP / TIFF screen captures (e.g. ultrasound exports) as one grey channel."""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, UnidentifiedImageError

from cranialseg.io.colour import rgb_to_luma
from cranialseg.io.dicom_files import PathLike
from cranialseg.io.limits import MAX_VOXELS, check_voxels
from cranialseg.utils.errors import InputError
from cranialseg.utils.suffixes import RASTER_SUFFIXES

__all__ = ["load_raster_image", "RASTER_SUFFIXES"]


def load_raster_image(
    path: PathLike, *, pixel_spacing: Optional[Sequence[float]] = None, max_voxels: Optional[int] = MAX_VOXELS
) -> Tuple[np.ndarray, Dict[str, Any]]:
    """Load a 2D raster image as float32 grey ``(x, y)`` = (column, row), like MONAI's PILReader.

    RGB(A), palette and grey+alpha images become ITU-R BT.601 luma; 16-bit grey is kept as is.

    Args:
        path: the image file.
        pixel_spacing: ``(dx, dy)`` in mm when known (screen captures carry none); default 1 mm, said in meta.
        max_voxels: refuse larger pictures before decoding them (``None``: PIL's own decompression-bomb limit).

    Returns:
        ``(array, meta)`` with ``affine`` ``diag(dx, dy, 1, 1)``, ``spacing``, ``spacing_source``,
        ``modality`` ("" — a raster file does not say), ``source_files``, ``conversions``, ``geometry_fixes``.

    Example:
        >>> import tempfile
        >>> f = os.path.join(tempfile.mkdtemp(), "a.png")
        >>> Image.new("RGB", (3, 2), (255, 255, 255)).save(f)
        >>> arr, meta = load_raster_image(f)
        >>> arr.shape, float(arr.max())
        ((3, 2), 255.0)
    """
    try:
        with Image.open(os.fspath(path)) as img:
            check_voxels(path, img.size, max_voxels, "picture")
            img.load()
            mode = img.mode
            if mode in ("RGB", "RGBA", "P", "PA", "LA", "CMYK", "YCbCr", "HSV", "LAB", "1"):
                rgb = np.asarray(img.convert("RGB"))
                grey = rgb_to_luma(rgb)
                conversion = f"{mode} -> ITU-R BT.601 luma"
            else:
                grey = np.asarray(img).astype(np.float32)
                conversion = ""
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except InputError:
        raise
    except Image.DecompressionBombError as err:
        raise InputError(path, f"picture too large: {err}", "a damaged or hostile file?") from err
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, MemoryError) as err:
        problem = f"unreadable image: {type(err).__name__}: {err}"
        raise InputError(path, problem, "file truncated or not PNG/JPEG?") from err
    if grey.ndim != 2 or grey.size == 0:
        raise InputError(path, f"zero-size or non-2D image {grey.shape}", "expected a 2D image")
    if not np.all(np.isfinite(grey)):
        raise InputError(path, f"{int((~np.isfinite(grey)).sum())} NaN/inf pixels", "expected finite values")
    if pixel_spacing is None:
        dx, dy, source = 1.0, 1.0, "none: 1 mm assumed (raster image without calibration)"
        fixes = ["no pixel calibration: 1 mm pixels assumed"]
    else:
        dx, dy = (float(v) for v in pixel_spacing)
        source, fixes = "pixel_spacing argument", []
    meta: Dict[str, Any] = {
        "affine": np.diag([dx, dy, 1.0, 1.0]),
        "spacing": np.array([dx, dy]),
        "spacing_source": source,
        "modality": "",
        "source_series_uid": "",
        "source_files": [os.fspath(path)],
        "conversions": [conversion] if conversion else [],
        "geometry_fixes": fixes,
        "resampled": False,
    }
    return np.ascontiguousarray(grey.T), meta
