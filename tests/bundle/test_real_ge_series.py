"""Issue 12, point 4: the real anonymised GE head-CT series (gantry tilt, uneven gaps, Type 2 attributes missing)
gets its label map and a DICOM SEG that dciodvfy accepts and that reads back to the label map.

Skips without ../shared (a user's clone has no shared data).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.bundle.helpers import CT_BUNDLE, REPO_ROOT, TINY_CT_OVERRIDES, run_workflow, save_tiny_checkpoint

GE_SERIES = REPO_ROOT.parent / "shared" / "data" / "head_ct_dicom_ge_tilt"
hd = pytest.importorskip("highdicom")


@pytest.mark.slow
@pytest.mark.skipif(not GE_SERIES.is_dir(), reason="../shared/data/head_ct_dicom_ge_tilt not available")
def test_ge_tilted_series_gets_label_map_and_valid_seg(tmp_path):
    import pydicom

    from cranialseg.io import LoadCranialImage
    from cranialseg.io.dicom_seg import sample_label_on_series

    assert "PatientBirthDate" not in pydicom.dcmread(sorted(GE_SERIES.glob("*.dcm"))[0], stop_before_pixels=True)
    root = tmp_path / "root"
    save_tiny_checkpoint(CT_BUNDLE, root, TINY_CT_OVERRIDES)
    out = tmp_path / "out"
    run_workflow(
        CT_BUNDLE, ["inference.json"], bundle_root=str(root), input_dir=str(GE_SERIES), output_dir=str(out),
        **TINY_CT_OVERRIDES,
    )  # fmt: skip
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["num_failed"] == 0 and summary["num_succeeded"] == 1, summary["failures"]
    outputs = summary["cases"][0]["outputs"]
    assert set(outputs) == {"nifti", "dicom_seg", "volumes", "overlay"}

    image = LoadCranialImage(ensure_channel_first=True)(str(GE_SERIES))
    seg_nifti = nib.load(outputs["nifti"])
    assert seg_nifti.shape == tuple(image.shape[1:])  # the reader's regular grid (tilt resampled)
    np.testing.assert_allclose(seg_nifti.affine, np.asarray(image.affine), atol=1e-4)

    files = image.meta["source_files"]
    assert len(files) == 28
    datasets = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    seg = hd.seg.segread(outputs["dicom_seg"])
    uids = [ds.SOPInstanceUID for ds in datasets]
    referenced = [r.ReferencedSOPInstanceUID for r in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence]
    assert set(referenced) == set(uids)
    back = seg.get_pixels_by_source_instance(uids, combine_segments=True, relabel=False)
    expected = sample_label_on_series(np.asarray(seg_nifti.dataobj), seg_nifti.affine, datasets)
    np.testing.assert_array_equal(back, expected)

    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian dicom3tools) not installed")
    result = subprocess.run(["dciodvfy", str(outputs["dicom_seg"])], capture_output=True, text=True, timeout=120)
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]
    assert errors == [], errors


def test_missing_type2_attributes_are_filled_without_touching_the_source(tmp_path):
    """Headers given to highdicom get empty Type 2 values; the cached header (and the file) stay as they are."""
    import pydicom

    from cranialseg.io.dicom_files import read_dicom_header
    from tests.io.builders import write_ct_series

    info = write_ct_series(tmp_path / "s", num_slices=2, rows=8, cols=8)
    for f in info["files"]:
        ds = pydicom.dcmread(f)
        del ds.PatientBirthDate
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = ""
        ds.save_as(f, enforce_file_format=True)
    from cranialseg.io.dicom_seg import source_headers

    headers = source_headers(info["files"])
    assert all("PatientBirthDate" in h and not h.PatientBirthDate and h.DeidentificationMethod for h in headers)
    assert "PatientBirthDate" not in read_dicom_header(info["files"][0])
    assert not read_dicom_header(info["files"][0]).DeidentificationMethod
    assert "PixelData" not in headers[0] and Path(info["files"][0]).stat().st_size > 0
