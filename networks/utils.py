"""Load a bundle's weights into its network (plain state_dict or training checkpoint) for inference or export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

__all__ = [
    "load_network",
]


def load_network(network: torch.nn.Module, checkpoint: str | Path | None, device: Any = "cpu") -> torch.nn.Module:
    """Move ``network`` to ``device``, load a plain state_dict (``weights_only=True``), switch to eval mode.

    A checkpoint saved as ``{"network": state_dict, ...}`` (a training checkpoint) is accepted too.

    Example:
        >>> net = load_network(torch.nn.Linear(2, 2), None)
        >>> net.training
        False
    """
    network = network.to(device)
    if checkpoint:
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} not found (train the bundle or pass --checkpoint <file>)")
        state = torch.load(path, map_location=device, weights_only=True)
        if isinstance(state, dict) and "network" in state and isinstance(state["network"], dict):
            state = state["network"]
        network.load_state_dict(state)
    return network.eval()
