"""Crash-safe checkpoints: atomic writes, the old file kept until the new one is complete, best metric on resume."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import ignite.distributed as idist
from ignite.engine import Events
from ignite.handlers import Checkpoint, DiskSaver
from monai.handlers import CheckpointSaver

from cranialseg.utils.atomic import atomic_write

__all__ = ["AtomicDiskSaver", "AtomicCheckpointSaver", "BestMetricState"]

logger = logging.getLogger(__name__)


class AtomicDiskSaver(DiskSaver):
    """An ignite ``DiskSaver`` that never leaves a checkpoint half written and never deletes the last good one early.

    Each checkpoint is written to a temporary file in the same folder, flushed to disk and renamed over the target
    (``os.replace``), so the target is either the old complete file or the new complete file, even when the process
    is killed during the write. Ignite's ``Checkpoint`` asks its handler to remove the superseded file *before* it
    saves the new one; here removals are only recorded and carried out after the next save has succeeded. The file
    permissions follow the umask (ignite's own ``atomic=True`` writes owner-only files, the reason MONAI's
    ``CheckpointSaver`` turns it off).

    Args:
        dirname: output folder (created when missing).
        filename: a fixed file name to write whatever name ``Checkpoint`` asks for (MONAI's ``model.pt``), or
            ``None`` to use the name given.
        save_on_rank: the rank that writes in a distributed run.

    Example:
        >>> import tempfile, torch
        >>> saver = AtomicDiskSaver(tempfile.mkdtemp(), filename="model.pt")
        >>> saver({"w": torch.zeros(2)}, "ignored_name.pt")
        >>> sorted(p.name for p in saver.dirname.iterdir())
        ['model.pt']
    """

    def __init__(self, dirname: str | Path, filename: str | None = None, save_on_rank: int = 0) -> None:
        super().__init__(dirname=dirname, atomic=True, create_dir=True, require_empty=False, save_on_rank=save_on_rank)
        self.filename = filename
        self.pending_removals: list[str] = []

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        super().__call__(checkpoint, self.filename or filename, metadata)
        if idist.get_rank() != self.save_on_rank:
            return
        written = self.filename or filename
        for old in [f for f in self.pending_removals if f != written]:
            path = self.dirname / old
            if path.exists():
                path.unlink()
                logger.info(f"removed superseded checkpoint {path}")
        self.pending_removals = [f for f in self.pending_removals if f == written]

    def _save_func(self, checkpoint: Mapping, path: Path, func: Callable) -> None:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as stream:
                func(checkpoint, stream, **self.kwargs)
                stream.flush()
                os.fsync(stream.fileno())

        atomic_write(path, write, overwrite=True)

    def remove(self, filename: str) -> None:
        """Record ``filename`` for removal once the next checkpoint is complete (a fixed name is simply replaced)."""
        name = self.filename or filename
        if name != self.filename and name not in self.pending_removals:
            self.pending_removals.append(name)


class AtomicCheckpointSaver(CheckpointSaver):
    """:class:`monai.handlers.CheckpointSaver` with crash-safe writes that keeps the best model across a resume.

    Same arguments and files as MONAI's saver, but every file (interval checkpoints, the key-metric file such as
    ``model.pt``, the final checkpoint) goes through :class:`AtomicDiskSaver`: a kill during a save leaves the previous
    complete file in place, and a superseded checkpoint is deleted only after its successor is complete.

    When the key metric is saved under a fixed name (``key_metric_filename``), that file exists and the engine's
    ``state.best_metric_epoch`` is set (restored from a training checkpoint by :class:`BestMetricState`), the
    saver starts from the engine's best value, so a resumed training only replaces ``model.pt`` when validation
    improves on the best value before the interruption.

    Example:
        ``{"_target_": "cranialseg.handlers.AtomicCheckpointSaver", "save_dir": "@ckpt_dir",
        "save_dict": {"model": "@network"}, "save_key_metric": true, "key_metric_filename": "model.pt"}``
    """

    def __init__(self, save_dir: str, save_dict: dict, **kwargs: Any) -> None:
        super().__init__(save_dir=save_dir, save_dict=save_dict, **kwargs)
        self._key_metric_sign = -1.0 if kwargs.get("key_metric_negative_sign", False) else 1.0
        for checkpoint in (self._final_checkpoint, self._key_metric_checkpoint, self._interval_checkpoint):
            if checkpoint is not None:
                checkpoint.save_handler = AtomicDiskSaver(
                    self.save_dir, getattr(checkpoint.save_handler, "filename", None)
                )

    def attach(self, engine: Any) -> None:
        super().attach(engine)
        if self._key_metric_checkpoint is not None:
            engine.add_event_handler(Events.STARTED, self.start_from_best)

    def start_from_best(self, engine: Any) -> None:
        """Make the engine's restored best metric the value to beat when this saver has not saved anything yet."""
        checkpoint = self._key_metric_checkpoint
        filename = checkpoint.save_handler.filename if checkpoint is not None else None
        best, epoch = getattr(engine.state, "best_metric", None), getattr(engine.state, "best_metric_epoch", -1)
        if checkpoint is None or checkpoint._saved or filename is None or epoch is None or epoch < 0:
            return
        if best is None or not (Path(self.save_dir) / filename).is_file():
            return
        checkpoint._saved.append(Checkpoint.Item(self._key_metric_sign * float(best), filename))
        logger.info(f"{filename}: keeping the best metric {float(best):.4f} of epoch {epoch} until it improves")


class BestMetricState:
    """The best key-metric value of an evaluator and its epoch, as a stateful object for training checkpoints.

    Put it in the training checkpoint's ``save_dict`` and the resume loader's ``load_dict``: a resumed training then
    continues the best-metric tracking of the interrupted one instead of restarting it (which replaced the best
    ``model.pt`` with the first, possibly worse, validation after the resume).

    Args:
        evaluator: the validation engine (``@validate#evaluator``) whose ``state.best_metric`` and
            ``state.best_metric_epoch`` are saved and restored.

    Example:
        >>> from types import SimpleNamespace
        >>> ev = SimpleNamespace(state=SimpleNamespace(best_metric=0.8, best_metric_epoch=3))
        >>> BestMetricState(ev).state_dict()
        {'best_metric': 0.8, 'best_metric_epoch': 3}
    """

    def __init__(self, evaluator: Any) -> None:
        self.evaluator = evaluator

    def state_dict(self) -> dict[str, Any]:
        state = self.evaluator.state
        return {"best_metric": float(state.best_metric), "best_metric_epoch": int(state.best_metric_epoch)}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.evaluator.state.best_metric = float(state_dict["best_metric"])
        self.evaluator.state.best_metric_epoch = int(state_dict["best_metric_epoch"])
        best, epoch = self.evaluator.state.best_metric, self.evaluator.state.best_metric_epoch
        logger.info(f"restored the best metric {best:.4f} of epoch {epoch}")
