"""Prepare the HC18 fetal-head ultrasound set (van den Heuvel et al., PLoS ONE 2018) as NIfTI + a datalist.

Input folder: ``images/NNN_HC.png`` (grey), ``annotations/NNN_HC_Annotation.png`` (the skull drawn as an
ellipse: an outline in the challenge release, already filled in some copies; both work) and
``pixel_size_and_HC.csv`` (pixel size in mm, head circumference in mm). Output::

    images/NNN_HC.nii.gz   float32 (x, y), affine diag(pixel mm x, pixel mm y, 1)
    labels/NNN_HC.nii.gz   uint8 head mask (filled ellipse)
    datalist.json          {"training": [...240], "validation": [...60], "test": []}, items carry hc_mm, pixel_mm

The split is fixed: of the images present that the CSV lists, sorted by file name, every ``val_every``-th
(positions 4, 9, 14, ...) is validation: 240/60 for a complete set of 300. Images without a CSV row have no pixel
size, so they are left out and listed under ``skipped_without_pixel_size`` (the shared copy holds images
000-299 but the CSV rows of the challenge's first 300 files, 000_HC ... 237_HC including the _2HC/_3HC
variants: 238 images usable, split 191/47). With ``size=(x, y)`` images are resized (anti-aliased linear;
masks by linear interpolation of the filled mask thresholded at 0.5) and the new spacing
``pixel mm * old / new`` is written per axis.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Sequence

import nibabel as nib
import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.transform import resize

__all__ = ["ramanujan_circumference", "read_hc18_csv", "hc18_head_mask", "prepare_hc18"]


def ramanujan_circumference(a: float, b: float) -> float:
    """Ramanujan's approximation of the circumference of an ellipse with semi-axes ``a`` and ``b``."""
    return math.pi * (3 * (a + b) - math.sqrt((3 * a + b) * (a + 3 * b)))


def read_hc18_csv(path: str | Path) -> dict[str, tuple[float, float]]:
    """``{file name: (pixel size mm, head circumference mm)}`` from ``pixel_size_and_HC.csv``."""
    rows: dict[str, tuple[float, float]] = {}
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or len(header) < 3:
            raise ValueError(
                f"{path}: expected a header 'filename,pixel size(mm),head circumference (mm)', got {header}"
            )
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                rows[row[0].strip()] = (float(row[1]), float(row[2]))
            except (IndexError, ValueError) as err:
                raise ValueError(f"{path}, line {line_no}: cannot read {row!r} ({err})") from err
    return rows


def hc18_head_mask(annotation: str | Path) -> np.ndarray:
    """The filled head mask ``(x, y)`` (bool) of an HC18 annotation PNG (outline or filled ellipse)."""
    arr = np.asarray(Image.open(annotation))
    if arr.ndim == 3:
        arr = arr[..., :3].max(axis=-1)
    outline = arr > 127
    if not outline.any():
        raise ValueError(f"{annotation}: the annotation is empty (no pixel above 127)")
    filled = ndimage.binary_fill_holes(outline)
    if filled.sum() < 1.5 * outline.sum() and outline.sum() < 0.5 * filled.size:  # an outline with small gaps
        closed = ndimage.binary_closing(outline, structure=np.ones((3, 3)), iterations=3)
        filled = ndimage.binary_fill_holes(closed) | filled
    return np.ascontiguousarray(filled.T)


def prepare_hc18(
    src: str | Path,
    dst: str | Path,
    *,
    size: Sequence[int] | None = None,
    val_every: int = 5,
    cases: Sequence[str] | None = None,
) -> Path:
    """Convert the HC18 folder ``src`` into NIfTI images/masks and a datalist under ``dst``.

    Args:
        src: folder with ``images/``, ``annotations/`` and ``pixel_size_and_HC.csv``.
        dst: output folder (created).
        size: optional output size ``(x, y)`` in pixels (e.g. ``(384, 256)``); None keeps 800 x 540.
        val_every: every ``val_every``-th case (by position in the sorted CSV) goes to validation (5: 240/60).
        cases: optional subset of file names (e.g. ``["000_HC.png"]``); the split still follows the full list.

    Returns:
        the path of ``dst / "datalist.json"``.
    """
    src, dst = Path(src), Path(dst)
    csv_path = src / "pixel_size_and_HC.csv"
    if not csv_path.is_file():
        raise FileNotFoundError(f"HC18 folder {src} has no pixel_size_and_HC.csv")
    if size is not None and (len(size) != 2 or min(int(s) for s in size) < 8):
        raise ValueError(f"size must be (x, y) with at least 8 pixels per axis, got {size!r}")
    if val_every < 2:
        raise ValueError(f"val_every must be >= 2, got {val_every!r}")
    table = read_hc18_csv(csv_path)
    present = sorted(p.name for p in (src / "images").glob("*.png"))
    names = [n for n in present if n in table]
    skipped = [n for n in present if n not in table]  # no pixel size: no physical geometry, left out
    if not names:
        raise FileNotFoundError(f"none of the {len(table)} images listed in {csv_path} is in {src / 'images'}")
    wanted = set(names if cases is None else cases)
    unknown = wanted - set(names)
    if unknown:
        raise ValueError(
            f"cases {sorted(unknown)} are not both listed in {csv_path.name} and present in {src / 'images'}"
        )
    (dst / "images").mkdir(parents=True, exist_ok=True)
    (dst / "labels").mkdir(parents=True, exist_ok=True)
    datalist: dict[str, list] = {"training": [], "validation": [], "test": []}
    for index, name in enumerate(names):
        if name not in wanted:
            continue
        pixel_mm, hc_mm = table[name]
        stem = Path(name).stem
        image_path = src / "images" / name
        img = np.asarray(Image.open(image_path).convert("L"), dtype=np.float32).T  # (x, y)
        mask = hc18_head_mask(src / "annotations" / f"{stem}_Annotation.png")
        if mask.shape != img.shape:
            raise ValueError(f"{name}: annotation shape {mask.shape} differs from image shape {img.shape} (x, y)")
        spacing = [pixel_mm, pixel_mm]
        if size is not None:
            new = (int(size[0]), int(size[1]))
            spacing = [pixel_mm * img.shape[0] / new[0], pixel_mm * img.shape[1] / new[1]]
            img = resize(img, new, order=1, anti_aliasing=True, preserve_range=True).astype(np.float32)
            mask = resize(mask.astype(np.float32), new, order=1, anti_aliasing=False) > 0.5
        affine = np.diag([spacing[0], spacing[1], 1.0, 1.0])
        nib.save(nib.Nifti1Image(img, affine), dst / "images" / f"{stem}.nii.gz")
        lab = nib.Nifti1Image(mask.astype(np.uint8), affine)
        lab.set_data_dtype(np.uint8)
        nib.save(lab, dst / "labels" / f"{stem}.nii.gz")
        item = {
            "image": f"images/{stem}.nii.gz",
            "label": f"labels/{stem}.nii.gz",
            "hc_mm": hc_mm,
            "pixel_mm": [round(s, 8) for s in spacing],
        }
        datalist["validation" if index % val_every == val_every - 1 else "training"].append(item)
    out = {
        "description": "HC18 fetal head circumference challenge, training images 000-299 (CC BY 4.0)",
        "reference": "van den Heuvel et al., PLoS ONE 13(8): e0200412, 2018; Zenodo 1327317",
        "labels": {"0": "background", "1": "head"},
        "numTraining": len(datalist["training"]),
        **datalist,
        "skipped_without_pixel_size": skipped,
    }
    path = dst / "datalist.json"
    path.write_text(json.dumps(out, indent=4))
    return path
