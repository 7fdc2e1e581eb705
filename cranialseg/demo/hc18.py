"""Prepare the HC18 fetal-head ultrasound set (van den Heuvel et al., PLoS ONE 2018) as NIfTI + a datalist.

Input folder: ``images/NNN_HC.png`` (grey, 800 x 540), ``annotations/NNN_HC_Annotation.png`` (the skull drawn as
an ellipse: an outline in the challenge release, already filled in some copies; both work) and
``pixel_size_and_HC.csv`` (pixel size in mm, head circumference in mm). Several images of one fetus share the
subject number: ``237_HC.png``, ``237_2HC.png``, ... Output::

    images/NNN_HC.nii.gz   uint8 grey (x, y), affine diag(pixel mm x, pixel mm y, 1)
    labels/NNN_HC.nii.gz   uint8 head mask (filled ellipse)
    datalist.json          {"training": [...], "validation": [...], "test": [...]}; items carry the source file
                           name, subject, hc_mm, pixel_mm (of the written grid) and original_pixel_mm

The split is **by subject** (every image of one fetus in one section): the sorted subject numbers are shuffled
with ``numpy.random.default_rng(seed)`` and cut at ``fractions`` (70/10/20 % by default: of HC18's 500 training
subjects 350/50/100). The split depends only on the subject list, the fractions and the seed, so a downsampled
copy (``max_size``) and a full-resolution copy of the same folder list the same cases in each section. Images
without a CSV row have no pixel size; they are left out and listed under ``skipped_without_pixel_size``.

Resizing (``max_size``: longer side at most that many pixels, aspect kept; or ``size=(x, y)``): images
anti-aliased linear, masks by linear interpolation of the filled mask thresholded at 0.5, and the spacing
``pixel mm * old / new`` per axis, so the physical extent is kept.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Sequence

import nibabel as nib
import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.transform import resize

from cranialseg.metrics.ellipse import ramanujan_circumference
from cranialseg.transforms.pixel_spacing import read_hc18_csv

__all__ = [
    "HC18_SECTIONS",
    "annotation_outline_offset",
    "hc18_head_mask",
    "hc18_subject",
    "prepare_hc18",
    "read_hc18_csv",
    "ramanujan_circumference",
    "resized_shape",
    "split_subjects",
]

#: Datalist sections written by :func:`prepare_hc18`, in the order of ``fractions``.
HC18_SECTIONS = ("training", "validation", "test")
_SUBJECT = re.compile(r"^(\d+)_\d*HC")


def hc18_subject(name: str) -> str:
    """The subject (fetus) of an HC18 file name: ``"237"`` for ``237_HC.png``, ``237_2HC.png``, ``237_3HC.nii.gz``.

    Raises:
        ValueError: for a name that does not follow ``NNN_HC`` / ``NNN_<k>HC``.
    """
    m = _SUBJECT.match(Path(str(name)).name)
    if m is None:
        raise ValueError(f"{name!r} is not an HC18 file name (expected NNN_HC.png or NNN_<k>HC.png)")
    return m.group(1)


def split_subjects(
    subjects: Sequence[str], fractions: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 0
) -> dict[str, str]:
    """Assign each subject to ``"training"``, ``"validation"`` or ``"test"`` (fixed seed, whole subjects).

    Args:
        subjects: subject ids (duplicates allowed; the unique, sorted ids are split).
        fractions: shares of the subjects in training, validation and test (normalised to sum 1).
        seed: seed of ``numpy.random.default_rng`` shuffling the sorted ids.

    Returns:
        ``{subject: section}``.
    """
    if len(fractions) != 3 or min(fractions) < 0 or sum(fractions) <= 0:
        raise ValueError(f"fractions must be three non-negative shares (training, validation, test), got {fractions}")
    unique = sorted(set(subjects))
    order = [unique[i] for i in np.random.default_rng(seed).permutation(len(unique))]
    total = float(sum(fractions))
    cut1 = round(len(unique) * fractions[0] / total)
    cut2 = round(len(unique) * (fractions[0] + fractions[1]) / total)
    out = {}
    for i, subject in enumerate(order):
        out[subject] = HC18_SECTIONS[0] if i < cut1 else HC18_SECTIONS[1] if i < cut2 else HC18_SECTIONS[2]
    return out


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


def annotation_outline_offset(src: str | Path, names: Sequence[str] | None = None) -> dict:
    """How far the filled annotation's outline lies outside the ellipse HC18's reference circumference measures.

    For each image: the ellipse fitted to the outline of :func:`hc18_head_mask` (as the bundle fits a predicted
    mask), its Ramanujan circumference minus the CSV's reference, divided by ``2 pi`` (an outline moved out by ``d``
    grows the perimeter by ``2 pi d``) and by the pixel size: the offset in pixels of the frame. HC18's
    annotations give 1.38 pixels (sd 0.06) whatever the pixel size: half the drawn line (the filled mask keeps the
    line) plus the half pixel of the marching-squares outline.

    Args:
        src: HC18 folder (``annotations/``, ``pixel_size_and_HC.csv``).
        names: image file names to use (e.g. the training split's); None: every image of the CSV.

    Returns:
        ``{"median_px", "mean_px", "sd_px", "n", "per_image"}`` (``per_image``: name -> offset in pixels).
    """
    import math

    from cranialseg.metrics.ellipse import fit_head_ellipse

    src = Path(src)
    table = read_hc18_csv(src / "pixel_size_and_HC.csv")
    per_image = {}
    for name in sorted(table if names is None else names):
        pixel_mm, hc_mm = table[name]
        fit = fit_head_ellipse(hc18_head_mask(src / "annotations" / f"{Path(name).stem}_Annotation.png"))
        if fit is None:
            raise ValueError(f"{name}: no head in its annotation")
        per_image[name] = (fit["head_circumference_mm"] * pixel_mm - hc_mm) / (2 * math.pi * pixel_mm)
    values = np.asarray(list(per_image.values()))
    return {
        "median_px": float(np.median(values)),
        "mean_px": float(values.mean()),
        "sd_px": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "n": len(values),
        "per_image": per_image,
    }


def resized_shape(shape: Sequence[int], max_size: int) -> tuple[int, ...]:
    """The shape with the longer side at most ``max_size`` pixels, aspect kept (unchanged when already smaller)."""
    scale = min(1.0, float(max_size) / max(shape))
    return tuple(max(1, int(round(s * scale))) for s in shape)


def _save_nifti(array: np.ndarray, spacing: Sequence[float], path: Path) -> None:
    affine = np.diag([float(spacing[0]), float(spacing[1]), 1.0, 1.0])
    img = nib.Nifti1Image(array.astype(np.uint8), affine)
    img.set_data_dtype(np.uint8)
    tmp = path.with_name(f".{path.name}.tmp.nii.gz")
    nib.save(img, tmp)
    tmp.replace(path)


def prepare_hc18(
    src: str | Path,
    dst: str | Path,
    *,
    size: Sequence[int] | None = None,
    max_size: int | None = None,
    fractions: Sequence[float] = (0.7, 0.1, 0.2),
    seed: int = 0,
    cases: Sequence[str] | None = None,
    sections: Sequence[str] = HC18_SECTIONS,
) -> Path:
    """Convert the HC18 folder ``src`` into NIfTI images/masks and a subject-split datalist under ``dst``.

    Args:
        src: folder with ``images/``, ``annotations/`` and ``pixel_size_and_HC.csv``.
        dst: output folder (created; must not be ``src``).
        size: optional output size ``(x, y)`` in pixels (e.g. ``(384, 256)``); None keeps 800 x 540.
        max_size: optional bound of the longer side in pixels, aspect kept (e.g. 384: 800 x 540 -> 384 x 259).
        fractions: shares of subjects in training, validation and test.
        seed: split seed (see :func:`split_subjects`).
        cases: optional subset of file names (e.g. ``["000_HC.png"]``); the split still follows the full list.
        sections: the sections whose images are written (e.g. ``("training", "validation")`` for a copy that
            only trains); the others are listed empty and named under ``split["not_written"]``.

    Returns:
        the path of ``dst / "datalist.json"``.

    Example:
        >>> prepare_hc18("../shared/data/hc18_fetal_head_us", "/tmp/hc18_384", max_size=384)  # doctest: +SKIP
    """
    src, dst = Path(src), Path(dst)
    csv_path = src / "pixel_size_and_HC.csv"
    if not csv_path.is_file():
        raise FileNotFoundError(f"HC18 folder {src} has no pixel_size_and_HC.csv")
    if src.resolve() == dst.resolve():
        raise ValueError(f"dst {dst} is the HC18 source folder; choose another output folder")
    if size is not None and max_size is not None:
        raise ValueError(f"give size or max_size, not both (got size={size!r}, max_size={max_size!r})")
    if size is not None and (len(size) != 2 or min(int(s) for s in size) < 8):
        raise ValueError(f"size must be (x, y) with at least 8 pixels per axis, got {size!r}")
    if max_size is not None and int(max_size) < 8:
        raise ValueError(f"max_size must be at least 8 pixels, got {max_size!r}")
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
    bad = [s for s in sections if s not in HC18_SECTIONS]
    if bad or not sections:
        raise ValueError(f"sections must be a non-empty subset of {HC18_SECTIONS}, got {list(sections)}")
    assigned = split_subjects([hc18_subject(n) for n in names], fractions, seed)
    (dst / "images").mkdir(parents=True, exist_ok=True)
    (dst / "labels").mkdir(parents=True, exist_ok=True)
    datalist: dict[str, list] = {s: [] for s in HC18_SECTIONS}
    for name in names:
        if name not in wanted or assigned[hc18_subject(name)] not in sections:
            continue
        pixel_mm, hc_mm = table[name]
        stem = Path(name).stem
        image_path = src / "images" / name
        try:
            img = np.asarray(Image.open(image_path).convert("L"), dtype=np.float32).T  # (x, y)
        except OSError as err:
            raise ValueError(f"{image_path}: cannot read the image ({err})") from err
        mask = hc18_head_mask(src / "annotations" / f"{stem}_Annotation.png")
        if mask.shape != img.shape:
            raise ValueError(f"{name}: annotation shape {mask.shape} differs from image shape {img.shape} (x, y)")
        original = img.shape
        new = tuple(int(s) for s in size) if size is not None else original
        if max_size is not None:
            new = resized_shape(original, int(max_size))
        spacing = [pixel_mm * original[0] / new[0], pixel_mm * original[1] / new[1]]
        if new != original:
            img = resize(img, new, order=1, anti_aliasing=True, preserve_range=True)
            mask = resize(mask.astype(np.float32), new, order=1, anti_aliasing=False) > 0.5
        _save_nifti(np.clip(np.rint(img), 0, 255), spacing, dst / "images" / f"{stem}.nii.gz")
        _save_nifti(mask, spacing, dst / "labels" / f"{stem}.nii.gz")
        item = {
            "image": f"images/{stem}.nii.gz",
            "label": f"labels/{stem}.nii.gz",
            "source": name,
            "subject": hc18_subject(name),
            "hc_mm": hc_mm,
            "pixel_mm": [round(s, 8) for s in spacing],
            "original_pixel_mm": pixel_mm,
            "original_shape": list(original),
        }
        datalist[assigned[hc18_subject(name)]].append(item)
    counts = {s: sum(1 for v in assigned.values() if v == s) for s in HC18_SECTIONS}
    out = {
        "description": "HC18 fetal head circumference challenge, training set (CC BY 4.0)",
        "reference": "van den Heuvel et al., PLoS ONE 13(8): e0200412, 2018; Zenodo 1327317",
        "labels": {"0": "background", "1": "head"},
        "split": {
            "by": "subject",
            "fractions": [float(f) for f in fractions],
            "seed": int(seed),
            "subjects": counts,
            "images": {s: sum(1 for n in names if assigned[hc18_subject(n)] == s) for s in HC18_SECTIONS},
            "not_written": [s for s in HC18_SECTIONS if s not in sections],
        },
        "numTraining": len(datalist["training"]),
        **datalist,
        "skipped_without_pixel_size": skipped,
    }
    path = dst / "datalist.json"
    tmp = dst / ".datalist.json.tmp"
    tmp.write_text(json.dumps(out, indent=4))
    tmp.replace(path)
    return path
