"""The MONAI Label app that serves the cranialseg bundles, offline.

Compared with MONAI Label's ``monaibundle`` sample app it never reaches the network: bundles are read from
``<app>/model/<name>`` only (the sample app downloads a missing one, and with the default ``zoo_source`` fetches the
zoo list at start-up: ``monailabel/utils/others/generic.py:342-360``), it adds no SAM2 models (the sample app
downloads SAM2 weights unless ``--conf sam2 false``), it guesses nothing from folder names
(``monailabel/tasks/infer/bundle.py:274-289``, ``monailabel/tasks/train/bundle.py:166``) and a DICOMweb datastore
starts without the dcmqi download (``monailabel/interfaces/app.py:556-576``).

Settings (``--conf key value``):
    ``models``: comma-separated model ids (bundle folder names under ``<app>/model``); default: all of them.
    ``skip_trainers``: ``true`` serves inference only.
    ``preload``: ``true`` loads the networks at start-up.

Example:
    ``monailabel start_server --app <app> --studies <folder> --host 127.0.0.1 --port 8000 --conf models a,b``
    (``scripts/start_label_server.sh`` lays out ``<app>`` and runs this).
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Dict

from monailabel.interfaces.app import MONAILabelApp
from monailabel.interfaces.tasks.infer_v2 import InferTask
from monailabel.interfaces.tasks.strategy import Strategy
from monailabel.interfaces.tasks.train import TrainTask
from monailabel.tasks.activelearning.first import First
from monailabel.tasks.activelearning.random import Random
from monailabel.utils.others.generic import strtobool

import cranialseg
from cranialseg.label.infer import CranialSegInferTask
from cranialseg.label.strategy import FlipDisagreement
from cranialseg.label.train import CranialSegTrainTask

__all__ = ["CranialSegApp", "local_bundles"]

_logger = logging.getLogger(__name__)


def local_bundles(model_dir: str, models: str = "") -> Dict[str, str]:
    """Map model ids to bundle folders under ``model_dir``; never downloads.

    Args:
        model_dir: the app's ``model`` folder.
        models: comma-separated ids; empty means every sub-folder that has ``configs/``.

    Raises:
        FileNotFoundError: a requested id has no bundle folder (the message lists the ones found).
    """
    found = (
        sorted(n for n in os.listdir(model_dir) if os.path.isdir(os.path.join(model_dir, n, "configs")))
        if os.path.isdir(model_dir)
        else []
    )
    wanted = [m.strip() for m in models.split(",") if m.strip()] if models else found
    missing = [m for m in wanted if m not in found]
    if missing:
        raise FileNotFoundError(
            f"--conf models asks for {missing}, but {model_dir} holds only {found}; lay out the app with "
            "scripts/start_label_server.sh (or python -m cranialseg.label.app_dir) first"
        )
    return {m: os.path.join(model_dir, m) for m in wanted}


class CranialSegApp(MONAILabelApp):
    """MONAI Label app: one segmentation model and one trainer per cranialseg bundle."""

    def __init__(self, app_dir: str, studies: str, conf: Dict[str, str]):
        self.model_dir = os.path.join(app_dir, "model")
        self.models = local_bundles(self.model_dir, conf.get("models", ""))
        _logger.info(f"cranialseg bundles: {self.models}")
        super().__init__(
            app_dir=app_dir,
            studies=studies,
            conf=conf,
            name=f"cranialseg {cranialseg.__version__} - head CT and cranial ultrasound",
            description="Lateral ventricles and intracranial haemorrhage (EDH, SDH, IPH, IVH) from cranialseg bundles",
            version=cranialseg.__version__,
        )

    def init_infers(self) -> Dict[str, InferTask]:
        infers: Dict[str, InferTask] = {}
        for name, path in self.models.items():
            task = CranialSegInferTask(path, self.conf)
            if not task.is_valid():
                _logger.warning(f"model {name}: no models/model.pt or models/model.ts in {path}; not served")
                continue
            infers[name] = task
        return infers

    def init_trainers(self) -> Dict[str, TrainTask]:
        trainers: Dict[str, TrainTask] = {}
        if strtobool(self.conf.get("skip_trainers", "false")):
            return trainers
        for name, path in self.models.items():
            task = CranialSegTrainTask(path, self.conf)
            if task.is_valid():
                trainers[name] = task
        return trainers

    def init_strategies(self) -> Dict[str, Strategy]:
        served = {n: p for n, p in self.models.items() if os.path.exists(os.path.join(p, "models", "model.pt"))}
        strategies: Dict[str, Strategy] = {"random": Random(), "first": First()}
        if served:
            strategies["flip_disagreement"] = FlipDisagreement(served, int(self.conf.get("al_max_images", "0")))
        return strategies

    def _download_dcmqi_tools(self) -> None:
        # monailabel/interfaces/app.py:556-576 downloads dcmqi from GitHub when itkimage2segimage is missing, which
        # kills a DICOMweb start-up offline. Inference does not need it; saving labels back as DICOM SEG does.
        if not shutil.which("itkimage2segimage") and not os.path.exists(
            os.path.join(self.app_dir, "bin", "itkimage2segimage")
        ):
            _logger.warning(
                "itkimage2segimage (dcmqi) not found: labels cannot be stored back to the PACS as DICOM SEG; "
                f"put the binary on PATH or in {os.path.join(self.app_dir, 'bin')} (not downloaded: offline)"
            )
