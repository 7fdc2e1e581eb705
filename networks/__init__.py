"""Networks: the dual-attention Residual U-Net (CBAM + sparse attention layer), its blocks, loading and export."""

from .blocks import CBAM, ChannelAttention, ResidualBlock, SparseAttentionLayer, SpatialAttention
from .export import export_onnx, export_torchscript
from .nets import PRESETS, VARIANTS, DAResUNet, DAResUnet, DualAttentionResUNet
from .onnx_runtime import OnnxRuntimeNetwork
from .utils import load_network

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
    "OnnxRuntimeNetwork",
    "export_onnx",
    "export_torchscript",
    "load_network",
]
