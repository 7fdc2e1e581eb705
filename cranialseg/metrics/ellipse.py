"""Head ellipse of a 2D mask: least-squares fit to the outline, Ramanujan circumference, BPD and OFD in mm.

The HC18 challenge (van den Heuvel et al., PLoS ONE 2018) measures the head circumference as the perimeter of
the ellipse fitted to the skull outline, by Ramanujan's approximation. :func:`fit_head_ellipse` takes the largest
connected region of a binary mask (holes filled), its outline at sub-pixel precision (marching squares,
``skimage.measure.find_contours``), scales the outline to mm with the pixel spacing per axis and fits an ellipse
by least squares (``skimage.measure.EllipseModel``). ``outline_offset_mm`` shrinks both semi-axes by a fixed
distance: the boundary of a filled annotation lies outside the annotated ellipse by half the drawn line (HC18: 1.38
pixels of the 800 x 540 frame, :func:`cranialseg.demo.hc18.annotation_outline_offset`), and a network trained on
such masks reproduces it, so its outline is moved back onto the ellipse the reference circumference measures.
Coordinates follow the array: axis 0 is ``x`` (columns of a
picture, as MONAI loads PNGs), axis 1 is ``y``; ``(0, 0)`` is the centre of the first pixel.

Example:
    >>> import numpy as np
    >>> yy, xx = np.meshgrid(np.arange(100), np.arange(120), indexing="xy")
    >>> disc = ((xx - 60) ** 2 + (yy - 50) ** 2) <= 30 ** 2  # (x, y) array, radius 30 px
    >>> e = fit_head_ellipse(disc, spacing=(0.5, 0.5))
    >>> round(e["semi_axis_a_mm"], 1), round(e["head_circumference_mm"], 0)
    (15.0, 94.0)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from scipy import ndimage

__all__ = ["ELLIPSE_KEYS", "fit_head_ellipse", "ramanujan_circumference"]

#: Ellipse fields of :func:`fit_head_ellipse`, in the order of the HC18 submission columns.
ELLIPSE_KEYS = ("center_x_mm", "center_y_mm", "semi_axis_a_mm", "semi_axis_b_mm", "angle_rad")


def ramanujan_circumference(a: float, b: float) -> float:
    """Ramanujan's (first) approximation of the perimeter of an ellipse with semi-axes ``a`` and ``b``.

    Example:
        >>> round(ramanujan_circumference(5.0, 3.0), 4)  # exact 25.52699...
        25.527
    """
    return math.pi * (3 * (a + b) - math.sqrt((3 * a + b) * (a + 3 * b)))


def _estimate(points: np.ndarray) -> np.ndarray | None:
    from skimage.measure import EllipseModel

    if hasattr(EllipseModel, "from_estimate"):  # scikit-image >= 0.26
        model = EllipseModel.from_estimate(points)
        if not model:
            return None
        (xc, yc), (a, b), theta = model.center, model.axis_lengths, model.theta
        return np.array([xc, yc, a, b, theta], dtype=np.float64)
    model = EllipseModel()
    if not model.estimate(points):
        return None
    return np.asarray(model.params, dtype=np.float64)


def fit_head_ellipse(
    mask: Any, spacing: Sequence[float] = (1.0, 1.0), *, min_pixels: int = 20, outline_offset_mm: float = 0.0
) -> dict | None:
    """Least-squares ellipse of the largest region's outline of a 2D mask, in mm, with HC, BPD and OFD.

    Args:
        mask: 2D array (or with leading singleton channel), non-zero = head.
        spacing: pixel size per array axis in mm (``(1, 1)`` gives pixels).
        min_pixels: regions smaller than this count as no head.
        outline_offset_mm: distance (in the units of ``spacing``) by which the mask's outline lies outside the
            ellipse to measure; both fitted semi-axes are shrunk by it (the centre and angle are kept). 0: none.

    Returns:
        ``None`` when no head is found (empty mask, a region below ``min_pixels`` or a failed fit); otherwise
        ``{"center_x_mm", "center_y_mm", "semi_axis_a_mm", "semi_axis_b_mm", "angle_rad",
        "head_circumference_mm", "biparietal_diameter_mm", "occipitofrontal_diameter_mm", "area_mm2",
        "contour_points"}``. ``semi_axis_a_mm`` is the semi-axis along ``angle_rad`` (measured from the x axis
        towards y, in [0, pi)), BPD the short and OFD the long diameter (outer-to-outer of the fitted ellipse).
    """
    from skimage.measure import find_contours

    arr = np.asarray(mask)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"fit_head_ellipse needs a 2D mask, got shape {np.asarray(mask).shape}")
    spacing = np.asarray([float(s) for s in spacing][:2], dtype=np.float64)
    if spacing.shape != (2,) or not np.all(spacing > 0):
        raise ValueError(f"spacing must be two positive sizes in mm, got {spacing!r}")
    offset = float(outline_offset_mm)
    if not (np.isfinite(offset) and offset >= 0):
        raise ValueError(f"outline_offset_mm must be a finite distance >= 0, got {outline_offset_mm!r}")
    labels, count = ndimage.label(arr > 0)
    if count == 0:
        return None
    sizes = ndimage.sum_labels(np.ones_like(labels), labels, index=np.arange(1, count + 1))
    largest = int(np.argmax(sizes)) + 1
    if sizes[largest - 1] < min_pixels:
        return None
    region = ndimage.binary_fill_holes(labels == largest)
    contours = find_contours(np.pad(region.astype(np.float32), 1), 0.5)
    if not contours:
        return None
    points = (max(contours, key=len) - 1.0) * spacing[None, :]
    params = _estimate(points)
    if params is None or not np.all(np.isfinite(params)):
        return None
    xc, yc, a, b, theta = (float(v) for v in params)
    a, b = abs(a), abs(b)
    if offset >= min(a, b):  # an outline smaller than its own offset: not a head
        return None
    a, b = a - offset, b - offset
    theta = float(np.mod(theta, np.pi))
    return {
        "center_x_mm": xc,
        "center_y_mm": yc,
        "semi_axis_a_mm": a,
        "semi_axis_b_mm": b,
        "angle_rad": theta,
        "head_circumference_mm": ramanujan_circumference(a, b),
        "biparietal_diameter_mm": 2 * min(a, b),
        "occipitofrontal_diameter_mm": 2 * max(a, b),
        "area_mm2": float(region.sum() * spacing.prod()),
        "contour_points": len(points),
        "outline_offset_mm": offset,
    }
