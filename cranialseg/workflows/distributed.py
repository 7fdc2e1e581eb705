"""Multi-GPU helpers for ``multi_gpu_train.json``: which handlers run on which rank, and a sampler for few cases."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch.distributed as dist
from monai.data import DistributedSampler

__all__ = ["RANK_ZERO_ONLY_HANDLERS", "handlers_for_rank", "distributed_sampler"]

logger = logging.getLogger(__name__)

#: class names of the handlers that only rank 0 runs (console, progress bars, experiment trackers)
RANK_ZERO_ONLY_HANDLERS = (
    "StatsHandler",
    "TensorBoardHandler",
    "TensorBoardStatsHandler",
    "TensorBoardImageHandler",
    "ProgressBar",
    "MLFlowHandler",
    "ClearMLHandler",
    "ClearMLStatsHandler",
    "ClearMLImageHandler",
)


def _rank(rank: int | None) -> int:
    if rank is not None:
        return int(rank)
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def handlers_for_rank(handlers: Sequence[Any] | None, rank: int | None = None) -> list[Any] | None:
    """All ``handlers`` on rank 0; on other ranks those that are not loggers or progress bars.

    Selected by type (any class in the handler's MRO named in :data:`RANK_ZERO_ONLY_HANDLERS`), not by position,
    so a handler added to ``train#handlers`` keeps running on every rank.

    Args:
        handlers: the handler objects (``@train#handlers``); ``None`` stays ``None``.
        rank: the process rank; ``None`` asks ``torch.distributed`` (0 when it is not initialised).

    Example:
        ``"train#trainer#train_handlers": "$cranialseg.workflows.handlers_for_rank(@train#handlers)"``
    """
    if handlers is None:
        return None
    if _rank(rank) == 0:
        return list(handlers)
    return [h for h in handlers if not {c.__name__ for c in type(h).__mro__} & set(RANK_ZERO_ONLY_HANDLERS)]


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
        ``"validate#sampler": {"_target_": "cranialseg.workflows.distributed_sampler",
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
