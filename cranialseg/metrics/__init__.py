"""Metrics MONAI lacks: per-case evaluation summaries, volumes (mL), head ellipse and circumference errors."""

from cranialseg.metrics.ellipse import ELLIPSE_KEYS, fit_head_ellipse, ramanujan_circumference
from cranialseg.metrics.evaluation import as_label_map, case_metrics, detection_rates, roc_auc, summarize_cases
from cranialseg.metrics.fetal_head import head_measurements, score_head_case, summarize_head_cases
from cranialseg.metrics.volumes import class_volumes

__all__ = [
    "as_label_map",
    "case_metrics",
    "detection_rates",
    "roc_auc",
    "summarize_cases",
    "class_volumes",
    "ELLIPSE_KEYS",
    "fit_head_ellipse",
    "ramanujan_circumference",
    "score_head_case",
    "summarize_head_cases",
    "head_measurements",
]
