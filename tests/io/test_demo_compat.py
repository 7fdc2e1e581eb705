"""The demo generator's DICOM series (written with pydicom by cranialseg.demo) read back like its NIfTI twin."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cranialseg.io import check_same_grid, discover_cases, load_image


def test_demo_dicom_series_matches_demo_nifti(tmp_path):
    demo = pytest.importorskip("cranialseg.demo")
    if not hasattr(demo, "ensure_demo_data"):
        pytest.skip("cranialseg.demo.ensure_demo_data not available yet")
    datalist = Path(demo.ensure_demo_data(tmp_path, task="ct", num_cases=2, seed=0, shape=(48, 40, 12)))
    splits = json.loads(datalist.read_text()).values()
    items = [i for split in splits if isinstance(split, list) for i in split if isinstance(i, dict)]
    dicom_root = datalist.parent / "dicom"
    if not dicom_root.is_dir():
        pytest.skip("the demo data has no dicom/ folder")
    cases, problems = discover_cases(dicom_root)
    assert problems == [] and cases
    compared = 0
    for case in cases:
        array, meta = load_image(case.image, on_irregular="error")
        stem = case.files[0].split("/dicom/")[1].split("/")[0]
        nifti = [i for i in items if stem in i["image"]]
        if not nifti:
            continue
        ref, ref_meta = load_image(datalist.parent / nifti[0]["image"])
        check_same_grid((ref.shape, ref_meta["affine"]), (array.shape, meta["affine"]), atol_mm=1e-2)
        assert np.abs(array - ref).max() <= 1.0  # DICOM stores whole HU
        assert meta["modality"] == "CT" and len(meta["source_files"]) == array.shape[2]
        compared += 1
    assert compared == len(cases)
