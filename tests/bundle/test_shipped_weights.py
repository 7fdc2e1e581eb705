"""The shipped models/model.pt of each bundle on unseen demo phantoms (seed 1000, never used in training)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from cranialseg.demo import ensure_demo_data
from tests.bundle.helpers import CT_BUNDLE, US_BUNDLE, all_items, dice, run_workflow

#: stated in each bundle's docs/README.md (performance section); measured values are above these
US_MIN_VENTRICLE_DICE = 0.80
CT_MIN_VENTRICLE_DICE = 0.70
#: the CT weights are of the 1 mm mimic-phantom recipe (GPU retrain, CPU fine-tunes); the US weights of the frame-scale
#: recipe (short side 256 px), 0.985 on 24 of these phantoms


def _predict(bundle, items, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for item in items:
        shutil.copy(item["image"], inputs / Path(item["image"]).name)
    run_workflow(bundle, ["inference.json"], input_dir=str(inputs), output_dir=str(tmp_path / "out"))
    for item in items:
        name = Path(item["image"]).name[: -len(".nii.gz")]
        pred = np.asarray(nib.load(tmp_path / "out" / f"{name}_seg.nii.gz").dataobj)
        truth = np.asarray(nib.load(item["label"]).dataobj)
        assert pred.shape == truth.shape
        yield pred, truth


@pytest.mark.skipif(not (US_BUNDLE / "models" / "model.pt").is_file(), reason="no shipped US weights")
def test_us_weights_reach_stated_dice(tmp_path):
    items = all_items(ensure_demo_data(tmp_path / "data", "us", num_cases=4, seed=1000))
    scores = [dice(pred, truth, 1) for pred, truth in _predict(US_BUNDLE, items, tmp_path)]
    assert np.mean(scores) >= US_MIN_VENTRICLE_DICE, scores


@pytest.mark.skipif(not (CT_BUNDLE / "models" / "model.pt").is_file(), reason="no shipped CT weights")
def test_ct_weights_reach_stated_dice(tmp_path):
    data = ensure_demo_data(tmp_path / "data", "ct", num_cases=2, seed=1000, write_dicom=False)
    scores = [dice(pred, truth, 1) for pred, truth in _predict(CT_BUNDLE, all_items(data), tmp_path)]
    assert np.mean(scores) >= CT_MIN_VENTRICLE_DICE, scores
    summary = json.loads((tmp_path / "out" / "run_summary.json").read_text())
    for case in summary["cases"]:  # the head is not informative (issue 17): not reported unless asked for
        assert "image_level" not in case
