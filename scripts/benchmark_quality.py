"""HC18 quality benchmark: one recipe (the ultrasound bundle's ``train.json``) for every network, on real data.

A thin driver around ``bundle/cranial_us_ventricle_segmentation/configs/train.json``: for each network it runs the
bundle's own training workflow (``monai.bundle.ConfigWorkflow``) with overrides only — ``network_def``, the HC18
datalist, two classes (background, fetal head), a fixed ``--image-size`` grid, epochs, seed and output folders — so
the loss, optimiser, schedule and augmentation are identical for every network. The prepared HC18 datalist comes
from ``scripts/prepare_hc18.py`` / ``cranialseg.demo.prepare_hc18`` (split by subject of
``../shared/data/hc18_fetal_head_us``); pass it with ``--datalist``. The fetal-head bundle's own side by side (its
recipe, five networks, scored on the test subjects at the original grid) is ``scripts/benchmark_hc18.py``.

After training, the final weights are scored on the validation split at the training resolution: Dice and IoU of
the head, HD95 in mm (``monai.metrics``, pixel size from the CSV scaled by the resize factor per axis) and the
head-circumference error in mm (ellipse fitted to the predicted mask's outline, Ramanujan's perimeter, against
the CSV's reference). Mean and sd over ``--seeds``.

The CPU recipe is small (the machine is shared): ``--image-size 128 88`` (800x540 images resized, aspect kept),
``--epochs 3``, one seed; the JSON states the budget. Anchors: HC18 challenge results, Dice about 0.97-0.98 and
HC mean absolute difference about 1.7-2.5 mm (van den Heuvel et al., PLoS ONE 2018, full resolution).

Example:
    python scripts/prepare_hc18.py ...                      # writes the datalist (see that script)
    python scripts/benchmark_quality.py --datalist /tmp/hc18/datalist.json --epochs 3 --seeds 0
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import statistics
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

from benchmarking import (
    HC18_ANCHORS,
    HC18_DIR,
    RESULTS_DIR,
    bundle_workflow,
    count_parameters,
    load_average,
    machine_info,
    publish_results,
)
from update_benchmark_tables import render_quality

__all__ = ["main", "network_defs", "ellipse_circumference_mm", "score_case"]

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundle" / "cranial_us_ventricle_segmentation"
_STEM = re.compile(r"(\d{3}_\d?HC)")


def network_defs(channels: Sequence[int] = (16, 32, 64, 128)) -> Dict[str, Dict[str, Any]]:
    """The compared networks as bundle ``network_def`` dicts (2D, 1 channel in, 2 classes out)."""
    ch = list(channels)
    strides = [2] * (len(ch) - 1)
    ours = {
        "_target_": "cranialseg.networks.DAResUNet",
        "spatial_dims": 2,
        "in_channels": 1,
        "out_channels": 2,
        "channels": ch,
        "strides": strides,
        "num_res_units": 1,
        "sal_levels": [i for i in range(len(ch)) if i >= len(ch) - 2],
        "window_size": 8,
        "num_heads": 4,
    }
    monai = {"spatial_dims": 2, "in_channels": 1, "out_channels": 2}
    return {  # ours and MONAI interleaved, so that a cut budget still leaves pairs to compare
        "ours dual_attention": {**ours, "variant": "dual_attention"},
        "MONAI UNet": {"_target_": "UNet", **monai, "channels": ch, "strides": strides, "num_res_units": 2},
        "ours resunet": {**ours, "variant": "resunet"},
        "MONAI AttentionUnet": {"_target_": "AttentionUnet", **monai, "channels": ch, "strides": strides},
        "ours csr_unet": {**ours, "variant": "csr_unet"},
        "MONAI SegResNet": {"_target_": "SegResNet", **monai, "init_filters": ch[0]},
        "ours attention_gated": {**ours, "variant": "attention_gated"},
    }


def ellipse_circumference_mm(mask: np.ndarray, spacing: Sequence[float]) -> Optional[float]:
    """Perimeter (mm) of the ellipse fitted to the outline of the largest region of a 2D mask; ``None`` if empty."""
    from skimage.measure import EllipseModel, find_contours

    if mask.sum() < 5:
        return None
    contours = find_contours(np.pad(mask.astype(np.float32), 1), 0.5)
    if not contours:
        return None
    pts = max(contours, key=len) - 1.0
    pts_mm = pts * np.asarray(spacing, dtype=np.float64)[None, :]
    model = EllipseModel()
    if not model.estimate(pts_mm):
        return None
    a, b = abs(model.params[2]), abs(model.params[3])
    return float(math.pi * (3 * (a + b) - math.sqrt((3 * a + b) * (a + 3 * b))))


def score_case(pred: np.ndarray, label: np.ndarray, spacing: Sequence[float], ref_hc: Optional[float]) -> dict:
    """Dice, IoU, HD95 (mm) and HC absolute error (mm) of one binary prediction against its label."""
    from monai.metrics import compute_hausdorff_distance

    p, g = pred.astype(bool), label.astype(bool)
    inter, union = np.logical_and(p, g).sum(), np.logical_or(p, g).sum()
    total = p.sum() + g.sum()
    out = {"dice": float(2 * inter / total) if total else 1.0, "iou": float(inter / union) if union else 1.0}
    if p.any() and g.any():
        hd = compute_hausdorff_distance(
            torch.as_tensor(p)[None, None], torch.as_tensor(g)[None, None], percentile=95, spacing=list(spacing)
        )
        out["hd95_mm"] = float(hd.item())
    else:
        out["hd95_mm"] = None
    hc = ellipse_circumference_mm(p, spacing)
    out["hc_mm"] = hc
    out["hc_abs_error_mm"] = None if hc is None or ref_hc is None else abs(hc - ref_hc)
    return out


def _csv_table(src: Path) -> Dict[str, tuple]:
    table = {}
    path = src / "pixel_size_and_HC.csv"
    if path.is_file():
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                stem = _STEM.search(row["filename"])
                if stem:
                    table[stem.group(1)] = (float(row["pixel size(mm)"]), float(row["head circumference (mm)"]))
    return table


def _original_size(src: Path, stem: str) -> Optional[tuple]:
    from PIL import Image

    png = src / "images" / f"{stem}.png"
    if not png.is_file():
        return None
    with Image.open(png) as im:
        return tuple(im.size)  # (x, y) = (columns, rows)


def evaluate(workflow: Any, val_items: List[dict], datalist_dir: Path, image_size: Sequence[int], src: Path) -> dict:
    """Score the workflow's network on the validation items (the bundle's validation preprocessing)."""
    net = workflow.parser.get_parsed_content("network").eval()
    transform = workflow.parser.get_parsed_content("validate#preprocessing")
    table = _csv_table(src)
    cases = []
    for item in val_items:
        data = {k: (str(datalist_dir / v) if isinstance(v, str) and not Path(v).is_absolute() else v)
                for k, v in item.items()}  # fmt: skip
        d = transform(data)
        with torch.no_grad():
            pred = net(d["image"][None].float()).argmax(1)[0].numpy()
        label = np.asarray(d["label"])[0] > 0
        m = _STEM.search(Path(str(item["image"])).name)
        stem = m.group(1) if m else None
        pixel, ref_hc = table.get(stem, (None, None)) if stem else (None, None)
        size = _original_size(src, stem) if stem else None
        if pixel is not None and size is not None:
            spacing = [pixel * size[i] / image_size[i] for i in range(2)]
        else:
            spacing = [1.0, 1.0]
        cases.append({"case": stem or Path(str(item["image"])).name, **score_case(pred > 0, label, spacing, ref_hc)})
    return {"cases": cases, "summary": summarize(cases)}


def summarize(cases: List[dict]) -> Dict[str, Optional[float]]:
    """Mean of each metric over cases (``None`` values left out)."""
    out: Dict[str, Optional[float]] = {}
    for k in ("dice", "iou", "hd95_mm", "hc_abs_error_mm"):
        vals = [c[k] for c in cases if c.get(k) is not None]
        out[k] = round(float(np.mean(vals)), 4) if vals else None
    out["hd95_missing"] = sum(1 for c in cases if c.get("hd95_mm") is None)
    return out


def train_one(name: str, net_def: dict, seed: int, args: argparse.Namespace, out_dir: Path) -> Dict[str, Any]:
    """One bundle training run with the overrides, then the validation scores."""
    import json

    datalist = Path(args.datalist).resolve()
    lists = json.loads(datalist.read_text(encoding="utf-8"))
    train_items = lists["training"][: args.max_train] if args.max_train else lists["training"]
    val_items = lists["validation"][: args.max_val] if args.max_val else lists["validation"]

    def absolute(items: List[dict]) -> List[dict]:
        return [{k: (str(datalist.parent / v) if isinstance(v, str) else v) for k, v in it.items()} for it in items]

    overrides = {
        "network_def": net_def,
        "datalist_file": str(datalist),
        "train_datalist": absolute(train_items),
        "val_datalist": absolute(val_items),
        "num_classes": 2,
        "class_names": ["background", "head"],
        # a fixed (x, y) grid for every image (the bundle itself keeps the aspect: short side to
        # ``frame_short_side``); the scores below scale the CSV's pixel size by this resize
        _resize_key(): {
            "_target_": "Resized",
            "keys": ["image", "label"],
            "spatial_size": list(args.image_size),
            "mode": ["area", "nearest"],
            "allow_missing_keys": True,
        },
        "roi_size": list(args.image_size),
        "max_epochs": args.epochs,
        "val_interval": args.epochs,
        "batch_size": args.batch_size,
        "device": "$torch.device('cpu')",
        "amp": False,
        "ckpt_dir": str(out_dir / "models"),
        "output_dir": str(out_dir / "eval"),
        "initialize": [f"$monai.utils.set_determinism(seed={seed})"],
    }
    if args.quiet:
        overrides["train#handlers"] = [h for h in _base_handlers() if "ProgressBar" not in h.get("_target_", "")]
    row: Dict[str, Any] = {"seed": seed}
    wf = bundle_workflow(BUNDLE, "train.json", workflow_type="train", **overrides)
    t0 = time.perf_counter()
    wf.initialize()
    torch.manual_seed(seed)
    row["params"] = count_parameters(wf.parser.get_parsed_content("network"))
    wf.run()
    row["train_s"] = round(time.perf_counter() - t0, 1)
    t1 = time.perf_counter()
    res = evaluate(wf, val_items, datalist.parent, args.image_size, Path(args.hc18_dir))
    row["eval_s"] = round(time.perf_counter() - t1, 1)
    row["metrics"] = res["summary"]
    row["cases"] = res["cases"] if args.keep_cases else None
    wf.finalize()
    return row


def _resize_key() -> str:
    """Config id of the bundle's resize step in ``grid_transforms`` (replaced by a fixed-size resize)."""
    import json

    steps = json.loads((BUNDLE / "configs" / "train.json").read_text(encoding="utf-8"))["grid_transforms"]
    index = next(i for i, t in enumerate(steps) if isinstance(t, dict) and "Resize" in t.get("_target_", ""))
    return f"grid_transforms#{index}"


def _base_handlers() -> List[dict]:
    import json

    cfg = json.loads((BUNDLE / "configs" / "train.json").read_text(encoding="utf-8"))
    return cfg["train"]["handlers"]


def aggregate(runs: List[dict]) -> Dict[str, Any]:
    """Mean and sd over seeds of each metric."""
    out: Dict[str, Any] = {}
    for k in ("dice", "iou", "hd95_mm", "hc_abs_error_mm"):
        vals = [r["metrics"][k] for r in runs if r.get("metrics") and r["metrics"].get(k) is not None]
        if vals:
            out[k] = round(statistics.fmean(vals), 4)
            out[k + "_sd"] = round(statistics.stdev(vals), 4) if len(vals) > 1 else None
        else:
            out[k] = None
    return out


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--datalist", type=Path, required=True, help="prepared HC18 datalist (scripts/prepare_hc18.py)")
    p.add_argument("--hc18-dir", type=Path, default=HC18_DIR, help="raw HC18 folder (CSV, original PNG sizes)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "quality_hc18_cpu.json")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--networks", nargs="+", default=None, help="names (substrings) from network_defs()")
    p.add_argument("--channels", type=int, nargs="+", default=[16, 32, 64, 128])
    p.add_argument("--image-size", type=int, nargs=2, default=[128, 88], help="(x, y) training resolution")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--max-train", type=int, default=0, help="use the first N training cases (0: all)")
    p.add_argument("--max-val", type=int, default=0, help="use the first N validation cases (0: all)")
    p.add_argument("--budget-minutes", type=float, default=0.0, help="stop starting new runs after this (0: none)")
    p.add_argument("--keep-cases", action="store_true", help="store per-case metrics in the JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--workdir", type=Path, default=None, help="checkpoints and logs (default: a temp folder)")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    if not Path(args.datalist).is_file():
        raise FileNotFoundError(
            f"--datalist {args.datalist} not found: prepare HC18 first (scripts/prepare_hc18.py), which writes "
            "a decathlon-format datalist with 'training' and 'validation' sections."
        )
    defs = network_defs(args.channels)
    names = [n for n in defs if not args.networks or any(s in n for s in args.networks)]
    machine = machine_info()
    t_start = time.perf_counter()
    rows, not_run = [], []
    tmp = tempfile.TemporaryDirectory(prefix="bench_quality_") if args.workdir is None else None
    work = Path(tmp.name) if tmp else Path(args.workdir)
    for name in names:
        runs, seeds_run = [], []
        for seed in args.seeds:
            elapsed = (time.perf_counter() - t_start) / 60
            if args.budget_minutes and elapsed > args.budget_minutes:
                not_run.append(f"{name} seed {seed}: session budget of {args.budget_minutes} min spent")
                continue
            print(f"== {name}, seed {seed} (elapsed {elapsed:.1f} min)", flush=True)
            try:
                slug = re.sub(r"[^a-z0-9]+", "_", name.lower())
                runs.append(train_one(name, defs[name], seed, args, work / f"{slug}_s{seed}"))
                seeds_run.append(seed)
                print(f"   {runs[-1]['metrics']} train {runs[-1]['train_s']} s", flush=True)
            except Exception as e:  # noqa: BLE001 - recorded, the other networks still run
                traceback.print_exc()
                runs.append({"seed": seed, "status": "error", "reason": f"{type(e).__name__}: {e}"[:400]})
        ok = [r for r in runs if r.get("metrics")]
        rows.append(
            {
                "name": name,
                "network_def": defs[name],
                "params": ok[0]["params"] if ok else None,
                "seeds_run": seeds_run,
                "metrics": aggregate(ok) if ok else None,
                "train_s": round(statistics.fmean([r["train_s"] for r in ok]), 1) if ok else None,
                "runs": runs,
                "status": "ok" if ok else ("not run" if not runs else "error"),
                "reason": None if ok else "; ".join(r.get("reason", "") for r in runs) or "budget",
            }
        )
    if tmp:
        tmp.cleanup()
    recipe = (
        f"bundle train.json (DiceCE, AdamW lr from the bundle, cosine schedule, bundle augmentation), "
        f"{args.epochs} epochs, batch {args.batch_size}, image_size {list(args.image_size)} (x, y), seeds "
        f"{list(args.seeds)}, train/val cases {args.max_train or 'all'}/{args.max_val or 'all'}, CPU "
        f"{args.threads} threads, budget {args.budget_minutes or 'none'} min; metrics at the training resolution"
    )
    payload = {
        "benchmark": "quality_hc18",
        "machine": machine,
        "load_average_end": load_average(),
        "recipe_summary": recipe,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "out"},
        "budget": {"epochs": args.epochs, "budget_minutes": args.budget_minutes, "seeds": list(args.seeds)},
        "anchors": HC18_ANCHORS,
        "rows": rows,
        "not_run": not_run,
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    return publish_results(args.out, payload, render_quality)


if __name__ == "__main__":
    main()
