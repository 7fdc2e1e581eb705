"""MONAI Label training task for a cranialseg bundle: ``BundleTrainTask`` plus the workarounds it needs.

Needs ``monailabel`` (the MONAI Label environment built by ``scripts/setup_label_env.sh``).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List, Optional

from monailabel.interfaces.datastore import Datastore
from monailabel.tasks.train.bundle import BundleTrainTask

from cranialseg.data.dataset import image_spatial_dims
from cranialseg.label.stats import read_stats

__all__ = ["CranialSegTrainTask", "image_spatial_dims"]

_logger = logging.getLogger(__name__)


class CranialSegTrainTask(BundleTrainTask):
    """Train one cranialseg bundle (its ``configs/train.json``) from MONAI Label's labelled images.

    On top of MONAI Label's ``BundleTrainTask`` it:

    * trains each model only on images of its own dimension: MONAI Label hands every labelled image of the
      datastore to every trainer (``monailabel/tasks/train/bundle.py:160-178``), so a studies folder that mixes
      head CT volumes and ultrasound frames would feed frames to the 3D model;
    * lowers the bundle's ``val_interval`` to the requested ``max_epochs`` when it is larger: the bundle writes
      ``models/model.pt`` from its validation ``CheckpointSaver`` (best key metric), which a short run from MONAI
      Label (``max_epochs`` 1) would otherwise never reach, so no new model would be served;
    * reports ``train_stats`` in ``/info/`` (epochs, best metric, metrics, loss, times) like MONAI Label's own
      trainers: a :class:`~cranialseg.label.stats.TrainStatsHandler` in ``train#handlers`` writes
      ``models/train_stats.json`` after every epoch and :meth:`stats` returns it.

    Args:
        path: the bundle folder (``<app>/model/<name>``).
        conf: the app's ``--conf`` settings.
        kwargs: passed to ``BundleTrainTask``.
    """

    def __init__(self, path: str, conf: Dict[str, str], **kwargs: Any):
        super().__init__(path, conf, **kwargs)
        self.dimension = 3
        metadata = os.path.join(path, "configs", "metadata.json")
        if self.valid and os.path.exists(metadata):
            with open(metadata) as fp:
                inputs = json.load(fp).get("network_data_format", {}).get("inputs", {})
            first: Dict[str, Any] = next(iter(inputs.values()), {})
            self.dimension = len(first.get("spatial_shape") or [0, 0, 0])
        self._max_epochs: Optional[int] = None

    def _fetch_datalist(self, request: Dict[str, Any], datastore: Datastore) -> List[Dict[str, Any]]:
        items = super()._fetch_datalist(request, datastore)
        kept = [d for d in items if image_spatial_dims(d["image"]) in (self.dimension, None)]
        if len(kept) != len(items):
            skipped = len(items) - len(kept)
            _logger.info(f"{request.get('model')}: {skipped} labelled image(s) of another dimension skipped")
        return kept

    def __call__(self, request: Dict[str, Any], datastore: Datastore):
        self._max_epochs = int(request.get("max_epochs", 50))
        return super().__call__(request, datastore)

    @property
    def stats_path(self) -> str:
        return os.path.join(self.bundle_path, "models", "train_stats.json")

    def stats(self) -> Dict[str, Any]:
        return read_stats(self.stats_path)

    def _update_overrides(self, overrides: Dict[str, Any]) -> Dict[str, Any]:
        key = self.const.key_train_handlers()
        handler = {
            "_target_": "cranialseg.label.stats.TrainStatsHandler",
            "stats_path": self.stats_path,
            "evaluator": "@validate#evaluator" if "validate#evaluator" in self.bundle_config else None,
        }
        overrides[key] = [h for h in overrides.get(key) or [] if h.get("_target_") != handler["_target_"]] + [handler]
        interval = self.bundle_config.get("val_interval")
        if isinstance(interval, int) and self._max_epochs is not None and interval > self._max_epochs:
            overrides["val_interval"] = max(1, self._max_epochs)
        return overrides
