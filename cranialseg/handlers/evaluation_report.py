"""Evaluator handler: per-case metrics of a MONAI evaluator, written as CSV, JSON summary and overlays."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cranialseg.data.screening import case_name
from cranialseg.io.label_files import to_numpy
from cranialseg.io.overlays import save_overlay_png
from cranialseg.metrics import as_label_map, case_metrics, summarize_cases
from cranialseg.transforms.heads import PRESENCE_KEY
from cranialseg.utils.atomic import atomic_write, write_json

__all__ = [
    "evaluator_items",
    "EvaluationReport",
]

logger = logging.getLogger(__name__)


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
    head's logits (``presence_logits``, see :class:`cranialseg.transforms.UnpackHeadsd`), detection uses them.

    Failed cases are listed, not averaged: those left out before the evaluation (``failed_cases``, from
    :class:`cranialseg.data.ScreenCases`) and those whose metrics cannot be computed; the summary's
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
        ``{"_target_": "cranialseg.handlers.EvaluationReport", "output_dir": "@output_dir",
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
            "grid": list(as_label_map(label).shape),  # the grid the metrics were computed on
            "spacing_mm": [round(float(v), 4) for v in spacing],
            "metrics": metrics,
        }
        self.cases.append(case)
        self._pictures[name] = (to_numpy(image), as_label_map(pred)[None], as_label_map(label)[None])
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
