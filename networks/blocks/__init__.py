"""Building blocks: CBAM, the sparse attention layer (SAL), windows, residual blocks."""

from .cbam import CBAM, ChannelAttention, SpatialAttention
from .full_resolution import space_to_depth
from .residual import ResidualBlock
from .skip_refinement import CHANNEL_ATTENTIONS, channel_spatial_attention
from .sparse_attention import ATTENTION_KINDS, SPARSE_MODES, SPARSE_NORMS, SparseAttentionLayer
from .windows import effective_window, window_padding, window_partition, window_reverse

__all__ = [
    "ATTENTION_KINDS",
    "CBAM",
    "CHANNEL_ATTENTIONS",
    "ChannelAttention",
    "ResidualBlock",
    "SPARSE_MODES",
    "SPARSE_NORMS",
    "SparseAttentionLayer",
    "SpatialAttention",
    "channel_spatial_attention",
    "effective_window",
    "space_to_depth",
    "window_padding",
    "window_partition",
    "window_reverse",
]
