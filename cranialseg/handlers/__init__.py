"""Ignite handlers: atomic checkpoints, resuming, rank-aware handler lists, evaluation reports."""

from cranialseg.handlers.checkpoints import AtomicCheckpointSaver, AtomicDiskSaver, BestMetricState
from cranialseg.handlers.distributed import RANK_ZERO_ONLY_HANDLERS, handlers_for_rank
from cranialseg.handlers.evaluation_report import EvaluationReport, evaluator_items
from cranialseg.handlers.head_evaluation_report import HeadEvaluationReport
from cranialseg.handlers.training_checkpoints import (
    ResumeCheckpointLoader,
    TrainingCheckpointSaver,
    latest_checkpoint,
    read_checkpoint,
)

__all__ = [
    "AtomicDiskSaver",
    "AtomicCheckpointSaver",
    "BestMetricState",
    "latest_checkpoint",
    "read_checkpoint",
    "ResumeCheckpointLoader",
    "TrainingCheckpointSaver",
    "RANK_ZERO_ONLY_HANDLERS",
    "handlers_for_rank",
    "evaluator_items",
    "EvaluationReport",
    "HeadEvaluationReport",
]
