"""Embedded demo data: synthetic head CT and cranial ultrasound phantoms, and the HC18 preparation.

``ensure_demo_data(root, task="ct"|"us", num_cases=..., seed=0, **kw) -> Path`` writes a decathlon-format
datalist and the cases it lists when they are not there yet; bundles call it when their data folder is empty.
"""

from .baseline import ct_threshold_dice, threshold_baseline, us_threshold_dice
from .ct_phantom import CT_LABELS, CTPhantom, generate_ct_phantom, phantom_affine
from .dicom_writer import lps_affine_from_ras, write_ct_series
from .generate import DEFAULT_NUM_CASES, demo_datalist, ensure_demo_data, split_cases
from .hc18 import prepare_hc18, ramanujan_circumference
from .realism import BAND_EDGES_MM, skull_band_profile
from .us_phantom import US_LABELS, USPhantom, generate_us_phantom

__all__ = [
    "BAND_EDGES_MM",
    "CT_LABELS",
    "CTPhantom",
    "DEFAULT_NUM_CASES",
    "US_LABELS",
    "USPhantom",
    "ct_threshold_dice",
    "demo_datalist",
    "ensure_demo_data",
    "generate_ct_phantom",
    "generate_us_phantom",
    "lps_affine_from_ras",
    "phantom_affine",
    "prepare_hc18",
    "ramanujan_circumference",
    "skull_band_profile",
    "split_cases",
    "threshold_baseline",
    "us_threshold_dice",
    "write_ct_series",
]
