"""Per-case and summary evaluation: Dice, IoU, HD95, ASD (mm), volumes (mL) and image-level detection.

The figures are MONAI's metrics (``compute_dice``, ``compute_iou``, ``compute_hausdorff_distance``,
``compute_average_surface_distance``, ``compute_roc_auc``, ``get_confusion_matrix`` /
``compute_confusion_matrix_metric``); this module adds what MONAI lacks: volumes and their errors, lesion presence
flags, the ``None`` conventions for absent classes and the report files (``metrics_per_case.csv``,
``metrics_summary.json``, best/worst overlays).
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cranialseg.workflows.heads import PRESENCE_KEY
from cranialseg.workflows.outputs import atomic_write, save_overlay_png, to_numpy, write_json
from cranialseg.workflows.screening import case_name

__all__ = ["case_metrics", "detection_rates", "roc_auc", "summarize_cases", "EvaluationReport"]

logger = logging.getLogger(__name__)


def _as_labels(x: Any) -> np.ndarray:
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

    p, t = _as_labels(pred), _as_labels(label)
    if p.shape != t.shape:
        raise ValueError(f"prediction shape {p.shape} and label shape {t.shape} differ")
    if p.ndim == 3 and p.shape[-1] == 1:  # a 2D image stored as (x, y, 1), e.g. a 2D NIfTI: areas, not volumes
        p, t = p[..., 0], t[..., 0]
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


def evaluator_items(engine: Any, required: Sequence[str], owner: str) -> Iterator[tuple[int, dict]]:
    """``(index, item)`` for each item of an evaluator iteration: the batch item merged with its output item.

    Args:
        engine: the evaluator (``engine.state.output`` / ``engine.state.batch``, one dict or a list of dicts).
        required: keys every item must have; a missing one raises ``KeyError`` naming ``owner`` and the keys found.
        owner: the handler's name, for the message.
    """
    items = engine.state.output if isinstance(engine.state.output, list) else [engine.state.output]
    batch = engine.state.batch if isinstance(engine.state.batch, list) else [engine.state.batch]
    for i, out_item in enumerate(items):
        item = {**(batch[i] if i < len(batch) and isinstance(batch[i], dict) else {}), **out_item}
        for key in required:
            if key not in item:
                raise KeyError(f"{owner}: no '{key}' in the evaluator's items (keys: {sorted(item)})")
        yield i, item


class EvaluationReport:
    """Collect per-case metrics from a MONAI evaluator and write a CSV, a JSON summary and best/worst overlays.

    Attach it to a ``SupervisedEvaluator`` whose post-processing gives one-hot (or label-map) ``pred`` and
    ``label`` per item (read from the engine's output, then its batch, so keys the pre-processing added, such as an
    untouched copy of the label on the original grid, can be used). Spacing comes from the ``pred`` (or ``image``)
    affine, so distances are in mm on the grid the metrics are computed on. When the items hold the image-level
    head's logits (``presence_logits``, see :class:`cranialseg.workflows.UnpackHeadsd`), detection uses them.

    Failed cases are listed, not averaged: those left out before the evaluation (``failed_cases``, from
    :class:`cranialseg.workflows.ScreenCases`) and those whose metrics cannot be computed; the summary's
    ``failed_cases`` gives each case, the file at fault and the error, and ``metrics_per_case.csv`` has a row with
    ``status`` ``failed`` and the ``error`` for each. Absent classes: Dice and IoU are ``null`` when the class is in
    neither the prediction nor the label, HD95 and ASD when either mask is empty; means skip ``null`` values.

    The bundles' ``evaluate.json`` also attaches MONAI's ``MetricsSaver`` (the evaluator's ``MeanDice`` per case in
    ``val_mean_dice_raw.csv``); its conventions are MONAI's (``nan`` where the label lacks the class, columns
    ``class0 ..`` for the foreground classes in order), which is why this report stays the reference.

    Args:
        output_dir: folder for ``metrics_per_case.csv``, ``metrics_summary.json`` and ``overlay_best_*.png`` /
            ``overlay_worst_*.png``.
        class_names: label names, index 0 the background.
        lesion_classes: label values counted as lesions for image-level detection.
        num_overlays: how many best and how many worst cases get an overlay.
        min_lesion_voxels: predicted voxels needed to call a lesion present in the mask.
        presence_threshold: sigmoid probability at which the image-level head calls a lesion present.
        failed_cases: cases that failed before the evaluation (dicts with ``case``, ``file`` and ``error``); a list
            object filled later (``$@case_screen.failures``) is read when the report is written.
        image_key / pred_key / label_key / presence_key: item keys (image for the overlays).

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
        presence_threshold: float = 0.5,
        image_key: str = "image",
        pred_key: str = "pred",
        label_key: str = "label",
        presence_key: str = PRESENCE_KEY,
        failed_cases: Sequence[dict] = (),
    ) -> None:
        self.output_dir = Path(output_dir)
        self.class_names = list(class_names)
        self.lesion_classes = list(lesion_classes)
        self.num_overlays = int(num_overlays)
        self.min_lesion_voxels = int(min_lesion_voxels)
        self.presence_threshold = float(presence_threshold)
        self.image_key, self.pred_key, self.label_key = image_key, pred_key, label_key
        self.presence_key = presence_key
        self.failed_before = failed_cases
        self.failed: list[dict] = []
        self.cases: list[dict] = []
        self._pictures: dict[str, tuple] = {}
        self.summary: dict[str, Any] = {}

    def attach(self, engine: Any) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.EPOCH_STARTED, self.reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.write)

    def reset(self, engine: Any = None) -> None:
        self.cases, self._pictures, self.summary, self.failed = [], {}, {}, []

    def add_case(
        self,
        name: str,
        image: Any,
        pred: Any,
        label: Any,
        spacing: Sequence[float],
        presence_logits: Any = None,
    ) -> dict:
        probs = None
        if presence_logits is not None and self.lesion_classes:
            probs = torch.sigmoid(torch.as_tensor(to_numpy(presence_logits), dtype=torch.float32)).flatten().tolist()
        metrics = case_metrics(
            pred,
            label,
            spacing,
            self.class_names,
            lesion_classes=self.lesion_classes,
            min_lesion_voxels=self.min_lesion_voxels,
            presence_probs=probs,
            presence_threshold=self.presence_threshold,
        )
        dices = [m["dice"] for k, m in metrics.items() if isinstance(m, dict) and m.get("dice") is not None]
        case = {
            "name": name,
            "mean_dice": None if not dices else round(float(np.mean(dices)), 4),
            "grid": list(_as_labels(label).shape),  # the grid the metrics were computed on
            "spacing_mm": [round(float(v), 4) for v in spacing],
            "metrics": metrics,
        }
        self.cases.append(case)
        self._pictures[name] = (to_numpy(image), _as_labels(pred)[None], _as_labels(label)[None])
        return case

    def collect(self, engine: Any) -> None:
        for i, item in evaluator_items(engine, (self.pred_key, self.label_key), "EvaluationReport"):
            pred, label, image = item[self.pred_key], item[self.label_key], item.get(self.image_key)
            meta = getattr(pred, "meta", None) or {}
            if "filename_or_obj" not in meta:
                meta = getattr(image, "meta", None) or meta
            source = meta.get("filename_or_obj", f"case_{len(self.cases) + i}")
            name = case_name(source)
            affine = to_numpy(getattr(pred, "affine", None) if hasattr(pred, "affine") else np.eye(4))
            dims = pred.ndim - 1
            spacing = np.linalg.norm(affine[:dims, :dims], axis=0)
            try:
                self.add_case(
                    name, image if image is not None else pred, pred, label, spacing, item.get(self.presence_key)
                )
            except Exception as err:  # noqa: BLE001 - one case's metrics must not stop the evaluation
                label_file = (getattr(label, "meta", None) or {}).get("filename_or_obj", source)
                self.failed.append({"case": name, "file": str(label_file), "error": f"{type(err).__name__}: {err}"})
                logger.warning(f"evaluation: case {name} failed: {err}")

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
        self.summary["cases"] = [{k: c[k] for k in ("name", "mean_dice", "grid", "spacing_mm")} for c in self.cases]
        failed = self.failed_cases()
        self.summary["num_failed"] = len(failed)
        self.summary["failed_cases"] = failed
        write_json(self.output_dir / "metrics_summary.json", self.summary, overwrite=True)
        atomic_write(
            self.output_dir / "metrics_per_case.csv",
            lambda tmp: tmp.write_text(self._csv()),
            overwrite=True,
        )
        logger.info(f"evaluation: mean Dice {self.summary['mean_dice']} over {len(self.cases)} cases")
        for case in failed:
            logger.warning(f"evaluation: case {case['case']} FAILED: {case['error']}")
        return self.summary

    def failed_cases(self) -> list[dict]:
        """The failed cases: those screened out before the evaluation, then those that failed during it."""
        return [
            {"case": c.get("case"), "file": c.get("file"), "error": c.get("error")}
            for c in [*self.failed_before, *self.failed]
        ]

    def _csv(self) -> str:
        buffer = io.StringIO()
        columns = ["case", "status", "mean_dice"]
        for name in self.class_names[1:]:
            keys = next((list(c["metrics"][name]) for c in self.cases if name in c["metrics"]), [])
            columns += [f"{name}_{k}" for k in keys]
        flags = ("lesion_present_true", "lesion_present_pred", "lesion_present_mask", "detection_source")
        if self.lesion_classes:
            columns += list(flags)
        columns.append("error")
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        for case in self.cases:
            row: dict[str, Any] = {"case": case["name"], "status": "ok", "mean_dice": case["mean_dice"]}
            for name in self.class_names[1:]:
                for key, value in case["metrics"].get(name, {}).items():
                    row[f"{name}_{key}"] = "" if value is None else value
            for key in flags:
                if key in case["metrics"]:
                    row[key] = case["metrics"][key]
            writer.writerow(row)
        for case in self.failed_cases():
            writer.writerow({"case": case["case"], "status": "failed", "error": case["error"]})
        return buffer.getvalue()
