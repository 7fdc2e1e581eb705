"""Quality on unseen demo phantoms, per class: each bundle's shipped weights, or networks trained side by side.

For each task (3D head CT, 2D cranial ultrasound) this generates phantoms the weights have never seen (``--seed``,
default 1000; the shipped weights were trained on seed 0), puts them all in the ``test`` section of a datalist and
runs the bundle's ``train.json`` + ``evaluate.json`` through ``monai.bundle.ConfigWorkflow`` with overrides only
(datalist, output folder): per-class Dice, IoU, HD95 and ASD in mm, volume error (mL for CT, mm² for US) on the
original image grid, and image-level detection (the CT network's image-level head and, for comparison, the
predicted masks). Next to it the threshold baseline of :mod:`cranialseg.demo.baseline` on the same phantoms, so
the figures have a floor. With ``../shared`` beside the checkout (``--real-ct``), the real-scan check of the CT
bundle follows: its ``inference.json`` on the real normal head CT ``../shared/data/head_ct_dicom_ge_tilt`` (a DICOM
folder, held out of all training), predicted volume per class and image-level probabilities; every mL of
haemorrhage there is a false finding (goal: < 2 mL); with ``--real-us`` the US bundle's ``inference.json`` on the
20 real neonatal views ``../shared/data/neonatal_cranial_us/StandardViews`` (held out of all training), predicted
ventricle and clot pixels per view. Writes ``benchmarks/results/quality_phantoms_cpu.json``.

``--side-by-side`` trains instead, with one recipe per task, this project's networks next to MONAI's (``UNet``
with two residual units, ``AttentionUnet``, ``SegResNet``, at the bundle network's channels and strides): each is
the bundle's own ``train.json`` run with overrides only (network, data, epochs, output folders), on the bundle's
training phantoms (seed 0, the bundle's case count) and then scored on the same unseen phantoms through
``evaluate.json``. MONAI's networks have no image-level head, so on CT they train with the segmentation loss alone
(the bundle's ``seg_loss``) and their detection is read off the predicted masks. Writes
``benchmarks/results/quality_phantoms_side_by_side_cpu.json``.

Example:
    python scripts/benchmark_phantoms.py                       # 8 CT + 24 US phantoms, seed 1000
    python scripts/benchmark_phantoms.py --tasks us --num-cases-us 48
    python scripts/benchmark_phantoms.py --side-by-side --tasks us --epochs-us 15
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

from benchmarking import (
    RESULTS_DIR,
    bundle_workflow,
    count_parameters,
    lean_input_stride,
    load_average,
    machine_info,
    publish_results,
)
from update_benchmark_tables import render_phantoms, render_phantoms_side_by_side

__all__ = [
    "main",
    "evaluate_bundle",
    "baseline_scores",
    "side_by_side_overrides",
    "train_bundle",
    "real_normal_ct_check",
    "real_us_views_check",
]

ROOT = Path(__file__).resolve().parents[1]
BUNDLES = {"ct": "head_ct_haemorrhage_segmentation", "us": "cranial_us_ventricle_segmentation"}
#: the real normal head CT of the real-scan check (a DICOM folder; never used in training)
REAL_NORMAL_CT = ROOT.parent / "shared" / "data" / "head_ct_dicom_ge_tilt"
#: goal 1 of issue 17: total predicted haemorrhage on the real normal scan, mL
REAL_NORMAL_MAX_ML = 2.0
#: the real neonatal cranial ultrasound views of the real-scan check (PNG screen captures; never used in training)
REAL_US_VIEWS = ROOT.parent / "shared" / "data" / "neonatal_cranial_us" / "StandardViews"
#: a view counts as "clot found" from this many predicted clot pixels (as the bundle's detection read-out)
CLOT_MIN_PIXELS = 10
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

    workflow = bundle_workflow(
        ROOT / "bundle" / BUNDLES[task],
        "train.json",
        "evaluate.json",
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


def _phantoms(task: str, folder: Path, num_cases: int, seed: int, settings: Dict[str, Any]) -> Path:
    """Generate (or reuse) ``num_cases`` phantoms of ``task`` in ``folder`` with generator ``settings``; the
    datalist path."""
    from cranialseg.demo import ensure_demo_data

    return Path(ensure_demo_data(folder, task=task, num_cases=num_cases, seed=seed, write_dicom=False, **settings))


def _unseen_settings(task: str, tiny: bool) -> Dict[str, Any]:
    """Generator settings of the unseen phantoms: the tiny sizes when asked; US: half of them with an IVH clot."""
    kw: Dict[str, Any] = dict(TINY[task]) if tiny else {}
    if task == "us":
        kw.setdefault("ivh_probability", 0.5)
    return kw


def _num_unseen(task: str, args: argparse.Namespace) -> int:
    """How many unseen phantoms to score on: ``--num-cases-ct`` / ``--num-cases-us``, 2 with ``--tiny``."""
    return 2 if args.tiny else {"ct": args.num_cases_ct, "us": args.num_cases_us}[task]


def _unseen(task: str, workdir: Path, num_cases: int, seed: int, tiny: bool) -> Path:
    """The unseen evaluation phantoms, all in the ``test`` section."""
    return _all_in_test(_phantoms(task, workdir / task, num_cases, seed, _unseen_settings(task, tiny)))


def _per_class(summary: Dict[str, Any], baseline: Dict[str, Optional[float]]) -> Dict[str, Any]:
    """Per-class figures of an ``evaluate.json`` summary, with the threshold baseline's Dice next to them."""
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
    return per_class


def run_task(task: str, num_cases: int, seed: int, workdir: Path, tiny: bool) -> Dict[str, Any]:
    """The shipped weights of ``task``'s bundle on ``num_cases`` unseen phantoms, next to the threshold baseline."""
    t0 = time.perf_counter()
    datalist = _unseen(task, workdir, num_cases, seed, tiny)
    summary = evaluate_bundle(task, datalist, workdir / task / "eval")
    baseline = baseline_scores(task, datalist)
    return {
        "bundle": BUNDLES[task],
        "num_cases": summary["num_cases"],
        "seed": seed,
        "generator_settings": {
            k: list(v) if isinstance(v, tuple) else v for k, v in _unseen_settings(task, tiny).items()
        },
        "mean_dice": summary["mean_dice"],
        "per_class": _per_class(summary, baseline),
        "threshold_baseline": baseline,
        "detection": summary.get("detection"),
        "detection_from_mask": summary.get("detection_from_mask"),
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def _bundle_inference(task: str, inputs: Path, out: Path, overrides: Dict[str, Any]) -> Dict[str, Any]:
    """The ``task`` bundle's ``inference.json`` on the folder ``inputs`` into ``out``; its ``run_summary.json``."""
    workflow = bundle_workflow(
        ROOT / "bundle" / BUNDLES[task],
        "inference.json",
        logging_file=False,
        run_id="run",
        input_dir=str(inputs),
        output_dir=str(out),
        overwrite=True,
        **overrides,
    )
    workflow.initialize()
    workflow.run()
    workflow.finalize()
    return json.loads((out / "run_summary.json").read_text())


def real_normal_ct_check(series: Path, workdir: Path, overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The CT bundle's ``inference.json`` on the real normal series ``series`` (DICOM folder): per-class mL, total
    haemorrhage, image-level probabilities and whether the goal (< :data:`REAL_NORMAL_MAX_ML` mL) is met."""
    import shutil

    t0 = time.perf_counter()
    inputs = workdir / "real_normal_ct" / "in" / series.name
    inputs.mkdir(parents=True, exist_ok=True)
    for f in sorted(series.glob("*.dcm")):
        shutil.copy(f, inputs / f.name)
    # image level recorded here although the bundle does not report it by default (issue 17)
    settings = {"write_dicom_seg": False, "report_image_level": True, **(overrides or {})}
    summary = _bundle_inference("ct", inputs.parent, workdir / "real_normal_ct" / "out", settings)
    if summary.get("failures") or not summary.get("cases"):
        return {"series": str(series), "status": "error", "failures": summary.get("failures")}
    case = summary["cases"][0]
    volumes = {name: v["volume_ml"] for name, v in case["volumes"].items()}
    total = round(sum(v for name, v in volumes.items() if name != "ventricles"), 3)
    return {
        "series": series.name,
        "status": "ok",
        "volume_ml": volumes,
        "haemorrhage_ml": total,
        "goal_ml": REAL_NORMAL_MAX_ML,
        "goal_met": total < REAL_NORMAL_MAX_ML,
        "image_level": case.get("image_level"),
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def _plane(view: str) -> str:
    """``coronal`` / ``sagittal`` from a standard view's name (``..._COR2``, ``..._SAG1``), else ``other``."""
    name = view.rsplit("_", 1)[-1].upper()
    return "coronal" if name.startswith("COR") else "sagittal" if name.startswith("SAG") else "other"


def real_us_views_check(views: Path, workdir: Path, overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The US bundle's ``inference.json`` on the real views under ``views`` (``<patient>/<date>/<view>.png``,
    copied flat as ``<patient>_<view>.png``): predicted ventricle and IVH-clot pixels per view. The views have no
    pixel size, so areas are in pixels of the original frame; their patients have no IVH reported, so every clot
    pixel is a finding to look at on the overlay (written beside the masks)."""
    import shutil

    t0 = time.perf_counter()
    inputs = workdir / "real_us_views" / "in"
    inputs.mkdir(parents=True, exist_ok=True)
    for f in sorted(views.rglob("*.png")):
        shutil.copy(f, inputs / f"{f.relative_to(views).parts[0]}_{f.name}")
    summary = _bundle_inference("us", inputs, workdir / "real_us_views" / "out", overrides or {})
    rows = []
    for case in summary.get("cases", []):
        vol = case["volumes"]
        frame = int(np.prod(case["shape"]))
        clot = int(vol["IVH_clot"]["voxels"])
        rows.append(
            {
                "view": case["name"],
                "plane": _plane(case["name"]),
                "shape": case["shape"],
                "ventricle_px": int(vol["ventricles"]["voxels"]),
                "clot_px": clot,
                "clot_permille_of_frame": round(1000.0 * clot / frame, 3),
            }
        )
    clots = [r["clot_px"] for r in rows]
    return {
        "views": str(views.name),
        "status": "ok" if rows and not summary.get("failures") else "error",
        "failures": summary.get("failures"),
        "num_views": len(rows),
        "views_with_clot": sum(c >= CLOT_MIN_PIXELS for c in clots),
        "clot_min_pixels": CLOT_MIN_PIXELS,
        "views_with_clot_by_plane": {
            plane: [
                sum(r["clot_px"] >= CLOT_MIN_PIXELS for r in rows if r["plane"] == plane),
                sum(r["plane"] == plane for r in rows),
            ]  # fmt: skip
            for plane in sorted({r["plane"] for r in rows})
        },
        "clot_px_median": float(np.median(clots)) if clots else None,
        "clot_px_max": max(clots) if clots else None,
        "per_view": rows,
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def _train_config(task: str) -> Dict[str, Any]:
    return json.loads((ROOT / "bundle" / BUNDLES[task] / "configs" / "train.json").read_text(encoding="utf-8"))


def side_by_side_overrides(task: str) -> Dict[str, Dict[str, Any]]:
    """Bundle overrides of each compared network for ``task``: ours as the bundle ships it and two relatives, and
    MONAI's networks at the bundle network's channels and strides (ours and MONAI interleaved, so that a cut budget
    still leaves pairs)."""
    cfg = _train_config(task)
    configs = ROOT / "bundle" / BUNDLES[task] / "configs"
    net = json.loads((configs / "inference.json").read_text(encoding="utf-8"))["network_def"]  # train.json reads it
    monai = {"spatial_dims": net["spatial_dims"], "in_channels": net["in_channels"], "out_channels": "@num_classes"}
    grid = {"channels": net["channels"], "strides": net["strides"]}
    # MONAI's networks have no image-level head: the plain network and the segmentation loss (CT bundle)
    plain = {"train_network": "@network", "loss": "@seg_loss"} if "seg_loss" in cfg else {}
    if net.get("preset") == "efficient":  # the first level is strided already: the relative is the published layout
        relative = {"ours faithful layout": {"network_def#preset": "faithful"}}
    else:  # the lean setting: first level strided as in MONAI's UNet (in-plane only in 3D, for thick CT slices)
        relative = {"ours lean (input_stride=2)": {"network_def#input_stride": lean_input_stride(net["spatial_dims"])}}
    return {
        "ours dual_attention (bundle)": {},
        "MONAI UNet": {"network_def": {"_target_": "UNet", **monai, **grid, "num_res_units": 2}, **plain},
        "ours resunet": {"network_def#variant": "resunet"},
        "MONAI AttentionUnet": {"network_def": {"_target_": "AttentionUnet", **monai, **grid}, **plain},
        "ours csr_unet": {"network_def#variant": "csr_unet"},
        **relative,
        "MONAI SegResNet": {
            "network_def": {"_target_": "SegResNet", **monai, "init_filters": net["channels"][0]},
            **plain,
        },
    }


def train_bundle(task: str, datalist: Path, out_dir: Path, epochs: int, overrides: Dict[str, Any]) -> Dict[str, Any]:
    """The bundle's ``train.json`` on ``datalist`` with ``overrides`` for ``epochs`` epochs into ``out_dir/models``;
    parameters, wall time and the best validation Dice."""

    handlers = [h for h in _train_config(task)["train"]["handlers"] if "ProgressBar" not in h.get("_target_", "")]
    workflow = bundle_workflow(
        ROOT / "bundle" / BUNDLES[task],
        "train.json",
        logging_file=False,
        workflow_type="train",
        datalist_file=str(datalist),
        ckpt_dir=str(out_dir / "models"),
        output_dir=str(out_dir / "train"),
        max_epochs=epochs,
        **{"train#handlers": handlers},
        **overrides,
    )
    t0 = time.perf_counter()
    workflow.initialize()
    params = count_parameters(workflow.parser.get_parsed_content("network"))
    workflow.run()
    evaluator = workflow.parser.get_parsed_content("validate#evaluator")
    best = evaluator.state.best_metric
    workflow.finalize()
    return {"params": params, "train_s": round(time.perf_counter() - t0, 1), "best_val_dice": round(float(best), 4)}


def run_side_by_side(task: str, args: argparse.Namespace, workdir: Path) -> Dict[str, Any]:
    """Train every compared network on the bundle's phantoms with the bundle's recipe; score on unseen phantoms."""
    import traceback

    t0 = time.perf_counter()
    cfg = _train_config(task)
    epochs = {"ct": args.epochs_ct, "us": args.epochs_us}[task] or int(cfg["max_epochs"])
    num_train = 4 if args.tiny else int(cfg["num_demo_cases"])
    num_eval = _num_unseen(task, args)
    train_list = _phantoms(task, workdir / task / "train", num_train, 0, dict(TINY[task]) if args.tiny else {})
    eval_list = _unseen(task, workdir, num_eval, args.seed, args.tiny)
    baseline = baseline_scores(task, eval_list)
    rows = []
    for name, overrides in side_by_side_overrides(task).items():
        if args.networks and not any(s in name for s in args.networks):
            continue
        slug = "".join(c if c.isalnum() else "_" for c in name.lower())
        print(f"== {task}: {name} ({epochs} epochs, elapsed {(time.perf_counter() - t0) / 60:.1f} min)", flush=True)
        row: Dict[str, Any] = {"name": name, "overrides": overrides}
        try:
            row.update(train_bundle(task, train_list, workdir / task / slug, epochs, overrides))
            summary = evaluate_bundle(
                task,
                eval_list,
                workdir / task / slug / "eval",
                {**overrides, "ckpt_dir": str(workdir / task / slug / "models")},
            )
            row.update(
                status="ok",
                mean_dice=summary["mean_dice"],
                per_class=_per_class(summary, baseline),
                detection=summary.get("detection"),
                detection_from_mask=summary.get("detection_from_mask"),
            )
            print(f"   mean Dice {row['mean_dice']}, train {row['train_s']} s", flush=True)
        except Exception as e:  # noqa: BLE001 - recorded, the other networks still run
            traceback.print_exc()
            row.update(status="error", reason=f"{type(e).__name__}: {e}"[:400])
        rows.append(row)
    return {
        "bundle": BUNDLES[task],
        "recipe": f"bundle train.json as shipped, {epochs} epochs, {num_train} training phantoms (seed 0, the bundle's "
        f"train/validation split); model.pt = best validation Dice",
        "epochs": epochs,
        "num_train_cases": num_train,
        "num_cases": num_eval,
        "seed": args.seed,
        "threshold_baseline": baseline,
        "rows": rows,
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def merge_rows(old: Dict[str, Any], new: Dict[str, Any]) -> Dict[str, Any]:
    """``new`` with the rows of ``old`` for networks it did not run, per task, when the recipe is the same (a task
    run with another recipe replaces the old one); the merged rows in the order of :func:`side_by_side_overrides`."""
    merged = dict(new, tasks=dict(old.get("tasks", {})))
    for task, result in new["tasks"].items():
        before = merged["tasks"].get(task)
        same = before and all(before.get(k) == result.get(k) for k in ("recipe", "num_cases", "seed"))
        if not same:
            merged["tasks"][task] = result
            continue
        rows = {r["name"]: r for r in before["rows"]}
        rows.update({r["name"]: r for r in result["rows"]})
        order = list(side_by_side_overrides(task))
        ranked = sorted(rows.values(), key=lambda r: order.index(r["name"]) if r["name"] in order else len(order))
        merged["tasks"][task] = dict(result, rows=ranked, wall_s=round(before["wall_s"] + result["wall_s"], 1))
    return merged


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", nargs="+", choices=sorted(BUNDLES), default=["ct", "us"])
    p.add_argument("--num-cases-ct", type=int, default=8)
    p.add_argument("--num-cases-us", type=int, default=24)
    p.add_argument("--seed", type=int, default=1000, help="phantom seed (the shipped weights were trained on 0)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workdir", type=Path, default=None, help="phantoms and evaluation outputs (default: temp)")
    p.add_argument(
        "--out", type=Path, default=None, help="default: benchmarks/results/quality_phantoms[_side_by_side]_cpu.json"
    )
    p.add_argument("--tiny", action="store_true", help="smoke setting: 2 small phantoms per task (4 to train on)")
    p.add_argument("--side-by-side", action="store_true", help="train ours and MONAI's networks, then score them")
    p.add_argument("--networks", nargs="+", default=None, help="side by side: names (substrings) to run")
    p.add_argument("--epochs-ct", type=int, default=0, help="side by side: CT epochs (0: the bundle's max_epochs)")
    p.add_argument("--epochs-us", type=int, default=0, help="side by side: US epochs (0: the bundle's max_epochs)")
    p.add_argument("--merge", action="store_true", help="side by side: keep the other networks' rows of --out")
    p.add_argument(
        "--real-ct",
        type=Path,
        default=REAL_NORMAL_CT,
        help="real normal head CT (DICOM folder) for the real-scan check; skipped when absent or --tiny "
        "(default: ../shared)",
    )
    p.add_argument(
        "--real-us",
        type=Path,
        default=REAL_US_VIEWS,
        help="real neonatal cranial ultrasound views (folder of PNGs) for the real-scan check; skipped when absent "
        "or --tiny (default: ../shared)",
    )
    args = p.parse_args(argv)
    if args.out is None:
        name = "quality_phantoms_side_by_side_cpu.json" if args.side_by_side else "quality_phantoms_cpu.json"
        args.out = RESULTS_DIR / name
    return args


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    import torch

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    machine = machine_info()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        if args.side_by_side:
            tasks = {t: run_side_by_side(t, args, workdir) for t in args.tasks}
        else:
            tasks = {t: run_task(t, _num_unseen(t, args), args.seed, workdir, args.tiny) for t in args.tasks}
            if "ct" in tasks and not args.tiny and args.real_ct and Path(args.real_ct).is_dir():
                tasks["ct"]["real_normal_ct"] = real_normal_ct_check(Path(args.real_ct), workdir)
            if "us" in tasks and not args.tiny and args.real_us and Path(args.real_us).is_dir():
                tasks["us"]["real_views"] = real_us_views_check(Path(args.real_us), workdir)
    side = args.side_by_side
    notes = (
        [
            "Each network trained with its bundle's train.json (same loss, optimiser, schedule, augmentation, "
            "epochs and seed) on the bundle's phantoms, then scored through evaluate.json on unseen phantoms "
            "(original image grid). MONAI's networks train with the segmentation loss only (no image-level head); "
            "ours on CT also learn the image-level head (bundle recipe). Volume error in mL (CT) or mm2 (US).",
        ]
        if side
        else [
            "Shipped bundle weights (models/model.pt) on phantoms of an unseen seed, through evaluate.json: metrics on "
            "the original image grid, volume error in mL (CT) or mm2 (US), detection from the image-level head when "
            "the network has one.",
            "threshold_baseline_dice: cranialseg.demo.baseline (HU / grey-level thresholds) on the same phantoms.",
        ]
    )
    payload = {
        "benchmark": "quality_phantoms_side_by_side" if side else "quality_phantoms",
        "tiny": args.tiny,
        "machine": machine,
        "load_average_end": load_average(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "out"},
        "notes": notes,
        "tasks": tasks,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    if side and args.merge and Path(args.out).is_file():
        payload = merge_rows(json.loads(Path(args.out).read_text(encoding="utf-8")), payload)
    return publish_results(args.out, payload, render_phantoms_side_by_side if side else render_phantoms)


if __name__ == "__main__":
    main()
