"""Unit tests of the MONAI Label workarounds that need only MONAI (they run in the main venv)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, Spacingd

from cranialseg.transforms.dims import SqueezeChanneld
from cranialseg.transforms.meta import DEFAULT_STASH_KEY, RestoreItemsd, StashItemsd


def _nifti_image() -> MetaTensor:
    img = MetaTensor(torch.arange(4 * 4 * 3, dtype=torch.float32).reshape(1, 4, 4, 3))
    img.meta["filename_or_obj"] = "case.nii.gz"
    img.affine = torch.diag(torch.tensor([2.0, 2.0, 2.0, 1.0], dtype=torch.float64))
    return img


def test_spacingd_fails_on_monai_label_image_path_without_the_stash():
    """The MONAI 1.6 behaviour the stash works around (fails when MONAI fixes it: then drop the workaround)."""
    data = {"image": _nifti_image(), "image_path": "case.nii.gz"}
    with pytest.raises(Exception, match="'str' object has no attribute 'update'"):
        Spacingd(keys="image", pixdim=(1.0, 1.0, 1.0))(data)


def test_stash_spacing_restore_round_trip():
    data = {"image": _nifti_image(), "image_path": "case.nii.gz", "image_meta_dict": {"a": 1}, "model": "m"}
    out = Compose([StashItemsd(keys="image"), Spacingd(keys="image", pixdim=(1.0, 1.0, 1.0)), RestoreItemsd()])(data)
    assert out["image_path"] == "case.nii.gz"
    assert DEFAULT_STASH_KEY not in out
    assert out["image"].shape == (1, 7, 7, 5)  # (n - 1) * 2 + 1 samples at 1 mm
    np.testing.assert_allclose(out["image"].affine.numpy()[:3, :3], np.eye(3))
    assert out["image_meta_dict"]["a"] == 1 and out["model"] == "m"


def test_restore_keeps_newer_item_when_asked():
    d = RestoreItemsd(overwrite=False)({"image_path": "new", DEFAULT_STASH_KEY: {"image_path": "old"}})
    assert d == {"image_path": "new"}


@pytest.mark.parametrize(
    "shape, spatial_dims, expected",
    [
        ((1, 5, 4), 2, (5, 4)),
        ((5, 4), 2, (5, 4)),
        ((3, 5, 4), 2, (3, 5, 4)),
        ((1, 5, 4, 3), 3, (5, 4, 3)),
        ((1, 5, 4), 3, (1, 5, 4)),
    ],
)
def test_squeeze_channel(shape, spatial_dims, expected):
    arr = np.arange(int(np.prod(shape))).reshape(shape)
    out = SqueezeChanneld(keys="pred", spatial_dims=spatial_dims)({"pred": arr})["pred"]
    assert out.shape == expected
    np.testing.assert_array_equal(out.reshape(-1), arr.reshape(-1))


@pytest.mark.parametrize("bad", [1, 4, "2"])
def test_squeeze_channel_rejects_bad_spatial_dims(bad):
    with pytest.raises(ValueError, match="spatial_dims must be 2 or 3"):
        SqueezeChanneld(keys="pred", spatial_dims=bad)


def test_stash_rejects_empty_stash_key():
    with pytest.raises(ValueError, match="stash_key"):
        StashItemsd(keys="image", stash_key="")
