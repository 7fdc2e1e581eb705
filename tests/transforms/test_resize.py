"""ResizeShortSide(d): the short side to a fixed length, aspect kept, geometry tracked and inverted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, Invertd

from cranialseg.transforms import ResizeShortSide, ResizeShortSided, short_side_size


@pytest.mark.parametrize(
    "shape, side, expected",
    [
        ((1442, 898), 256, (411, 256)),
        ((850, 648), 256, (336, 256)),
        ((256, 256), 256, (256, 256)),
        ((40, 300), 80, (80, 600)),
        ((64, 48, 10), 20, (128, 96, 20)),
    ],  # fmt: skip
)
def test_short_side_size(shape, side, expected):
    assert short_side_size(shape, side) == expected


@pytest.mark.parametrize("side, shape", [(0, (10, 10)), (-3, (10, 10)), (8, (0, 10))])
def test_short_side_size_rejects_nonsense(side, shape):
    with pytest.raises(ValueError, match="short_side|empty"):
        short_side_size(shape, side)


def test_affine_scales_with_the_pixels():
    img = MetaTensor(torch.rand(1, 300, 200), affine=torch.diag(torch.tensor([0.2, 0.3, 1.0, 1.0])))
    out = ResizeShortSide(100)(img)
    assert tuple(out.shape) == (1, 150, 100)
    # half as many pixels on each axis: the pixel size doubles, the field of view stays
    np.testing.assert_allclose(np.diag(out.affine.numpy())[:2], [0.4, 0.6], rtol=1e-6)


def test_dictionary_modes_and_inverse_restore_the_grid():
    label = torch.zeros(1, 144, 90)
    label[0, 40:80, 30:60] = 2
    data = {"image": MetaTensor(torch.rand(1, 144, 90)), "label": MetaTensor(label)}
    pre = Compose([ResizeShortSided(["image", "label"], 45, mode=["area", "nearest"])])
    out = pre(data)
    assert tuple(out["image"].shape) == (1, 72, 45) and tuple(out["label"].shape) == (1, 72, 45)
    assert set(torch.unique(out["label"]).tolist()) == {0.0, 2.0}  # nearest: no blended label values
    assert int((out["label"] == 2).sum()) == 20 * 15  # the box at half size
    out["pred"] = out["label"].clone()
    back = Invertd("pred", pre, orig_keys="label", nearest_interp=True)(out)
    assert tuple(back["pred"].shape) == (1, 144, 90)
    np.testing.assert_array_equal(back["pred"].numpy(), label.numpy())  # whole-pixel factor 2: exact round trip
