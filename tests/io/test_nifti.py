"""NIfTI loading, image/label grid checks and label value checks."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from cranialseg.io import InputError, check_label_values, check_same_grid, load_image
from cranialseg.io.nifti import load_nifti

AFFINE = np.array([[-0.5, 0, 0, 90.0], [0, 0.5, 0, -120.0], [0, 0, 2.0, -60.0], [0, 0, 0, 1]])


def save(path, array, affine=AFFINE):
    nib.save(nib.Nifti1Image(array, affine), str(path))
    return path


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_load_nifti_values_and_affine(tmp_path, suffix):
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    array, meta = load_image(save(tmp_path / f"img{suffix}", data))
    np.testing.assert_array_equal(array, data.astype(np.float32))
    np.testing.assert_allclose(meta["affine"], AFFINE)
    assert meta["spatial_dims"] == 3 and meta["kind"] == "nifti"


def test_same_grid_passes_and_names_the_difference(tmp_path):
    img = save(tmp_path / "img.nii.gz", np.zeros((4, 5, 6), np.float32))
    check_same_grid(img, save(tmp_path / "ok.nii.gz", np.zeros((4, 5, 6), np.uint8)))
    with pytest.raises(InputError) as err:
        check_same_grid(img, save(tmp_path / "shape.nii.gz", np.zeros((4, 5, 7), np.uint8)))
    assert err.value.path == str(tmp_path / "shape.nii.gz")
    assert "shape (4, 5, 7) differs from image" in err.value.problem and "(4, 5, 6)" in err.value.problem
    assert str(img) in err.value.problem
    shifted = AFFINE.copy()
    shifted[0, 3] += 1.5
    with pytest.raises(InputError) as err:
        check_same_grid(img, save(tmp_path / "moved.nii.gz", np.zeros((4, 5, 6), np.uint8), shifted))
    assert "origin [91.5, -120.0, -60.0] vs [90.0, -120.0, -60.0]" in err.value.problem
    assert "spacing" not in err.value.problem.split("(")[1].split(")")[0]
    scaled = AFFINE @ np.diag([1, 1, 1.5, 1])
    with pytest.raises(InputError, match=r"spacing \[0.5, 0.5, 3.0\] vs \[0.5, 0.5, 2.0\]"):
        check_same_grid(img, save(tmp_path / "thick.nii.gz", np.zeros((4, 5, 6), np.uint8), scaled))
    check_same_grid(img, ((4, 5, 6), AFFINE + 1e-4))  # within tolerance


def test_same_grid_with_metatensors(tmp_path):
    from monai.transforms import LoadImage

    from cranialseg.io import CranialImageReader

    load = LoadImage(reader=CranialImageReader(), ensure_channel_first=True, image_only=True)
    img = load(str(save(tmp_path / "i.nii.gz", np.zeros((4, 5, 6), np.float32))))
    lab = load(str(save(tmp_path / "l.nii.gz", np.zeros((4, 5, 6), np.uint8), AFFINE @ np.diag([-1, 1, 1, 1]))))
    with pytest.raises(InputError, match="orientation") as err:
        check_same_grid(img, lab)
    assert err.value.path.endswith("l.nii.gz")


def test_label_values():
    check_label_values(np.array([0, 1, 2, 5, 5]), range(6))
    with pytest.raises(InputError) as err:
        check_label_values(np.array([0.0, 3.0, 7.0, 255.0]), range(6), path="lab.nii.gz")
    assert err.value.path == "lab.nii.gz" and err.value.problem == "label has unexpected values [7, 255]"
    with pytest.raises(InputError, match="non-integer values"):
        check_label_values(np.array([0.0, 0.5]), range(3), path="soft.nii.gz")


def test_declared_size_refused_before_reading(tmp_path):
    """A few-byte NIfTI declaring 2048 x 2048 x 300 voxels is refused from its header (not a 3 GB allocation)."""
    import gzip

    header = nib.Nifti1Header()
    header.set_data_shape((2048, 2048, 300))
    header.set_data_dtype(np.int16)
    path = tmp_path / "huge.nii.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(header.binaryblock + b"\0" * 4)
    assert path.stat().st_size < 200
    with pytest.raises(InputError, match="cannot hold them"):
        load_nifti(path)
    with pytest.raises(InputError, match="exceeds max_voxels=1000000"):
        load_nifti(path, max_voxels=10**6)
