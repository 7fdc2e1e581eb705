"""Export a network (optionally loading a bundle checkpoint on the CPU first) to TorchScript or ONNX, atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence, Union

import torch
from torch import nn

from cranialseg.networks.utils import load_network
from cranialseg.utils.atomic import atomic_write

__all__ = ["export_onnx", "export_torchscript"]

PathLike = Union[str, os.PathLike]


def export_torchscript(
    net: nn.Module,
    path: PathLike,
    checkpoint: PathLike | None = None,
    *,
    meta_file: PathLike | None = None,
    config_file: PathLike | Sequence[PathLike] | None = None,
) -> Path:
    """Script ``net`` (eval mode) and save it atomically to ``path``, with the bundle metadata when given.

    With ``checkpoint`` the weights are loaded with ``map_location="cpu"`` first. This is ``python -m monai.bundle
    ckpt_export`` (same file layout: ``metadata.json`` and the config files as extra files), except that MONAI's
    ``ckpt_export`` loads the checkpoint through ignite without ``map_location``, so a ``model.pt`` saved on a GPU
    cannot be exported on a CPU-only machine; this can.

    Args:
        net: the network (a bundle's ``network_def``).
        path: output ``.ts`` file.
        checkpoint: ``models/model.pt`` (a plain state_dict, or a training checkpoint with ``"network"``).
        meta_file: the bundle's ``metadata.json``, stored in the file's ``metadata.json``.
        config_file: config file(s) stored as extra files (``<name>.json``).

    Returns:
        The path written.

    Example:
        ``python -m monai.bundle run export_torchscript --config_file bundle/<name>/configs/inference.json``
    """
    from monai.data import save_net_with_metadata
    from monai.networks.utils import convert_to_torchscript

    net = load_network(net, checkpoint, "cpu") if checkpoint else net.eval()
    scripted = convert_to_torchscript(net)
    meta = json.loads(Path(meta_file).read_text()) if meta_file else None
    files = [] if config_file is None else [config_file] if isinstance(config_file, (str, os.PathLike)) else config_file
    extra = {f"{Path(f).stem}.json": json.dumps(json.loads(Path(f).read_text())).encode() for f in files}
    return atomic_write(
        path,
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


def export_onnx(
    net: nn.Module,
    path: PathLike,
    example_shape: Sequence[int],
    *,
    checkpoint: PathLike | None = None,
    dynamic_spatial: bool = True,
    opset: int = 18,
    max_size: int = 4096,
) -> Path:
    """Export ``net.forward`` to ONNX with a dynamic batch and (by default) dynamic spatial sizes, atomically.

    Dynamic spatial sizes (``torch.onnx.export(dynamo=True)``) are declared as multiples of the network's total
    stride per axis (``total_stride`` attribute when present, else 1), the sizes the network accepts. ``example_shape``
    is ``(B, C, *spatial)`` of the traced example; each spatial size should be at least the attention window at every
    level, as the exported graph follows the branches the example took. With ``dynamic_spatial=False`` the spatial
    size is fixed to ``example_shape`` (the sliding-window ROI of a bundle) and the TorchScript-based exporter is
    used, which takes seconds instead of minutes.

    Args:
        net: the network (put in eval mode here).
        path: output ``.onnx`` file.
        example_shape: shape of the example input.
        checkpoint: weights to load first (``map_location="cpu"``; a plain or a training checkpoint).
        dynamic_spatial: declare the spatial sizes dynamic (else only the batch).
        opset: ONNX opset (>= 17).
        max_size: largest spatial size declared to the exporter.

    Returns:
        The path written.

    Example:
        ``python -m monai.bundle run export_onnx --config_file bundle/<name>/configs/inference.json``
    """
    if opset < 17:
        raise ValueError(f"opset must be >= 17 (LayerNormalization), got {opset!r}.")
    net = load_network(net, checkpoint, "cpu") if checkpoint else net.eval()
    spatial = list(example_shape[2:])
    if not dynamic_spatial:
        example = torch.zeros(*example_shape, dtype=torch.float32)

        def write(tmp: Path) -> None:
            torch.onnx.export(
                net, (example,), str(tmp), input_names=["image"], output_names=["pred"],
                dynamic_axes={"image": {0: "batch"}, "pred": {0: "batch"}}, opset_version=opset, dynamo=False,
            )  # fmt: skip

        return atomic_write(path, write, overwrite=True)
    stride = list(getattr(net, "total_stride", [1] * len(spatial)))
    dims = {0: torch.export.Dim("batch", min=1, max=1024)}
    for i, (size, step) in enumerate(zip(spatial, stride)):
        if size % step:
            raise ValueError(f"example_shape spatial axis {i} ({size}) must be a multiple of the stride {step}.")
        dims[2 + i] = step * torch.export.Dim(f"s{i}", min=1, max=max(2, max_size // step))
    param = next(iter(net.parameters()), None)  # the example goes where the network is (a GPU network on CUDA)
    example = torch.rand(*example_shape, device=None if param is None else param.device)

    def write_dynamic(tmp: Path) -> None:
        with torch.no_grad():
            torch.onnx.export(
                net, (example,), str(tmp), dynamo=True, opset_version=opset, input_names=["image"],
                output_names=["pred"], dynamic_shapes={"x": dims}, external_data=False,
            )  # fmt: skip

    return atomic_write(path, write_dynamic, overwrite=True)
