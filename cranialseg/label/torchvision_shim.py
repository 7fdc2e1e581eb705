"""A stand-in for the one piece of torchvision that MONAI Label imports.

``monailabel/transform/post.py:32`` (imported by every bundle infer task through
``monailabel/tasks/infer/bundle.py:25``) and ``monailabel/deepedit/handlers.py:19`` run
``from torchvision.utils import make_grid, save_image``. The torchvision wheel on PyPI is built against the CUDA
torch and fails to load next to the CPU torch 2.13.0 (``RuntimeError: operator torchvision::nms does not exist``),
and installing it from PyPI would replace the CPU torch with a multi-GB CUDA build. So the MONAI Label environment
has no torchvision. The project folder :data:`SHIM_DIR` (``cranialseg/label/shims``) holds a tiny ``torchvision``
package whose ``utils`` re-exports the two functions below; ``scripts/start_label_server.sh`` (and the tests'
harness) put that folder first on the server's ``PYTHONPATH``, so the installed packages stay unmodified. Its
``__version__`` is ``"0.0.0"``, so MONAI's version-gated ``optional_import("torchvision", "0.x")`` still treats
torchvision as missing. :func:`remove_site_package_edits` deletes the stand-ins that older versions of
``scripts/setup_label_env.sh`` wrote into the venv's site-packages.

Example:
    >>> import torch
    >>> make_grid(torch.ones(2, 3, 4, 5), padding=1).shape
    torch.Size([3, 6, 13])
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

import numpy as np
import torch

__all__ = ["make_grid", "save_image", "remove_site_package_edits", "SHIM_DIR", "SHIM_MARKER", "COMPAT_MARKER"]

#: The folder to put first on the MONAI Label server's ``PYTHONPATH`` (holds ``torchvision/``).
SHIM_DIR = Path(__file__).resolve().parent / "shims"
#: First line of the ``torchvision/__init__.py`` that recipe v1 of ``setup_label_env.sh`` wrote into site-packages.
SHIM_MARKER = "# cranialseg torchvision shim (see cranialseg/label/torchvision_shim.py)"
#: First line of the ``pydicom/pixels.py`` that recipe v1 of ``setup_label_env.sh`` wrote into site-packages.
COMPAT_MARKER = "# cranialseg pydicom.pixels compat for pydicom 2.x (see cranialseg/label/pydicom_compat.py)"


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


def _starts_with(path: Path, marker: str) -> bool:
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline().rstrip("\n") == marker
    except OSError:
        return False


def remove_site_package_edits(site_packages: Union[str, os.PathLike]) -> List[Path]:
    """Delete the files recipe v1 of ``setup_label_env.sh`` wrote into ``site_packages``; returns what was removed.

    Only files that start with :data:`SHIM_MARKER` / :data:`COMPAT_MARKER` go (a real torchvision or a real
    ``pydicom/pixels`` is left alone), with their ``__pycache__`` entries.
    """
    site = Path(site_packages)
    removed: List[Path] = []
    tv = site / "torchvision"
    if _starts_with(tv / "__init__.py", SHIM_MARKER):
        shutil.rmtree(tv)
        removed.append(tv)
    pixels = site / "pydicom" / "pixels.py"
    if pixels.is_file() and _starts_with(pixels, COMPAT_MARKER):
        pixels.unlink()
        removed.append(pixels)
        for pyc in (site / "pydicom" / "__pycache__").glob("pixels.*.pyc"):
            pyc.unlink()
    return removed


def _main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="Remove the stand-ins older set-ups wrote into site-packages.")
    parser.add_argument("site_packages", help="the MONAI Label venv's site-packages folder")
    for path in remove_site_package_edits(parser.parse_args(argv).site_packages):
        print(f"removed {path}")


if __name__ == "__main__":
    _main()
