"""``pydicom.pixels`` for pydicom 2.4, the version MONAI Label 0.8.5 needs.

MONAI Label's start-up fails with pydicom 3 (``pydicom._storage_sopclass_uids`` is gone; imported through
``pydicom-seg``), so its environment has pydicom 2.4.4, which has no ``pydicom.pixels`` module (added in pydicom 3.0).
``python -m cranialseg.label.pydicom_compat <site-packages>`` writes a ``pydicom/pixels.py`` there that maps the
pydicom 3 names used in this project onto pydicom 2.4 (``pydicom.pixel_data_handlers.util``), so ``cranialseg.io``
imports in that environment. It does nothing when pydicom already has ``pydicom.pixels``.

Example:
    >>> needs_compat("2.4.4"), needs_compat("3.0.2")
    (True, False)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence, Union

__all__ = ["install", "needs_compat", "COMPAT_MARKER", "COMPAT_SOURCE"]

COMPAT_MARKER = "# cranialseg pydicom.pixels compat for pydicom 2.x (see cranialseg/label/pydicom_compat.py)"

COMPAT_SOURCE = f'''{COMPAT_MARKER}
"""The pydicom 3 ``pydicom.pixels`` names this project uses, on pydicom 2.x."""

from pydicom.pixel_data_handlers.util import (  # noqa: F401
    apply_color_lut,
    apply_modality_lut,
    apply_voi_lut,
    convert_color_space,
)

__all__ = ["apply_color_lut", "apply_modality_lut", "apply_voi_lut", "convert_color_space", "pixel_array"]


def pixel_array(src, *, index=None, **kwargs):
    """``Dataset.pixel_array`` (all frames, or frame ``index``); pydicom 3's decoding options are not supported."""
    from pydicom import Dataset, dcmread

    if kwargs:
        raise TypeError(f"pydicom {{__import__('pydicom').__version__}} cannot decode with options {{sorted(kwargs)}}")
    ds = src if isinstance(src, Dataset) else dcmread(src)
    arr = ds.pixel_array
    if index is not None and int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
        arr = arr[index]
    return arr
'''


def needs_compat(version: str) -> bool:
    """True for pydicom versions before 3.0 (no ``pydicom.pixels``)."""
    return int(version.split(".", 1)[0]) < 3


def install(site_packages: Union[str, Path]) -> Optional[Path]:
    """Write ``pydicom/pixels.py`` into the pydicom 2.x found in ``site_packages``; None when it is not needed.

    Raises:
        FileNotFoundError: no pydicom in ``site_packages``.
        FileExistsError: a ``pydicom/pixels`` that is not this compat module is already there.
    """
    pkg = Path(site_packages) / "pydicom"
    version_file = pkg / "_version.py"
    if not version_file.exists():
        raise FileNotFoundError(f"no pydicom package in {site_packages} (looked for {version_file})")
    if (pkg / "pixels").is_dir():
        return None  # pydicom 3 ships the real module
    target = pkg / "pixels.py"
    if target.exists() and not target.read_text(encoding="utf-8").startswith(COMPAT_MARKER):
        raise FileExistsError(f"{target} exists and is not the cranialseg compat module; leaving it alone")
    target.write_text(COMPAT_SOURCE, encoding="utf-8")
    return target


def _main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="Add pydicom.pixels to a pydicom 2.x install.")
    parser.add_argument("site_packages", help="the site-packages folder holding pydicom (the MONAI Label venv's)")
    print(install(parser.parse_args(argv).site_packages) or "pydicom.pixels exists; nothing to do")


if __name__ == "__main__":
    _main()
