"""The blood-dense band under the skull: real head CT next to the CT demo phantoms (issue 17).

On the real normal GE series the phantom-trained CT network paints a subdural/epidural rim along the inner table.
This script measures why, with :func:`cranialseg.demo.realism.skull_band_profile`: the median HU of intracranial
voxels by their in-plane distance to bone, and the share of them at acute-blood density (50-100 HU), on

* two real head-CT slices that install with pydicom (``693_UNCR.dcm`` from pydicom-data, 0.48 mm, and
  ``J2K_pixelrep_mismatch.dcm`` from pydicom's own test files, 0.43 mm; both 5 mm slices),
* the real normal GE HiSpeed series in ``../shared/data/head_ct_dicom_ge_tilt`` when it is there (read by the
  bundle's reader, resampled to the CT recipe's 1 x 1 x 5 mm grid: what the network sees),
* unseen CT phantoms at the recipe grid (seed 1000, lesion-free) as the generator makes them, and the same cases
  without skull blooming (``bloom=False``, the generator before it).

Writes ``benchmarks/results/skull_band_profile.json``.

Example:
    python scripts/skull_band_profile.py --num-phantoms 8
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from benchmarking import RESULTS_DIR, load_average, machine_info, publish_results
from update_benchmark_tables import render_skull_band

ROOT = Path(__file__).resolve().parents[1]
REAL_NORMAL_CT = ROOT.parent / "shared" / "data" / "head_ct_dicom_ge_tilt"
#: real head-CT slices that come with pydicom / pydicom-data: (file name, where it comes from)
PYDICOM_HEAD_CT = (("693_UNCR.dcm", "pydicom-data"), ("J2K_pixelrep_mismatch.dcm", "pydicom test files"))
RECIPE_GRID = {"shape": (224, 224, 32), "spacing": (1.0, 1.0, 5.0)}


def _pydicom_slice(name: str) -> Optional[tuple]:
    """HU ``(x, y, 1)`` and in-plane spacing of a pydicom test file, or None when it is not installed."""
    import pydicom
    from pydicom.data import get_testdata_file

    try:
        path = get_testdata_file(name)
    except Exception:  # pydicom-data missing or offline
        path = None
    if path is None:
        return None
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return hu.T[..., None], [float(v) for v in ds.PixelSpacing]


def _ge_series(folder: Path) -> tuple:
    """The GE series as the CT bundle's network sees it: bundle reader, RAS, 1 x 1 x 5 mm."""
    from monai.transforms import Orientation, Spacing

    from cranialseg.io import LoadCranialImaged

    image = LoadCranialImaged(keys="image", ensure_channel_first=True)({"image": str(folder)})["image"]
    image = Spacing(RECIPE_GRID["spacing"], mode="bilinear")(Orientation("RAS")(image))
    return np.asarray(image[0]), list(RECIPE_GRID["spacing"])


def measure(num_phantoms: int, seed: int, real_ct: Optional[Path]) -> Dict[str, Any]:
    """Profiles of every source (see the module docstring); a missing source is listed under ``not_run``."""
    from cranialseg.demo import generate_ct_phantom
    from cranialseg.demo.realism import skull_band_profile

    sources: List[Dict[str, Any]] = []
    not_run: List[str] = []
    for name, origin in PYDICOM_HEAD_CT:
        got = _pydicom_slice(name)
        if got is None:
            not_run.append(f"{name} ({origin} not installed)")
            continue
        sources.append({"source": f"real: {name} ({origin})", "kind": "real", "profile": skull_band_profile(*got)})
    if real_ct is not None and real_ct.is_dir():
        hu, spacing = _ge_series(real_ct)
        sources.append(
            {"source": f"real: {real_ct.name} (held out)", "kind": "real", "profile": skull_band_profile(hu, spacing)}
        )
    else:
        not_run.append(f"real normal GE series ({real_ct} not found)")
    for bloom in (True, False):
        cases = []
        for i in range(num_phantoms):
            ph = generate_ct_phantom(
                np.random.default_rng([seed, i]), negative_fraction=1.0, bloom=bloom, **RECIPE_GRID
            )
            cases.append(skull_band_profile(ph.hu, RECIPE_GRID["spacing"]))
        sources.append(
            {
                "source": f"phantoms, {'with' if bloom else 'without'} skull blooming ({num_phantoms}, seed {seed})",
                "kind": "phantom",
                "cases": cases,
            }
        )
    return {"sources": sources, "not_run": not_run}


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--num-phantoms", type=int, default=8)
    p.add_argument("--seed", type=int, default=1000)
    p.add_argument("--real-ct", type=Path, default=REAL_NORMAL_CT, help="real normal head-CT DICOM folder")
    p.add_argument("--output", type=Path, default=RESULTS_DIR / "skull_band_profile.json")
    args = p.parse_args(argv)
    start = time.perf_counter()
    payload = {"machine": machine_info(), **measure(args.num_phantoms, args.seed, args.real_ct)}
    payload.update(wall_s=round(time.perf_counter() - start, 1), load_average_end=load_average())
    return publish_results(args.output, payload, render_skull_band)


if __name__ == "__main__":
    main()
