"""Run an exported ONNX model with ONNX Runtime where the bundle expects a torch network (CPU deployments)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

__all__ = ["OnnxRuntimeNetwork"]


class OnnxRuntimeNetwork(torch.nn.Module):
    """A torch-callable wrapper around an ONNX Runtime session, so ``SlidingWindowInferer`` can use it.

    Args:
        filepath: the ``.onnx`` file written by :func:`cranialseg.networks.export.export_onnx`.
        providers: ONNX Runtime execution providers (CPU by default).

    Example:
        ``"network": "$cranialseg.networks.OnnxRuntimeNetwork(@onnx_file)"`` with ``--use_onnxruntime true``.
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
