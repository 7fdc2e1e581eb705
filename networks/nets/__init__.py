"""Networks."""

from .daresunet import PRESETS, VARIANTS, DAResUNet, DAResUnet, DualAttentionResUNet

__all__ = ["PRESETS", "DAResUNet", "DAResUnet", "DualAttentionResUNet", "VARIANTS"]
