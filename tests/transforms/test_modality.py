"""CheckModalityd stops inputs of the other modality/dimension with a message naming the right bundle."""

from __future__ import annotations

import pytest
import torch
from monai.data import MetaTensor

from cranialseg.transforms import CheckModality, CheckModalityd, ModalityMismatchError

CASES_OK = [
    ("CT", 3, (1, 16, 16, 8), {}),
    ("CT", 3, (1, 16, 16, 8), {"modality": "CT"}),
    ("US", 2, (1, 16, 16), {"modality": "US"}),
    ("US", 2, (1, 16, 16, 1), {}),  # single frame stored as (W, H, 1)
]
CASES_BAD = [
    ("CT", 3, (1, 16, 16), {}, "cranial_us_ventricle_segmentation"),
    ("CT", 3, (1, 16, 16, 1), {}, "cranial_us_ventricle_segmentation"),
    ("CT", 3, (1, 16, 16, 8), {"modality": "US"}, "cranial_us_ventricle_segmentation"),
    ("US", 2, (1, 16, 16, 8), {}, "head_ct_haemorrhage_segmentation"),
    ("US", 2, (1, 16, 16), {"00080060": {"vr": "CS", "Value": ["CT"]}}, "head_ct_haemorrhage_segmentation"),
]


@pytest.mark.parametrize("modality, dims, shape, meta", CASES_OK)
def test_accepts(modality, dims, shape, meta):
    img = MetaTensor(torch.zeros(shape), meta=meta)
    out = CheckModalityd("image", modality=modality, spatial_dims=dims)({"image": img})
    assert out["image"].shape == shape


@pytest.mark.parametrize("modality, dims, shape, meta, right_bundle", CASES_BAD)
def test_refuses_and_names_bundle(modality, dims, shape, meta, right_bundle):
    img = MetaTensor(torch.zeros(shape), meta={**meta, "filename_or_obj": "case_7.nii.gz"})
    with pytest.raises(ModalityMismatchError) as info:
        CheckModality(modality, dims)(img)
    message = str(info.value)
    assert right_bundle in message and "case_7.nii.gz" in message


def test_modality_read_from_dicom_header(tmp_path):
    pydicom_data = pytest.importorskip("pydicom.data")
    path = pydicom_data.get_testdata_file("CT_small.dcm")
    img = MetaTensor(torch.zeros(1, 8, 8), meta={"filename_or_obj": path})
    with pytest.raises(ModalityMismatchError, match="DICOM Modality is 'CT'.*head_ct_haemorrhage_segmentation"):
        CheckModality("US", 2)(img)


@pytest.mark.parametrize("kwargs", [{"modality": "MR"}, {"spatial_dims": 4}])
def test_bad_settings(kwargs):
    with pytest.raises(ValueError, match="must be"):
        CheckModality(**kwargs)


def _meta_image(shape, **meta):
    return MetaTensor(torch.zeros(shape), meta={"filename_or_obj": "/data/x", **meta})


def test_mr_series_refused_by_the_ct_bundle():
    with pytest.raises(ModalityMismatchError, match="Modality is 'MR'.*no cranialseg bundle segments MR"):
        CheckModality("CT", 3)(_meta_image((1, 8, 8, 4), modality="MR", input_kind="dicom-series"))


def test_4d_input_named_as_such():
    img = _meta_image((3, 4, 4, 4), input_ndim=4, spatial_shape=(4, 4, 4), input_kind="nifti")
    with pytest.raises(ModalityMismatchError, match="4D input, expected 3D"):
        CheckModality("CT", 3)(img)


def test_single_ct_slice_needs_a_volume():
    img = _meta_image((1, 8, 8, 1), modality="CT", input_kind="dicom-series", input_ndim=3)
    with pytest.raises(ModalityMismatchError, match="a single slice; the bundle 'head_ct_haemorrhage_segmentation'"):
        CheckModality("CT", 3)(img)
