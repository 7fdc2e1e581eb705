"""Joint loss of the segmentation and the image-level (lesion presence) head."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cranialseg.transforms.labels import presence_targets

__all__ = [
    "SegmentationPresenceLoss",
]


class SegmentationPresenceLoss(nn.Module):
    """Segmentation loss plus ``weight`` x binary cross-entropy of the image-level head against lesion presence.

    The presence targets come from the label (see :func:`presence_targets`), so the head is supervised next to
    the mask without extra annotations. Given a plain tensor (a network without image head, or inference
    outputs) it is the segmentation loss alone.

    Args:
        seg_loss: loss on ``(seg_logits, label)``, e.g. MONAI ``DiceCELoss(to_onehot_y=True, softmax=True)``.
        classes: label values, one per image-level output, in the head's order.
        weight: weight of the presence term.
        pos_weight: optional BCE positive-class weights, one per class (rare lesions).

    Example:
        ``{"_target_": "cranialseg.losses.SegmentationPresenceLoss", "seg_loss": "@seg_loss",
        "classes": [2, 3, 4, 5], "weight": 0.2}``
    """

    def __init__(
        self,
        seg_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        classes: Sequence[int],
        weight: float = 0.2,
        pos_weight: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if not classes:
            raise ValueError("classes must name at least one label value for the image-level head")
        if weight < 0:
            raise ValueError(f"weight must be >= 0, got {weight!r}")
        if pos_weight is not None and len(pos_weight) != len(classes):
            raise ValueError(f"pos_weight has {len(pos_weight)} values for {len(classes)} classes")
        self.seg_loss = seg_loss
        self.classes = [int(c) for c in classes]
        self.weight = float(weight)
        self.register_buffer(
            "pos_weight", None if pos_weight is None else torch.as_tensor(pos_weight, dtype=torch.float32)
        )

    def forward(self, pred: torch.Tensor | Mapping[str, torch.Tensor], label: torch.Tensor) -> torch.Tensor:
        if not isinstance(pred, Mapping):
            return self.seg_loss(pred, label)
        loss = self.seg_loss(pred["seg"], label)
        logits = pred.get("image")
        if logits is None:
            return loss
        if logits.shape[1] != len(self.classes):
            raise ValueError(
                f"the image head has {logits.shape[1]} outputs but the loss was given {len(self.classes)} classes "
                f"{self.classes}; set network_def#num_image_classes to {len(self.classes)}"
            )
        target = presence_targets(label, self.classes).to(logits.device)
        # the engines move the network, never the loss: keep the weights on the logits' device
        pos_weight = None if self.pos_weight is None else self.pos_weight.to(logits.device)
        bce = F.binary_cross_entropy_with_logits(logits.float(), target, pos_weight=pos_weight)
        return loss + self.weight * bce
