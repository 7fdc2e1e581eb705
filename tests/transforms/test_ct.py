"""Tests of the CT windowing transforms and the intracranial mask on known arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from cranialseg.transforms import CTWindows, CTWindowsd, intracranial_mask

HU = [-1000.0, 0.0, 20.0, 40.0, 60.0, 80.0, 180.0, 600.0, 2000.0]
# brain W80/L40 -> [0, 80]; subdural W200/L80 -> [-20, 180]; bone W2800/L600 -> [-800, 2000]
EXPECTED = [
    [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0],
    [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0, 1.0, 1.0],
    [0.0, 800 / 2800, 820 / 2800, 840 / 2800, 860 / 2800, 880 / 2800, 980 / 2800, 0.5, 1.0],
]


@pytest.mark.parametrize("spatial", [(9, 1), (9, 1, 1)])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_ct_windows_exact_values(spatial, as_tensor):
    img = np.asarray(HU, dtype=np.float32).reshape((1, *spatial))
    img = torch.as_tensor(img) if as_tensor else img
    out = CTWindows()(img)
    assert out.shape == (3, *spatial)
    np.testing.assert_allclose(np.asarray(out).reshape(3, 9), EXPECTED, atol=1e-6)


def test_ct_windows_custom_pairs_and_metatensor():
    img = MetaTensor(torch.tensor([[[0.0, 50.0, 100.0]]]), affine=torch.diag(torch.tensor([2.0, 3.0, 1.0, 1.0])))
    out = CTWindows(windows=[(100.0, 50.0), "stroke"])(img)
    assert isinstance(out, MetaTensor)
    assert torch.equal(out.affine, img.affine)
    np.testing.assert_allclose(out.numpy()[:, 0], [[0.0, 0.5, 1.0], [0.0, 0.75, 1.0]], atol=1e-6)


@pytest.mark.parametrize(
    "windows, match",
    [("brain", "non-empty sequence"), ([], "non-empty"), ([(0.0, 40.0)], "width > 0"), (["brian"], "brain")],
)
def test_ct_windows_bad_settings(windows, match):
    with pytest.raises(ValueError, match=match):
        CTWindows(windows=windows)


def test_ct_windows_rejects_multichannel():
    with pytest.raises(ValueError, match="1 channel"):
        CTWindows()(np.zeros((2, 4, 4)))


def test_ct_windowsd_keys():
    d = {"image": np.full((1, 2, 2), 40.0), "label": np.ones((1, 2, 2))}
    out = CTWindowsd(keys="image", windows=["brain"])(d)
    np.testing.assert_allclose(np.asarray(out["image"]), np.full((1, 2, 2), 0.5))
    assert out["label"] is d["label"]


def _skull_phantom_2d() -> np.ndarray:
    img = np.full((21, 21), -1000.0, dtype=np.float32)
    img[1:20, 1:20] = 30.0  # scalp
    img[2:19, 2:19] = 1200.0  # skull, 2 voxels thick
    img[4:17, 4:17] = 40.0  # brain
    img[10, 10] = 5.0  # a ventricle voxel
    return img


def _brain_box() -> np.ndarray:
    inside = np.zeros((21, 21), dtype=bool)
    inside[4:17, 4:17] = True
    return inside


def test_intracranial_mask_2d_exact():
    np.testing.assert_array_equal(intracranial_mask(_skull_phantom_2d()), _brain_box())


def test_intracranial_mask_3d_open_skull():
    # skull open at the bottom slice (foramen magnum) and top: the slice-wise fill still finds the inside
    vol = np.stack([_skull_phantom_2d()] * 4, axis=-1)
    vol[10, 2:4, 0] = 40.0  # a one-voxel gap in the bone ring of slice 0 (a suture)
    mask = intracranial_mask(vol)
    for k in range(1, 4):
        np.testing.assert_array_equal(mask[..., k], _brain_box())
    assert mask[10, 10, 0]  # the closing bridges the gap, the inside survives


def test_intracranial_mask_bad_input():
    with pytest.raises(ValueError, match="2D or 3D"):
        intracranial_mask(np.zeros((2, 4, 4, 1)))


def test_intensity_transforms_pass_through_compose_inverse():
    """No spatial change: in a pipeline with a spatial transform, Compose.inverse still restores the grid."""
    from monai.transforms import Compose, Spacingd

    vol = np.stack([_skull_phantom_2d()] * 4, axis=-1)[None]
    img = MetaTensor(torch.as_tensor(vol), affine=torch.diag(torch.tensor([1.0, 1.0, 2.0, 1.0])))
    pipeline = Compose(
        [
            Spacingd("image", pixdim=(0.5, 0.5, 2.0)),
            CTWindowsd("image"),
        ]
    )
    out = pipeline({"image": img})
    assert out["image"].shape == (3, 41, 41, 4)
    assert len(out["image"].applied_operations) == 1  # only Spacingd is recorded
    restored = pipeline.inverse(out)["image"]
    assert restored.shape == (3, 21, 21, 4)
    np.testing.assert_allclose(restored.affine.numpy(), img.affine.numpy(), atol=1e-6)


def test_head_foreground_crops_to_the_head_and_inverts():
    from monai.transforms import CropForegroundd, Invertd

    from cranialseg.transforms import head_foreground

    hu = np.full((1, 20, 16, 6), -1000.0, np.float32)
    hu[0, 4:12, 5:9, 1:4] = 35.0  # the head
    hu[0, 0, 0, 0] = -600.0  # air noise: below the threshold, not part of the box
    crop = CropForegroundd("image", source_key="image", select_fn=head_foreground, margin=1, allow_smaller=True)
    out = crop({"image": MetaTensor(torch.as_tensor(hu))})
    assert tuple(out["image"].shape) == (1, 10, 6, 5)  # the (8, 4, 3) head and a 1-voxel margin on each side
    out["pred"] = out["image"].clone()
    back = Invertd("pred", transform=crop, orig_keys="image", nearest_interp=True)(out)
    assert tuple(back["pred"].shape) == hu.shape
    np.testing.assert_array_equal(back["pred"][0, 4:12, 5:9, 1:4].numpy(), 35.0)
    assert float(back["pred"][0, 15, 0, 0]) == 0.0  # outside the crop: padded


def test_head_foreground_without_any_head_keeps_the_whole_image():
    from cranialseg.transforms import head_foreground

    air = torch.full((1, 5, 4, 3), -1000.0)
    assert bool(head_foreground(air).all())
    assert int(head_foreground(torch.where(torch.arange(5)[None, :, None, None] == 2, 50.0, air)).sum()) == 12
