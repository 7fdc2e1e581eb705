"""Evaluator handler of the fetal-head bundle: per-image Dice, HD, HD95 and head-circumference errors."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from cranialseg.data.screening import case_name
from cranialseg.handlers.evaluation_report import evaluator_items
from cranialseg.io.label_files import to_numpy
from cranialseg.io.overlays import _spatial_2d, save_head_overlay
from cranialseg.metrics.fetal_head import (
    check_outline_offset,
    head_outline_offset_mm,
    score_head_case,
    summarize_head_cases,
)
from cranialseg.utils.atomic import atomic_write, write_json

__all__ = [
    "HeadEvaluationReport",
]

logger = logging.getLogger(__name__)


class HeadEvaluationReport:
    """Per-image Dice, HD, HD95 (mm) and head-circumference differences (mm), summarised, with best/worst overlays.

    Attach to a ``SupervisedEvaluator`` whose post-processing gives ``pred`` and ``label`` (one-hot or label maps)
    on the grid to score (the original grid after ``Invertd``); spacing comes from the ``pred`` affine. The
    reference head circumference is the item's ``hc_mm`` (HC18's CSV, written into the datalist by
    ``scripts/prepare_hc18.py``), else the ellipse fitted to the label. Writes ``head_metrics_per_case.csv``,
    ``head_metrics_summary.json`` (mean, sd, median of each metric) and ``overlay_best_<k>_<case>.png`` /
    ``overlay_worst_<k>_<case>.png`` (by Dice; predicted outline in colour, reference in white, fitted ellipse).

    Failed cases are listed, not averaged: those screened out before the evaluation (``failed_cases``, e.g.
    ``$@case_screen.failures`` of :class:`cranialseg.data.ScreenCases`) and those whose scoring fails here
    (the evaluation goes on), in the summary's ``failed_cases`` and as ``status`` ``failed`` rows of the CSV.

    Args:
        output_dir: output folder (created).
        num_overlays: how many best and how many worst cases get an overlay.
        failed_cases: cases that failed before the evaluation (dicts with ``case``, ``file``, ``error``); a list
            object filled later is read when the report is written.
        image_key / pred_key / label_key / reference_key: item keys.
        outline_offset / network_size: the masks' outline offset in pixels of the network's grid, taken off the
            fitted ellipses before the head circumference (see
            :class:`cranialseg.io.writers.SaveHeadMeasurementsd`, which measures the same way at inference).

    Example:
        ``{"_target_": "cranialseg.handlers.head_evaluation_report.HeadEvaluationReport", "output_dir": "@output_dir"}``
        in ``validate#handlers`` of ``evaluate.json``.
    """

    def __init__(
        self,
        output_dir,
        *,
        num_overlays: int = 3,
        failed_cases=(),
        image_key: str = "image",
        pred_key: str = "pred",
        label_key: str = "label",
        reference_key: str = "hc_mm",
        outline_offset: float = 0.0,
        network_size=None,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.num_overlays = int(num_overlays)
        self.image_key, self.pred_key, self.label_key, self.reference_key = (
            image_key,
            pred_key,
            label_key,
            reference_key,
        )
        self.outline_offset, self.network_size = check_outline_offset(outline_offset, network_size)
        self.failed_before = failed_cases
        self.failed: list = []
        self.cases: list = []
        self.summary: dict = {}
        self._pictures: dict = {}

    def attach(self, engine) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.EPOCH_STARTED, self.reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.write)

    def reset(self, engine=None) -> None:
        self.cases, self.summary, self._pictures, self.failed = [], {}, {}, []

    def add_case(self, name: str, image, pred, label, spacing, reference_hc_mm=None) -> dict:
        """Score one case (2D label maps or one-hot) and keep it for the summary and overlays."""
        p, g = _spatial_2d(pred), _spatial_2d(label)
        case = {"case": name, "spacing_mm": [round(float(s), 6) for s in spacing]}
        offset = head_outline_offset_mm(p.shape, spacing, self.outline_offset, self.network_size)
        case.update(score_head_case(p > 0, g > 0, spacing, reference_hc_mm, offset))
        self.cases.append(case)
        self._pictures[name] = (image, p, g, spacing, offset)
        return case

    def collect(self, engine) -> None:

        for _, item in evaluator_items(engine, (self.pred_key, self.label_key), "HeadEvaluationReport"):
            pred, label = item[self.pred_key], item[self.label_key]
            meta = getattr(pred, "meta", None) or getattr(item.get(self.image_key), "meta", None) or {}
            source = meta.get("filename_or_obj", f"case_{len(self.cases)}")
            source = source[0] if isinstance(source, (list, tuple)) else source
            name = case_name(source)
            affine = to_numpy(pred.affine) if hasattr(pred, "affine") else np.eye(4)
            spacing = np.linalg.norm(affine[:2, :2], axis=0)
            ref = item.get(self.reference_key)
            ref = None if ref is None else float(to_numpy(ref).reshape(-1)[0])
            try:
                self.add_case(name, item.get(self.image_key, pred), pred, label, spacing, ref)
            except Exception as e:  # noqa: BLE001 - reported, the evaluation goes on
                logger.error(f"HeadEvaluationReport: case {name} failed: {type(e).__name__}: {e}")
                self.failed.append({"case": name, "file": str(source), "error": f"{type(e).__name__}: {e}"})

    def write(self, engine=None) -> dict:
        import csv
        import io

        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.summary = summarize_head_cases(self.cases)
        self.summary["outline_offset"] = {"pixels": self.outline_offset, "network_size": self.network_size}
        failed = [
            {"case": c.get("case"), "file": c.get("file"), "error": c.get("error")}
            for c in [*self.failed_before, *self.failed]
        ]
        self.summary["failed_cases"] = failed
        keys = ["case", "dice", "hd_mm", "hd95_mm", "hc_mm", "reference_hc_mm", "hc_diff_mm", "hc_abs_diff_mm"]
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow([*keys[:1], "status", *keys[1:], "error"])
        for c in self.cases:
            values = ["" if c.get(k) is None else (round(c[k], 4) if isinstance(c[k], float) else c[k]) for k in keys]
            writer.writerow([values[0], "ok", *values[1:], ""])
        for c in failed:
            writer.writerow([c["case"], "failed", *[""] * (len(keys) - 1), c["error"]])
        text = buf.getvalue()
        atomic_write(self.output_dir / "head_metrics_per_case.csv", lambda p: p.write_text(text), overwrite=True)
        ranked = sorted(self.cases, key=lambda c: c["dice"])
        overlays = {}
        n = min(self.num_overlays, len(ranked) // 2 if len(ranked) > 1 else len(ranked))
        for tag, chosen in (("worst", ranked[:n]), ("best", ranked[::-1][:n])):
            for k, c in enumerate(chosen, start=1):
                path = self.output_dir / f"overlay_{tag}_{k}_{c['case']}.png"
                image, p, g, spacing, offset = self._pictures[c["case"]]
                save_head_overlay(image, p, path, label=g, spacing=spacing, outline_offset_mm=offset)
                overlays.setdefault(tag, []).append({"case": c["case"], "dice": c["dice"], "path": str(path)})
        self.summary["overlays"] = overlays
        write_json(self.output_dir / "head_metrics_summary.json", {"summary": self.summary, "cases": self.cases},
                   overwrite=True)  # fmt: skip
        return self.summary
