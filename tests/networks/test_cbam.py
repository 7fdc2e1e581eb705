"""CBAM: hand-computed channel weights and spatial attention range, in 2D and 3D."""

from __future__ import annotations

import pytest
import torch

from cranialseg.networks.blocks import CBAM, ChannelAttention, SpatialAttention


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_channel_attention_matches_hand_computation_for_an_all_zero_channel(spatial_dims):
    ca = ChannelAttention(spatial_dims, 4, reduction=2)
    with torch.no_grad():
        ca.mlp[0].weight.copy_(torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]))
        ca.mlp[0].bias.zero_()
        ca.mlp[2].weight.copy_(torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]))
        ca.mlp[2].bias.copy_(torch.tensor([0.0, 0.0, 0.0, -1.0]))
    x = torch.zeros((1, 4) + (3,) * spatial_dims)
    x[0, 0] = 2.0  # constant channel: mean = max = 2
    x[0, 1].view(-1)[0] = 4.0  # one hot voxel: mean = 4 / 3**d, max = 4
    # channel 2 and 3 are all zero
    mean1 = 4.0 / 3**spatial_dims
    hidden_avg = torch.tensor([2.0, mean1])  # ReLU of [x0, x1] descriptors
    hidden_max = torch.tensor([2.0, 4.0])
    w2 = ca.mlp[2].weight.detach()
    b2 = ca.mlp[2].bias.detach()
    expected = torch.sigmoid(w2 @ hidden_avg + b2 + w2 @ hidden_max + b2)
    weights = ca.attention(x)[0]
    torch.testing.assert_close(weights, expected)
    # the all-zero channel 2 gets sigmoid(x0_avg + x1... ) = sigmoid(mean1 + 4), not 0.5: the MLP mixes channels
    assert weights[2].item() == pytest.approx(torch.sigmoid(torch.tensor(mean1 + 4.0)).item(), abs=1e-6)
    out = ca(x)
    torch.testing.assert_close(out[0, 0], 2.0 * weights[0] * torch.ones_like(out[0, 0]))
    assert torch.all(out[0, 2] == 0)


@pytest.mark.parametrize("shape", [(2, 8, 16, 16), (1, 8, 6, 7, 5)])
def test_spatial_attention_in_open_unit_interval(shape):
    sa = SpatialAttention(len(shape) - 2)
    a = sa.attention(torch.randn(shape) * 10)
    assert a.shape == (shape[0], 1) + shape[2:]
    assert torch.all(a > 0) and torch.all(a < 1)


def test_spatial_attention_uses_mean_and_max_over_channels():
    sa = SpatialAttention(2, kernel_size=1)
    with torch.no_grad():
        sa.conv.weight.copy_(torch.tensor([1.0, -1.0]).view(1, 2, 1, 1))
        sa.conv.bias.zero_()
    x = torch.tensor([[[[1.0, 0.0]], [[3.0, 0.0]]]])  # (1, 2, 1, 2): mean 2, max 3 at pixel 0
    torch.testing.assert_close(sa.attention(x), torch.sigmoid(torch.tensor([[[[-1.0, 0.0]]]])))


def test_cbam_per_axis_kernel_and_channel_only():
    assert CBAM(3, 16, spatial_kernel_size=(7, 7, 3)).spatial.conv.kernel_size == (7, 7, 3)
    assert isinstance(CBAM(2, 16, spatial_attention=False).spatial, torch.nn.Identity)
    with pytest.raises(ValueError, match="odd"):
        SpatialAttention(2, kernel_size=6)
    with pytest.raises(ValueError, match="reduction"):
        ChannelAttention(2, 16, reduction=0)
