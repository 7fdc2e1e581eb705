"""Networks."""

from .daresunet import VARIANTS, DAResUNet, DAResUnet, DualAttentionResUNet

__all__ = ["DAResUNet", "DAResUnet", "DualAttentionResUNet", "VARIANTS"]
