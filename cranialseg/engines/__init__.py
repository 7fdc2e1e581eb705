"""Engines: batch inference over a folder of cases, going on past a bad case."""

from cranialseg.engines.batch_inference import DONE_SUFFIX, BatchFailedError, BatchInference

__all__ = [
    "BatchFailedError",
    "BatchInference",
    "DONE_SUFFIX",
]
