"""Image-level head next to the mask: presence targets, joint loss, training wrapper, window-max inference."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from monai.inferers import SimpleInferer, SlidingWindowInferer
from monai.losses import DiceCELoss
from torch import nn

from cranialseg.inferers import SlidingWindowImageHeadInferer, WithImageHead, infer_with_image_head
from cranialseg.losses import SegmentationPresenceLoss
from cranialseg.networks import DAResUNet
from cranialseg.transforms import PRESENCE_KEY, UnpackHeadsd, presence_targets


class MaxProbe(nn.Module):
    """Segmentation = the input; image logit k = (k + 1) x the window's maximum: easy to predict exactly."""

    num_image_classes = 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward_with_heads(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        peak = x.flatten(1).amax(dim=1, keepdim=True)
        return {"seg": x, "image": torch.cat([peak, 2 * peak], dim=1)}


def test_presence_targets_per_class_and_case():
    label = torch.zeros(3, 1, 6, 6, 4)
    label[0, 0, 1, 1, 1] = 2
    label[1, 0, :2, :2, :2] = 5
    label[2, 0, 0, 0, 0] = 1  # not a lesion class
    assert presence_targets(label, [2, 3, 4, 5]).tolist() == [[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert presence_targets(label, [5], min_voxels=9).tolist() == [[0], [0], [0]]  # 8 voxels < 9
    with pytest.raises(ValueError, match=r"\(B, 1, \*spatial\)"):
        presence_targets(torch.zeros(2, 3, 4, 4), [1])


def test_joint_loss_is_seg_loss_plus_weighted_bce():
    torch.manual_seed(0)
    seg_loss = DiceCELoss(to_onehot_y=True, softmax=True)
    loss = SegmentationPresenceLoss(seg_loss, classes=[2, 3], weight=0.5)
    seg = torch.randn(2, 4, 8, 8)
    label = torch.zeros(2, 1, 8, 8)
    label[0, 0, :3, :3] = 3
    logits = torch.tensor([[0.3, -1.0], [2.0, 0.5]])
    expected_bce = F.binary_cross_entropy_with_logits(logits, torch.tensor([[0.0, 1.0], [0.0, 0.0]]))
    total = loss({"seg": seg, "image": logits}, label)
    torch.testing.assert_close(total, seg_loss(seg, label) + 0.5 * expected_bce)
    torch.testing.assert_close(loss(seg, label), seg_loss(seg, label))  # a plain tensor: segmentation only
    with pytest.raises(ValueError, match="num_image_classes to 2"):
        loss({"seg": seg, "image": torch.zeros(2, 4)}, label)
    with pytest.raises(ValueError, match="2 classes"):
        SegmentationPresenceLoss(seg_loss, classes=[2, 3], pos_weight=[1.0])


def test_pos_weight_follows_the_logits_device():
    # the engines move the network and the batch, never the loss: pos_weight (a CPU buffer) must follow the
    # logits; "meta" stands for a GPU here (before the fix: "Tensor on device meta is not on the expected device")
    loss = SegmentationPresenceLoss(lambda seg, label: seg.sum() * 0.0, classes=[2, 3], pos_weight=[4.0, 1.0])
    assert loss.pos_weight.device.type == "cpu"
    label = torch.zeros(2, 1, 8, 8)
    label[0, 0, :3, :3] = 3
    logits = torch.tensor([[0.3, -1.0], [2.0, 0.5]])
    total = loss({"seg": torch.zeros(2, 4, 8, 8), "image": logits}, label)
    expected = F.binary_cross_entropy_with_logits(
        logits, torch.tensor([[0.0, 1.0], [0.0, 0.0]]), pos_weight=torch.tensor([4.0, 1.0])
    )
    torch.testing.assert_close(total, 0.2 * expected)  # the weights are used, not dropped
    on_meta = loss({"seg": torch.zeros(2, 4, 8, 8, device="meta"), "image": logits.to("meta")}, label.to("meta"))
    assert on_meta.device.type == "meta" and on_meta.shape == ()


def test_wrapper_trains_the_image_head():
    net = DAResUNet(2, 1, 3, channels=(4, 8, 16), strides=(2, 2), num_image_classes=2, num_heads=1)
    wrapped = WithImageHead(net)
    x = torch.rand(2, 1, 32, 32)
    out = wrapped(x)
    assert set(out) == {"seg", "image"} and out["image"].shape == (2, 2)
    label = torch.zeros(2, 1, 32, 32)
    label[1, 0, 4:8, 4:8] = 2
    SegmentationPresenceLoss(DiceCELoss(to_onehot_y=True, softmax=True), classes=[1, 2])(out, label).backward()
    assert net.image_head.weight.grad is not None and net.image_head.weight.grad.abs().sum() > 0
    assert sum(p.numel() for p in wrapped.parameters()) == sum(p.numel() for p in net.parameters())
    with pytest.raises(TypeError, match="no forward_with_heads"):
        WithImageHead(nn.Conv2d(1, 1, 1))


def test_window_max_is_attributed_to_each_case():
    x = torch.zeros(2, 1, 40, 30)
    x[0, 0, 35, 2] = 3.0  # a peak in a corner window of case 0
    x[1, 0, 5, 20] = 1.5
    inferer = SlidingWindowInferer(roi_size=(16, 16), sw_batch_size=3, overlap=0.25)
    out = infer_with_image_head(inferer, x, MaxProbe())
    assert out["image"].tolist() == [[3.0, 6.0], [1.5, 3.0]]
    torch.testing.assert_close(out["seg"], inferer(x, MaxProbe()))
    whole = infer_with_image_head(SimpleInferer(), x, MaxProbe())
    assert whole["image"].tolist() == out["image"].tolist()
    no_head = DAResUNet(2, 1, 2, channels=(4, 8), strides=(2,), num_heads=1).eval()
    assert isinstance(infer_with_image_head(inferer, x, no_head), torch.Tensor)  # no head: plain logits


def test_sliding_window_inferer_with_a_real_network():
    net = DAResUNet(3, 1, 2, channels=(4, 8), strides=(2,), num_image_classes=3, num_heads=1, sal_levels=()).eval()
    inferer = SlidingWindowImageHeadInferer(roi_size=(16, 16, 8), sw_batch_size=2, overlap=0.5, mode="gaussian")
    x = torch.rand(1, 1, 24, 20, 10)
    with torch.no_grad():
        out = inferer(x, net)
        plain = SlidingWindowInferer(roi_size=(16, 16, 8), sw_batch_size=2, overlap=0.5, mode="gaussian")(x, net)
        first = net.forward_with_heads(x[..., :16, :16, :8])["image"]
    assert out["seg"].shape == (1, 2, 24, 20, 10) and out["image"].shape == (1, 3)
    torch.testing.assert_close(out["seg"], plain)
    assert bool((out["image"] >= first - 1e-6).all())  # the max over windows is at least the first window's


def test_unpack_heads():
    d = UnpackHeadsd("pred")({"pred": {"seg": torch.ones(2, 4, 4), "image": torch.tensor([0.5])}, "label": 1})
    assert d["pred"].shape == (2, 4, 4) and d[PRESENCE_KEY].tolist() == [0.5] and d["label"] == 1
    same = UnpackHeadsd("pred")({"pred": torch.zeros(1, 2)})
    assert PRESENCE_KEY not in same and same["pred"].shape == (1, 2)
    with pytest.raises(KeyError, match="without 'seg'"):
        UnpackHeadsd("pred")({"pred": {"image": torch.zeros(1)}})
