"""Overlay pictures (PNG) of a label map or head outline on its image, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cranialseg.io.label_files import _spatial, to_numpy
from cranialseg.metrics.ellipse import fit_head_ellipse
from cranialseg.utils.atomic import atomic_write
from cranialseg.utils.spatial import drop_singleton_slice, has_singleton_slice

__all__ = [
    "CLASS_COLOURS",
    "overlay_picture",
    "save_overlay_png",
    "save_head_overlay",
]


#: RGB colours of label values 1, 2, ... in overlays
CLASS_COLOURS = [(255, 215, 0), (255, 64, 64), (64, 160, 255), (64, 255, 96), (255, 96, 255), (0, 255, 255)]


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


def _spatial_2d(x) -> np.ndarray:
    """A 2D label map from a one-hot ``(C, X, Y)``, a label map ``(1, X, Y)`` or ``(X, Y)`` (trailing 1 dropped)."""
    import numpy as np

    arr = drop_singleton_slice(to_numpy(x), channel_first=True)
    if arr.ndim == 3:
        arr = arr.argmax(0) if arr.shape[0] > 1 else arr[0]
    return np.rint(arr).astype(np.int64)


def save_head_overlay(
    image, pred, path, *, label=None, spacing=(1.0, 1.0), ellipse: dict | None = None, outline_offset_mm: float = 0.0
):
    """Overlay PNG (atomic): predicted outline in colour, reference in white, the fitted ellipse in magenta.

    ``ellipse`` (mm, as :func:`cranialseg.metrics.ellipse.fit_head_ellipse` returns) is fitted to ``pred`` when
    not given, with ``outline_offset_mm`` taken off its semi-axes (the ellipse that is measured); nothing is drawn
    for it when no head is found.
    """
    import numpy as np
    from PIL import Image, ImageDraw

    p = _spatial_2d(pred)
    picture = overlay_picture(image, p[None], None if label is None else _spatial_2d(label)[None], min_size=512)
    factor = picture.shape[0] // max(1, p.shape[1])
    if ellipse is None:
        ellipse = fit_head_ellipse(p > 0, spacing, outline_offset_mm=outline_offset_mm)
    canvas = Image.fromarray(picture)
    if ellipse is not None:
        t = np.linspace(0, 2 * np.pi, 361)
        a, b, th = ellipse["semi_axis_a_mm"], ellipse["semi_axis_b_mm"], ellipse["angle_rad"]
        x = ellipse["center_x_mm"] + a * np.cos(t) * np.cos(th) - b * np.sin(t) * np.sin(th)
        y = ellipse["center_y_mm"] + a * np.cos(t) * np.sin(th) + b * np.sin(t) * np.cos(th)
        sx, sy = float(spacing[0]), float(spacing[1])
        pts = [((xi / sx + 0.5) * factor, (yi / sy + 0.5) * factor) for xi, yi in zip(x, y)]  # column, row
        ImageDraw.Draw(canvas).line(pts, fill=(255, 0, 255), width=max(1, factor))
    return atomic_write(path, lambda tmp: canvas.save(tmp, format="PNG"), overwrite=True)
