"""Run an exported ONNX model with ONNX Runtime where the bundle expects a torch network (CPU deployments)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

__all__ = ["export_onnx", "OnnxRuntimeNetwork"]


def export_onnx(
    network: torch.nn.Module,
    filepath: str | Path,
    input_shape: Sequence[int],
    *,
    checkpoint: str | Path | None = None,
    opset_version: int = 17,
) -> str:
    """Export ``network`` (optionally loading a plain state_dict first) to ONNX with a dynamic batch axis.

    Args:
        network: the bundle's ``network_def``.
        filepath: output ``.onnx`` file.
        input_shape: one input ``(1, C, *roi)``; the spatial size is fixed (the sliding-window ROI).
        checkpoint: ``models/model.pt`` to load before exporting.
        opset_version: ONNX opset.

    Example:
        ``python -m monai.bundle run export_onnx --config_file bundle/<name>/configs/inference.json``
    """
    from cranialseg.workflows.inference import load_network

    network = load_network(network, checkpoint, "cpu")
    dummy = torch.zeros(*input_shape, dtype=torch.float32)
    filepath = Path(filepath)
    filepath.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        network,
        (dummy,),
        str(filepath),
        input_names=["image"],
        output_names=["pred"],
        dynamic_axes={"image": {0: "batch"}, "pred": {0: "batch"}},
        opset_version=opset_version,
        dynamo=False,
    )
    return str(filepath)


class OnnxRuntimeNetwork(torch.nn.Module):
    """A torch-callable wrapper around an ONNX Runtime session, so ``SlidingWindowInferer`` can use it.

    Args:
        filepath: the ``.onnx`` file written by :func:`export_onnx`.
        providers: ONNX Runtime execution providers (CPU by default).

    Example:
        ``"network": "$cranialseg.workflows.OnnxRuntimeNetwork(@onnx_file)"`` with ``--use_onnxruntime true``.
    """

    def __init__(self, filepath: str | Path, providers: Sequence[str] = ("CPUExecutionProvider",)) -> None:
        super().__init__()
        import onnxruntime as ort

        if not Path(filepath).is_file():
            raise FileNotFoundError(
                f"ONNX model {filepath} not found; export it first with "
                "`python -m monai.bundle run export_onnx --config_file <bundle>/configs/inference.json`"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, torch.get_num_threads())
        self.session = ort.InferenceSession(str(filepath), sess_options=options, providers=list(providers))
        self.input_name = self.session.get_inputs()[0].name

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        array = x.detach().cpu().float().numpy()
        out = self.session.run(None, {self.input_name: np.ascontiguousarray(array)})[0]
        return torch.as_tensor(out, device=x.device)
