"""Train and run the image-level head next to the mask: presence targets, joint loss, wrapper, inferer, unpacking.

The network's image-level head (``DAResUNet(num_image_classes=K)``) predicts, for each of ``K`` lesion classes,
whether that class is present in the input. In training the input is a patch, so the target is "class present in
this patch", read off the label patch (no extra annotation). For a whole volume the sliding-window inferer takes
the maximum logit over the windows: a lesion is present if some window sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.inferers import SlidingWindowInferer
from monai.transforms import MapTransform
from torch import nn

__all__ = [
    "PRESENCE_KEY",
    "presence_targets",
    "SegmentationPresenceLoss",
    "WithImageHead",
    "SlidingWindowImageHeadInferer",
    "infer_with_image_head",
    "UnpackHeadsd",
    "UnpackHeadsD",
    "UnpackHeadsDict",
]

#: where :class:`UnpackHeadsd` puts the image-level logits (not ``pred_*``/``image_*``, which MONAI transforms
#: treat as meta-data siblings of ``pred``/``image``)
PRESENCE_KEY = "presence_logits"


def _unwrap(network: Any) -> Any:
    """The module inside ``DataParallel``/``DistributedDataParallel`` (or the network itself)."""
    return getattr(network, "module", network)


def presence_targets(label: torch.Tensor, classes: Sequence[int], min_voxels: int = 1) -> torch.Tensor:
    """Per-class presence ``(B, K)`` (0./1.) of label values ``classes`` in a batch of label maps ``(B, 1, *S)``.

    Example:
        >>> lab = torch.zeros(2, 1, 4, 4); lab[0, 0, 0, 0] = 3
        >>> presence_targets(lab, [2, 3]).tolist()
        [[0.0, 1.0], [0.0, 0.0]]
    """
    if label.ndim < 3 or label.shape[1] != 1:
        raise ValueError(f"label must be a batch of label maps (B, 1, *spatial), got shape {tuple(label.shape)}")
    flat = torch.round(label.reshape(label.shape[0], -1))
    counts = [(flat == float(c)).sum(dim=1) for c in classes]
    return (torch.stack(counts, dim=1) >= max(1, int(min_voxels))).to(torch.float32)


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
        ``{"_target_": "cranialseg.workflows.SegmentationPresenceLoss", "seg_loss": "@seg_loss",
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


class WithImageHead(nn.Module):
    """Make a network's ``forward`` return all its heads (``forward_with_heads``), for training.

    Wrap before ``DistributedDataParallel`` so that DDP sees the call. The wrapped network keeps its parameters,
    so checkpoints and validation keep using the plain network.

    Example:
        ``"train_network": "$cranialseg.workflows.WithImageHead(@network)"``
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        if not hasattr(network, "forward_with_heads"):
            raise TypeError(f"{type(network).__name__} has no forward_with_heads(); use the network directly")
        self.network = network

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.network.forward_with_heads(x)


def infer_with_image_head(
    inferer: Callable[..., Any], inputs: torch.Tensor, network: Any, *args: Any, **kwargs: Any
) -> Any:
    """Run ``inferer(inputs, network)`` and also the image-level head: the maximum logit over the windows.

    Returns ``{"seg": logits (B, C, *S), "image": logits (B, K)}`` when the network (or the module inside DDP) has
    ``num_image_classes > 0``, else whatever ``inferer`` returns (e.g. for an ONNX Runtime network). Cases of a
    batch are run one at a time so every window is attributed to its case. Works with any MONAI inferer that calls
    the network on windows or on the whole input (``SlidingWindowInferer``, ``SimpleInferer``).

    Example:
        >>> from monai.inferers import SlidingWindowInferer
        >>> from cranialseg.networks import DAResUNet
        >>> net = DAResUNet(2, 1, 2, channels=(4, 8), strides=(2,), num_image_classes=3).eval()
        >>> out = infer_with_image_head(SlidingWindowInferer((16, 16)), torch.rand(2, 1, 24, 24), net)
        >>> tuple(out["seg"].shape), tuple(out["image"].shape)
        ((2, 2, 24, 24), (2, 3))
    """
    module = _unwrap(network)
    if int(getattr(module, "num_image_classes", 0) or 0) <= 0 or not hasattr(module, "forward_with_heads"):
        return inferer(inputs, network, *args, **kwargs)
    segs, images = [], []
    for b in range(inputs.shape[0]):
        window_logits: list[torch.Tensor] = []

        def predictor(window: torch.Tensor, *a: Any, collected: list = window_logits, **k: Any) -> torch.Tensor:
            heads = module.forward_with_heads(window)
            collected.append(heads["image"].float())
            return heads["seg"]

        segs.append(inferer(inputs[b : b + 1], predictor, *args, **kwargs))
        images.append(torch.cat(window_logits, dim=0).amax(dim=0, keepdim=True))
    seg = segs[0] if len(segs) == 1 else torch.cat(segs, dim=0)
    return {"seg": seg, "image": torch.cat(images, dim=0).to(seg.device)}


class SlidingWindowImageHeadInferer(SlidingWindowInferer):
    """``SlidingWindowInferer`` that also returns the image-level head (see :func:`infer_with_image_head`).

    Same arguments as ``SlidingWindowInferer``; returns ``{"seg", "image"}`` for a network with an image head and
    the segmentation logits otherwise.

    Example:
        ``{"_target_": "cranialseg.workflows.SlidingWindowImageHeadInferer", "roi_size": [64, 64, 16],
        "mode": "gaussian"}``
    """

    def __call__(self, inputs: torch.Tensor, network: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return infer_with_image_head(super().__call__, inputs, network, *args, **kwargs)


class UnpackHeadsd(MapTransform):
    """Turn a dict of heads in ``d[key]`` into the segmentation in ``d[key]`` and the image logits in
    ``d[image_logits_key]``; a tensor is left as it is. Put it first in post-processing.

    Args:
        keys: prediction keys (usually ``"pred"``).
        image_logits_key: where the image-level logits go (one key; with several ``keys`` it gets the key as
            suffix, ``"<key>_presence_logits"`` is avoided because MONAI treats ``<key>_*`` as meta data).
        allow_missing_keys: don't raise when a key is missing.

    Example:
        >>> d = UnpackHeadsd("pred")({"pred": {"seg": torch.zeros(2, 4, 4), "image": torch.ones(3)}})
        >>> tuple(d["pred"].shape), d["presence_logits"].tolist()
        ((2, 4, 4), [1.0, 1.0, 1.0])
    """

    def __init__(
        self, keys: KeysCollection, image_logits_key: str = PRESENCE_KEY, allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.image_logits_key = image_logits_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            heads = d[key]
            if not isinstance(heads, Mapping):
                continue
            if "seg" not in heads:
                raise KeyError(f"'{key}' holds heads {sorted(heads)} without 'seg'")
            d[key] = heads["seg"]
            if "image" in heads:
                name = self.image_logits_key if len(self.keys) == 1 else f"{self.image_logits_key}_{key}"
                d[name] = heads["image"]
        return d


UnpackHeadsD = UnpackHeadsDict = UnpackHeadsd
