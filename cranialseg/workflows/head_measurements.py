"""Fetal-head measurements at inference: pixel spacing for uncalibrated frames, per-case JSON, the HC18 CSV.

Hooked into the bundle's ``inference.json`` around the batch engine (:class:`cranialseg.workflows.BatchInference`),
which stays as it is:

* :class:`PixelSpacingd` (in the loading and pre-processing transforms) gives a PNG/JPEG frame, which carries no
  calibration, its pixel size: from an HC18-style CSV (``filename,pixel size(mm),...``, matched by file name) or
  from one ``pixel_spacing`` for every frame. DICOM (PixelSpacing or SequenceOfUltrasoundRegions) and NIfTI (the
  affine) keep their own spacing. A frame without any is measured in pixels, and the outputs say so.
* :class:`HeadMeasurementsd` (last in the post-processing, on the label map on the input's grid) fits the head
  ellipse (:func:`cranialseg.workflows.ellipse.fit_head_ellipse`) and writes ``<case>_measurements.json`` and
  ``<case>_overlay.png`` (predicted outline and fitted ellipse). No head found: the JSON says so, no ellipse.
* :func:`write_hc18_csv` (after the batch) collects the JSONs into ``hc18_ellipses.csv``, the HC18 challenge's
  submission format ``filename,center_x_mm,center_y_mm,semi_axes_a_mm,semi_axes_b_mm,angle_rad``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Any, Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform

from cranialseg.workflows.ellipse import ELLIPSE_KEYS, fit_head_ellipse
from cranialseg.workflows.outputs import atomic_write, to_numpy, write_json

__all__ = [
    "HC18_CSV_HEADER",
    "HeadMeasurementsd",
    "PixelSpacing",
    "PixelSpacingd",
    "head_measurements",
    "read_pixel_spacing_csv",
    "write_hc18_csv",
]

logger = logging.getLogger(__name__)

#: Columns of the HC18 challenge submission file.
HC18_CSV_HEADER = ("filename", "center_x_mm", "center_y_mm", "semi_axes_a_mm", "semi_axes_b_mm", "angle_rad")
_SUFFIXES = (".nii.gz", ".nii", ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm", ".dicom")


def read_pixel_spacing_csv(path: str | Path) -> dict[str, float]:
    """``{file name: pixel size mm}`` from an HC18-style CSV (first column the file name, second the pixel size).

    Raises:
        FileNotFoundError / ValueError: naming the file and the line.
    """
    from cranialseg.demo.hc18 import read_hc18_csv

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


def head_measurements(label: Any, spacing: Sequence[float], units: str = "mm") -> dict:
    """The measurement document of one 2D label map: HC, BPD, OFD and the ellipse, or ``head_found: false``.

    With ``units="pixel"`` (no calibration) the values are in pixels and the keys end in ``_px``.
    """
    arr = to_numpy(label)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    fit = fit_head_ellipse(arr > 0, spacing if units == "mm" else (1.0, 1.0))
    doc: dict[str, Any] = {"units": units, "head_found": fit is not None}
    if units == "mm":
        doc["pixel_spacing_mm"] = [round(float(s), 6) for s in spacing[:2]]
    else:
        doc["note"] = "no pixel spacing (give --pixel_spacing or --pixel_spacing_csv): values are in pixels"
    if fit is None:
        doc["note"] = (doc.get("note", "") + "; " if doc.get("note") else "") + "no head found: no ellipse fitted"
        return doc
    suffix = "_mm" if units == "mm" else "_px"
    for key in ("head_circumference", "biparietal_diameter", "occipitofrontal_diameter"):
        doc[key + suffix] = round(fit[key + "_mm"], 3)
    doc["head_area" + ("_mm2" if units == "mm" else "_px2")] = round(fit["area_mm2"], 3)
    doc["ellipse"] = {
        (k if units == "mm" else k.replace("_mm", "_px")): round(fit[k], 6 if k == "angle_rad" else 4)
        for k in ELLIPSE_KEYS
    }
    return doc


class HeadMeasurementsd(MapTransform):
    """Write ``<case>_measurements.json`` and ``<case>_overlay.png`` (with the fitted ellipse) for each prediction.

    Put it last in the inference post-processing, after ``Invertd`` and the argmax, so ``pred`` is the label map
    on the input's grid with its affine (the spacing). The case name is the input file name without its suffix,
    as the batch engine names its outputs. Outputs go to ``output_dir`` atomically and never over the input.

    Args:
        keys: the label-map key (``"pred"``).
        output_dir: where the files go (created).
        image_key: the grey image on the input's grid for the overlay (a copy made before resizing); None or a
            missing key: no overlay.
        write_overlay: write the overlay PNG.
        allow_missing_keys: as in MONAI.
    """

    def __init__(
        self,
        keys: KeysCollection,
        output_dir: str | Path,
        *,
        image_key: str | None = "original_image",
        write_overlay: bool = True,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.output_dir = Path(output_dir)
        self.image_key = image_key
        self.write_overlay = bool(write_overlay)

    @staticmethod
    def case_name(meta: Mapping) -> str:
        name = _source_name(meta)
        for suffix in _SUFFIXES:
            if name.lower().endswith(suffix):
                return name[: -len(suffix)]
        return name

    def __call__(self, data: Mapping[Hashable, Any]) -> dict:
        from cranialseg.workflows.fetal_head import save_head_overlay

        d = dict(data)
        for key in self.key_iterator(d):
            pred = d[key]
            meta = dict(getattr(pred, "meta", {}) or {})
            image = d.get(self.image_key) if self.image_key else None
            image_meta = dict(getattr(image, "meta", {}) or {})
            source_meta = image_meta or meta
            units = str(source_meta.get("spacing_units", meta.get("spacing_units", "mm")))
            affine = to_numpy(pred.affine) if hasattr(pred, "affine") else np.eye(4)
            spacing = [float(v) for v in np.linalg.norm(affine[:-1, :2], axis=0)]
            case = self.case_name(source_meta if "filename_or_obj" in source_meta else meta)
            doc = {
                "case": case,
                "source": _source_name(source_meta if "filename_or_obj" in source_meta else meta),
                "spacing_source": str(source_meta.get("spacing_source", "")),
                **head_measurements(pred, spacing, units),
            }
            self.output_dir.mkdir(parents=True, exist_ok=True)
            json_path = self.output_dir / f"{case}_measurements.json"
            self._check_not_input(json_path, source_meta)
            write_json(json_path, doc, overwrite=True)
            d[f"{key}_measurements"] = doc
            if self.write_overlay and image is not None:
                overlay = self.output_dir / f"{case}_overlay.png"
                self._check_not_input(overlay, source_meta)
                ellipse = None
                if doc["head_found"] and units == "mm":
                    ellipse = {k: doc["ellipse"][k] for k in ELLIPSE_KEYS}
                elif doc["head_found"]:
                    ellipse = {k: doc["ellipse"][k.replace("_mm", "_px")] for k in ELLIPSE_KEYS}
                save_head_overlay(
                    image, pred, overlay, spacing=spacing if units == "mm" else (1.0, 1.0), ellipse=ellipse or None
                )
        return d

    @staticmethod
    def _check_not_input(path: Path, meta: Mapping) -> None:
        source = meta.get("filename_or_obj")
        source = source[0] if isinstance(source, (list, tuple)) and source else source
        if source and Path(str(source)).resolve() == path.resolve():
            raise ValueError(f"{path}: an output would overwrite the input; choose another output_dir")


def write_hc18_csv(output_dir: str | Path, name: str = "hc18_ellipses.csv") -> dict:
    """Collect ``*_measurements.json`` in ``output_dir`` into the HC18 submission CSV and a summary JSON.

    Rows (sorted by file name) are the images with a head measured in mm; images without a head or without a
    pixel spacing are left out of the CSV and listed in ``<name stem>_summary.json`` (``no_head``,
    ``no_spacing``).

    Returns:
        the summary ``{"csv", "rows", "no_head", "no_spacing"}``.
    """
    output_dir = Path(output_dir)
    rows, no_head, no_spacing = [], [], []
    for path in sorted(output_dir.glob("*_measurements.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        filename = doc.get("source") or doc.get("case")
        if not doc.get("head_found"):
            no_head.append(filename)
        elif doc.get("units") != "mm":
            no_spacing.append(filename)
        else:
            e = doc["ellipse"]
            rows.append([filename] + [e[k] for k in ELLIPSE_KEYS])
    rows.sort(key=lambda r: r[0])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HC18_CSV_HEADER)
    writer.writerows(rows)
    text = buf.getvalue()
    csv_path = atomic_write(output_dir / name, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=True)
    summary = {"csv": str(csv_path), "rows": len(rows), "no_head": no_head, "no_spacing": no_spacing}
    write_json(output_dir / f"{Path(name).stem}_summary.json", summary, overwrite=True)
    if no_head or no_spacing:
        logger.warning(f"{csv_path}: {len(no_head)} image(s) without a head, {len(no_spacing)} without pixel spacing")
    return summary
