"""Tests of the mask-to-image-level-label transform."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from cranialseg.transforms import LabelToPresence, LabelToPresenced


@pytest.mark.parametrize("spatial", [(4, 4), (4, 4, 2)])
def test_presence_exact_per_class_and_group(spatial):
    mask = np.zeros((1, *spatial), dtype=np.uint8)
    mask[(0, 0, 0) + (0,) * (len(spatial) - 2)] = 3
    mask[(0, 1, 1) + (0,) * (len(spatial) - 2)] = 1
    mask[(0, 2, 2) + (0,) * (len(spatial) - 2)] = 1
    out = LabelToPresence(classes=[1, 2, 3, 4, 5, [2, 3, 4, 5]])(mask)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out, [1, 0, 1, 0, 0, 1])
    # min_size 2: the single EDH voxel (3) no longer counts, the 2 ventricle voxels do
    np.testing.assert_array_equal(LabelToPresence(classes=[1, 3], min_size=2)(mask), [1, 0])


def test_presence_metatensor_gives_plain_tensor_and_empty_mask():
    mask = MetaTensor(torch.zeros(1, 3, 3, 3))
    out = LabelToPresence(classes=[[1, 2]])(mask)
    assert type(out) is torch.Tensor and out.tolist() == [0.0]


def test_presence_one_hot_channels():
    onehot = torch.zeros(3, 4, 4)
    onehot[0] = 1
    onehot[2, 1, 1] = 1
    assert LabelToPresence(classes=[1, 2, [1, 2]])(onehot).tolist() == [0.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="out of range"):
        LabelToPresence(classes=[5])(onehot)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"classes": []}, "non-empty"),
        ({"classes": 3}, "non-empty"),
        ({"classes": [[]]}, "group"),
        ({"classes": [-1]}, "label value"),
        ({"classes": [1], "min_size": 0}, "min_size"),
    ],
)
def test_presence_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LabelToPresence(**kwargs)


def test_presenced_writes_new_key_and_keeps_mask():
    label = np.zeros((1, 5, 5, 5))
    label[0, 2, 2, 2] = 5
    d = LabelToPresenced(keys="label", classes=[[2, 3, 4, 5], 5, 1])({"label": label})
    np.testing.assert_array_equal(d["image_label"], [1, 1, 0])
    assert d["label"] is label
    with pytest.raises(ValueError, match="distinct"):
        LabelToPresenced(keys=["a", "b"], classes=[1], output_keys=["x", "x"])


def test_one_presence_rule_for_the_transform_and_the_loss():
    """LabelToPresence of each case equals the loss's target for the batch (one implementation, issue 18)."""
    from cranialseg.losses import SegmentationPresenceLoss
    from cranialseg.transforms import presence_targets

    torch.manual_seed(0)
    batch = torch.randint(0, 6, (3, 1, 5, 4, 2)).float()
    batch[1] = 0
    batch[2, 0, 0, 0, 0] = 4.4  # rounded to a whole label value
    classes = [2, 3, 4, 5]
    targets = presence_targets(batch, classes)
    per_case = torch.stack([LabelToPresence(classes=classes)(case) for case in batch])
    torch.testing.assert_close(targets, per_case)
    assert targets[1].tolist() == [0.0, 0.0, 0.0, 0.0]
    grouped = presence_targets(batch, [[2, 3, 4, 5]], min_voxels=2)
    assert grouped[:, 0].tolist() == [float(((batch[i] >= 1.5).sum() >= 2).item()) for i in range(3)]

    class SegLoss(torch.nn.Module):
        def forward(self, pred, label):
            return pred.sum() * 0

    loss = SegmentationPresenceLoss(SegLoss(), classes=classes, weight=1.0)
    logits = torch.full((3, 4), 20.0) * (2 * per_case - 1)  # confident and right: BCE close to 0
    assert loss({"seg": torch.zeros(3, 6, 5, 4, 2), "image": logits}, batch).item() < 1e-6
