"""MONAI Label active learning: the unlabelled image the model is least sure of (test-time flip disagreement).

Needs ``monailabel`` (the MONAI Label environment built by ``scripts/setup_label_env.sh``).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, Optional

import torch
from monailabel.interfaces.datastore import Datastore
from monailabel.interfaces.tasks.strategy import Strategy

from cranialseg.data.dataset import image_spatial_dims
from cranialseg.label.uncertainty import flip_disagreement

__all__ = ["FlipDisagreement"]

_logger = logging.getLogger(__name__)


class FlipDisagreement(Strategy):
    """Rank unlabelled images by :func:`~cranialseg.label.uncertainty.flip_disagreement` under the request's model.

    The request's ``model`` (default: the first bundle) runs its own ``preprocessing`` and ``inferer`` on each
    unlabelled image of its dimension (at most ``max_images``, in the datastore's order); images the bundle refuses
    (another modality) are skipped. Returns the highest-scoring image with every score.

    Args:
        bundles: model name -> bundle folder (``<app>/model/<name>``).
        max_images: score at most this many unlabelled images per request (0: all).
    """

    def __init__(self, bundles: Dict[str, str], max_images: int = 0) -> None:
        super().__init__("Unlabelled image whose labels change most under test-time flips (least sure)")
        self.bundles = dict(bundles)
        self.max_images = int(max_images)
        self._models: Dict[str, Any] = {}

    def _model(self, name: str):
        if name not in self._models:
            from monai.bundle import ConfigParser

            root = self.bundles[name]
            parser = ConfigParser()
            parser.read_config(os.path.join(root, "configs", "inference.json"))
            parser["bundle_root"] = root
            parser["device"] = "cpu"
            net = parser.get_parsed_content("network_def")
            state = torch.load(os.path.join(root, "models", "model.pt"), map_location="cpu", weights_only=True)
            net.load_state_dict(state)
            dims = int(parser.get("network_def#spatial_dims", 0) or 0)
            pre, inferer = parser.get_parsed_content("preprocessing"), parser.get_parsed_content("inferer")
            self._models[name] = (net, pre, inferer, dims)
        return self._models[name]

    def __call__(self, request: Dict[str, Any], datastore: Datastore) -> Optional[Dict[str, Any]]:
        images = datastore.get_unlabeled_images(request.get("label_tag"), request.get("labels"))
        if not images:
            return None
        name = request.get("model") or next(iter(self.bundles))
        if name not in self.bundles:
            raise ValueError(f"strategy: unknown model {name!r}; one of {sorted(self.bundles)}")
        net, pre, inferer, dims = self._model(name)
        scores: Dict[str, float] = {}
        for image_id in images[: self.max_images or None]:
            uri = datastore.get_image_uri(image_id)
            if dims and image_spatial_dims(uri) not in (dims, None):
                continue
            try:
                d = pre({"image": uri})
            except Exception as err:  # noqa: BLE001 - another modality or an unreadable file: not a candidate
                _logger.info(f"{name}: {image_id} skipped for active learning: {err}")
                continue
            scores[image_id] = flip_disagreement(net, torch.as_tensor(d["image"])[None].float(), inferer)
        if not scores:
            return None
        best = max(scores, key=lambda k: scores[k])
        _logger.info(f"flip disagreement ({name}): {scores}; selected {best}")
        return {"id": best, "score": scores[best], "scores": scores}
