"""Workflow pieces of the fetal-head (HC18) bundle: its datalist, pixel spacing of PNG frames, measurements.

Example:
    In ``train.json``: ``"datalist_file": "$cranialseg.workflows.fetal_head.require_hc18_datalist(@data_dir)"``.
"""

from __future__ import annotations

from pathlib import Path

from cranialseg.workflows.datalist import DATALIST_NAMES, find_datalist

__all__ = ["require_hc18_datalist", "score_head_case", "summarize_head_cases"]


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
    from monai.metrics import compute_hausdorff_distance

    from cranialseg.workflows.ellipse import fit_head_ellipse

    p = np.asarray(pred).squeeze() > 0
    g = np.asarray(label).squeeze() > 0
    total = int(p.sum() + g.sum())
    out: dict = {"dice": float(2 * np.logical_and(p, g).sum() / total) if total else 1.0}
    if p.any() and g.any():
        pt, gt = torch.as_tensor(p)[None, None], torch.as_tensor(g)[None, None]
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
