"""Our DICOM geometry against an independent converter, Chris Rorden's dcm2niix (Debian package)."""

from __future__ import annotations

import shutil
import subprocess

import nibabel as nib
import numpy as np
import pytest

from cranialseg.io import load_image
from tests.io.builders import OBLIQUE, write_ct_series

DCM2NIIX = shutil.which("dcm2niix")
pytestmark = pytest.mark.skipif(DCM2NIIX is None, reason="dcm2niix not installed (see scripts/ci_system_deps.sh)")


def run_dcm2niix(series_dir, out_dir):
    out_dir.mkdir()
    subprocess.run([DCM2NIIX, "-z", "n", "-b", "n", "-f", "ref", "-o", str(out_dir), str(series_dir)], check=True,
                   capture_output=True, timeout=60)  # fmt: skip
    return nib.load(str(out_dir / "ref.nii"))


@pytest.mark.parametrize(
    "orientation,positions",
    [
        ((1, 0, 0, 0, 1, 0), None),
        ((0, 1, 0, 0, 0, -1), None),
        (OBLIQUE, None),
        ((1, 0, 0, 0, 1, 0), np.array([[10.0, -5, 40 - 1.25 * k] for k in range(6)])),
    ],
    ids=["axial", "sagittal", "oblique", "axial-descending"],
)
def test_same_affine_and_voxels_as_dcm2niix(tmp_path, orientation, positions):
    write_ct_series(tmp_path / "s", orientation=orientation, positions=positions, seed=5)
    array, meta = load_image(tmp_path / "s")
    ref = nib.as_closest_canonical(run_dcm2niix(tmp_path / "s", tmp_path / "out"))
    ours = nib.as_closest_canonical(nib.Nifti1Image(array, meta["affine"]))
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours.affine, ref.affine, atol=1e-3)
    np.testing.assert_array_equal(ours.get_fdata(), ref.get_fdata())
