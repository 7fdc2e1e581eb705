"""Quality on unseen demo phantoms: each bundle's shipped weights through its own ``evaluate.json``, per class.

For each task (3D head CT, 2D cranial ultrasound) this generates phantoms the weights have never seen (``--seed``,
default 1000; the shipped weights were trained on seed 0), puts them all in the ``test`` section of a datalist and
runs the bundle's ``train.json`` + ``evaluate.json`` through ``monai.bundle.ConfigWorkflow`` with overrides only
(datalist, output folder): per-class Dice, IoU, HD95 and ASD in mm, volume error (mL for CT, mm² for US) on the
original image grid, and image-level detection (the CT network's image-level head and, for comparison, the
predicted masks). Next to it the threshold baseline of :mod:`cranialseg.demo.baseline` on the same phantoms, so
the figures have a floor. Writes ``benchmarks/results/quality_phantoms_cpu.json``.

Example:
    python scripts/benchmark_phantoms.py                       # 8 CT + 24 US phantoms, seed 1000
    python scripts/benchmark_phantoms.py --tasks us --num-cases-us 48
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from cranialseg.benchmarking import RESULTS_DIR, load_average, machine_info, publish_results

__all__ = ["main", "evaluate_bundle", "baseline_scores"]

ROOT = Path(__file__).resolve().parents[1]
BUNDLES = {"ct": "head_ct_haemorrhage_segmentation", "us": "cranial_us_ventricle_segmentation"}
#: a tiny setting for the smoke test: small phantoms, 2 cases
TINY = {"ct": {"shape": (64, 64, 16), "spacing": (3.6, 3.6, 10.0)}, "us": {"size": (96, 96), "spacing": 0.8}}


def _all_in_test(datalist: Path) -> Path:
    """A copy of the demo datalist with every case in ``test`` (paths stay relative to the same folder)."""
    content = json.loads(datalist.read_text())
    items = [it for section in ("training", "validation", "test") for it in content.get(section, [])]
    out = datalist.parent / "datalist_all_test.json"
    out.write_text(json.dumps({"test": items}, indent=4))
    return out


def evaluate_bundle(task: str, datalist: Path, output_dir: Path, overrides: Optional[Dict[str, Any]] = None) -> dict:
    """Run ``bundle/<task bundle>/configs/{train,evaluate}.json`` on ``datalist``'s ``test`` cases; the summary."""
    from monai.bundle import ConfigWorkflow

    configs = ROOT / "bundle" / BUNDLES[task] / "configs"
    workflow = ConfigWorkflow(
        config_file=[str(configs / "train.json"), str(configs / "evaluate.json")],
        meta_file=str(configs / "metadata.json"),
        logging_file=False,
        run_id="run",
        datalist_file=str(datalist),
        output_dir=str(output_dir),
        eval_section="test",
        **(overrides or {}),
    )
    workflow.initialize()
    workflow.run()
    workflow.finalize()
    return json.loads((output_dir / "metrics_summary.json").read_text())


def baseline_scores(task: str, datalist: Path) -> Dict[str, Optional[float]]:
    """Mean threshold-baseline Dice per class over the ``test`` cases of ``datalist`` (NIfTI images and labels)."""
    import nibabel as nib

    from cranialseg.demo.baseline import ct_threshold_dice, us_threshold_dice

    scores: Dict[str, List[float]] = {}
    for item in json.loads(datalist.read_text())["test"]:
        image = np.asarray(nib.load(datalist.parent / item["image"]).dataobj, dtype=np.float32)
        label = np.rint(np.asarray(nib.load(datalist.parent / item["label"]).dataobj)).astype(np.int64)
        case = ct_threshold_dice(image, label) if task == "ct" else us_threshold_dice(image.squeeze(), label.squeeze())
        for name, value in case.items():
            if not math.isnan(value):
                scores.setdefault(name, []).append(value)
    return {name: round(float(np.mean(v)), 4) for name, v in scores.items()}


def run_task(task: str, num_cases: int, seed: int, workdir: Path, tiny: bool) -> Dict[str, Any]:
    from cranialseg.demo import ensure_demo_data

    t0 = time.perf_counter()
    kw = dict(TINY[task]) if tiny else {}
    if task == "us":
        kw.setdefault("ivh_probability", 0.5)
    data = ensure_demo_data(workdir / task, task=task, num_cases=num_cases, seed=seed, write_dicom=False, **kw)
    datalist = _all_in_test(Path(data))
    summary = evaluate_bundle(task, datalist, workdir / task / "eval")
    baseline = baseline_scores(task, datalist)
    per_class = {}
    for name, stats in summary["per_class"].items():
        volume_key = next((k for k in stats if k.startswith("mean_abs_volume_error")), None)
        per_class[name] = {
            "dice": stats.get("dice"),
            "iou": stats.get("iou"),
            "hd95_mm": stats.get("hd95_mm"),
            "asd_mm": stats.get("asd_mm"),
            "mean_abs_volume_error": stats.get(volume_key) if volume_key else None,
            "volume_unit": volume_key.rsplit("_", 1)[-1] if volume_key else None,
            "cases_with_class": None,
            "threshold_baseline_dice": baseline.get(name, baseline.get(name.split("_")[0])),  # IVH_clot: IVH
            "detection_head": stats.get("detection_head"),
            "detection_mask": stats.get("detection_mask"),
        }
        detection = stats.get("detection_head") or stats.get("detection_mask")
        if detection:  # lesion classes: how many phantoms have it
            per_class[name]["cases_with_class"] = detection["true_positive"] + detection["false_negative"]
    return {
        "bundle": BUNDLES[task],
        "num_cases": summary["num_cases"],
        "seed": seed,
        "generator_settings": {k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()},
        "mean_dice": summary["mean_dice"],
        "per_class": per_class,
        "threshold_baseline": baseline,
        "detection": summary.get("detection"),
        "detection_from_mask": summary.get("detection_from_mask"),
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", nargs="+", choices=sorted(BUNDLES), default=["ct", "us"])
    p.add_argument("--num-cases-ct", type=int, default=8)
    p.add_argument("--num-cases-us", type=int, default=24)
    p.add_argument("--seed", type=int, default=1000, help="phantom seed (the shipped weights were trained on 0)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workdir", type=Path, default=None, help="phantoms and evaluation outputs (default: temp)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "quality_phantoms_cpu.json")
    p.add_argument("--tiny", action="store_true", help="smoke setting: 2 small phantoms per task")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    import torch

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    machine = machine_info()
    counts = {"ct": args.num_cases_ct, "us": args.num_cases_us}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        tasks = {t: run_task(t, 2 if args.tiny else counts[t], args.seed, workdir, args.tiny) for t in args.tasks}
    payload = {
        "benchmark": "quality_phantoms",
        "tiny": args.tiny,
        "machine": machine,
        "load_average_end": load_average(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "out"},
        "notes": [
            "Shipped bundle weights (models/model.pt) on phantoms of an unseen seed, through evaluate.json: metrics on "
            "the original image grid, volume error in mL (CT) or mm2 (US), detection from the image-level head when "
            "the network has one.",
            "threshold_baseline_dice: cranialseg.demo.baseline (HU / grey-level thresholds) on the same phantoms.",
        ],
        "tasks": tasks,
    }
    payload["wall_s"] = round(time.perf_counter() - t0, 1)
    return publish_results(args.out, payload, "render_phantoms")


if __name__ == "__main__":
    main()
