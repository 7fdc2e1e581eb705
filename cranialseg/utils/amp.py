"""Mixed precision chosen deliberately: the autocast dtype for a device, and activation ranges against float16.

float16 holds magnitudes up to 65,504; an activation beyond that becomes ``inf`` under float16 autocast and the
output NaN (in training, ``GradScaler`` then skips every step without an error). bfloat16 has float32's range, so
it is the default wherever the GPU supports it; float16 is used only for a network declared fp16-safe (its
activations measured well inside float16's range with :func:`activation_range`); otherwise AMP is off (float32).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["FLOAT16_MAX", "amp_dtype", "amp_kwargs", "amp_autocast", "activation_range", "fp16_overflows"]

#: largest finite float16 value
FLOAT16_MAX = 65504.0

_DTYPES = {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}


def _as_device(device: Any) -> torch.device:
    return device if isinstance(device, torch.device) else torch.device(device)


def amp_dtype(device: Any, fp16_safe: bool = False, bf16_supported: bool | None = None) -> torch.dtype | None:
    """The autocast dtype for ``device``, or ``None`` for AMP off (float32).

    * CUDA with bfloat16 support (Ampere and newer): ``torch.bfloat16`` (float32's range, no overflow);
    * CUDA without bfloat16: ``torch.float16`` if the network is ``fp16_safe``, else ``None``;
    * CPU (and any other device): ``None``; MONAI's engines autocast on CUDA only.

    Args:
        device: the device the network runs on (``torch.device`` or a string such as ``"cuda:0"``).
        fp16_safe: the network's activations fit float16 (measured with :func:`activation_range`, with margin).
        bf16_supported: whether the CUDA device supports bfloat16; ``None`` asks
            ``torch.cuda.is_bf16_supported()`` (for tests, pass the answer).

    Example:
        >>> amp_dtype("cpu") is None
        True
        >>> amp_dtype("cuda", bf16_supported=True)
        torch.bfloat16
        >>> amp_dtype("cuda", fp16_safe=False, bf16_supported=False) is None
        True
        >>> amp_dtype("cuda", fp16_safe=True, bf16_supported=False)
        torch.float16
    """
    if _as_device(device).type != "cuda":
        return None
    if bf16_supported is None:
        bf16_supported = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if bf16_supported:
        return torch.bfloat16
    return torch.float16 if fp16_safe else None


def amp_kwargs(dtype: torch.dtype | str | None) -> dict[str, Any]:
    """``amp_kwargs`` for MONAI's ``SupervisedTrainer``/``SupervisedEvaluator`` (``torch.autocast("cuda", ...)``).

    Example:
        >>> amp_kwargs(torch.bfloat16)
        {'dtype': torch.bfloat16}
        >>> amp_kwargs(None)
        {}
    """
    if dtype is None:
        return {}
    if isinstance(dtype, str):
        if dtype.lower() not in _DTYPES:
            raise ValueError(f"amp_dtype must be one of {sorted(_DTYPES)} or a torch dtype, got {dtype!r}")
        dtype = _DTYPES[dtype.lower()]
    if dtype not in (torch.bfloat16, torch.float16):
        raise ValueError(f"amp_dtype must be torch.bfloat16 or torch.float16, got {dtype!r}")
    return {"dtype": dtype}


def amp_autocast(
    device: Any, enabled: bool, dtype: torch.dtype | str | None = None
) -> contextlib.AbstractContextManager:
    """``torch.autocast`` on CUDA with ``dtype`` when ``enabled``; a no-op context on other devices or when off.

    Example:
        >>> with amp_autocast("cpu", True, torch.bfloat16):
        ...     torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype
        torch.float32
    """
    device = _as_device(device)
    if not enabled or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", **amp_kwargs(dtype))


def _max_abs(value: Any) -> float | None:
    if isinstance(value, torch.Tensor):
        if not value.is_floating_point() or value.numel() == 0:
            return None
        finite = torch.isfinite(value)
        return float(value.detach().abs().amax()) if bool(finite.all()) else float("inf")
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, Sequence) and not isinstance(value, str):
        found = [m for m in (_max_abs(v) for v in value) if m is not None]
        return max(found) if found else None
    return None


def activation_range(network: nn.Module, inputs: torch.Tensor, forward: str = "forward") -> dict[str, float]:
    """Largest absolute output of every module of ``network`` on ``inputs`` (float32, no grad).

    Run it on real (pre-processed) bundle inputs with the trained weights: a network is fp16-safe when the
    largest value, with a margin (e.g. x4), stays below :data:`FLOAT16_MAX`.

    Args:
        network: the network (put in eval mode here).
        inputs: one input batch.
        forward: the method to call (``"forward_with_heads"`` to include an image-level head).

    Returns:
        ``{module name: max |output|}`` (``""`` is the whole network; ``inf`` for a non-finite output).

    Example:
        >>> net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
        >>> with torch.no_grad():
        ...     _ = net[0].weight.fill_(100.0), net[0].bias.zero_()
        >>> activation_range(net, torch.ones(1, 2))["0"]
        200.0
    """
    ranges: dict[str, float] = {}
    hooks = []

    def record(name: str):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            m = _max_abs(output)
            if m is not None:
                ranges[name] = max(ranges.get(name, 0.0), m)

        return hook

    for name, module in network.named_modules():
        if name:  # the whole network is recorded below (``forward_with_heads`` bypasses its hooks)
            hooks.append(module.register_forward_hook(record(name)))
    try:
        network = network.eval()
        with torch.no_grad():
            out = getattr(network, forward)(inputs.float())
    finally:
        for h in hooks:
            h.remove()
    top = _max_abs(out)
    if top is not None:
        ranges[""] = top
    return ranges


def fp16_overflows(ranges: Mapping[str, float], margin: float = 4.0) -> dict[str, float]:
    """The entries of ``ranges`` (see :func:`activation_range`) above ``FLOAT16_MAX / margin``.

    Example:
        >>> fp16_overflows({"a": 1137.0, "b": 3.8e5})
        {'b': 380000.0}
    """
    limit = FLOAT16_MAX / float(margin)
    return {k: v for k, v in ranges.items() if not v <= limit}
