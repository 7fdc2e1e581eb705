"""Trivial intensity-threshold baselines on the demo phantoms: what a network must beat.

CT (HU thresholds inside the intracranial mask of :func:`cranialseg.transforms.intracranial_mask`):
ventricles = -10 <= HU < 15 (CSF); haemorrhage = 50 <= HU <= 90, compared with the union of the haemorrhage
labels and with every haemorrhage class (a threshold cannot tell EDH, SDH, IPH and IVH apart). Ultrasound
(after a Gaussian blur of 1 pixel, inside the sector): ventricles = grey < 30 (anechoic); IVH clot = grey > 150
(echogenic).

Measured with :func:`threshold_baseline` on 16 cases, seed 0, default settings (mean Dice over the cases that
contain the class):

====  ==========  ===============  =====  =====  =====  =====
task  ventricles  any haemorrhage  EDH    SDH    IPH    IVH
====  ==========  ===============  =====  =====  =====  =====
CT    0.20        0.33             0.20   0.46   0.21   0.06
US    0.37        --               --     --     --     0.04
====  ==========  ===============  =====  =====  =====  =====

``tests/demo/test_baseline.py`` re-measures them on fewer cases and fails if any reaches 0.6 (0.7 for US
ventricles). What defeats the thresholds: CT noise (2.5-5.5 HU), thick-slice partial volume at the inner table,
beam hardening next to bone, sulcal / extra-axial CSF and orbital structures in the CSF range, oedema around
IPH, falx and choroid/pineal calcifications, nearly isodense subacute SDH (40-55 HU); in ultrasound speckle,
acoustic shadowing, dark extra-cerebral spaces and the echogenic ventricle walls and choroid plexus.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage

from cranialseg.transforms.ct import intracranial_mask
from cranialseg.transforms.ultrasound import estimate_sector_mask

from .ct_phantom import CT_LABELS, generate_ct_phantom
from .us_phantom import US_LABELS, generate_us_phantom

__all__ = ["dice", "ct_threshold_dice", "us_threshold_dice", "threshold_baseline"]


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two boolean masks; NaN when both are empty."""
    denom = int(pred.sum()) + int(truth.sum())
    return float("nan") if denom == 0 else 2.0 * float((pred & truth).sum()) / denom


def ct_threshold_dice(hu: np.ndarray, label: np.ndarray) -> dict[str, float]:
    """Dice of the HU-threshold baseline per class of one CT case (NaN for classes absent from ``label``)."""
    brain = intracranial_mask(np.asarray(hu, dtype=np.float32))
    vent = brain & (hu >= -10) & (hu < 15)
    bleed = brain & (hu >= 50) & (hu <= 90)
    out = {"ventricles": dice(vent, label == CT_LABELS["ventricles"])}
    out["haemorrhage"] = dice(bleed, label >= 2) if (label >= 2).any() else float("nan")
    for name in ("EDH", "SDH", "IPH", "IVH"):
        truth = label == CT_LABELS[name]
        out[name] = dice(bleed, truth) if truth.any() else float("nan")
    return out


def us_threshold_dice(image: np.ndarray, label: np.ndarray, sector: np.ndarray | None = None) -> dict[str, float]:
    """Dice of the grey-threshold baseline of one ultrasound image (NaN for classes absent from ``label``)."""
    img = ndimage.gaussian_filter(np.asarray(image, dtype=np.float32), 1.0)
    sector = estimate_sector_mask(image) if sector is None else sector
    out = {"ventricles": dice(sector & (img < 30), label == US_LABELS["ventricles"])}
    truth = label == US_LABELS["IVH"]
    out["IVH"] = dice(sector & (img > 150), truth) if truth.any() else float("nan")
    return out


def threshold_baseline(task: str = "ct", num_cases: int = 16, seed: int = 0, **kw: Any) -> dict[str, float]:
    """Mean threshold-baseline Dice per class over ``num_cases`` phantoms (drawn as ``ensure_demo_data`` does)."""
    scores: dict[str, list[float]] = {}
    for i in range(num_cases):
        rng = np.random.default_rng([seed, i])
        if task == "ct":
            ph = generate_ct_phantom(rng, **kw)
            case = ct_threshold_dice(ph.hu, ph.label)
        elif task == "us":
            us = generate_us_phantom(rng, **kw)
            case = us_threshold_dice(us.image, us.label, us.sector)
        else:
            raise ValueError(f"task must be 'ct' or 'us', got {task!r}")
        for k, v in case.items():
            scores.setdefault(k, [])
            if not math.isnan(v):
                scores[k].append(v)
    return {k: float(np.mean(v)) if v else float("nan") for k, v in scores.items()}
