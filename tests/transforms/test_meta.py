"""StashItemsd keeps MONAI Label's string ``image_path`` away from MONAI 1.6's Spacingd."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from monai.transforms import Compose, LoadImaged, Spacingd

from cranialseg.transforms import RestoreItemsd, StashItemsd


@pytest.fixture()
def nifti_path(tmp_path):
    path = tmp_path / "img.nii.gz"
    nib.save(nib.Nifti1Image(np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6), np.diag([2.0, 2, 3, 1])), path)
    return str(path)


def test_spacingd_crashes_without_stash(nifti_path):
    """The MONAI 1.6.1 behaviour that the bundles must survive (if MONAI fixes it this test tells us)."""
    pipeline = Compose([LoadImaged("image", ensure_channel_first=True), Spacingd("image", pixdim=(4.0, 4.0, 3.0))])
    with pytest.raises(RuntimeError) as info:
        pipeline({"image": nifti_path, "image_path": nifti_path})
    assert "'str' object has no attribute 'update'" in repr(info.value.__cause__)


def test_stash_then_restore(nifti_path):
    pipeline = Compose(
        [
            StashItemsd("image"),
            LoadImaged("image", ensure_channel_first=True),
            Spacingd("image", pixdim=(4.0, 4.0, 3.0)),
            RestoreItemsd("image", overwrite=False),
        ]
    )
    out = pipeline({"image": nifti_path, "image_path": nifti_path, "image_meta_dict": {"a": 1}})
    assert out["image_path"] == nifti_path
    assert tuple(out["image"].shape) == (1, 2, 3, 6)
    assert out["image_meta_dict"]["a"] == 1  # dict items stay in place (and are updated by Spacingd)
    assert "stashed_meta_items" not in out


def test_stash_key_must_not_match_prefix():
    with pytest.raises(ValueError, match="must not start with 'image_'"):
        StashItemsd("image", stash_key="image_stash")
