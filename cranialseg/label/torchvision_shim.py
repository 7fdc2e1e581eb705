"""A stand-in for the one piece of torchvision that MONAI Label imports.

``monailabel/transform/post.py:32`` (imported by every bundle infer task through
``monailabel/tasks/infer/bundle.py:25``) and ``monailabel/deepedit/handlers.py:19`` run
``from torchvision.utils import make_grid, save_image``. The torchvision wheel on PyPI is built against the CUDA
torch and fails to load next to the CPU torch 2.13.0 (``RuntimeError: operator torchvision::nms does not exist``),
and installing it from PyPI would replace the CPU torch with a multi-GB CUDA build. So the MONAI Label environment
has no torchvision; ``python -m cranialseg.label.torchvision_shim <site-packages>`` writes a tiny ``torchvision``
package there whose ``utils`` holds the two functions below. Its ``__version__`` is ``"0.0.0"``, so MONAI's
version-gated ``optional_import("torchvision", "0.x")`` still treats torchvision as missing.

Example:
    >>> import torch
    >>> make_grid(torch.ones(2, 3, 4, 5), padding=1).shape
    torch.Size([3, 6, 13])
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch

__all__ = ["make_grid", "save_image", "install", "SHIM_MARKER"]

#: First line of the written ``torchvision/__init__.py``; ``install`` only overwrites files that carry it.
SHIM_MARKER = "# cranialseg torchvision shim (see cranialseg/label/torchvision_shim.py)"


def make_grid(
    tensor: Union[torch.Tensor, Sequence[torch.Tensor]],
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    value_range: Optional[Sequence[float]] = None,
    pad_value: float = 0.0,
    **kwargs: Any,
) -> torch.Tensor:
    """Tile a batch of images ``(B, C, H, W)`` (or one ``(C, H, W)`` / ``(H, W)``) into one ``(C, H', W')`` image.

    Same layout as ``torchvision.utils.make_grid``: ``nrow`` images per row, ``padding`` pixels between them;
    ``normalize`` rescales to [0, 1] using ``value_range`` or the tensor's min and max.
    """
    if isinstance(tensor, (list, tuple)):
        tensor = torch.stack([torch.as_tensor(t) for t in tensor])
    t = torch.as_tensor(tensor).float()
    if t.ndim == 2:
        t = t[None]
    if t.ndim == 3:
        t = t[None]
    if t.ndim != 4:
        raise ValueError(f"make_grid expects (B, C, H, W), (C, H, W) or (H, W), got shape {tuple(t.shape)}")
    if t.shape[1] == 1:
        t = t.repeat(1, 3, 1, 1)
    if normalize:
        low, high = (float(v) for v in value_range) if value_range is not None else (float(t.min()), float(t.max()))
        t = (t.clamp(low, high) - low) / max(high - low, 1e-5)
    b, c, h, w = t.shape
    if b == 1:
        return t[0]
    ncol = min(nrow, b)
    nrows = (b + ncol - 1) // ncol
    grid = t.new_full((c, nrows * (h + padding) + padding, ncol * (w + padding) + padding), pad_value)
    for k in range(b):
        y, x = divmod(k, ncol)
        top, left = y * (h + padding) + padding, x * (w + padding) + padding
        grid[:, top : top + h, left : left + w] = t[k]
    return grid


def save_image(tensor: Union[torch.Tensor, Sequence[torch.Tensor]], fp: Any, format: Optional[str] = None, **kwargs):
    """Write ``make_grid(tensor, **kwargs)`` (values in [0, 1]) as an 8-bit image with Pillow."""
    from PIL import Image

    grid = make_grid(tensor, **kwargs)
    arr = (grid.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    Image.fromarray(np.ascontiguousarray(arr)).save(fp, format=format)


def install(site_packages: Union[str, os.PathLike]) -> Path:
    """Write the ``torchvision`` stand-in package into ``site_packages`` and return its folder.

    Raises:
        FileExistsError: a real torchvision is installed there (its ``__init__.py`` lacks :data:`SHIM_MARKER`).
    """
    target = Path(site_packages) / "torchvision"
    init = target / "__init__.py"
    if init.exists() and not init.read_text(encoding="utf-8").startswith(SHIM_MARKER):
        raise FileExistsError(
            f"{init} belongs to a real torchvision; uninstall it first (pip uninstall -y torchvision): it fails to "
            "load next to the CPU torch"
        )
    target.mkdir(parents=True, exist_ok=True)
    init.write_text(
        f'{SHIM_MARKER}\n"""Not torchvision: only ``utils.make_grid``/``utils.save_image`` for MONAI Label."""\n\n'
        '__version__ = "0.0.0"\n',
        encoding="utf-8",
    )
    (target / "utils.py").write_text(
        f"{SHIM_MARKER}\nfrom cranialseg.label.torchvision_shim import make_grid, save_image  # noqa: F401\n",
        encoding="utf-8",
    )
    return target


def _main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="Write the torchvision stand-in into a site-packages folder.")
    parser.add_argument("site_packages", help="target site-packages folder (the MONAI Label venv's)")
    print(install(parser.parse_args(argv).site_packages))


if __name__ == "__main__":
    _main()
