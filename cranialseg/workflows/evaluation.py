"""Per-case and summary evaluation: Dice, IoU, HD95, ASD (mm), volumes (mL) and image-level detection."""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cranialseg.workflows.outputs import atomic_write, save_overlay_png, to_numpy, write_json

__all__ = ["case_metrics", "detection_rates", "summarize_cases", "EvaluationReport"]

logger = logging.getLogger(__name__)


def _as_labels(x: Any) -> np.ndarray:
    """Label map (spatial) from a one-hot ``(C, ...)`` or a ``(1, ...)`` / spatial label array."""
    arr = to_numpy(x)
    if arr.ndim >= 3 and arr.shape[0] > 1:
        return np.argmax(arr, axis=0)
    return np.rint(arr[0] if arr.shape[0] == 1 else arr).astype(np.int64)


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)


def case_metrics(
    pred: Any,
    label: Any,
    spacing: Sequence[float],
    class_names: Sequence[str],
    *,
    lesion_classes: Sequence[int] = (),
    min_lesion_voxels: int = 1,
) -> dict[str, Any]:
    """Metrics of one case for every non-background class.

    Dice and IoU (``None`` when the class is absent from both), HD95 and average symmetric surface distance in mm
    (``None`` when either mask is empty), predicted and true volume (mL for 3D, mm² for 2D) and their difference,
    and image-level lesion presence (any of ``lesion_classes``, at least ``min_lesion_voxels`` voxels).

    Args:
        pred: predicted label map, ``(1, *spatial)``/spatial, or one-hot ``(C, *spatial)``.
        label: true label map in the same forms.
        spacing: voxel size in mm per spatial axis.
        class_names: label names, index 0 the background.
        lesion_classes: label values that count as a lesion for detection.
        min_lesion_voxels: voxels needed to call a lesion present in the prediction.

    Example:
        >>> p = np.zeros((1, 4, 4)); p[0, 1:3, 1:3] = 1
        >>> case_metrics(p, p, (1.0, 1.0), ["bg", "a"])["a"]["dice"]
        1.0
    """
    from monai.metrics.utils import get_mask_edges, get_surface_distance

    p, t = _as_labels(pred), _as_labels(label)
    if p.shape != t.shape:
        raise ValueError(f"prediction shape {p.shape} and label shape {t.shape} differ")
    spacing = [float(s) for s in spacing][: p.ndim]
    unit = float(np.prod(spacing))
    scale, unit_name = (1000.0, "ml") if p.ndim == 3 else (1.0, "mm2")
    out: dict[str, Any] = {}
    for value, name in enumerate(class_names):
        if value == 0:
            continue
        pm, tm = p == value, t == value
        inter, ps, ts = int((pm & tm).sum()), int(pm.sum()), int(tm.sum())
        entry: dict[str, Any] = {
            "dice": None if ps + ts == 0 else round(2.0 * inter / (ps + ts), 4),
            "iou": None if ps + ts == 0 else round(inter / (ps + ts - inter), 4),
            "hd95_mm": None,
            "asd_mm": None,
            f"pred_volume_{unit_name}": round(ps * unit / scale, 4),
            f"true_volume_{unit_name}": round(ts * unit / scale, 4),
            f"volume_error_{unit_name}": round((ps - ts) * unit / scale, 4),
        }
        if ps and ts:
            edges_p, edges_t = get_mask_edges(torch.as_tensor(pm), torch.as_tensor(tm), crop=True)
            d1 = to_numpy(get_surface_distance(edges_p, edges_t, distance_metric="euclidean", spacing=spacing))
            d2 = to_numpy(get_surface_distance(edges_t, edges_p, distance_metric="euclidean", spacing=spacing))
            entry["hd95_mm"] = _finite(max(np.percentile(d1, 95), np.percentile(d2, 95)))
            entry["asd_mm"] = _finite((d1.sum() + d2.sum()) / max(1, d1.size + d2.size))
        out[name] = entry
    if lesion_classes:
        out["lesion_present_true"] = bool(np.isin(t, list(lesion_classes)).sum() > 0)
        out["lesion_present_pred"] = bool(np.isin(p, list(lesion_classes)).sum() >= max(1, min_lesion_voxels))
    return out


def detection_rates(cases: Sequence[dict]) -> dict[str, Any]:
    """Image-level lesion detection: sensitivity, specificity and counts over cases with presence flags.

    Example:
        >>> detection_rates([{"lesion_present_true": True, "lesion_present_pred": True}])["sensitivity"]
        1.0
    """
    tp = sum(1 for c in cases if c.get("lesion_present_true") and c.get("lesion_present_pred"))
    fn = sum(1 for c in cases if c.get("lesion_present_true") and not c.get("lesion_present_pred"))
    tn = sum(1 for c in cases if c.get("lesion_present_true") is False and not c.get("lesion_present_pred"))
    fp = sum(1 for c in cases if c.get("lesion_present_true") is False and c.get("lesion_present_pred"))
    return {
        "true_positive": tp,
        "false_negative": fn,
        "true_negative": tn,
        "false_positive": fp,
        "sensitivity": None if tp + fn == 0 else round(tp / (tp + fn), 4),
        "specificity": None if tn + fp == 0 else round(tn / (tn + fp), 4),
    }


def _mean(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return None if not vals else round(float(np.mean(vals)), 4)


def summarize_cases(cases: Sequence[dict], class_names: Sequence[str]) -> dict[str, Any]:
    """Per-class means (Dice, IoU, HD95, ASD, absolute volume error) and the mean foreground Dice over cases.

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
        per_class[name] = stats
    class_dice = [s["dice"] for s in per_class.values() if s["dice"] is not None]
    return {
        "num_cases": len(cases),
        "mean_dice": None if not class_dice else round(float(np.mean(class_dice)), 4),
        "per_class": per_class,
        "detection": detection_rates([c["metrics"] for c in cases]),
    }


class EvaluationReport:
    """Collect per-case metrics from a MONAI evaluator and write a CSV, a JSON summary and best/worst overlays.

    Attach it to a ``SupervisedEvaluator`` whose post-processing gives one-hot (or label-map) ``pred`` and
    ``label`` per item. Spacing comes from the ``pred`` (or ``image``) affine, so distances are in mm on the grid
    the metrics are computed on.

    Args:
        output_dir: folder for ``metrics_per_case.csv``, ``metrics_summary.json`` and ``overlay_best_*.png`` /
            ``overlay_worst_*.png``.
        class_names: label names, index 0 the background.
        lesion_classes: label values counted as lesions for image-level detection.
        num_overlays: how many best and how many worst cases get an overlay.
        min_lesion_voxels: predicted voxels needed to call a lesion present.

    Example:
        ``{"_target_": "cranialseg.workflows.EvaluationReport", "output_dir": "@output_dir",
        "class_names": "@class_names", "lesion_classes": [2, 3, 4, 5]}`` in ``validate#handlers``.
    """

    def __init__(
        self,
        output_dir: str | Path,
        class_names: Sequence[str],
        *,
        lesion_classes: Sequence[int] = (),
        num_overlays: int = 1,
        min_lesion_voxels: int = 10,
        image_key: str = "image",
        pred_key: str = "pred",
        label_key: str = "label",
    ) -> None:
        self.output_dir = Path(output_dir)
        self.class_names = list(class_names)
        self.lesion_classes = list(lesion_classes)
        self.num_overlays = int(num_overlays)
        self.min_lesion_voxels = int(min_lesion_voxels)
        self.image_key, self.pred_key, self.label_key = image_key, pred_key, label_key
        self.cases: list[dict] = []
        self._pictures: dict[str, tuple] = {}
        self.summary: dict[str, Any] = {}

    def attach(self, engine: Any) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.EPOCH_STARTED, self.reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.write)

    def reset(self, engine: Any = None) -> None:
        self.cases, self._pictures, self.summary = [], {}, {}

    def add_case(self, name: str, image: Any, pred: Any, label: Any, spacing: Sequence[float]) -> dict:
        metrics = case_metrics(
            pred,
            label,
            spacing,
            self.class_names,
            lesion_classes=self.lesion_classes,
            min_lesion_voxels=self.min_lesion_voxels,
        )
        dices = [m["dice"] for k, m in metrics.items() if isinstance(m, dict) and m.get("dice") is not None]
        case = {"name": name, "mean_dice": None if not dices else round(float(np.mean(dices)), 4), "metrics": metrics}
        self.cases.append(case)
        self._pictures[name] = (to_numpy(image), _as_labels(pred)[None], _as_labels(label)[None])
        return case

    def collect(self, engine: Any) -> None:
        items = engine.state.output if isinstance(engine.state.output, list) else [engine.state.output]
        for i, item in enumerate(items):
            pred, label, image = item[self.pred_key], item[self.label_key], item.get(self.image_key)
            meta = getattr(pred, "meta", None) or {}
            if "filename_or_obj" not in meta:
                meta = getattr(image, "meta", None) or meta
            source = meta.get("filename_or_obj", f"case_{len(self.cases) + i}")
            source = source[0] if isinstance(source, (list, tuple)) else source
            name = Path(str(source)).name
            for suffix in (".nii.gz", ".nii", ".png", ".dcm"):
                name = name[: -len(suffix)] if name.endswith(suffix) else name
            affine = to_numpy(getattr(pred, "affine", None) if hasattr(pred, "affine") else np.eye(4))
            dims = pred.ndim - 1
            spacing = np.linalg.norm(affine[:dims, :dims], axis=0)
            self.add_case(name, image if image is not None else pred, pred, label, spacing)

    def write(self, engine: Any = None) -> dict[str, Any]:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.summary = summarize_cases(self.cases, self.class_names)
        ranked = sorted([c for c in self.cases if c["mean_dice"] is not None], key=lambda c: c["mean_dice"])
        overlays = {}
        chosen = [("worst", c) for c in ranked[: self.num_overlays]] + [
            ("best", c) for c in ranked[::-1][: self.num_overlays]
        ]
        for tag, case in chosen:
            image, pred, label = self._pictures[case["name"]]
            path = save_overlay_png(
                image, pred, self.output_dir / f"overlay_{tag}_{case['name']}.png", label, overwrite=True
            )
            overlays.setdefault(tag, []).append(
                {"case": case["name"], "mean_dice": case["mean_dice"], "png": str(path)}
            )
        self.summary["overlays"] = overlays
        self.summary["cases"] = [{"name": c["name"], "mean_dice": c["mean_dice"]} for c in self.cases]
        write_json(self.output_dir / "metrics_summary.json", self.summary, overwrite=True)
        atomic_write(
            self.output_dir / "metrics_per_case.csv",
            lambda tmp: tmp.write_text(self._csv()),
            overwrite=True,
        )
        logger.info(f"evaluation: mean Dice {self.summary['mean_dice']} over {len(self.cases)} cases")
        return self.summary

    def _csv(self) -> str:
        buffer = io.StringIO()
        columns = ["case", "mean_dice"]
        for name in self.class_names[1:]:
            keys = next((list(c["metrics"][name]) for c in self.cases if name in c["metrics"]), [])
            columns += [f"{name}_{k}" for k in keys]
        if self.lesion_classes:
            columns += ["lesion_present_true", "lesion_present_pred"]
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        for case in self.cases:
            row: dict[str, Any] = {"case": case["name"], "mean_dice": case["mean_dice"]}
            for name in self.class_names[1:]:
                for key, value in case["metrics"].get(name, {}).items():
                    row[f"{name}_{key}"] = "" if value is None else value
            for key in ("lesion_present_true", "lesion_present_pred"):
                if key in case["metrics"]:
                    row[key] = case["metrics"][key]
            writer.writerow(row)
        return buffer.getvalue()
