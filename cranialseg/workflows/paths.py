"""Locate a bundle's root folder from inside its own config expressions."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

__all__ = ["resolve_bundle_root", "default_device"]


def _root_of_config_dir(config_dir: Path) -> Path:
    config_dir = Path(config_dir).resolve()
    return config_dir.parent if config_dir.name == "configs" else config_dir


def resolve_bundle_root(name: str | None = None) -> str:
    """Return the folder of the bundle whose configs are being parsed.

    The model-zoo convention is ``"bundle_root": "."`` (the commands run inside the bundle folder). Our commands
    run from the repository root (``--config_file bundle/<name>/configs/train.json``), so a relative root
    would scatter ``models/`` and ``data/`` there. This looks, in order, for: the ``config_root_path`` of the
    :class:`monai.bundle.ConfigWorkflow` that is evaluating the expression (found on the call stack); a
    ``configs/metadata.json`` in the working directory; the bundle ``name`` beside this package in a source
    checkout; and finally the working directory. Any caller (MONAI Label included) can still override
    ``bundle_root``.

    Args:
        name: folder name of the bundle under ``bundle/`` in a source checkout, used as a fallback.

    Example:
        In ``train.json``::

            "bundle_root": "$cranialseg.workflows.resolve_bundle_root('head_ct_haemorrhage_segmentation')"
    """
    frame = inspect.currentframe()
    try:
        while frame is not None:
            owner = frame.f_locals.get("self")
            if type(owner).__name__ == "ConfigWorkflow":  # never getattr on a ConfigParser: it looks up config ids
                config_root = vars(owner).get("config_root_path")
                if config_root is not None:
                    return str(_root_of_config_dir(Path(config_root)))
            frame = frame.f_back
    finally:
        del frame
    cwd = Path(os.getcwd())
    if (cwd / "configs" / "metadata.json").is_file():
        return str(cwd)
    if name:
        checkout = Path(__file__).resolve().parents[2] / "bundle" / name
        if (checkout / "configs" / "metadata.json").is_file():
            return str(checkout)
    return str(cwd)


def default_device(prefer: str = "cuda"):
    """``torch.device('cuda:0')`` when CUDA is available and ``prefer`` is ``"cuda"``, else CPU.

    Example:
        >>> default_device("cpu")
        device(type='cpu')
    """
    import torch

    if prefer.startswith("cuda") and torch.cuda.is_available():
        return torch.device(prefer if ":" in prefer else "cuda:0")
    return torch.device("cpu")
