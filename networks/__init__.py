"""Networks: the dual-attention Residual U-Net (CBAM + sparse attention layer) and its building blocks."""

from .blocks import CBAM, ChannelAttention, ResidualBlock, SparseAttentionLayer, SpatialAttention
from .nets import PRESETS, VARIANTS, DAResUNet, DAResUnet, DualAttentionResUNet

__all__ = [
    "PRESETS",
    "CBAM",
    "ChannelAttention",
    "DAResUNet",
    "DAResUnet",
    "DualAttentionResUNet",
    "ResidualBlock",
    "SparseAttentionLayer",
    "SpatialAttention",
    "VARIANTS",
]
