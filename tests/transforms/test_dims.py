"""DropSingletonSliced feeds a (W, H, 1) frame to a 2D network and Invertd puts the result back on its grid."""

from __future__ import annotations

import torch
from monai.data import MetaTensor
from monai.transforms import Compose, Invertd, Resized

from cranialseg.transforms import DropSingletonSliced


def test_round_trip_through_invertd():
    affine = torch.tensor([[0.5, 0, 0, 1.0], [0, 0.7, 0, 2.0], [0, 0, 3.0, 3.0], [0, 0, 0, 1]], dtype=torch.float64)
    image = MetaTensor(torch.arange(10 * 12, dtype=torch.float32).reshape(1, 10, 12, 1), affine=affine)
    pre = Compose([DropSingletonSliced("image"), Resized("image", spatial_size=(8, 8), mode="nearest")])
    data = pre({"image": image})
    assert tuple(data["image"].shape) == (1, 8, 8)
    data["pred"] = data["image"].clone()
    out = Invertd("pred", transform=pre, orig_keys="image", nearest_interp=True)(data)
    assert tuple(out["pred"].shape) == (1, 10, 12, 1)
    torch.testing.assert_close(out["pred"].affine, affine)


def test_other_shapes_pass_unchanged():
    for shape in [(1, 6, 5), (1, 6, 5, 3)]:
        img = MetaTensor(torch.ones(shape))
        assert tuple(DropSingletonSliced("image")({"image": img})["image"].shape) == shape
