"""Training statistics for MONAI Label's ``/info/`` (``train_stats``), written by a handler during training.

MONAI Label's own trainers (``BasicTrainTask``) keep ``<model dir>/train_stats.json`` up to date through
``monailabel/tasks/train/handler.py`` (``prepare_stats``) and report it from ``stats()``; ``BundleTrainTask`` does
neither, so ``/info/`` shows ``train_stats: {}`` for a bundle and 3D Slicer's training monitor stops at once.
:class:`TrainStatsHandler` is added to the bundle's ``train#handlers`` by
:class:`~cranialseg.label.train.CranialSegTrainTask` and writes the same document (epochs, best metric, metrics,
times) plus the last ``loss`` after every epoch.

Example:
    >>> import json, tempfile, os, torch
    >>> from monai.engines import SupervisedTrainer
    >>> net = torch.nn.Conv2d(1, 1, 1)
    >>> data = [{"image": torch.ones(1, 1, 2, 2), "label": torch.zeros(1, 1, 2, 2)}]
    >>> trainer = SupervisedTrainer(torch.device("cpu"), 2, data, net, torch.optim.SGD(net.parameters(), 0.1),
    ...                             torch.nn.MSELoss())
    >>> path = os.path.join(tempfile.mkdtemp(), "train_stats.json")
    >>> TrainStatsHandler(path).attach(trainer); trainer.run()
    >>> stats = json.load(open(path)); stats["epoch"], stats["total_epochs"], "total_time" in stats, "loss" in stats
    (2, 2, True, True)
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
import time
from typing import Any, Dict, Optional

import torch
from monai.engines.workflow import Engine, Events

__all__ = ["TrainStatsHandler", "prepare_stats", "read_stats"]


def _plain(d: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v.tolist() if torch.is_tensor(v) else v for k, v in d.items()}


def prepare_stats(start_ts: float, trainer: Engine, evaluator: Optional[Engine]) -> Dict[str, Any]:
    """The ``train_stats`` document of MONAI Label's trainers (``monailabel/tasks/train/handler.py:23-51``).

    Keys: the trainer's ``get_stats()`` (``total_epochs``, ``total_iterations``, ...), ``epoch``, ``start_ts``,
    ``total_time`` (finished) or ``current_time``, ``best_metric`` and, per engine (``train``, ``eval``), its
    ``metrics``, ``key_metric_name``, ``best_metric`` and ``best_metric_epoch``; plus ``loss``, the last iteration's.
    """
    stats: Dict[str, Any] = dict(trainer.get_stats()) if hasattr(trainer, "get_stats") else {}
    stats["epoch"] = trainer.state.epoch
    stats["start_ts"] = int(start_ts)
    elapsed = str(datetime.timedelta(seconds=int(time.time() - start_ts)))
    stats["total_time" if trainer.state.epoch == trainer.state.max_epochs else "current_time"] = elapsed
    for name, engine in {"train": trainer, "eval": evaluator}.items():
        if engine is None:
            continue
        stats["best_metric"] = engine.state.best_metric
        stats[name] = {
            "metrics": _plain(engine.state.metrics),
            "key_metric_name": engine.state.key_metric_name,
            "best_metric": engine.state.best_metric,
            "best_metric_epoch": engine.state.best_metric_epoch,
        }
    output = trainer.state.output
    loss = (
        output[0].get("loss") if isinstance(output, list) and output else getattr(output, "get", lambda _: None)("loss")
    )
    if loss is not None:
        stats["loss"] = float(loss)
    return stats


class TrainStatsHandler:
    """Write :func:`prepare_stats` as JSON to ``stats_path`` after every epoch and at the end (atomically).

    Args:
        stats_path: the JSON file (MONAI Label's trainers use ``<model dir>/train_stats.json``).
        evaluator: the validation engine, for its metrics and best metric; optional.
    """

    def __init__(self, stats_path: str, evaluator: Optional[Engine] = None) -> None:
        self.stats_path = str(stats_path)
        self.evaluator = evaluator
        self.start_ts = time.time()

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self._started)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)
        engine.add_event_handler(Events.COMPLETED, self)

    def _started(self, engine: Engine) -> None:
        self.start_ts = time.time()

    def __call__(self, engine: Engine) -> None:
        stats = prepare_stats(self.start_ts, engine, self.evaluator)
        folder = os.path.dirname(os.path.abspath(self.stats_path))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".json", dir=folder)
        with os.fdopen(fd, "w") as f:
            json.dump(stats, f, indent=2)
        os.replace(tmp, self.stats_path)


def read_stats(stats_path: str) -> Dict[str, Any]:
    """The stats written by :class:`TrainStatsHandler`, or ``{}`` before any training."""
    try:
        with open(stats_path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
