"""Attention that refines a skip connection: channel attention (CBAM or SE), spatial attention, then SAL."""

from __future__ import annotations

from typing import Sequence, Union

from monai.networks.blocks import ChannelSELayer
from monai.utils import look_up_option
from torch import nn

from .cbam import CBAM, SpatialAttention

__all__ = ["CHANNEL_ATTENTIONS", "channel_spatial_attention"]

CHANNEL_ATTENTIONS = ("cbam", "se", "none")


def channel_spatial_attention(
    spatial_dims: int,
    channels: int,
    *,
    attention: str = "cbam",
    spatial_attention: bool = True,
    reduction: int = 8,
    spatial_kernel_size: Union[Sequence[int], int] = 7,
) -> nn.Module:
    """Build channel attention (``"cbam"``: avg+max shared MLP; ``"se"``: squeeze-and-excitation; ``"none"``)
    followed, when ``spatial_attention``, by CBAM's spatial attention. ``"cbam"`` with spatial attention is CBAM
    (Woo et al., ECCV 2018); ``"se"`` with spatial attention is the channel + spatial recalibration of CSR-Unet.
    Returns ``nn.Identity()`` when both are off, so the module adds no parameters.
    """
    kind = look_up_option(attention, CHANNEL_ATTENTIONS)
    if kind == "cbam":
        return CBAM(
            spatial_dims, channels, reduction=reduction, spatial_kernel_size=spatial_kernel_size,
            spatial_attention=spatial_attention,
        )  # fmt: skip
    layers: list = []
    if kind == "se":
        layers.append(ChannelSELayer(spatial_dims, channels, r=reduction))
    if spatial_attention:
        layers.append(SpatialAttention(spatial_dims, kernel_size=spatial_kernel_size))
    if not layers:
        return nn.Identity()
    return layers[0] if len(layers) == 1 else nn.Sequential(*layers)
