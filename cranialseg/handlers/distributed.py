"""Multi-GPU handler lists for ``multi_gpu_train.json``: which handlers run on which rank."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch.distributed as dist

__all__ = [
    "RANK_ZERO_ONLY_HANDLERS",
    "handlers_for_rank",
]

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
        ``"train#trainer#train_handlers": "$cranialseg.handlers.handlers_for_rank(@train#handlers)"``
    """
    if handlers is None:
        return None
    if _rank(rank) == 0:
        return list(handlers)
    return [h for h in handlers if not {c.__name__ for c in type(h).__mro__} & set(RANK_ZERO_ONLY_HANDLERS)]
