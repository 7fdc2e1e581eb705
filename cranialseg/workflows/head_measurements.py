"""Fetal-head measurements at inference: pixel spacing for uncalibrated frames, per-case JSON, the HC18 CSV.

Hooked into the bundle's ``inference.json`` around the batch engine (:class:`cranialseg.workflows.BatchInference`),
which stays as it is:

* :class:`PixelSpacingd` (in the loading and pre-processing transforms) gives a PNG/JPEG frame, which carries no
  calibration, its pixel size: from an HC18-style CSV (``filename,pixel size(mm),...``, matched by file name) or
  from one ``pixel_spacing`` for every frame. DICOM (PixelSpacing or SequenceOfUltrasoundRegions) and NIfTI (the
  affine) keep their own spacing. A frame without any is measured in pixels, and the outputs say so.
* :class:`SaveHeadMeasurementsd` (one of the engine's ``writers``, on the label map on the input's grid) fits the
  head ellipse (:func:`cranialseg.workflows.ellipse.fit_head_ellipse`) and writes ``<case>_measurements.json`` and
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

from cranialseg.utils.spatial import drop_singleton_slice
from cranialseg.workflows.ellipse import ELLIPSE_KEYS, fit_head_ellipse
from cranialseg.workflows.options import as_bool
from cranialseg.workflows.outputs import atomic_write, to_numpy, write_json
from cranialseg.workflows.writers import CaseWriterd, case_output_path, label_and_affine

__all__ = [
    "HC18_CSV_HEADER",
    "SaveHeadMeasurementsd",
    "PixelSpacing",
    "PixelSpacingd",
    "head_measurements",
    "read_pixel_spacing_csv",
    "write_hc18_csv",
]

logger = logging.getLogger(__name__)

#: Columns of the HC18 challenge submission file.
HC18_CSV_HEADER = ("filename", "center_x_mm", "center_y_mm", "semi_axes_a_mm", "semi_axes_b_mm", "angle_rad")


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
    arr = drop_singleton_slice(arr)
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


class SaveHeadMeasurementsd(CaseWriterd):
    """Batch-inference writer: ``<id>_measurements.json`` and ``<id>_overlay.png`` (outline and fitted ellipse).

    Listed under ``writers`` in ``inference.json`` (see :mod:`cranialseg.workflows.writers`): ``pred`` is the label
    map on the input's grid, the spacing comes from the kept input's affine (``original_image``, calibrated by
    :class:`PixelSpacingd`); a frame without a pixel size (``meta["spacing_units"] == "pixel"``) is measured in
    pixels. Outputs are written atomically inside the case's output folder.

    Args:
        keys: the label-map key (``"pred"``).
        image_key: the input kept by ``CopyItemsd`` (grid, spacing and the overlay picture).
        write_overlay: write the overlay PNG (with the fitted ellipse).
        enabled: the writer's on/off option.
        allow_missing_keys: as in MONAI.
    """

    def __init__(
        self,
        keys: KeysCollection = "pred",
        image_key: str = "original_image",
        write_overlay: Any = True,
        enabled: Any = True,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, image_key, enabled, allow_missing_keys)
        self.write_overlay = as_bool(write_overlay, "write_overlay")

    def write(self, d: Mapping[Hashable, Any], key: Hashable, case: Mapping[str, Any]) -> dict[str, Path]:
        from cranialseg.workflows.fetal_head import save_head_overlay

        label, affine, _ = label_and_affine(d, key, self.image_key)
        image = d.get(self.image_key)
        meta = dict(getattr(image, "meta", None) or getattr(d[key], "meta", None) or {})
        units = str(meta.get("spacing_units", "mm"))
        spacing = [float(v) for v in np.linalg.norm(affine[:-1, :2], axis=0)]
        source = case.get("source", "")
        source = source[0] if isinstance(source, (list, tuple)) and source else source
        doc = {
            "case": case.get("id"),
            "source": Path(str(source)).name,
            "spacing_source": str(meta.get("spacing_source", "")),
            **head_measurements(label, spacing, units),
        }
        d[f"{key}_measurements"] = doc  # type: ignore[index]
        out = {"measurements": write_json(case_output_path(case, "_measurements.json"), doc, overwrite=True)}
        if self.write_overlay:
            ellipse = None
            if doc["head_found"]:
                suffix = "_mm" if units == "mm" else "_px"
                ellipse = {k: doc["ellipse"][k.replace("_mm", suffix)] for k in ELLIPSE_KEYS}
            picture = image if image is not None else d.get("image", d[key])
            out["overlay"] = save_head_overlay(
                picture,
                label,
                case_output_path(case, "_overlay.png"),
                spacing=spacing if units == "mm" else (1.0, 1.0),
                ellipse=ellipse,
            )
        return out


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
