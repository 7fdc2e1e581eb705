"""The ``pydicom.pixels`` names this project uses, on pydicom 3 (the real module) and on pydicom 2.4.

The main environment has pydicom >= 3. MONAI Label 0.8.5's environment needs pydicom 2.4.4 (its start-up imports
``pydicom._storage_sopclass_uids`` through ``pydicom-seg``, gone in pydicom 3), which has no ``pydicom.pixels``.
``cranialseg.io`` imports from here, so it loads in both without touching the installed pydicom.

Example:
    >>> import numpy as np
    >>> callable(pixel_array) and callable(apply_color_lut)
    True
"""

from __future__ import annotations

from typing import Any

__all__ = ["apply_color_lut", "pixel_array", "HAS_PYDICOM_PIXELS"]

try:
    from pydicom.pixels import apply_color_lut, pixel_array

    HAS_PYDICOM_PIXELS = True
except ImportError:  # pydicom 2.x (the MONAI Label venv)
    from pydicom.pixel_data_handlers.util import apply_color_lut  # type: ignore[no-redef]

    HAS_PYDICOM_PIXELS = False

    def pixel_array(src: Any, *, index: Any = None, **kwargs: Any) -> Any:  # type: ignore[misc]
        """``Dataset.pixel_array`` (all frames, or frame ``index``); pydicom 3's decoding options are refused."""
        import pydicom

        if kwargs:
            raise TypeError(f"pydicom {pydicom.__version__} cannot decode with options {sorted(kwargs)}")
        ds = src if isinstance(src, pydicom.Dataset) else pydicom.dcmread(src)
        arr = ds.pixel_array
        if index is not None and int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
            arr = arr[index]
        return arr
