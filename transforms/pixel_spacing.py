"""Pixel size of uncalibrated 2D frames (PNG/JPEG) from an HC18-style CSV or one given spacing.

:class:`PixelSpacingd` (in the loading and pre-processing transforms of the fetal-head bundle) gives a PNG/JPEG frame,
which carries no calibration, its pixel size: from an HC18-style CSV (``filename,pixel size(mm),...``, matched by file
name, read by :func:`read_hc18_csv`) or from one ``pixel_spacing`` for every frame. DICOM (PixelSpacing or
SequenceOfUltrasoundRegions) and NIfTI (the affine) keep their own spacing. A frame without any is measured in
pixels, and the outputs say so (:class:`cranialseg.io.SaveHeadMeasurementsd`).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any, Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform

__all__ = [
    "PixelSpacing",
    "PixelSpacingd",
    "read_pixel_spacing_csv",
    "read_hc18_csv",
]

logger = logging.getLogger(__name__)


def read_pixel_spacing_csv(path: str | Path) -> dict[str, float]:
    """``{file name: pixel size mm}`` from an HC18-style CSV (first column the file name, second the pixel size).

    Raises:
        FileNotFoundError / ValueError: naming the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pixel_spacing_csv {path}: no such file")
    return {name: pixel for name, (pixel, _) in read_hc18_csv(path).items()}


def _uncalibrated(meta: Mapping) -> bool:
    source = str(meta.get("spacing_source", ""))
    return source.startswith("none") or (not source and str(meta.get("input_kind", "")) == "picture")


def _source_name(meta: Mapping) -> str:
    source = meta.get("filename_or_obj", "")
    source = source[0] if isinstance(source, (list, tuple)) and source else source
    return Path(str(source)).name


class PixelSpacing(Transform):
    """Set the in-plane pixel size (mm) of an uncalibrated 2D frame from a CSV row or one given spacing.

    Only images whose reader found no calibration (``meta["spacing_source"]`` starting with ``"none"``, as PNG/JPEG
    frames) are changed: the first two affine columns are scaled to the new pixel size and ``spacing_source`` says
    where it came from. A frame the CSV does not list falls back to ``pixel_spacing``; without either it stays at
    1 mm and ``meta["spacing_units"]`` is ``"pixel"``.

    Args:
        pixel_spacing: one pixel size in mm (isotropic) or ``(dx, dy)``; None for none.
        pixel_spacing_csv: HC18-style CSV (``filename,pixel size(mm)[,...]``) matched by file name; None for none.

    Example:
        >>> img = MetaTensor(torch.zeros(1, 4, 3), meta={"spacing_source": "none: 1 mm assumed"})
        >>> out = PixelSpacing(pixel_spacing=0.2)(img)
        >>> [round(float(v), 3) for v in out.affine.diagonal()[:2]], out.meta["spacing_units"]
        ([0.2, 0.2], 'mm')
    """

    def __init__(
        self, pixel_spacing: float | Sequence[float] | None = None, pixel_spacing_csv: str | Path | None = None
    ) -> None:
        if pixel_spacing is not None:
            values = [float(v) for v in np.atleast_1d(np.asarray(pixel_spacing, dtype=np.float64))]
            if len(values) not in (1, 2) or not all(v > 0 for v in values):
                raise ValueError(f"pixel_spacing must be one or two sizes > 0 in mm, got {pixel_spacing!r}")
            self.pixel_spacing: tuple[float, float] | None = (values[0], values[-1])
        else:
            self.pixel_spacing = None
        self.table = read_pixel_spacing_csv(pixel_spacing_csv) if pixel_spacing_csv else {}
        self.csv_name = str(pixel_spacing_csv) if pixel_spacing_csv else None

    def __call__(self, img: Any) -> Any:
        if not isinstance(img, MetaTensor):
            raise TypeError(f"PixelSpacing needs a MetaTensor (LoadImaged output), got {type(img).__name__}")
        meta = img.meta
        if not _uncalibrated(meta):
            meta.setdefault("spacing_units", "mm")
            return img
        name = _source_name(meta)
        if name in self.table:
            spacing, source = (self.table[name], self.table[name]), f"pixel_spacing_csv {self.csv_name}"
        elif self.pixel_spacing is not None:
            spacing, source = self.pixel_spacing, "pixel_spacing argument"
        else:
            meta["spacing_units"] = "pixel"
            return img
        affine = torch.as_tensor(img.affine, dtype=torch.float64).clone()
        for axis in range(2):
            norm = float(torch.linalg.norm(affine[:-1, axis]))
            affine[:, axis] = affine[:, axis] * (spacing[axis] / (norm if norm > 0 else 1.0))
            affine[-1, axis] = 0.0
        img.affine = affine
        meta["spacing_source"] = source
        meta["spacing_units"] = "mm"
        return img


class PixelSpacingd(MapTransform):
    """Dictionary version of :class:`PixelSpacing` (one setting for every key)."""

    def __init__(
        self,
        keys: KeysCollection,
        pixel_spacing: float | Sequence[float] | None = None,
        pixel_spacing_csv: str | Path | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = PixelSpacing(pixel_spacing, pixel_spacing_csv)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transform(d[key])
        return d


def read_hc18_csv(path: str | Path) -> dict[str, tuple[float, float]]:
    """``{file name: (pixel size mm, head circumference mm)}`` from ``pixel_size_and_HC.csv``.

    The head-circumference column may be absent (the challenge's test CSV has only the pixel size): it is then
    ``nan``.
    """
    rows: dict[str, tuple[float, float]] = {}
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or len(header) < 2:
            raise ValueError(
                f"{path}: expected a header 'filename,pixel size(mm)[,head circumference (mm)]', got {header}"
            )
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                hc = float(row[2]) if len(row) > 2 and row[2].strip() else float("nan")
                pixel = float(row[1])
            except (IndexError, ValueError) as err:
                raise ValueError(f"{path}, line {line_no}: cannot read {row!r} ({err})") from err
            if not pixel > 0:
                raise ValueError(f"{path}, line {line_no}: pixel size must be > 0 mm, got {row[1]!r}")
            rows[row[0].strip()] = (pixel, hc)
    return rows
