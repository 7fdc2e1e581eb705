"""Locate a bundle's root folder (model-zoo convention, no call-stack inspection), read the settings its configs
share from their one home (``configs/inference.json``), and the default device."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["resolve_bundle_root", "read_bundle_config", "component_factory", "default_device"]


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
    if name and (_checkout_bundle(name) / "configs" / "metadata.json").is_file():
        return str(_checkout_bundle(name))
    return str(cwd)


def _checkout_bundle(name: str) -> Path:
    """``bundle/<name>`` of the source checkout this package runs from (it may not exist: an installed package)."""
    return Path(__file__).resolve().parents[2] / "bundle" / name


def read_bundle_config(bundle_root: str, name: str | None = None, config_file: str = "inference.json"):
    """``configs/<config_file>`` of a bundle as a ``monai.bundle.ConfigParser`` with ``bundle_root`` set.

    The settings a bundle's training and inference share (``network_def``, class names, grid, intensity windows)
    live once, in ``configs/inference.json`` (the file MONAI Label, ``ckpt_export`` and the TorchScript export
    read on their own). ``train.json`` reads them through this parser, so it stays runnable on its own from any
    working directory (a ``%file#key`` macro resolves against the working directory, and MONAI Label's stock app
    reads ``train.json`` alone). The file is looked up in order: under ``bundle_root`` (MONAI Label, a bundle run
    from its folder or with ``--bundle_root <bundle folder>``); then, when ``bundle_root`` is only a work folder
    (data, models, eval), the bundle ``name`` under ``bundle/`` of the source checkout this package runs from, as
    :func:`resolve_bundle_root` does. Each call re-reads the file.

    Args:
        bundle_root: the bundle's ``bundle_root`` (its ``@ckpt_dir`` and other paths are resolved against it).
        name: folder name of the bundle under ``bundle/`` in a source checkout.
        config_file: file name under ``configs/``.

    Raises:
        FileNotFoundError: when no candidate file exists, naming the paths looked at.

    Example:
        In ``train.json``::

            "inference_config": "$cranialseg.utils.read_bundle_config(@bundle_root, 'my_bundle')",
            "pixdim": "$@inference_config.get_parsed_content('pixdim')"
    """
    from monai.bundle import ConfigParser

    candidates = [Path(bundle_root) / "configs" / config_file]
    if name:
        candidates.append(_checkout_bundle(name) / "configs" / config_file)
    path = next((c for c in candidates if c.is_file()), None)
    if path is None:
        raise FileNotFoundError(
            f"no {config_file} at {', '.join(map(str, candidates))}: the settings this config shares with inference "
            f"are read from it (bundle_root={str(bundle_root)!r}); pass --bundle_root <the bundle folder>."
        )
    parser = ConfigParser()
    parser.read_config(str(path))
    parser["bundle_root"] = str(bundle_root)
    return parser


def component_factory(parser, id: str, **settings):
    """The ``_target_`` of the component ``id`` of ``parser`` with its settings bound (``functools.partial``).

    A config that borrows ``network_def`` from another file sets ``"_target_"`` to this factory, so command-line
    overrides such as ``--network_def#input_stride 2`` still reach the network: the extra keys of the borrowing
    dict are passed as keyword arguments and win over the bound ones. ``settings`` replace the ids the component
    refers to (``@num_classes``), so the borrowing config's own values (overridden or not) are the ones used.

    Args:
        parser: a ``monai.bundle.ConfigParser`` (for example from :func:`read_bundle_config`); left unchanged.
        id: id of a component (a dict with ``_target_``) in ``parser``.
        settings: ids of ``parser`` to replace, with their (parsed) values, before the component is resolved.

    Example:
        >>> from monai.bundle import ConfigParser
        >>> p = ConfigParser({"n": 3, "net": {"_target_": "torch.nn.Linear", "in_features": "@n", "out_features": 2}})
        >>> component_factory(p, "net")(out_features=5).weight.shape
        torch.Size([5, 3])
        >>> component_factory(p, "net", n=4)().weight.shape
        torch.Size([2, 4])
    """
    import copy

    from monai.bundle import ConfigParser

    sub = ConfigParser(copy.deepcopy(parser.get()))
    sub.update(settings)
    sub[f"{id}#_mode_"] = "callable"
    return sub.get_parsed_content(id)


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
