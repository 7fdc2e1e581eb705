"""CheckLabel(d): labels outside the label set or off the image grid are named before they are used."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from cranialseg.io import CheckLabel, CheckLabeld, InputError


def tensor(shape, name, spacing=1.0, value=0):
    data = torch.full((1, *shape), float(value))
    affine = torch.diag(torch.tensor([spacing] * 3 + [1.0]))
    return MetaTensor(data, affine=affine, meta={"filename_or_obj": name})


@pytest.mark.parametrize(
    "label, match",
    [
        (tensor((8, 8, 4), "lab.nii.gz", value=255), r"lab\.nii\.gz: label has unexpected values \[255\]"),
        (tensor((8, 6, 3), "lab.nii.gz"), r"lab\.nii\.gz: shape \(8, 6, 3\) differs from image img\.nii\.gz"),
        (tensor((8, 8, 4), "lab.nii.gz", spacing=2.0), r"lab\.nii\.gz: .*spacing \[2\.0, 2\.0, 2\.0\]"),
        (tensor((8, 8, 4), "lab.nii.gz", value=1.5), r"lab\.nii\.gz: label has non-integer values"),
    ],
)
def test_bad_labels_are_named(label, match):
    image = tensor((8, 8, 4), "img.nii.gz")
    with pytest.raises(InputError, match=match) as err:
        CheckLabeld(keys="label", num_classes=6)({"image": image, "label": label})
    assert err.value.path == "lab.nii.gz"


def test_good_label_passes_unchanged():
    image, label = tensor((8, 8, 4), "img.nii.gz"), tensor((8, 8, 4), "lab.nii.gz", value=5)
    out = CheckLabeld(keys="label", num_classes=6)({"image": image, "label": label})
    assert out["label"] is label and out["image"] is image
    assert CheckLabel(allowed_values=[0, 5])(label, image) is label


def test_raster_and_singleton_slice_compare_shapes_only():
    image = tensor((8, 8, 1), "frame.nii.gz", spacing=0.3)  # a 2D frame stored with a singleton slice
    label = MetaTensor(torch.zeros(1, 8, 8), meta={"filename_or_obj": "mask.png"})  # no geometry in a PNG
    CheckLabel(num_classes=3)(label, image)
    with pytest.raises(InputError, match=r"mask\.png: shape \(8, 7\)"):
        CheckLabel(num_classes=3)(MetaTensor(torch.zeros(1, 8, 7), meta={"filename_or_obj": "mask.png"}), image)


def test_values_only_and_missing_label():
    check = CheckLabeld(keys="label", image_key=None, num_classes=3, allow_missing_keys=True)
    assert "label" not in check({"image": tensor((4, 4, 4), "img.nii.gz")})
    check({"label": tensor((2, 2, 2), "lab.nii.gz", value=2)})
    with pytest.raises(InputError, match="unexpected values"):
        check({"label": np.full((1, 2, 2), 3)})


@pytest.mark.parametrize("kwargs", [{}, {"num_classes": 3, "allowed_values": [0, 1]}, {"num_classes": 0}])
def test_bad_settings(kwargs):
    with pytest.raises(ValueError, match="num_classes"):
        CheckLabel(**kwargs)
