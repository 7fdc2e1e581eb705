"""Workflow pieces of the fetal-head (HC18) bundle: its datalist, pixel spacing of PNG frames, measurements.

Example:
    In ``train.json``: ``"datalist_file": "$cranialseg.workflows.fetal_head.require_hc18_datalist(@data_dir)"``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from cranialseg.workflows.datalist import DATALIST_NAMES, find_datalist

logger = logging.getLogger(__name__)

__all__ = [
    "HeadEvaluationReport",
    "require_hc18_datalist",
    "save_head_overlay",
    "score_head_case",
    "summarize_head_cases",
]


def require_hc18_datalist(data_dir: str | Path) -> str:
    """The datalist in ``data_dir`` (or ``data_dir`` itself when it is a JSON file); a clear error otherwise.

    HC18 is not generated: it is prepared from the challenge folder with ``scripts/prepare_hc18.py``.

    Raises:
        FileNotFoundError: naming the folder and the preparation command.
    """
    found = find_datalist(data_dir)
    if found is None:
        raise FileNotFoundError(
            f"no datalist ({' / '.join(DATALIST_NAMES)}) in data_dir '{data_dir}': prepare HC18 first, e.g. "
            f"python scripts/prepare_hc18.py --src ../shared/data/hc18_fetal_head_us --dst {data_dir} "
            "(add --max-size 384 for a small copy), or pass --data_dir / --datalist_file"
        )
    return str(found)


def _stats(values: list) -> dict:
    import numpy as np

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


def score_head_case(pred, label, spacing, reference_hc_mm: float | None = None) -> dict:
    """Dice, Hausdorff distance and HD95 (mm) and the head-circumference difference (mm) of one 2D head mask.

    Dice is MONAI's :func:`monai.metrics.compute_dice` (``ignore_empty=False``: 1.0 when both masks are empty), HD
    and HD95 :func:`monai.metrics.compute_hausdorff_distance` with ``spacing`` (edge pixels of the masks; HD95 the
    larger of the two directed 95th percentiles).

    Args:
        pred: predicted 2D mask (non-zero = head), on the same grid as ``label``.
        label: reference 2D mask.
        spacing: pixel size per axis in mm.
        reference_hc_mm: reference head circumference (HC18's CSV); None: the ellipse fitted to ``label``.

    Returns:
        ``{"dice", "hd_mm", "hd95_mm", "hc_mm", "reference_hc_mm", "hc_abs_diff_mm", "hc_diff_mm"}``; distances
        and HC are ``None`` when the prediction has no head.
    """
    import math

    import numpy as np
    import torch
    from monai.metrics import compute_dice, compute_hausdorff_distance

    from cranialseg.workflows.ellipse import fit_head_ellipse

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
    fit = fit_head_ellipse(p, spacing)
    if reference_hc_mm is None or (isinstance(reference_hc_mm, float) and math.isnan(reference_hc_mm)):
        ref = fit_head_ellipse(g, spacing)
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


def _spatial_2d(x) -> np.ndarray:
    """A 2D label map from a one-hot ``(C, X, Y)``, a label map ``(1, X, Y)`` or ``(X, Y)`` (trailing 1 dropped)."""
    import numpy as np

    from cranialseg.workflows.outputs import to_numpy

    arr = to_numpy(x)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3:
        arr = arr.argmax(0) if arr.shape[0] > 1 else arr[0]
    return np.rint(arr).astype(np.int64)


class HeadEvaluationReport:
    """Per-image Dice, HD, HD95 (mm) and head-circumference differences (mm), summarised, with best/worst overlays.

    Attach to a ``SupervisedEvaluator`` whose post-processing gives ``pred`` and ``label`` (one-hot or label maps)
    on the grid to score (the original grid after ``Invertd``); spacing comes from the ``pred`` affine. The
    reference head circumference is the item's ``hc_mm`` (HC18's CSV, written into the datalist by
    ``scripts/prepare_hc18.py``), else the ellipse fitted to the label. Writes ``head_metrics_per_case.csv``,
    ``head_metrics_summary.json`` (mean, sd, median of each metric) and ``overlay_best_<k>_<case>.png`` /
    ``overlay_worst_<k>_<case>.png`` (by Dice; predicted outline in colour, reference in white, fitted ellipse).

    Failed cases are listed, not averaged: those screened out before the evaluation (``failed_cases``, e.g.
    ``$@case_screen.failures`` of :class:`cranialseg.workflows.ScreenCases`) and those whose scoring fails here
    (the evaluation goes on), in the summary's ``failed_cases`` and as ``status`` ``failed`` rows of the CSV.

    Args:
        output_dir: output folder (created).
        num_overlays: how many best and how many worst cases get an overlay.
        failed_cases: cases that failed before the evaluation (dicts with ``case``, ``file``, ``error``); a list
            object filled later is read when the report is written.
        image_key / pred_key / label_key / reference_key: item keys.

    Example:
        ``{"_target_": "cranialseg.workflows.fetal_head.HeadEvaluationReport", "output_dir": "@output_dir"}``
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
    ) -> None:
        self.output_dir = Path(output_dir)
        self.num_overlays = int(num_overlays)
        self.image_key, self.pred_key, self.label_key, self.reference_key = (
            image_key,
            pred_key,
            label_key,
            reference_key,
        )
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
        case.update(score_head_case(p > 0, g > 0, spacing, reference_hc_mm))
        self.cases.append(case)
        self._pictures[name] = (image, p, g, spacing)
        return case

    def collect(self, engine) -> None:
        import numpy as np

        from cranialseg.workflows.evaluation import evaluator_items
        from cranialseg.workflows.outputs import to_numpy
        from cranialseg.workflows.screening import case_name

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

        from cranialseg.workflows.outputs import atomic_write, write_json

        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.summary = summarize_head_cases(self.cases)
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
                image, p, g, spacing = self._pictures[c["case"]]
                save_head_overlay(image, p, path, label=g, spacing=spacing)
                overlays.setdefault(tag, []).append({"case": c["case"], "dice": c["dice"], "path": str(path)})
        self.summary["overlays"] = overlays
        write_json(self.output_dir / "head_metrics_summary.json", {"summary": self.summary, "cases": self.cases},
                   overwrite=True)  # fmt: skip
        return self.summary


def save_head_overlay(image, pred, path, *, label=None, spacing=(1.0, 1.0), ellipse: dict | None = None):
    """Overlay PNG (atomic): predicted outline in colour, reference in white, the fitted ellipse in magenta.

    ``ellipse`` (mm, as :func:`cranialseg.workflows.ellipse.fit_head_ellipse` returns) is fitted to ``pred`` when
    not given; nothing is drawn for it when no head is found.
    """
    import numpy as np
    from PIL import Image, ImageDraw

    from cranialseg.workflows.ellipse import fit_head_ellipse
    from cranialseg.workflows.outputs import atomic_write, overlay_picture

    p = _spatial_2d(pred)
    picture = overlay_picture(image, p[None], None if label is None else _spatial_2d(label)[None], min_size=512)
    factor = picture.shape[0] // max(1, p.shape[1])
    if ellipse is None:
        ellipse = fit_head_ellipse(p > 0, spacing)
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
