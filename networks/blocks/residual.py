"""Residual block of the attention ResUNet: conv-norm-act-conv-norm (+ attention) plus a projection shortcut."""

from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from monai.networks.blocks import Convolution
from monai.networks.layers.utils import get_act_layer
from torch import nn

__all__ = ["ResidualBlock"]


class ResidualBlock(nn.Module):
    """``act(attention(conv-norm-act-conv-norm(x)) + shortcut(x))`` with a 1x1 projection shortcut.

    The shortcut is the identity when the channels and stride do not change, else a strided 1x1 convolution
    with normalisation (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016). ``attention``
    (any module keeping the shape, e.g. SE or CBAM) recalibrates the residual branch before the addition, as in
    SE-ResNet (Hu et al., CVPR 2018) and the residual units of CSR-Unet.

    Args:
        spatial_dims: number of spatial dimensions.
        in_channels: input channels.
        out_channels: output channels.
        strides: stride of the first convolution and of the shortcut (int or per axis).
        kernel_size: convolution kernel (int or per axis, odd).
        act: activation (MONAI ``Act`` name or ``(name, args)``).
        norm: normalisation (MONAI ``Norm`` name or ``(name, args)``).
        dropout: dropout rate after each normalisation.
        attention: optional module applied to the residual branch.

    Example:
        >>> ResidualBlock(3, 16, 32, strides=(2, 2, 1))(torch.rand(1, 16, 32, 32, 8)).shape
        torch.Size([1, 32, 16, 16, 8])
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        *,
        strides: Union[Sequence[int], int] = 1,
        kernel_size: Union[Sequence[int], int] = 3,
        act: Union[tuple, str] = "leakyrelu",
        norm: Union[tuple, str] = "instance",
        dropout: Optional[float] = None,
        attention: Optional[nn.Module] = None,
    ) -> None:
        super().__init__()
        self.conv1 = Convolution(
            spatial_dims, in_channels, out_channels, strides=strides, kernel_size=kernel_size,
            act=act, norm=norm, dropout=dropout,
        )  # fmt: skip
        self.conv2 = Convolution(
            spatial_dims, out_channels, out_channels, kernel_size=kernel_size, act=None, norm=norm, dropout=dropout
        )
        self.attention: nn.Module = attention if attention is not None else nn.Identity()
        downsamples = any(s != 1 for s in (strides if isinstance(strides, Sequence) else [strides]))
        self.shortcut: nn.Module = nn.Identity()
        if downsamples or in_channels != out_channels:
            self.shortcut = Convolution(
                spatial_dims, in_channels, out_channels, strides=strides, kernel_size=1, act=None, norm=norm
            )
        self.act = get_act_layer(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.attention(self.conv2(self.conv1(x))) + self.shortcut(x))
