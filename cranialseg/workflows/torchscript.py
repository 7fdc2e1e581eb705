"""TorchScript export of a bundle's network that loads the checkpoint onto the CPU first (GPU-trained weights)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch

__all__ = ["export_torchscript"]


def export_torchscript(
    network: torch.nn.Module,
    filepath: str | Path,
    checkpoint: str | Path | None = None,
    *,
    meta_file: str | Path | None = None,
    config_file: str | Path | Sequence[str | Path] | None = None,
) -> str:
    """Load ``checkpoint`` with ``map_location="cpu"``, script the network and save it with the bundle metadata.

    Like ``python -m monai.bundle ckpt_export`` (same file layout: ``metadata.json`` and the config files as
    extra files), except that MONAI's ``ckpt_export`` loads the checkpoint through ignite without
    ``map_location``, so a ``model.pt`` saved on a GPU cannot be exported on a CPU-only machine; this can.

    Args:
        network: the bundle's ``network_def``.
        filepath: output ``.ts`` file (written atomically).
        checkpoint: ``models/model.pt`` (a plain state_dict, or a training checkpoint with ``"network"``).
        meta_file: the bundle's ``metadata.json``, stored in the file's ``metadata.json``.
        config_file: config file(s) stored as extra files (``<name>.json``).

    Example:
        ``python -m monai.bundle run export_torchscript --config_file bundle/<name>/configs/inference.json``
    """
    from monai.data import save_net_with_metadata
    from monai.networks.utils import convert_to_torchscript

    from cranialseg.workflows.inference import load_network
    from cranialseg.workflows.outputs import atomic_write

    network = load_network(network, checkpoint, "cpu")
    scripted = convert_to_torchscript(network)
    meta = json.loads(Path(meta_file).read_text()) if meta_file else None
    files = [] if config_file is None else [config_file] if isinstance(config_file, (str, Path)) else config_file
    extra = {f"{Path(f).stem}.json": json.dumps(json.loads(Path(f).read_text())).encode() for f in files}
    filepath = Path(filepath)
    atomic_write(
        filepath,
        lambda tmp: save_net_with_metadata(
            scripted,
            str(tmp),
            include_config_vals=False,
            append_timestamp=False,
            meta_values=meta,
            more_extra_files=extra,
        ),  # fmt: skip
        overwrite=True,
    )
    return str(filepath)
