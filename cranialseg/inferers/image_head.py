"""Inference with the image-level head: the network wrapper and the sliding-window inferer returning both heads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from monai.inferers import SlidingWindowInferer
from torch import nn

__all__ = [
    "WithImageHead",
    "infer_with_image_head",
    "SlidingWindowImageHeadInferer",
]


def _unwrap(network: Any) -> Any:
    """The module inside ``DataParallel``/``DistributedDataParallel`` (or the network itself)."""
    return getattr(network, "module", network)


class WithImageHead(nn.Module):
    """Make a network's ``forward`` return all its heads (``forward_with_heads``), for training.

    Wrap before ``DistributedDataParallel`` so that DDP sees the call. The wrapped network keeps its parameters,
    so checkpoints and validation keep using the plain network.

    Example:
        ``"train_network": "$cranialseg.inferers.WithImageHead(@network)"``
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
        ``{"_target_": "cranialseg.inferers.SlidingWindowImageHeadInferer", "roi_size": [64, 64, 16],
        "mode": "gaussian"}``
    """

    def __call__(self, inputs: torch.Tensor, network: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return infer_with_image_head(super().__call__, inputs, network, *args, **kwargs)
