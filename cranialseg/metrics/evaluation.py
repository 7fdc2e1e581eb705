"""Per-case and summary evaluation: Dice, IoU, HD95, ASD (mm), volumes (mL) and image-level detection.

The figures are MONAI's metrics (``compute_dice``, ``compute_iou``, ``compute_hausdorff_distance``,
``compute_average_surface_distance``, ``compute_roc_auc``, ``get_confusion_matrix`` /
``compute_confusion_matrix_metric``); this module adds what MONAI lacks: volumes and their errors, lesion presence
flags and the ``None`` conventions for absent classes (the report files are written by
:class:`cranialseg.handlers.EvaluationReport`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from cranialseg.io.label_files import to_numpy
from cranialseg.utils.spatial import drop_singleton_slice

__all__ = [
    "as_label_map",
    "case_metrics",
    "detection_rates",
    "roc_auc",
    "summarize_cases",
]

logger = logging.getLogger(__name__)


def as_label_map(x: Any) -> np.ndarray:
    """Label map (spatial) from a one-hot ``(C, ...)`` or a ``(1, ...)`` / spatial label array."""
    arr = to_numpy(x)
    if arr.ndim >= 3 and arr.shape[0] > 1:
        return np.argmax(arr, axis=0)
    return np.rint(arr[0] if arr.shape[0] == 1 else arr).astype(np.int64)


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)


def _one_hot(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """``(1, C, *spatial)`` float32 one-hot batch of a label map, as MONAI's metrics take it.

    A value outside ``0 .. num_classes - 1`` belongs to no channel (``monai.networks.one_hot`` would fail on it).
    float32: MONAI's Dice and IoU run about twice as fast on it as on a boolean one, and count exactly below 2**24.
    """
    labels_t = torch.as_tensor(labels)
    return torch.stack([labels_t == c for c in range(num_classes)])[None].to(torch.float32)


def _crop_box(mask: np.ndarray) -> tuple[slice, ...]:
    """Slices of the bounding box of ``mask`` plus one voxel (within the image); the whole image when it is empty.

    Cropping to the box of the classes scored leaves their voxel counts and mask edges unchanged (the margin, or the
    image border where the box reaches it, stays around every mask), so MONAI's metrics are the same on fewer voxels.
    """
    from monai.transforms.utils import generate_spatial_bounding_box

    if not mask.any():
        return tuple(slice(None) for _ in mask.shape)
    start, end = generate_spatial_bounding_box(mask[None], margin=1, allow_smaller=True)
    return tuple(slice(a, b) for a, b in zip(start, end))


def case_metrics(
    pred: Any,
    label: Any,
    spacing: Sequence[float],
    class_names: Sequence[str],
    *,
    lesion_classes: Sequence[int] = (),
    min_lesion_voxels: int = 1,
    presence_probs: Sequence[float] | None = None,
    presence_threshold: float = 0.5,
) -> dict[str, Any]:
    """Metrics of one case for every non-background class.

    Dice and IoU (``None`` when the class is absent from both), HD95 and average symmetric surface distance in mm
    (``None`` when either mask is empty), predicted and true volume (mL for 3D, mm² for 2D) and their difference,
    and image-level lesion presence (any of ``lesion_classes``): true from the label, predicted by the image-level
    head when ``presence_probs`` are given (probability >= ``presence_threshold``), else from the predicted mask (at
    least ``min_lesion_voxels`` voxels). Each lesion class also gets ``present_true``, ``present_pred_mask`` and
    ``present_prob`` (the head's probability, or ``None``).

    The overlap and distance figures are MONAI's: :func:`monai.metrics.compute_dice` and
    :func:`monai.metrics.compute_iou` (``ignore_empty=False``; the class absent from both, where MONAI gives 1.0,
    is reported as ``None`` here), :func:`monai.metrics.compute_hausdorff_distance` (``percentile=95``) and
    :func:`monai.metrics.compute_average_surface_distance` (``symmetric=True``), both with ``spacing`` so they are
    in mm, on the edge voxels of each mask (:func:`monai.metrics.utils.get_mask_edges`: the mask minus its binary
    erosion), HD95 the larger of the two directed 95th percentiles (linear interpolation), ASD the mean of the
    distances of both directions pooled. Only classes present in both masks get distances (MONAI warns and gives
    ``nan``/``inf`` otherwise; ``None`` here). Figures are rounded to 4 decimals.

    Args:
        pred: predicted label map, ``(1, *spatial)``/spatial, or one-hot ``(C, *spatial)``.
        label: true label map in the same forms.
        spacing: voxel size in mm per spatial axis.
        class_names: label names, index 0 the background.
        lesion_classes: label values that count as a lesion for detection.
        min_lesion_voxels: voxels needed to call a lesion present in the predicted mask.
        presence_probs: the image-level head's probabilities, one per entry of ``lesion_classes``.
        presence_threshold: probability at which the head calls a lesion present.

    Example:
        >>> p = np.zeros((1, 4, 4)); p[0, 1:3, 1:3] = 1
        >>> case_metrics(p, p, (1.0, 1.0), ["bg", "a"])["a"]["dice"]
        1.0
    """
    from monai.metrics import (
        compute_average_surface_distance,
        compute_dice,
        compute_hausdorff_distance,
        compute_iou,
    )

    p, t = as_label_map(pred), as_label_map(label)
    if p.shape != t.shape:
        raise ValueError(f"prediction shape {p.shape} and label shape {t.shape} differ")
    p, t = drop_singleton_slice(p), drop_singleton_slice(t)  # a 2D NIfTI (x, y, 1): areas, not volumes
    spacing = [float(s) for s in spacing][: p.ndim]
    unit = float(np.prod(spacing))
    scale, unit_name = (1000.0, "ml") if p.ndim == 3 else (1.0, "mm2")
    box = _crop_box((p != 0) | (t != 0))
    p_box, t_box = p[box], t[box]
    y_pred, y = _one_hot(p_box, len(class_names)), _one_hot(t_box, len(class_names))
    pred_sizes = [int(np.count_nonzero(p_box == c)) for c in range(len(class_names))]
    true_sizes = [int(np.count_nonzero(t_box == c)) for c in range(len(class_names))]
    dice = compute_dice(y_pred, y, include_background=True, ignore_empty=False)[0].tolist()
    iou = compute_iou(y_pred, y, include_background=True, ignore_empty=False)[0].tolist()
    both = [c for c in range(1, len(class_names)) if pred_sizes[c] and true_sizes[c]]
    hd95, asd = {}, {}
    if both:  # distances only where both masks have the class: MONAI warns and gives nan/inf otherwise
        near = (slice(None), slice(None), *_crop_box(np.isin(p_box, both) | np.isin(t_box, both)))
        pair = (y_pred[:, both][near], y[:, both][near])
        hd = compute_hausdorff_distance(*pair, include_background=True, percentile=95, spacing=spacing)[0]
        sd = compute_average_surface_distance(*pair, include_background=True, symmetric=True, spacing=spacing)[0]
        hd95, asd = dict(zip(both, hd.tolist())), dict(zip(both, sd.tolist()))
    out: dict[str, Any] = {}
    for value, name in enumerate(class_names):
        if value == 0:
            continue
        ps, ts = pred_sizes[value], true_sizes[value]
        out[name] = {
            "dice": None if ps + ts == 0 else round(dice[value], 4),
            "iou": None if ps + ts == 0 else round(iou[value], 4),
            "hd95_mm": _finite(hd95.get(value)),
            "asd_mm": _finite(asd.get(value)),
            f"pred_volume_{unit_name}": round(ps * unit / scale, 4),
            f"true_volume_{unit_name}": round(ts * unit / scale, 4),
            f"volume_error_{unit_name}": round((ps - ts) * unit / scale, 4),
        }
    if presence_probs is not None and len(presence_probs) != len(lesion_classes):
        raise ValueError(f"{len(presence_probs)} presence probabilities for {len(lesion_classes)} lesion classes")
    min_voxels = max(1, int(min_lesion_voxels))
    for k, value in enumerate(lesion_classes):
        entry = out[class_names[value]]
        entry["present_true"] = bool((t == value).any())
        entry["present_pred_mask"] = bool((p == value).sum() >= min_voxels)
        entry["present_prob"] = None if presence_probs is None else round(float(presence_probs[k]), 4)
        entry["present_pred_head"] = None if presence_probs is None else bool(presence_probs[k] >= presence_threshold)
    if lesion_classes:
        out["lesion_present_true"] = bool(np.isin(t, list(lesion_classes)).any())
        out["lesion_present_mask"] = bool(np.isin(p, list(lesion_classes)).sum() >= min_voxels)
        out["lesion_present_pred"] = (
            out["lesion_present_mask"]
            if presence_probs is None
            else bool(max(float(v) for v in presence_probs) >= presence_threshold)
        )
        out["lesion_prob"] = None if presence_probs is None else round(max(float(v) for v in presence_probs), 4)
        out["detection_source"] = "mask" if presence_probs is None else "image_head"
    return out


def detection_rates(
    cases: Sequence[dict], true_key: str = "lesion_present_true", pred_key: str = "lesion_present_pred"
) -> dict[str, Any]:
    """Image-level lesion detection: sensitivity, specificity and counts over cases with presence flags.

    The counts are MONAI's :func:`monai.metrics.get_confusion_matrix` over the cases (one "image" whose voxels are
    the cases), the rates :func:`monai.metrics.compute_confusion_matrix_metric`; a rate without cases to count
    (MONAI's ``nan``) is ``None``. A case counts when its ``true_key`` is true or ``False`` (not missing or
    ``None``); ``pred_key`` is read as a truth value.

    Example:
        >>> detection_rates([{"lesion_present_true": True, "lesion_present_pred": True}])["sensitivity"]
        1.0
    """
    from monai.metrics import compute_confusion_matrix_metric, get_confusion_matrix

    kept = [c for c in cases if c.get(true_key) or c.get(true_key) is False]
    y = torch.tensor([[[bool(c.get(true_key)) for c in kept]]], dtype=torch.float64)
    y_pred = torch.tensor([[[bool(c.get(pred_key)) for c in kept]]], dtype=torch.float64)
    matrix = get_confusion_matrix(y_pred, y, include_background=True)  # (1, 1, 4): tp, fp, tn, fn
    tp, fp, tn, fn = (int(v) for v in matrix[0, 0].tolist())
    rates = {
        name: _finite(float(compute_confusion_matrix_metric(name, matrix).flatten()[0]))
        for name in ("sensitivity", "specificity")
    }
    return {"true_positive": tp, "false_negative": fn, "true_negative": tn, "false_positive": fp, **rates}


def roc_auc(scores: Sequence[float], truth: Sequence[bool]) -> float | None:
    """Area under the ROC curve, MONAI's :func:`monai.metrics.compute_roc_auc` (tied scores count half a win).

    ``None`` without both outcomes (where MONAI warns and gives ``nan``). ``truth`` is read as truth values.

    Example:
        >>> roc_auc([0.9, 0.2, 0.6], [True, False, False])
        1.0
    """
    from monai.metrics import compute_roc_auc

    outcomes = [1 if t else 0 for t in truth]
    if len(scores) != len(outcomes):
        raise ValueError(f"{len(scores)} scores for {len(outcomes)} outcomes")
    if len(set(outcomes)) < 2:
        return None
    auc = compute_roc_auc(torch.tensor([float(s) for s in scores], dtype=torch.float64), torch.tensor(outcomes))
    return _finite(float(auc))


def _mean(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return None if not vals else round(float(np.mean(vals)), 4)


def summarize_cases(cases: Sequence[dict], class_names: Sequence[str]) -> dict[str, Any]:
    """Per-class means (Dice, IoU, HD95, ASD, absolute volume error), the mean foreground Dice over cases and
    image-level detection: overall (``detection``: from the image-level head when the cases have its
    probabilities, else from the predicted masks; ``detection_from_mask`` always) and per lesion class
    (``per_class[name]["detection_head"]`` with ROC AUC, ``["detection_mask"]``).

    Example:
        >>> summarize_cases([{"name": "a", "metrics": {"x": {"dice": 0.5}}}], ["bg", "x"])["mean_dice"]
        0.5
    """
    per_class: dict[str, dict[str, Any]] = {}
    for name in class_names[1:]:
        entries = [c["metrics"][name] for c in cases if name in c["metrics"]]
        stats: dict[str, Any] = {}
        for key in ("dice", "iou", "hd95_mm", "asd_mm"):
            stats[key] = _mean([e.get(key) for e in entries])
        for key in [k for k in (entries[0] if entries else {}) if k.startswith("volume_error")]:
            stats[f"mean_abs_{key}"] = _mean([abs(e[key]) for e in entries if e.get(key) is not None])
        if entries and "present_true" in entries[0]:
            stats["detection_mask"] = detection_rates(entries, "present_true", "present_pred_mask")
            if all(e.get("present_prob") is not None for e in entries):
                head = detection_rates(entries, "present_true", "present_pred_head")
                head["roc_auc"] = roc_auc([e["present_prob"] for e in entries], [e["present_true"] for e in entries])
                stats["detection_head"] = head
        per_class[name] = stats
    class_dice = [s["dice"] for s in per_class.values() if s["dice"] is not None]
    metrics = [c["metrics"] for c in cases]
    summary: dict[str, Any] = {
        "num_cases": len(cases),
        "mean_dice": None if not class_dice else round(float(np.mean(class_dice)), 4),
        "per_class": per_class,
    }
    if any("lesion_present_true" in m for m in metrics):
        sources = {m.get("detection_source") for m in metrics}
        summary["detection"] = {"source": "/".join(sorted(str(x) for x in sources)), **detection_rates(metrics)}
        if all(m.get("lesion_prob") is not None for m in metrics):  # any lesion: the highest type probability
            truth = [bool(m["lesion_present_true"]) for m in metrics]
            summary["detection"]["roc_auc"] = roc_auc([m["lesion_prob"] for m in metrics], truth)
        summary["detection_from_mask"] = detection_rates(metrics, pred_key="lesion_present_mask")
    return summary
