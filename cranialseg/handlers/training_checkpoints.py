"""Ignite handlers used by the bundle configs: resume from the newest full training checkpoint, save it safely."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Events
from ignite.handlers import Checkpoint

from cranialseg.handlers.checkpoints import AtomicCheckpointSaver, BestMetricState
from cranialseg.utils.errors import InputError

__all__ = ["latest_checkpoint", "read_checkpoint", "ResumeCheckpointLoader", "TrainingCheckpointSaver"]

logger = logging.getLogger(__name__)


def latest_checkpoint(ckpt_dir: str | Path, pattern: str = "checkpoint*.pt") -> Path | None:
    """The newest file matching ``pattern`` in ``ckpt_dir`` (by modification time), or ``None``.

    Example:
        >>> latest_checkpoint("/nonexistent") is None
        True
    """
    files = sorted(Path(ckpt_dir).glob(pattern), key=lambda p: p.stat().st_mtime)
    return files[-1] if files else None


def read_checkpoint(path: str | Path, map_location: Any = None) -> dict:
    """Load a full training checkpoint, with an error that names the file and says what to do when it is unusable.

    Raises:
        InputError: missing, empty (an interrupted save of an older version), unreadable (truncated or not a
            PyTorch file) or not a dict of saved objects.

    Example:
        >>> import tempfile
        >>> empty = Path(tempfile.mkdtemp()) / "checkpoint_epoch=2.pt"
        >>> _ = empty.write_bytes(b"")
        >>> try:
        ...     read_checkpoint(empty)
        ... except InputError as err:
        ...     print(err.problem)
        empty checkpoint (0 bytes)
    """
    path = Path(path)
    others = sorted(p.name for p in path.parent.glob("checkpoint*.pt") if p != path and p.stat().st_size > 0)
    hint = (
        "delete it, then resume from an earlier checkpoint with `--resume <path>`"
        + (f" (in the same folder: {', '.join(others)})" if others else "")
        + " or train from the start with `--resume false`"
    )
    if not path.is_file():
        raise InputError(path, "no such checkpoint file", "pass the path of a checkpoint*.pt saved by the training")
    if path.stat().st_size == 0:
        raise InputError(path, "empty checkpoint (0 bytes)", hint)
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # noqa: BLE001 - torch raises EOFError, RuntimeError, UnpicklingError, zip errors ...
        raise InputError(
            path, f"unreadable checkpoint (truncated or corrupt?): {type(err).__name__}: {err}", hint
        ) from err
    if not isinstance(checkpoint, dict):
        raise InputError(path, f"not a training checkpoint: holds a {type(checkpoint).__name__}", hint)
    return checkpoint


class ResumeCheckpointLoader:
    """A :class:`monai.handlers.CheckpointLoader` that is only attached when resuming is asked for.

    ``train#handlers`` must stay a plain list (MONAI Label edits it), so the resume option is this handler
    in the list rather than a conditional expression.

    Args:
        resume: ``False``/``""`` (start fresh), ``True`` (the newest ``checkpoint*.pt`` in ``ckpt_dir``) or the
            path of a full checkpoint saved by the training's ``CheckpointSaver``.
        ckpt_dir: folder searched when ``resume`` is ``True``.
        load_dict: objects to restore (network, optimizer, lr scheduler, a :class:`BestMetricState`).
        map_location: passed to ``torch.load`` (use ``@device``).
        engine_key: name of the engine's own entry (epoch and iteration counters), ``None`` to leave it out.

    An unusable checkpoint (empty, truncated, corrupt) stops the training with an :class:`InputError` naming the file
    and the way out. A checkpoint saved before the best metric was kept (no entry for a :class:`BestMetricState`)
    resumes with a warning. After loading, the engine's ``state.resumed_from`` holds the checkpoint path, which
    :class:`TrainingCheckpointSaver` uses to delete that checkpoint once its successor is saved (attach the loader
    first, as the bundles' ``train#handlers`` do).

    Example:
        ``{"_target_": "cranialseg.handlers.ResumeCheckpointLoader", "resume": "@resume", "ckpt_dir": "@ckpt_dir",
        "load_dict": {...}, "map_location": "@device"}``
    """

    def __init__(
        self,
        resume: Any,
        ckpt_dir: str | Path,
        load_dict: dict,
        map_location: Any = None,
        engine_key: str | None = "trainer",
    ) -> None:
        self.path: Path | None = None
        self.load_dict = dict(load_dict)
        self.engine_key = engine_key
        self.map_location = map_location
        if isinstance(resume, str) and resume.lower() in ("", "false", "0", "no", "none"):
            resume = False
        elif isinstance(resume, str) and resume.lower() in ("true", "1", "yes"):
            resume = True
        if resume is True:
            self.path = latest_checkpoint(ckpt_dir)
            if self.path is None:
                raise FileNotFoundError(f"resume=True but no checkpoint*.pt in {ckpt_dir} to resume from")
        elif resume:
            self.path = Path(resume)
            if not self.path.is_file():
                raise FileNotFoundError(f"resume={resume!r}: no such checkpoint file")

    def attach(self, engine: Any) -> None:
        """Restore ``load_dict`` plus the engine itself (as ``engine_key``) when the engine starts."""
        if self.path is not None:
            engine.add_event_handler(Events.STARTED, self.load)

    def load(self, engine: Any) -> None:
        """Load the checkpoint into ``load_dict`` and ``engine``, keeping the engine's ``max_epochs``."""
        assert self.path is not None
        load_dict = dict(self.load_dict)
        if self.engine_key:
            load_dict[self.engine_key] = engine
        checkpoint = read_checkpoint(self.path, self.map_location)
        missing = [k for k in load_dict if k not in checkpoint]
        for key in [k for k in missing if isinstance(load_dict[k], BestMetricState)]:
            logger.warning(f"{self.path}: no '{key}' entry (saved by an older version); best-metric tracking restarts")
            load_dict.pop(key)
            missing.remove(key)
        if missing:
            raise InputError(
                self.path,
                f"checkpoint has no {missing} (it holds {sorted(checkpoint)})",
                "resume from a checkpoint*.pt saved by this bundle's training, or train with `--resume false`",
            )
        max_epochs = engine.state.max_epochs
        Checkpoint.load_objects(to_load=load_dict, checkpoint=checkpoint)
        if max_epochs is not None and engine.state.epoch > max_epochs:
            raise ValueError(
                f"{self.path}: the checkpoint is at epoch {engine.state.epoch}, past max_epochs={max_epochs}; "
                "pass a larger --max_epochs to train on"
            )
        engine.state.max_epochs = max_epochs
        engine.state.resumed_from = str(self.path)
        logger.info(f"resumed from {self.path} at epoch {engine.state.epoch}")


class TrainingCheckpointSaver:
    """A crash-safe :class:`~cranialseg.handlers.AtomicCheckpointSaver` of a full training state that also saves the
    engine it is attached to (as ``engine_key``), which a config cannot reference without a circular reference.

    After a resume (the engine's ``state.resumed_from``, set by :class:`ResumeCheckpointLoader`), the checkpoint
    resumed from counts as this saver's own, so it is deleted once a newer one is saved (``n_saved``).

    Args:
        save_dir: output folder.
        save_dict: objects to save (network, optimizer, lr scheduler).
        engine_key: name of the engine's entry, ``None`` to leave it out.
        kwargs: other :class:`~monai.handlers.CheckpointSaver` arguments (``save_interval``, ``n_saved``, ...).

    Example:
        ``{"_target_": "cranialseg.handlers.TrainingCheckpointSaver", "save_dir": "@ckpt_dir",
        "save_dict": {"network": "@network", "optimizer": "@optimizer"}, "save_interval": 1, "n_saved": 1}``
    """

    def __init__(self, save_dir: str | Path, save_dict: dict, engine_key: str | None = "trainer", **kwargs: Any):
        self.save_dir = str(save_dir)
        self.save_dict = dict(save_dict)
        self.engine_key = engine_key
        self.kwargs = kwargs
        self.saver: AtomicCheckpointSaver | None = None

    def attach(self, engine: Any) -> None:
        save_dict = dict(self.save_dict)
        if self.engine_key:
            save_dict[self.engine_key] = engine
        self.saver = AtomicCheckpointSaver(save_dir=self.save_dir, save_dict=save_dict, **self.kwargs)
        self.saver.attach(engine)
        engine.add_event_handler(Events.STARTED, self.adopt_resumed)

    def adopt_resumed(self, engine: Any) -> None:
        """Count the checkpoint the engine resumed from (if it lies in ``save_dir``) as saved by this saver."""
        resumed = getattr(engine.state, "resumed_from", None)
        checkpoint = self.saver._interval_checkpoint if self.saver is not None else None
        if not resumed or checkpoint is None or checkpoint._saved:
            return
        path = Path(resumed)
        if path.parent.resolve() == Path(self.save_dir).resolve():
            step = engine.state.epoch if self.saver.epoch_level else engine.state.iteration
            checkpoint._saved.append(Checkpoint.Item(step, path.name))
