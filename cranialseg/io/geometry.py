"""Slice-stack geometry: sort DICOM slices along the slice normal, detect gantry tilt and uneven gaps,
and resample such stacks onto a regular grid.

All coordinates here are DICOM patient coordinates (LPS, mm). Arrays are indexed ``(x, y, z)`` =
(column, row, slice), MONAI's convention, so voxel ``(i, j, k)`` of slice ``k`` lies at
``position[k] + i * dx * row_dir + j * dy * col_dir`` where ``row_dir``/``col_dir`` are the two
ImageOrientationPatient cosines and ``(dx, dy)`` = (PixelSpacing[1], PixelSpacing[0]).

A stack whose slice positions are not ``position[0] + k * step`` with ``step`` along the slice normal is
either tilted (each slice shifted in-plane: gantry tilt, a sheared grid) or irregular (uneven gaps). A
single affine cannot describe the irregular case, and averaging the gaps (what MONAI 1.6's PydicomReader
does) misplaces slices by millimetres. :func:`resample_slice_stack` builds the true per-slice mapping and
interpolates (bilinear in-plane, linear along the normal) onto a grid aligned with the slice plane.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Union

import numpy as np

Vector = Union[Sequence[float], np.ndarray]

__all__ = ["StackGeometry", "analyze_slice_stack", "resample_slice_stack", "lps_to_ras", "slice_normal"]

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def lps_to_ras(affine: np.ndarray) -> np.ndarray:
    """Turn a DICOM (LPS) voxel-to-world 4x4 affine into the RAS one MONAI and NIfTI use."""
    return _LPS_TO_RAS @ np.asarray(affine, dtype=np.float64)


def slice_normal(orientation: Vector) -> np.ndarray:
    """Unit slice normal ``row_dir x col_dir`` from the six ImageOrientationPatient values."""
    ori = np.asarray(orientation, dtype=np.float64).reshape(2, 3)
    normal = np.cross(ori[0], ori[1])
    return normal / np.linalg.norm(normal)


@dataclass
class StackGeometry:
    """What :func:`analyze_slice_stack` found about a stack of slice positions (sorted along the normal).

    Attributes:
        order: indices that sort the input positions along the slice normal (ascending).
        along_normal: sorted slice positions projected on the normal, mm.
        gaps: differences of ``along_normal`` (``N - 1`` values), mm.
        inplane_offsets: ``(N, 2)`` in-plane shift of each sorted slice relative to the first, in mm along
            ``(row_dir, col_dir)``; all zero for an untilted stack.
        tilt_deg: angle between the slice-to-slice step and the normal (gantry tilt), degrees.
        uneven: the gaps differ by more than the tolerance.
        tilted: the slices are shifted in-plane by more than the tolerance.
    """

    order: np.ndarray
    along_normal: np.ndarray
    gaps: np.ndarray
    inplane_offsets: np.ndarray
    tilt_deg: float
    uneven: bool
    tilted: bool
    notes: List[str] = field(default_factory=list)

    @property
    def regular(self) -> bool:
        """True when one affine describes the stack exactly (even gaps, no tilt)."""
        return not (self.uneven or self.tilted)

    def describe(self) -> str:
        """One line for error messages and meta: tilt angle and gap values."""
        parts = []
        if self.tilted:
            parts.append(f"gantry tilt {self.tilt_deg:.1f} deg (slices shifted in-plane, a sheared grid)")
        if self.uneven:
            uniq = np.unique(np.round(self.gaps, 2))
            shown = ", ".join(f"{g:g}" for g in uniq[:8]) + (", ..." if len(uniq) > 8 else "")
            parts.append(f"uneven slice gaps along the normal ({shown} mm)")
        return "; ".join(parts) if parts else "regular slice stack"


def analyze_slice_stack(positions: np.ndarray, orientation: Vector, *, tolerance_mm: float = 0.01) -> StackGeometry:
    """Sort slice positions along the slice normal and measure tilt and gap regularity.

    Args:
        positions: ``(N, 3)`` ImagePositionPatient of each slice (any order), mm.
        orientation: the six ImageOrientationPatient values shared by the slices.
        tolerance_mm: largest gap difference / in-plane shift still counted as regular.

    Returns:
        a :class:`StackGeometry`; duplicated positions are not checked here (see ``gaps``).

    Example:
        >>> geo = analyze_slice_stack(np.array([[0, 0, 2.0], [0, 0, 0.0], [0, 0, 1.0]]), [1, 0, 0, 0, 1, 0])
        >>> geo.order.tolist(), geo.gaps.tolist(), geo.regular
        ([1, 2, 0], [1.0, 1.0], True)
    """
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    ori = np.asarray(orientation, dtype=np.float64).reshape(2, 3)
    normal = slice_normal(orientation)
    proj = pos @ normal
    order = np.argsort(proj, kind="stable")
    pos, proj = pos[order], proj[order]
    gaps = np.diff(proj)
    rel = pos - pos[0]
    inplane = rel - np.outer(proj - proj[0], normal)
    offsets = np.stack([inplane @ ori[0], inplane @ ori[1]], axis=1)
    tilt = 0.0
    if len(pos) > 1 and proj[-1] - proj[0] > 0:
        shift = np.linalg.norm(offsets[-1])
        tilt = float(np.degrees(np.arctan2(shift, proj[-1] - proj[0])))
    uneven = bool(len(gaps) > 1 and np.ptp(gaps) > tolerance_mm)
    tilted = bool(np.abs(offsets).max(initial=0.0) > tolerance_mm)
    return StackGeometry(order, proj, gaps, offsets, tilt, uneven, tilted)


def _translate(image: np.ndarray, off_u: float, off_v: float, shape: tuple, fill: float) -> np.ndarray:
    """``out[a, b]`` = bilinear sample of ``image`` at ``(a + off_u, b + off_v)``; ``fill`` outside the image."""
    iu, iv = int(np.floor(off_u)), int(np.floor(off_v))
    fu, fv = np.float32(off_u - iu), np.float32(off_v - iv)
    nx, ny = image.shape
    canvas = np.full((shape[0] + 1, shape[1] + 1), fill, dtype=np.float32)
    a_lo, a_hi = max(0, -iu), min(shape[0] + 1, nx - iu)
    b_lo, b_hi = max(0, -iv), min(shape[1] + 1, ny - iv)
    if a_lo < a_hi and b_lo < b_hi:
        canvas[a_lo:a_hi, b_lo:b_hi] = image[a_lo + iu : a_hi + iu, b_lo + iv : b_hi + iv]
    one = np.float32(1.0)
    out = canvas[:-1, :-1] * ((one - fu) * (one - fv))
    if fu:
        out += canvas[1:, :-1] * (fu * (one - fv))
    if fv:
        out += canvas[:-1, 1:] * ((one - fu) * fv)
    if fu and fv:
        out += canvas[1:, 1:] * (fu * fv)
    return out


def resample_slice_stack(
    slices: np.ndarray,
    positions: np.ndarray,
    orientation: Vector,
    pixel_spacing: Vector,
    *,
    slice_spacing: Optional[float] = None,
    fill_value: Optional[float] = None,
    geometry: Optional[StackGeometry] = None,
) -> tuple:
    """Resample a tilted and/or unevenly spaced slice stack onto a regular grid aligned with the slices.

    The output grid keeps the in-plane axes and pixel size of the slices, its third axis is the slice normal,
    its slice spacing is ``slice_spacing`` or the smallest gap, and in-plane it covers every shifted slice
    (the first slice's pixel lattice is kept). Each output voxel takes the two source slices around it along
    the normal, samples each bilinearly at its own in-plane position, and blends them linearly.

    Args:
        slices: ``(x, y, N)`` pixel values, slices in the same order as ``positions``.
        positions: ``(N, 3)`` ImagePositionPatient (LPS mm), sorted along the normal.
        orientation: the six ImageOrientationPatient values.
        pixel_spacing: ``(dx, dy)`` = spacing along a row (between columns) and along a column, mm.
        slice_spacing: spacing of the output along the normal; ``None`` takes the smallest gap.
        fill_value: value outside every source slice; ``None`` uses the minimum of ``slices``.
        geometry: a precomputed :func:`analyze_slice_stack` result for ``positions``.

    Returns:
        ``(array, affine_lps)``: the ``(x', y', M)`` float32 volume and its exact LPS voxel-to-world affine.

    Example:
        >>> stack = np.stack([np.full((4, 4), v, np.float32) for v in (0, 10, 30)], axis=-1)
        >>> pos = np.array([[0, 0, 0.0], [0, 0, 1.0], [0, 0, 3.0]])
        >>> out, aff = resample_slice_stack(stack, pos, [1, 0, 0, 0, 1, 0], (1.0, 1.0))
        >>> out[0, 0].tolist(), float(aff[2, 2])
        ([0.0, 10.0, 20.0, 30.0], 1.0)
    """
    data = np.asarray(slices, dtype=np.float32)
    geo = geometry or analyze_slice_stack(positions, orientation)
    if not np.array_equal(geo.order, np.arange(len(geo.order))):
        raise ValueError("positions (and slices) must be sorted along the slice normal before resampling.")
    gaps = geo.gaps
    if len(gaps) == 0 or gaps.min() <= 0:
        raise ValueError(f"need at least two slices at distinct positions to resample, got gaps {gaps.tolist()}.")
    dz = float(slice_spacing) if slice_spacing is not None else float(gaps.min())
    if not np.isfinite(dz) or dz <= 0:
        raise ValueError(f"slice_spacing must be a positive number of mm, got {slice_spacing!r}.")
    dx, dy = (float(s) for s in pixel_spacing)
    fill = float(np.min(data)) if fill_value is None else float(fill_value)
    nx, ny, n_src = data.shape
    # in-plane shift of each slice in pixels of the first slice's lattice
    du = geo.inplane_offsets[:, 0] / dx
    dv = geo.inplane_offsets[:, 1] / dy
    u0, v0 = int(np.floor(du.min() + 1e-6)), int(np.floor(dv.min() + 1e-6))
    u1, v1 = int(np.ceil(du.max() - 1e-6)), int(np.ceil(dv.max() - 1e-6))
    out_nx, out_ny = nx + u1 - u0, ny + v1 - v0
    shifted = np.empty((n_src, out_nx, out_ny), dtype=np.float32)  # slice-first: each slice contiguous
    for k in range(n_src):
        shifted[k] = _translate(data[..., k], u0 - du[k], v0 - dv[k], (out_nx, out_ny), fill)
    s = geo.along_normal - geo.along_normal[0]
    n_out = int(np.floor(s[-1] / dz + 1e-6)) + 1
    targets = np.arange(n_out) * dz
    upper = np.clip(np.searchsorted(s, targets, side="right"), 1, n_src - 1)
    lower = upper - 1
    weights = (targets - s[lower]) / (s[upper] - s[lower])
    out = np.empty((n_out, out_nx, out_ny), dtype=np.float32)
    for m in range(n_out):
        w = np.float32(weights[m])
        if w <= 1e-6 or w >= 1 - 1e-6:  # on a source slice: copy it (no blend with a neighbour's border)
            out[m] = shifted[lower[m] if w < 0.5 else upper[m]]
        else:
            np.multiply(shifted[lower[m]], np.float32(1.0) - w, out=out[m])
            out[m] += shifted[upper[m]] * w
    out = np.moveaxis(out, 0, -1)  # (x, y, z) view; a transposing copy would cost more than the resampling
    ori = np.asarray(orientation, dtype=np.float64).reshape(2, 3)
    normal = slice_normal(orientation)
    first = np.asarray(positions, dtype=np.float64).reshape(-1, 3)[0]
    affine = np.eye(4)
    affine[:3, 0] = ori[0] * dx
    affine[:3, 1] = ori[1] * dy
    affine[:3, 2] = normal * dz
    affine[:3, 3] = first + u0 * dx * ori[0] + v0 * dy * ori[1]
    return out, affine
