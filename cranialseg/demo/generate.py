"""Write the embedded demo datasets (NIfTI, DICOM, PNG) and their decathlon-format datalist.

Layout under ``root``::

    datalist.json                  {"training": [...], "validation": [...], "test": [...]}
    images/<case>.nii.gz           CT: int16 HU (x, y, z), RAS affine; US: uint8 (x, y), pixel spacing in the affine
    labels/<case>.nii.gz           uint8 label map on the same grid
    dicom/<case>/IM0001.dcm ...    CT only: the same voxels as a DICOM CT series
    png/<case>.png                 US only: 8-bit grey copies of the first ``num_png`` images
    demo_info.json                 generator settings and per-case facts (lesions, ventricle size)

Case ``n`` is drawn from ``numpy.random.default_rng([seed, n])``, so cases are independent of ``num_cases`` and
only missing cases are generated on a later call.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from PIL import Image

from .ct_phantom import CT_LABELS, generate_ct_phantom
from .dicom_writer import write_ct_series
from .us_phantom import US_LABELS, generate_us_phantom

__all__ = ["ensure_demo_data", "demo_datalist", "split_cases", "DEFAULT_NUM_CASES"]

DEFAULT_NUM_CASES = {"ct": 24, "us": 48}
_CT_KW = {"shape", "spacing", "lesion_probability", "negative_fraction", "thick_slices"}
_US_KW = {"size", "spacing", "ivh_probability", "annotations"}
#: Version of each generator's output; a data folder made by another version is regenerated (2: CT skull blooming,
#: 3: CT slices interpolated across a gap at the vertex).
GENERATOR_VERSION = {"ct": 3, "us": 1}


def split_cases(n: int, val_fraction: float = 0.2, test_fraction: float = 0.1) -> dict[str, list[int]]:
    """Deterministic split of case indices: the last ``test`` cases, before them ``validation``, the rest training.

    At least one validation and one test case when ``n >= 3``.
    """
    if n < 1:
        raise ValueError(f"num_cases must be >= 1, got {n!r}")
    n_test = max(1, int(round(n * test_fraction))) if n >= 3 else 0
    n_val = max(1, int(round(n * val_fraction))) if n >= 2 else 0
    n_train = n - n_val - n_test
    return {
        "training": list(range(n_train)),
        "validation": list(range(n_train, n_train + n_val)),
        "test": list(range(n_train + n_val, n)),
    }


def _case_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(index)])


def _write_ct_case(root: Path, case: str, rng: np.random.Generator, write_dicom: bool, **kw: Any) -> dict:
    ph = generate_ct_phantom(rng, **kw)
    nib.save(nib.Nifti1Image(ph.hu, ph.affine), root / "images" / f"{case}.nii.gz")
    label_img = nib.Nifti1Image(ph.label, ph.affine)
    label_img.set_data_dtype(np.uint8)
    nib.save(label_img, root / "labels" / f"{case}.nii.gz")
    if write_dicom:
        write_ct_series(ph.hu, ph.affine, root / "dicom" / case, patient_id=case, uid_seed=("cranialseg-demo", case))
    return {"lesions": ph.lesions, "slice_thickness_mm": ph.slice_thickness_mm}


def _write_us_case(root: Path, case: str, rng: np.random.Generator, png: bool, **kw: Any) -> dict:
    ph = generate_us_phantom(rng, **kw)
    affine = np.diag([ph.spacing[0], ph.spacing[1], 1.0, 1.0])
    nib.save(nib.Nifti1Image(ph.image, affine), root / "images" / f"{case}.nii.gz")
    label_img = nib.Nifti1Image(ph.label, affine)
    label_img.set_data_dtype(np.uint8)
    nib.save(label_img, root / "labels" / f"{case}.nii.gz")
    if png:
        Image.fromarray(np.ascontiguousarray(ph.image.T), mode="L").save(root / "png" / f"{case}.png")
    return {"ivh": ph.ivh, "ventricle_width_mm": round(ph.ventricle_index, 2)}


def _write_case(args: tuple) -> tuple[str, dict]:
    """Generate and write case ``index`` (a process-pool job: everything it needs is in ``args``)."""
    root, task, case, seed, index, write_dicom, png, kw = args
    rng = _case_rng(seed, index)
    if task == "ct":
        return case, _write_ct_case(Path(root), case, rng, write_dicom, **kw)
    return case, _write_us_case(Path(root), case, rng, png, **kw)


def ensure_demo_data(
    root: str | Path,
    task: str = "ct",
    num_cases: int | None = None,
    seed: int = 0,
    *,
    write_dicom: bool = True,
    num_png: int = 5,
    num_workers: int = 0,
    **kw: Any,
) -> Path:
    """Generate the demo dataset of ``task`` under ``root`` unless it is there, and return its datalist path.

    Args:
        root: output folder (created); the datalist is ``root / "datalist.json"``.
        task: ``"ct"`` (3D head CT phantoms, :func:`~cranialseg.demo.ct_phantom.generate_ct_phantom`) or ``"us"``
            (2D cranial ultrasound phantoms, :func:`~cranialseg.demo.us_phantom.generate_us_phantom`).
        num_cases: number of cases (default 24 CT, 48 US), split 70/20/10 into training/validation/test.
        seed: base seed; case ``n`` uses ``numpy.random.default_rng([seed, n])``.
        write_dicom: CT only, also write each case as a DICOM series under ``dicom/<case>/``.
        num_png: US only, also write PNG copies of the first ``num_png`` cases under ``png/``.
        num_workers: generate cases in this many processes (0: in this process; -1: one per CPU core). The
            cases are the same whatever the number: each has its own seed.
        kw: generator settings: CT ``shape``, ``spacing``, ``lesion_probability``, ``negative_fraction``,
            ``thick_slices``; US
            ``size``, ``spacing``, ``ivh_probability``, ``annotations``. Changing them (or ``seed``) for an
            existing folder (or the generator's :data:`GENERATOR_VERSION`) regenerates it.

    Returns:
        the path of the decathlon-format datalist JSON (paths relative to its folder).

    Example:
        >>> from cranialseg.demo import ensure_demo_data
        >>> datalist = ensure_demo_data("/tmp/demo_ct", task="ct", num_cases=3, shape=(64, 64, 16))  # doctest: +SKIP
    """
    task = str(task).lower()
    if task not in ("ct", "us"):
        raise ValueError(f"task must be 'ct' or 'us', got {task!r}")
    allowed = _CT_KW if task == "ct" else _US_KW
    unknown = set(kw) - allowed
    if unknown:
        raise TypeError(
            f"ensure_demo_data(task={task!r}) got unknown settings {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    n = DEFAULT_NUM_CASES[task] if num_cases is None else int(num_cases)
    root = Path(root)
    for sub in (
        ("images", "labels") + (("dicom",) if task == "ct" and write_dicom else ()) + (("png",) if task == "us" else ())
    ):
        (root / sub).mkdir(parents=True, exist_ok=True)

    settings = {
        "task": task,
        "version": GENERATOR_VERSION[task],
        "seed": int(seed),
        "kw": {k: kw[k] for k in sorted(kw)},
        "write_dicom": write_dicom,
    }
    info_path = root / "demo_info.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    if info.get("settings") != json.loads(json.dumps(settings)):
        info = {"settings": settings, "cases": {}}  # other settings: regenerate every case
    prefix = "ct" if task == "ct" else "us"
    cases = [f"{prefix}_{i:03d}" for i in range(n)]
    jobs = []
    for i, case in enumerate(cases):
        have = (root / "images" / f"{case}.nii.gz").is_file() and (root / "labels" / f"{case}.nii.gz").is_file()
        if task == "ct" and write_dicom:
            have = have and any((root / "dicom" / case).glob("*.dcm"))
        if task == "us" and i < num_png:
            have = have and (root / "png" / f"{case}.png").is_file()
        if have and case in info["cases"]:
            continue
        jobs.append((str(root), task, case, seed, i, write_dicom, i < num_png, kw))
    workers = (os.cpu_count() or 1) if int(num_workers) < 0 else int(num_workers)
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            info["cases"].update(pool.map(_write_case, jobs))
    else:
        info["cases"].update(map(_write_case, jobs))

    def item(i: int) -> dict:
        entry = {"image": f"images/{cases[i]}.nii.gz", "label": f"labels/{cases[i]}.nii.gz"}
        if task == "ct" and write_dicom:
            entry["dicom"] = f"dicom/{cases[i]}"
        return entry

    split = split_cases(n)
    datalist = {
        "description": f"cranialseg synthetic {'head CT' if task == 'ct' else 'cranial ultrasound'} demo data",
        "labels": {str(v): k for k, v in (CT_LABELS if task == "ct" else US_LABELS).items()},
        "numTraining": len(split["training"]),
        **{part: [item(i) for i in idx] for part, idx in split.items()},
    }
    path = root / "datalist.json"
    path.write_text(json.dumps(datalist, indent=4))
    info_path.write_text(json.dumps(info, indent=4))
    return path


def demo_datalist(data_dir: str | Path, task: str = "ct", num_cases: int | None = None, **kw: Any) -> str:
    """The datalist of a bundle's data folder: the user's own, or the demo data generated with ``kw``.

    A ``datalist.json`` without the generator's ``demo_info.json`` beside it is the user's data and is returned as
    it is. Otherwise the demo data are made (or completed, or regenerated when the settings differ) by
    :func:`ensure_demo_data` with ``num_cases`` and ``kw`` (``seed``, ``num_workers``, ``write_dicom`` and the
    generator settings), so a bundle's recipe decides the phantoms it trains on.

    Example:
        In ``train.json``: ``"datalist_file": "$cranialseg.demo.demo_datalist(@data_dir, 'ct', 96, **@demo)"``.
    """
    root = Path(data_dir)
    if root.suffix == ".json" and root.is_file():
        return str(root)
    if (root / "datalist.json").is_file() and not (root / "demo_info.json").is_file():
        return str(root / "datalist.json")
    return str(ensure_demo_data(root, task=task, num_cases=num_cases, **kw))
