"""Locate a bundle's root folder (model-zoo convention, no call-stack inspection) and the default device."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["resolve_bundle_root", "default_device"]


def resolve_bundle_root(name: str | None = None) -> str:
    """The bundle folder, by the model-zoo convention, without looking at who is parsing the config.

    In order: the working directory when it holds ``configs/metadata.json`` (``"bundle_root": "."``, commands run
    inside the bundle folder, as in the MONAI model zoo); the bundle ``name`` under ``bundle/`` of the source
    checkout this package runs from (commands run from the repository root); else the working directory. Pass
    ``--bundle_root <folder>`` to ``monai.bundle run`` to choose it explicitly (a copied or downloaded bundle run
    from elsewhere); any caller (MONAI Label included) can override ``bundle_root``.

    Args:
        name: folder name of the bundle under ``bundle/`` in a source checkout.

    Example:
        In ``train.json``::

            "bundle_root": "$cranialseg.utils.resolve_bundle_root('head_ct_haemorrhage_segmentation')"
    """
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
