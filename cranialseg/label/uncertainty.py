"""Model uncertainty on one image: how much the labels move under test-time flips (for active learning).

The network predicts the image and its mirror images along each spatial axis; each prediction is flipped back and
the softmax maps compared voxel by voxel. An image like the ones the model was trained on gives the same answer
whichever way round it is shown; an unfamiliar one does not. The score is the voxel mean of the summed class
variance across the ``1 + spatial_dims`` predictions (0 when they all agree). Dimension-free: 2D frames and 3D
volumes alike.

Example:
    >>> import torch
    >>> net = torch.nn.Conv2d(1, 2, 1)
    >>> flip_disagreement(net, torch.ones(1, 1, 8, 8)) < 1e-6  # a 1x1 conv on a flat image: flips change nothing
    True
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch

__all__ = ["flip_disagreement"]


def flip_disagreement(
    network: torch.nn.Module, image: torch.Tensor, inferer: Optional[Callable[..., Any]] = None, softmax: bool = True
) -> float:
    """Mean voxel variance of the class probabilities under flips of each spatial axis.

    Args:
        network: the segmentation network (``(B, C, *spatial)`` logits); run in eval mode, no gradients.
        image: a batch of one, ``(1, C, *spatial)``.
        inferer: called as ``inferer(x, network)`` (e.g. the bundle's ``SlidingWindowInferer``); default
            ``network(x)``.
        softmax: apply a softmax over the channels (False when the network already returns probabilities).

    Returns:
        The disagreement score, >= 0; larger means less sure.
    """
    if image.ndim < 4 or image.shape[0] != 1:
        raise ValueError(f"image must be a batch of one (1, C, *spatial), got shape {tuple(image.shape)}")
    run = inferer if inferer is not None else (lambda x, net: net(x))
    was_training = network.training
    network.eval()
    probs = []
    try:
        with torch.no_grad():
            for axes in [()] + [(a,) for a in range(2, image.ndim)]:
                x = torch.flip(image, axes) if axes else image
                y = torch.as_tensor(run(x, network)).float()
                y = torch.softmax(y, 1) if softmax else y
                probs.append(torch.flip(y, axes) if axes else y)
    finally:
        network.train(was_training)
    return float(torch.stack(probs).var(0, unbiased=False).sum(1).mean())
