"""Thin full-resolution refinement path: a coarse decoder output brought back to the input size and sharpened
with features of the input image, for networks whose first level runs strided."""

from __future__ import annotations

from typing import Sequence, Union

import torch
from monai.networks.blocks import Convolution
from torch import nn

from .utils import ensure_tuple_dims

__all__ = ["FullResolutionRefinement"]


class FullResolutionRefinement(nn.Module):
    """``u + conv(cat(u, stem(image)))`` with ``u = up(coarse)``: the light full-resolution path of a network
    with a strided first level.

    ``up`` is a transposed convolution-norm-activation (kernel = stride) from the coarse decoder output to
    ``out_channels`` at the input size (a 1x1 convolution when the stride is 1); ``stem`` is one
    convolution-norm-activation of the input image to ``out_channels``; the two are concatenated and one plain
    convolution adds a residual correction to ``u`` (residual, so the coarse prediction passes from the first
    step and the path learns the boundary detail on top: on a toy mask it trains as fast as the plain
    transposed-convolution restore, where a normalised, non-residual fusion trained several times slower).
    Everything at full resolution is ``out_channels`` wide (thin), so the path costs a fraction of a full
    residual level while the head again sees edges at the input's own resolution (the image's, not only the
    up-sampled ones), as in the full-resolution input concatenation of cascaded / refinement U-Nets.

    Args:
        spatial_dims: number of spatial dimensions.
        in_channels: channels of the network input (the image).
        coarse_channels: channels of the coarse decoder output.
        out_channels: width of the full-resolution path (and of its output).
        strides: the network's first-level stride (int or per axis) between the coarse output and the input.
        kernel_size: odd kernel of the stem and fusion convolutions (int or per axis).
        act: activation (MONAI ``Act`` name or ``(name, args)``).
        norm: normalisation (MONAI ``Norm`` name or ``(name, args)``).

    Example:
        >>> path = FullResolutionRefinement(3, 3, 16, 8, strides=(2, 2, 1))
        >>> path(torch.rand(1, 16, 16, 16, 8), torch.rand(1, 3, 32, 32, 8)).shape
        torch.Size([1, 8, 32, 32, 8])
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        coarse_channels: int,
        out_channels: int,
        *,
        strides: Union[Sequence[int], int] = 2,
        kernel_size: Union[Sequence[int], int] = 3,
        act: Union[tuple, str] = "leakyrelu",
        norm: Union[tuple, str] = "instance",
    ) -> None:
        super().__init__()
        if out_channels < 1:
            raise ValueError(f"out_channels of the full-resolution path must be >= 1, got {out_channels!r}.")
        stride = ensure_tuple_dims(strides, spatial_dims, "strides")
        strided = any(s != 1 for s in stride)
        self.up = Convolution(
            spatial_dims, coarse_channels, out_channels, strides=stride, kernel_size=stride if strided else 1,
            padding=0, output_padding=0, act=act, norm=norm, is_transposed=strided,
        )  # fmt: skip
        self.stem = Convolution(spatial_dims, in_channels, out_channels, kernel_size=kernel_size, act=act, norm=norm)
        self.fuse = Convolution(spatial_dims, 2 * out_channels, out_channels, kernel_size=kernel_size, conv_only=True)

    def forward(self, coarse: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        up = self.up(coarse)
        return up + self.fuse(torch.cat([up, self.stem(image)], dim=1))
