"""Goal 1 of issue 17: the shipped CT weights do not invent haemorrhage on a real normal head CT.

The real series is ``../shared/data/head_ct_dicom_ge_tilt`` (GE HiSpeed, 28 slices with an 18.5 degree gantry tilt,
a head without haemorrhage; held out of every training set). It goes through the bundle's own ``inference.json``
on the DICOM folder, as a user would run it. Before the lesion-aware post-processing the shipped weights reported
132 mL of haemorrhage on it (EDH 30.3, SDH 97.0, IPH 4.7, IVH 0.3 mL); with it, 0.0 mL (at the 2.4 mm grid those
weights were trained on). The weights retrained at the 1 mm recipe on mimic phantoms reported about 30 mL there
(a rim along the inner table); fine-tuned on phantoms with skull blooming, 17.7 mL, 14.5 mL of it at the vertex
where the series' 7.4 mm slice gap is interpolated. The 0.4.0 weights (the efficient preset trained from scratch on
phantoms with thick slices and vertex gaps, 2 CPU cores) report 0.30 mL (IPH 0.17, IVH 0.14) and 56.3 mL of
ventricles.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.bundle.helpers import CT_BUNDLE, run_workflow

#: the goal: total predicted haemorrhage on the real normal scan, mL
MAX_HAEMORRHAGE_ML = 2.0
LESIONS = ("EDH", "SDH", "IPH", "IVH")


@pytest.fixture(scope="module")
def real_normal_volumes(shared_data, tmp_path_factory):
    """Per-class volumes of the bundle's inference on the real normal GE series (DICOM folder)."""
    if not (CT_BUNDLE / "models" / "model.pt").is_file():
        pytest.skip("no shipped CT weights")
    series = shared_data / "head_ct_dicom_ge_tilt"
    if not series.is_dir():
        pytest.skip(f"{series} not found")
    tmp = tmp_path_factory.mktemp("real_normal_ct")
    inputs = tmp / "in" / "ge_tilt"
    inputs.mkdir(parents=True)
    for f in sorted(series.glob("*.dcm")):  # the DICOM files only (the folder also holds the licence)
        shutil.copy(f, inputs / f.name)
    out = tmp / "out"
    run_workflow(CT_BUNDLE, ["inference.json"], input_dir=str(tmp / "in"), output_dir=str(out), write_dicom_seg=False)
    summary = json.loads((out / "run_summary.json").read_text())
    if summary["failures"] or len(summary["cases"]) != 1:  # a pipeline error, reported as such (not as a missed goal)
        raise RuntimeError(f"inference on {series} failed: {summary['failures']}")
    (case,) = summary["cases"]
    return case


@pytest.mark.shared  # not slow: about 30 s on 2 CPU cores, so CI checks the goal on every run
def test_real_normal_head_ct_has_no_haemorrhage(real_normal_volumes):
    volumes = {name: real_normal_volumes["volumes"][name]["volume_ml"] for name in LESIONS}
    assert sum(volumes.values()) < MAX_HAEMORRHAGE_ML, volumes
    # the ventricles are untouched by the post-processing and plausible for an adult head (15-60 mL)
    assert 15.0 < real_normal_volumes["volumes"]["ventricles"]["volume_ml"] < 60.0
