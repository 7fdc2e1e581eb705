"""The "(x, y, 1) is a 2D image" rule and the 2D-in-3D affine embedding (cranialseg.utils.spatial)."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import cranialseg.utils.spatial as spatial_module
from cranialseg.utils.spatial import drop_singleton_slice, embed_affine_2d, has_singleton_slice, is_2d, spatial_shape

# (shape, channel_first, spatial shape, is 2D)
CASES = [
    ((8, 6), False, (8, 6), True),  # a PNG frame
    ((8, 6, 1), False, (8, 6), True),  # a 2D NIfTI: one slice of a 2D picture
    ((8, 6, 4), False, (8, 6, 4), False),  # a volume
    ((8, 1, 4), False, (8, 1, 4), False),  # a singleton in the middle is a (thin) volume, not a frame
    ((1, 6, 1), False, (1, 6), True),
    ((8, 6, 1, 5), False, (8, 6, 1, 5), False),  # 4D (x, y, 1, t): not the rule's business
    ((1, 8, 6), True, (8, 6), True),  # MONAI channel-first 2D
    ((3, 8, 6, 1), True, (8, 6), True),  # channel-first 2D NIfTI, RGB
    ((1, 8, 6, 4), True, (8, 6, 4), False),  # channel-first volume
    ((1, 8, 6, 1), False, (1, 8, 6, 1), False),  # the same array read without a channel axis: 4 spatial axes
    ((1, 8, 1), True, (8, 1), True),  # channel-first 2D whose second axis has one pixel stays (8, 1)
]


@pytest.mark.parametrize("shape, channel_first, expected, two_d", CASES)
def test_spatial_shape_and_is_2d(shape, channel_first, expected, two_d):
    assert spatial_shape(shape, channel_first) == expected
    assert is_2d(shape, channel_first) is two_d
    assert has_singleton_slice(shape, channel_first) is (len(expected) < len(shape) - int(channel_first))


def test_a_volume_of_one_real_slice_counts_as_2d():
    # its shape cannot tell it from a 2D NIfTI frame: the 3D loader refuses it as a single slice instead
    assert is_2d((512, 512, 1)) and spatial_shape(torch.zeros(1, 512, 512, 1).shape, channel_first=True) == (512, 512)


def test_drop_singleton_slice_numpy_and_torch():
    arr = np.arange(12).reshape(4, 3, 1)
    out = drop_singleton_slice(arr)
    assert out.shape == (4, 3) and out.tolist() == arr[..., 0].tolist()
    assert drop_singleton_slice(np.zeros((1, 4, 3))).shape == (1, 4, 3)  # spatial (1, 4, 3) is a volume
    t = torch.arange(12.0).reshape(1, 4, 3, 1)
    assert drop_singleton_slice(t, channel_first=True).shape == (1, 4, 3)
    assert drop_singleton_slice(t).shape == (1, 4, 3, 1)  # as spatial: 4 axes, kept
    vol = np.zeros((4, 3, 2))
    assert drop_singleton_slice(vol) is vol


def test_embed_affine_2d_identity_base():
    aff = np.array([[0.0, -2.0, 10.0], [3.0, 0.0, -5.0], [0.0, 0.0, 1.0]])
    out = embed_affine_2d(aff)
    expected = np.array([[0.0, -2.0, 0.0, 10.0], [3.0, 0.0, 0.0, -5.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.float64


def test_embed_affine_2d_keeps_the_base_third_axis_and_does_not_modify_it():
    base = torch.tensor([[1.0, 0, 0.5, 1], [0, 1, 0.25, 2], [0, 0, 4, 7], [0, 0, 0, 1]], dtype=torch.float64)
    kept = base.clone()
    out = embed_affine_2d(torch.tensor([[2.0, 0, 3], [0, 2, 4], [0, 0, 1]], dtype=torch.float64), base)
    assert isinstance(out, torch.Tensor)
    assert out.tolist() == [[2, 0, 0.5, 3], [0, 2, 0.25, 4], [0, 0, 4, 7], [0, 0, 0, 1]]
    assert torch.equal(base, kept)


@pytest.mark.parametrize("affine, base", [(np.eye(4), None), (np.eye(3), np.eye(3))])
def test_embed_affine_2d_refuses_other_shapes(affine, base):
    with pytest.raises(ValueError, match="embed_affine_2d expects"):
        embed_affine_2d(affine, base)


def test_docstring_examples():
    result = doctest.testmod(spatial_module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted >= 5 and result.failed == 0
