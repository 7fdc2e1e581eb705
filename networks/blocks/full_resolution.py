"""Space-to-depth: a full-resolution image rearranged losslessly onto a coarser grid, for any spatial dimension."""

from __future__ import annotations

from typing import List

import torch

__all__ = ["space_to_depth"]


def space_to_depth(x: torch.Tensor, block: List[int]) -> torch.Tensor:
    """Rearrange ``(B, C, *S)`` into ``(B, C * prod(block), *(S // block))``, any number of spatial axes: every
    ``block``-sized patch becomes channels (channel-major, then the patch in raster order), nothing is lost
    (pixel unshuffle; Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient
    Sub-Pixel Convolutional Neural Network", CVPR 2016). Every ``S[i]`` must be a multiple of ``block[i]``.

    Example:
        >>> space_to_depth(torch.arange(16.0).reshape(1, 1, 4, 4), [2, 2])[0, :, 0, 0]
        tensor([0., 1., 4., 5.])
    """
    b, c = x.shape[0], x.shape[1]
    d = len(block)
    shape = [b, c]
    coarse: List[int] = []
    n = 1
    for i in range(d):
        size = x.shape[2 + i] // block[i]
        shape += [size, block[i]]
        coarse.append(size)
        n *= block[i]
    perm = [0, 1] + [3 + 2 * i for i in range(d)] + [2 + 2 * i for i in range(d)]
    return x.reshape(shape).permute(perm).reshape([b, c * n] + coarse)
