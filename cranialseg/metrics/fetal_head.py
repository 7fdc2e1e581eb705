"""Fetal-head metrics: Dice, HD, HD95 and head-circumference error of one frame, their summary, the measurements."""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
import torch

from cranialseg.io.label_files import to_numpy
from cranialseg.metrics.ellipse import ELLIPSE_KEYS, fit_head_ellipse
from cranialseg.utils.spatial import drop_singleton_slice

logger = logging.getLogger(__name__)

__all__ = [
    "check_outline_offset",
    "head_outline_offset_mm",
    "score_head_case",
    "summarize_head_cases",
    "head_measurements",
]


def _stats(values: list) -> dict:

    vals = [float(v) for v in values if v is not None]
    if not vals:
        return {"mean": None, "sd": None, "median": None, "n": 0}
    arr = np.asarray(vals)
    return {
        "mean": round(float(arr.mean()), 4),
        "sd": round(float(arr.std(ddof=1)), 4) if len(arr) > 1 else None,
        "median": round(float(np.median(arr)), 4),
        "n": len(vals),
    }


def check_outline_offset(outline_offset: Any, network_size: Any = None) -> tuple[float, list[int] | None]:
    """``(outline_offset, network_size)`` as a number of pixels >= 0 and two positive sizes ``(x, y)`` (or None).

    The one check of the pair that the inference writer (``SaveHeadMeasurementsd``) and the evaluation
    (``HeadEvaluationReport``) take from the bundle config; raises ``ValueError`` naming the setting.

    Example:
        >>> check_outline_offset("0.659", (384, 256))
        (0.659, [384, 256])
    """
    try:
        offset = float(outline_offset)
    except (TypeError, ValueError):
        offset = float("nan")
    if not (np.isfinite(offset) and offset >= 0):
        raise ValueError(f"head_outline_offset must be a number of pixels >= 0, got {outline_offset!r}")
    if network_size is None:
        return offset, None
    try:
        size = [int(n) for n in network_size]
    except (TypeError, ValueError):
        size = []
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(f"network_size must be two positive sizes (x, y), got {network_size!r}")
    return offset, size


def head_outline_offset_mm(
    shape: Sequence[int], spacing: Sequence[float], outline_offset: float, network_size: Sequence[int] | None = None
) -> float:
    """The outline offset of a frame in mm: ``outline_offset`` pixels of the network's grid, on this frame.

    A network that sees every frame resized to ``network_size`` learns its training masks' outline offset (half the
    drawn annotation line) in pixels of that grid; on a frame of ``shape`` pixels of ``spacing`` mm it is
    ``outline_offset * shape / network_size * spacing`` per axis, averaged over the two axes. Without
    ``network_size`` the offset is in pixels of the frame itself.

    Example:
        >>> round(head_outline_offset_mm((800, 540), (0.1, 0.1), 0.659, (384, 256)), 3)  # 1.38 px of HC18's frame
        0.138
    """
    offset, size = check_outline_offset(outline_offset, network_size)
    shape = [int(n) for n in list(shape)[-2:]]
    spacing = [float(v) for v in list(spacing)[:2]]
    size = size or shape
    return offset * float(np.mean([n / m * v for n, m, v in zip(shape, size, spacing)]))


def score_head_case(pred, label, spacing, reference_hc_mm: float | None = None, outline_offset_mm: float = 0.0) -> dict:
    """Dice, Hausdorff distance and HD95 (mm) and the head-circumference difference (mm) of one 2D head mask.

    Dice is MONAI's :func:`monai.metrics.compute_dice` (``ignore_empty=False``: 1.0 when both masks are empty), HD
    and HD95 :func:`monai.metrics.compute_hausdorff_distance` with ``spacing`` (edge pixels of the masks; HD95 the
    larger of the two directed 95th percentiles).

    Args:
        pred: predicted 2D mask (non-zero = head), on the same grid as ``label``.
        label: reference 2D mask.
        spacing: pixel size per axis in mm.
        reference_hc_mm: reference head circumference (HC18's CSV); None: the ellipse fitted to ``label``.
        outline_offset_mm: the masks' outline offset (:func:`head_outline_offset_mm`), taken off both fitted
            ellipses' semi-axes before the circumference (Dice and distances use the masks as they are).

    Returns:
        ``{"dice", "hd_mm", "hd95_mm", "hc_mm", "reference_hc_mm", "hc_abs_diff_mm", "hc_diff_mm"}``; distances
        and HC are ``None`` when the prediction has no head.
    """
    import math

    from monai.metrics import compute_dice, compute_hausdorff_distance

    p = np.asarray(pred).squeeze() > 0
    g = np.asarray(label).squeeze() > 0
    # (1, 2, X, Y) one-hot, background and head: a single channel would be read as a label map (float32 result)
    pt, gt = (torch.as_tensor(np.stack([~m, m]), dtype=torch.float64)[None] for m in (p, g))
    out: dict = {"dice": float(compute_dice(pt, gt, include_background=False, ignore_empty=False).item())}
    if p.any() and g.any():
        sp = [float(s) for s in spacing]
        out["hd_mm"] = float(compute_hausdorff_distance(pt, gt, spacing=sp).item())
        out["hd95_mm"] = float(compute_hausdorff_distance(pt, gt, percentile=95, spacing=sp).item())
    else:
        out["hd_mm"] = out["hd95_mm"] = None
    fit = fit_head_ellipse(p, spacing, outline_offset_mm=outline_offset_mm)
    if reference_hc_mm is None or (isinstance(reference_hc_mm, float) and math.isnan(reference_hc_mm)):
        ref = fit_head_ellipse(g, spacing, outline_offset_mm=outline_offset_mm)
        reference_hc_mm = None if ref is None else ref["head_circumference_mm"]
    out["hc_mm"] = None if fit is None else fit["head_circumference_mm"]
    out["reference_hc_mm"] = reference_hc_mm
    if fit is None or reference_hc_mm is None:
        out["hc_diff_mm"] = out["hc_abs_diff_mm"] = None
    else:
        out["hc_diff_mm"] = out["hc_mm"] - float(reference_hc_mm)
        out["hc_abs_diff_mm"] = abs(out["hc_diff_mm"])
    return out


def summarize_head_cases(cases: list) -> dict:
    """Mean, sd and median over cases of Dice, HD, HD95, HC absolute and signed difference; cases without a head."""
    keys = ("dice", "hd_mm", "hd95_mm", "hc_abs_diff_mm", "hc_diff_mm")
    out = {k: _stats([c.get(k) for c in cases]) for k in keys}
    out["num_cases"] = len(cases)
    out["no_head_found"] = sum(1 for c in cases if c.get("hc_mm") is None)
    return out


def head_measurements(label: Any, spacing: Sequence[float], units: str = "mm", outline_offset: float = 0.0) -> dict:
    """The measurement document of one 2D label map: HC, BPD, OFD and the ellipse, or ``head_found: false``.

    With ``units="pixel"`` (no calibration) the values are in pixels and the keys end in ``_px``.
    ``outline_offset`` (in ``units``: mm, or pixels) is taken off the fitted semi-axes (see
    :func:`head_outline_offset_mm`) and recorded as ``outline_offset_mm`` / ``outline_offset_px``.
    """
    arr = to_numpy(label)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    arr = drop_singleton_slice(arr)
    fit = fit_head_ellipse(arr > 0, spacing if units == "mm" else (1.0, 1.0), outline_offset_mm=outline_offset)
    doc: dict[str, Any] = {"units": units, "head_found": fit is not None}
    if units == "mm":
        doc["pixel_spacing_mm"] = [round(float(s), 6) for s in spacing[:2]]
    else:
        doc["note"] = "no pixel spacing (give --pixel_spacing or --pixel_spacing_csv): values are in pixels"
    if fit is None:
        doc["note"] = (doc.get("note", "") + "; " if doc.get("note") else "") + "no head found: no ellipse fitted"
        return doc
    suffix = "_mm" if units == "mm" else "_px"
    for key in ("head_circumference", "biparietal_diameter", "occipitofrontal_diameter"):
        doc[key + suffix] = round(fit[key + "_mm"], 3)
    doc["head_area" + ("_mm2" if units == "mm" else "_px2")] = round(fit["area_mm2"], 3)
    doc["outline_offset" + suffix] = round(float(outline_offset), 4)
    doc["ellipse"] = {
        (k if units == "mm" else k.replace("_mm", "_px")): round(fit[k], 6 if k == "angle_rad" else 4)
        for k in ELLIPSE_KEYS
    }
    return doc
