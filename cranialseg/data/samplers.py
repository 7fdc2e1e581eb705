"""Samplers for multi-GPU runs: MONAI's DistributedSampler that also works with fewer cases than ranks."""

from __future__ import annotations

import logging
from typing import Any

import torch.distributed as dist
from monai.data import DistributedSampler

__all__ = [
    "distributed_sampler",
]

logger = logging.getLogger(__name__)


def distributed_sampler(
    dataset: Any,
    even_divisible: bool = True,
    shuffle: bool = True,
    num_replicas: int | None = None,
    rank: int | None = None,
    **kwargs: Any,
) -> DistributedSampler:
    """MONAI's ``DistributedSampler``, which also works with fewer cases than ranks.

    With ``even_divisible=False`` MONAI raises when the dataset has fewer items than ranks (e.g. 2 validation
    cases on 6 GPUs). Then this falls back to ``even_divisible=True`` (with a warning): every rank gets one item,
    some cases twice, so a metric averaged over ranks counts those cases twice.

    Example:
        ``"validate#sampler": {"_target_": "cranialseg.data.distributed_sampler",
        "dataset": "@validate#dataset", "even_divisible": false, "shuffle": false}``
    """
    if num_replicas is None:
        num_replicas = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    if not even_divisible and len(dataset) < num_replicas:
        logger.warning(
            f"{len(dataset)} items for {num_replicas} ranks: padding by repeating items (even_divisible=True); "
            "repeated cases count twice in metrics averaged over ranks"
        )
        even_divisible = True
    return DistributedSampler(
        dataset, even_divisible=even_divisible, num_replicas=num_replicas, rank=rank, shuffle=shuffle, **kwargs
    )
