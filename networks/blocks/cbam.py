"""Convolutional Block Attention Module (CBAM): channel then spatial attention, for any spatial dimension.

Reference:
    Woo, Park, Lee and Kweon, "CBAM: Convolutional Block Attention Module", ECCV 2018, arXiv:1807.06521.
"""

from __future__ import annotations

from typing import Sequence, Union

import torch
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer
from torch import nn

from .utils import check_odd_kernel, ensure_tuple_dims

__all__ = ["ChannelAttention", "SpatialAttention", "CBAM"]


class ChannelAttention(nn.Module):
    """CBAM channel attention: average- and max-pooled descriptors through one shared MLP, summed, sigmoid.

    ``weight = sigmoid(MLP(mean_s(x)) + MLP(max_s(x)))`` where the MLP is ``Linear(C, C // r) -> act ->
    Linear(C // r, C)`` shared by both descriptors; the input is multiplied channel-wise by ``weight``. Pooling
    runs over every spatial axis, so one module serves 1D, 2D and 3D.

    Args:
        spatial_dims: number of spatial dimensions (kept for MONAI's signature convention).
        channels: number of input (and output) channels.
        reduction: reduction ratio ``r`` of the MLP's hidden layer (at least one hidden unit).
        act: activation of the hidden layer, any name or ``(name, args)`` of MONAI's ``Act`` factory.

    Example:
        >>> ChannelAttention(3, 32, reduction=8)(torch.rand(2, 32, 8, 8, 8)).shape
        torch.Size([2, 32, 8, 8, 8])
    """

    def __init__(
        self, spatial_dims: int, channels: int, *, reduction: int = 8, act: Union[tuple, str] = "relu"
    ) -> None:
        super().__init__()
        if reduction < 1:
            raise ValueError(f"reduction must be a positive integer, got {reduction!r} ({type(reduction).__name__}).")
        self.spatial_dims = spatial_dims
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), get_act_layer(act), nn.Linear(hidden, channels))

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Return the channel weights, shape ``(B, C)``, values in (0, 1)."""
        dims = list(range(2, x.ndim))
        avg = self.mlp(torch.mean(x, dim=dims))
        mx = self.mlp(torch.amax(x, dim=dims))
        return torch.sigmoid(avg + mx)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.attention(x)
        return x * w.view([x.shape[0], x.shape[1]] + [1] * (x.ndim - 2))


class SpatialAttention(nn.Module):
    """CBAM spatial attention: channel-wise mean and max maps, one ``k x k (x k)`` convolution, sigmoid.

    Args:
        spatial_dims: number of spatial dimensions.
        kernel_size: odd kernel size of the convolution, an int or one per axis (e.g. ``(7, 7, 3)`` for
            thick-slice CT). Default 7 as in CBAM.

    Example:
        >>> SpatialAttention(2)(torch.rand(1, 16, 32, 32)).shape
        torch.Size([1, 16, 32, 32])
    """

    def __init__(self, spatial_dims: int, *, kernel_size: Union[Sequence[int], int] = 7) -> None:
        super().__init__()
        ks = ensure_tuple_dims(kernel_size, spatial_dims, "kernel_size")
        check_odd_kernel(ks, "kernel_size")
        self.conv = Conv[Conv.CONV, spatial_dims](2, 1, kernel_size=ks, padding=tuple(k // 2 for k in ks))

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Return the spatial weight map, shape ``(B, 1, *spatial)``, values in (0, 1)."""
        pooled = torch.cat([torch.mean(x, dim=1, keepdim=True), torch.amax(x, dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention(x)


class CBAM(nn.Module):
    """CBAM: :class:`ChannelAttention` followed by :class:`SpatialAttention` (Woo et al., ECCV 2018).

    Args:
        spatial_dims: number of spatial dimensions.
        channels: number of channels.
        reduction: channel-attention MLP reduction ratio (8 in the dual-attention ResUNet).
        spatial_kernel_size: odd kernel of the spatial attention convolution (int or per axis).
        spatial_attention: set ``False`` for channel attention only.
        act: activation of the channel MLP.

    Example:
        >>> CBAM(2, 32)(torch.rand(2, 32, 64, 64)).shape
        torch.Size([2, 32, 64, 64])
    """

    def __init__(
        self,
        spatial_dims: int,
        channels: int,
        *,
        reduction: int = 8,
        spatial_kernel_size: Union[Sequence[int], int] = 7,
        spatial_attention: bool = True,
        act: Union[tuple, str] = "relu",
    ) -> None:
        super().__init__()
        self.channel = ChannelAttention(spatial_dims, channels, reduction=reduction, act=act)
        self.spatial: nn.Module = (
            SpatialAttention(spatial_dims, kernel_size=spatial_kernel_size) if spatial_attention else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))
