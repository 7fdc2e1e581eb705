"""FilteredCacheDataset: a bundle trains only on images of its own dimension (MONAI Label's mixed datastores)."""

from __future__ import annotations

import logging

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from cranialseg.data.dataset import FilteredCacheDataset, image_spatial_dims, keep_items_of_dims


@pytest.fixture
def mixed(tmp_path):
    png = tmp_path / "frame.png"
    Image.fromarray(np.zeros((6, 5), np.uint8)).save(png)
    vol = tmp_path / "ct.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 3), np.float32), np.eye(4)), str(vol))
    slab = tmp_path / "slab.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 1), np.float32), np.eye(4)), str(slab))
    return {"png": str(png), "ct": str(vol), "slab": str(slab), "dcm": str(tmp_path / "frame.dcm")}


def test_dimensions_from_headers(mixed):
    assert [image_spatial_dims(mixed[k]) for k in ("png", "ct", "slab", "dcm")] == [2, 3, 2, None]


def test_each_bundle_keeps_its_dimension_and_counts_the_rest(mixed, caplog):
    items = [{"image": mixed[k], "label": mixed[k]} for k in ("png", "ct", "slab")]
    kept, skipped = keep_items_of_dims(items, 2)
    assert [d["image"] for d in kept] == [mixed["png"], mixed["slab"]] and skipped == 1
    with caplog.at_level(logging.WARNING):
        ds = FilteredCacheDataset(items, spatial_dims=3, cache_rate=0.0)
    assert len(ds) == 1 and ds.skipped == 2 and ds[0]["image"] == mixed["ct"]
    assert "2 of 3 item(s) skipped (not 3D images" in caplog.text


def test_empty_validation_falls_back_to_training_items_and_empty_training_is_refused(mixed):
    train = [{"image": mixed["png"], "label": mixed["png"]}]
    val = FilteredCacheDataset([], spatial_dims=2, fallback=train, name="validation", cache_rate=0.0)
    assert len(val) == 1 and val[0]["image"] == mixed["png"]
    with pytest.raises(ValueError, match=r"training data: no labelled 3D image among 1 item\(s\) \(1 of another"):
        FilteredCacheDataset(train, spatial_dims=3, cache_rate=0.0)
    with pytest.raises(ValueError, match="spatial_dims must be 2 or 3"):
        FilteredCacheDataset(train, spatial_dims=4)
