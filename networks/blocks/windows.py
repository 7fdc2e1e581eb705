"""Dimension-free window partitioning for local self-attention (Swin-style), TorchScript-able.

A feature map ``(B, C, *S)`` whose spatial size is a multiple of the window is cut into non-overlapping
windows ``(B * nW, N, C)`` with ``N = prod(window)`` tokens each, and put back by :func:`window_reverse`.
"""

from __future__ import annotations

from typing import List

import torch

__all__ = ["effective_window", "window_padding", "window_partition", "window_reverse"]


def effective_window(spatial: List[int], window: List[int]) -> List[int]:
    """The window per axis, shrunk to the map where the map is smaller (so a small map is one global window)."""
    return [min(w, s) for w, s in zip(window, spatial)]


def window_padding(spatial: List[int], window: List[int]) -> List[int]:
    """Padding per axis (added at the end) that makes ``spatial`` a whole number of windows."""
    return [(w - s % w) % w for s, w in zip(spatial, window)]


def window_partition(x: torch.Tensor, window: List[int]) -> torch.Tensor:
    """Cut ``x`` of shape ``(B, C, *S)`` into windows of shape ``(B * nW, prod(window), C)``.

    Every ``S[i]`` must be a multiple of ``window[i]``; windows are ordered batch-major, then raster order.
    """
    b, c = x.shape[0], x.shape[1]
    spatial = x.shape[2:]
    d = len(window)
    shape = [b, c]
    n = 1
    for i in range(d):
        shape += [spatial[i] // window[i], window[i]]
        n *= window[i]
    perm = [0] + [2 + 2 * i for i in range(d)] + [3 + 2 * i for i in range(d)] + [1]
    return x.reshape(shape).permute(perm).reshape(-1, n, c)


def window_reverse(windows: torch.Tensor, window: List[int], spatial: List[int], batch: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: ``(B * nW, N, C)`` back to ``(B, C, *spatial)``."""
    d = len(window)
    c = windows.shape[-1]
    shape = [batch] + [spatial[i] // window[i] for i in range(d)] + window + [c]
    perm = [0, 2 * d + 1]
    for i in range(d):
        perm += [1 + i, 1 + d + i]
    return windows.reshape(shape).permute(perm).reshape([batch, c] + spatial)
