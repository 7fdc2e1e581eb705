"""CranialImageReader inside real MONAI LoadImaged pipelines and bundle configs."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from monai.bundle import ConfigParser
from monai.data import DataLoader, Dataset
from monai.transforms import Compose, EnsureChannelFirstd, LoadImage, LoadImaged, Orientationd
from pydicom.data import get_testdata_file

from cranialseg.io import CranialImageReader, discover_cases
from tests.io.builders import expected_ras_affine, write_ct_series


def test_loadimaged_dicom_folder_with_channel_and_meta(tmp_path):
    info = write_ct_series(tmp_path / "s")
    pipeline = Compose(
        [LoadImaged("image", reader=CranialImageReader()), EnsureChannelFirstd("image"), Orientationd("image", "RAS")]
    )
    out = pipeline({"image": str(tmp_path / "s")})["image"]
    assert tuple(out.shape) == (1, 40, 48, 5)
    np.testing.assert_allclose(out.meta["original_affine"], expected_ras_affine(info), atol=1e-6)
    np.testing.assert_array_equal(out.meta["spatial_shape"], [40, 48, 5])
    assert out.meta["modality"] == "CT" and out.meta["source_series_uid"] == info["series_uid"]
    assert out.meta["source_files"] == info["files"] and out.meta["geometry_fixes"] == ""
    # axial input is LPS-like (x flipped in RAS): Orientationd flips x and y, data must follow
    np.testing.assert_array_equal(out[0].numpy(), info["hu"][::-1, ::-1, :])


def test_reader_by_target_in_bundle_config_and_by_dotted_name(tmp_path):
    write_ct_series(tmp_path / "s", num_slices=3)
    config = {
        "load": {
            "_target_": "LoadImaged",
            "keys": "image",
            "ensure_channel_first": True,
            "reader": {"_target_": "cranialseg.io.CranialImageReader", "on_irregular": "error", "spatial_dims": 3},
        }
    }
    load = ConfigParser(config).get_parsed_content("load")
    out = load({"image": str(tmp_path / "s")})["image"]
    assert tuple(out.shape) == (1, 40, 48, 3) and out.meta["modality"] == "CT"
    by_name = LoadImage(reader="cranialseg.io.CranialImageReader", image_only=True)
    assert tuple(by_name(str(tmp_path / "s")).shape) == (40, 48, 3)


def test_us_cine_png_and_nifti_through_dataloader(tmp_path):
    nib.save(nib.Nifti1Image(np.ones((6, 7, 8), np.float32), np.eye(4)), str(tmp_path / "v.nii.gz"))
    loader = Compose([LoadImaged("image", reader=CranialImageReader()), EnsureChannelFirstd("image")])
    cine = loader({"image": get_testdata_file("examples_ybr_color.dcm")})["image"]
    assert tuple(cine.shape) == (1, 320, 240, 30) and cine.meta["num_frames"] == 30
    us = loader({"image": get_testdata_file("US1_UNCR.dcm")})["image"]
    assert tuple(us.shape) == (1, 640, 480) and us.meta["modality"] == "US"
    vol = loader({"image": str(tmp_path / "v.nii.gz")})["image"]
    assert tuple(vol.shape) == (1, 6, 7, 8)
    # two 2D frames of different kinds batch together: the meta values are collatable
    items = [{"image": get_testdata_file("US1_UNCR.dcm")}, {"image": get_testdata_file("US1_UNCR.dcm")}]
    batch = next(iter(DataLoader(Dataset(items, loader), batch_size=2)))
    assert tuple(batch["image"].shape) == (2, 1, 640, 480)


def test_discovered_series_case_loads_through_loadimaged(tmp_path):
    a = write_ct_series(tmp_path / "in" / "mix", prefix="A", series_number=1, num_slices=3)
    b = write_ct_series(tmp_path / "in" / "mix", prefix="B", series_number=2, num_slices=4, seed=4)
    cases, problems = discover_cases(tmp_path / "in")
    assert problems == [] and [c.case_id for c in cases] == ["mix_series1", "mix_series2"]
    load = LoadImaged("image", reader=CranialImageReader(), image_only=True)
    for case, info in zip(cases, (a, b)):
        img = load({"image": case.image})["image"]
        np.testing.assert_array_equal(img.numpy(), info["hu"])
        assert img.meta["source_files"] == info["files"]


def test_bad_reader_settings():
    with pytest.raises(ValueError, match="resample"):
        CranialImageReader(on_irregular="resampel")
    with pytest.raises(ValueError, match="spatial_dims must be None, 2 or 3, got 4"):
        CranialImageReader(spatial_dims=4)


def test_load_cranial_imaged_never_falls_back_to_monai_readers(tmp_path):
    """LoadImaged(reader=CranialImageReader()) falls back to NibabelReader when ours refuses a NaN voxel (the
    NaN volume then loads); LoadCranialImaged reads with our reader only and raises its InputError."""
    from cranialseg.io import InputError, LoadCranialImaged

    data = np.zeros((4, 4, 4), np.float32)
    data[1, 1, 1] = np.nan
    path = tmp_path / "nan.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    fallback = LoadImaged("image", reader=CranialImageReader(), ensure_channel_first=True)({"image": str(path)})
    assert np.isnan(fallback["image"].numpy()).sum() == 1  # MONAI's fallback: the refusal is bypassed
    with pytest.raises(InputError) as err:
        LoadCranialImaged("image", ensure_channel_first=True)({"image": str(path)})
    assert err.value.path == str(path) and "1 NaN and 0 inf voxels" in err.value.problem
    loaded = LoadCranialImaged("image", ensure_channel_first=True, max_voxels=10)
    with pytest.raises(InputError, match="exceeds max_voxels=10"):
        loaded({"image": str(path)})
