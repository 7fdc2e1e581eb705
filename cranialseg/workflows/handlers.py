"""Ignite handlers used by the bundle configs: resume from the newest full training checkpoint."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from monai.handlers import CheckpointLoader, CheckpointSaver

__all__ = ["latest_checkpoint", "ResumeCheckpointLoader", "TrainingCheckpointSaver"]

logger = logging.getLogger(__name__)


def latest_checkpoint(ckpt_dir: str | Path, pattern: str = "checkpoint*.pt") -> Path | None:
    """The newest file matching ``pattern`` in ``ckpt_dir`` (by modification time), or ``None``.

    Example:
        >>> latest_checkpoint("/nonexistent") is None
        True
    """
    files = sorted(Path(ckpt_dir).glob(pattern), key=lambda p: p.stat().st_mtime)
    return files[-1] if files else None


class ResumeCheckpointLoader:
    """A :class:`monai.handlers.CheckpointLoader` that is only attached when resuming is asked for.

    ``train#handlers`` must stay a plain list (MONAI Label edits it), so the resume option is this handler
    in the list rather than a conditional expression.

    Args:
        resume: ``False``/``""`` (start fresh), ``True`` (the newest ``checkpoint*.pt`` in ``ckpt_dir``) or the
            path of a full checkpoint saved by the training's ``CheckpointSaver``.
        ckpt_dir: folder searched when ``resume`` is ``True``.
        load_dict: objects to restore (network, optimizer, lr scheduler, trainer).
        map_location: passed to ``torch.load`` (use ``@device``).

    Example:
        ``{"_target_": "cranialseg.workflows.ResumeCheckpointLoader", "resume": "@resume", "ckpt_dir": "@ckpt_dir",
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
        """Restore ``load_dict`` plus the engine itself (as ``engine_key``: epoch and iteration counters)."""
        if self.path is None:
            return
        load_dict = dict(self.load_dict)
        if self.engine_key:
            load_dict[self.engine_key] = engine
        logger.info(f"resuming from {self.path}")
        CheckpointLoader(load_path=str(self.path), load_dict=load_dict, map_location=self.map_location).attach(engine)


class TrainingCheckpointSaver:
    """A :class:`monai.handlers.CheckpointSaver` of a full training state that also saves the engine it is
    attached to (as ``engine_key``), which a config cannot reference without a circular reference.

    Args:
        save_dir: output folder.
        save_dict: objects to save (network, optimizer, lr scheduler).
        engine_key: name of the engine's entry, ``None`` to leave it out.
        kwargs: other :class:`~monai.handlers.CheckpointSaver` arguments (``save_interval``, ``n_saved``, ...).

    Example:
        ``{"_target_": "cranialseg.workflows.TrainingCheckpointSaver", "save_dir": "@ckpt_dir",
        "save_dict": {"network": "@network", "optimizer": "@optimizer"}, "save_interval": 1, "n_saved": 1}``
    """

    def __init__(self, save_dir: str | Path, save_dict: dict, engine_key: str | None = "trainer", **kwargs: Any):
        self.save_dir = str(save_dir)
        self.save_dict = dict(save_dict)
        self.engine_key = engine_key
        self.kwargs = kwargs
        self.saver: CheckpointSaver | None = None

    def attach(self, engine: Any) -> None:
        save_dict = dict(self.save_dict)
        if self.engine_key:
            save_dict[self.engine_key] = engine
        self.saver = CheckpointSaver(save_dir=self.save_dir, save_dict=save_dict, **self.kwargs)
        self.saver.attach(engine)
