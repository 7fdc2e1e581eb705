"""Flip disagreement (active learning): a model is surer of an image it was trained on than of an unseen one."""

from __future__ import annotations

import pytest
import torch
from monai.networks.nets import UNet

from cranialseg.label.uncertainty import flip_disagreement


def _trained_on(image: torch.Tensor, label: torch.Tensor) -> torch.nn.Module:
    torch.manual_seed(0)
    net = UNet(2, 1, 2, channels=(8, 16), strides=(2,), num_res_units=1)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    flips = [(), (2,), (3,), (2, 3)]  # trained with flips, as the bundles' random transforms do
    for step in range(120):
        axes = flips[step % len(flips)]
        x, y = (torch.flip(image, axes), torch.flip(label, axes)) if axes else (image, label)
        loss = torch.nn.functional.cross_entropy(net(x), y[:, 0].long())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net


def test_prefers_an_unseen_image_over_the_trained_one():
    g = torch.Generator().manual_seed(1)
    yy, xx = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    seen = (((yy - 5) ** 2 + (xx - 6) ** 2) < 12).float()[None, None]
    label = seen.clone()
    unseen = torch.rand(1, 1, 16, 16, generator=g) * 0.8 + 0.1  # other content, never shown
    net = _trained_on(seen, label)
    s_seen, s_unseen = flip_disagreement(net, seen), flip_disagreement(net, unseen)
    assert s_unseen > 2 * s_seen, (s_seen, s_unseen)
    assert s_seen >= 0.0


def test_agreeing_predictions_score_zero_and_bad_shapes_are_refused():
    net = torch.nn.Conv3d(1, 3, 1)
    assert flip_disagreement(net, torch.ones(1, 1, 4, 4, 4)) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="batch of one"):
        flip_disagreement(net, torch.ones(2, 1, 4, 4, 4))
