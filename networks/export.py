"""Export helpers: TorchScript and ONNX (dynamic batch and spatial sizes) for the package's networks."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence, Union

import torch
from torch import nn

__all__ = ["export_onnx", "export_torchscript"]


def _atomic_target(path: Union[str, os.PathLike]) -> tuple[Path, Path]:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    return target, Path(tmp)


def export_torchscript(net: nn.Module, path: Union[str, os.PathLike]) -> Path:
    """Script ``net`` (eval mode) and save it atomically to ``path``; returns the path."""
    target, tmp = _atomic_target(path)
    try:
        torch.jit.save(torch.jit.script(net.eval()), str(tmp))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def export_onnx(
    net: nn.Module,
    path: Union[str, os.PathLike],
    example_shape: Sequence[int],
    *,
    opset: int = 18,
    max_size: int = 4096,
) -> Path:
    """Export ``net.forward`` to ONNX with a dynamic batch and dynamic spatial sizes, atomically.

    Spatial sizes are declared as multiples of the network's total stride per axis (``total_stride`` attribute
    when present, else 1), the sizes the network accepts. ``example_shape`` is ``(B, C, *spatial)`` of the traced
    example; each spatial size should be at least the attention window at every level, as the exported graph
    follows the branches the example took.

    Args:
        net: the network (put in eval mode here).
        path: output ``.onnx`` file.
        example_shape: shape of the example input.
        opset: ONNX opset (>= 17).
        max_size: largest spatial size declared to the exporter.

    Returns:
        The path written.
    """
    if opset < 17:
        raise ValueError(f"opset must be >= 17 (LayerNormalization), got {opset!r}.")
    net = net.eval()
    spatial = list(example_shape[2:])
    stride = list(getattr(net, "total_stride", [1] * len(spatial)))
    dims = {0: torch.export.Dim("batch", min=1, max=1024)}
    for i, (size, step) in enumerate(zip(spatial, stride)):
        if size % step:
            raise ValueError(f"example_shape spatial axis {i} ({size}) must be a multiple of the stride {step}.")
        dims[2 + i] = step * torch.export.Dim(f"s{i}", min=1, max=max(2, max_size // step))
    param = next(iter(net.parameters()), None)  # the example goes where the network is (a GPU network on CUDA)
    example = torch.rand(*example_shape, device=None if param is None else param.device)
    target, tmp = _atomic_target(path)
    try:
        with torch.no_grad():
            torch.onnx.export(
                net, (example,), str(tmp), dynamo=True, opset_version=opset, input_names=["image"],
                output_names=["pred"], dynamic_shapes={"x": dims}, external_data=False,
            )  # fmt: skip
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
