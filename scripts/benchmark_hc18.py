"""HC18 side by side: the fetal-head bundle's recipe for five networks, scored on unseen subjects at full size.

Training (``--device cuda`` on a GPU machine, or CPU): for each network the bundle's own training workflow
(``bundle/fetal_head_us_segmentation/configs/train.json`` through ``monai.bundle.ConfigWorkflow``) runs with
overrides only (``network_def``, data folder, epochs, batch size, workers, output folders), so loss, optimiser,
schedule, augmentation, resolution and validation are identical. Each run keeps its best-validation weights
(``<workdir>/<network>/model.pt``, the bundle's ``CheckpointSaver``) and writes ``run.json`` (network_def,
parameters, epochs, training minutes, device). ``--parallel`` starts one process per network on the same device
at once, the CPU data-loading workers split between them.

Scoring (``--score-only``, CPU is fine): each saved network segments the **test** subjects of the datalist (whole
fetuses never seen in training or validation) from the original HC18 PNGs at 800 x 540; the prediction is resized
back to the original grid (bilinear on the probabilities, argmax, largest region, holes filled: the bundle's
post-processing) and compared there with the filled
annotation: Dice, Hausdorff distance and HD95 (mm, the CSV's pixel size), and the head circumference of the
ellipse fitted to the predicted outline (least squares, Ramanujan) against the CSV's reference HC (absolute and
signed difference, mm); mean, sd and median. Inference ms per image: the whole per-image path (percentile
normalisation, resize, forward, resize back, argmax) on this machine, median over the test images.

Example:
    python scripts/prepare_hc18.py --src ../shared/data/hc18_fetal_head_us --dst .gpu/hc18 --max-size 384
    python3 scripts/benchmark_hc18.py --data .gpu/hc18 --device cuda --epochs 30 --parallel --workdir .gpu/bench
    python scripts/benchmark_hc18.py --score-only --workdir .gpu/bench --data .gpu/hc18
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import statistics
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from benchmarking import (
    HC18_ANCHORS,
    HC18_DIR,
    RESULTS_DIR,
    bundle_workflow,
    machine_info,
    publish_results,
    write_results,
)
from update_benchmark_tables import render_hc18

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundle" / "fetal_head_us_segmentation"

__all__ = ["main", "network_defs", "score_run", "slug"]


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _bundle_train() -> dict:
    return json.loads((BUNDLE / "configs" / "train.json").read_text(encoding="utf-8"))


def network_defs() -> Dict[str, Dict[str, Any]]:
    """The compared networks as ``network_def`` dicts (2D, 1 channel in, 2 classes out, the bundle's widths; the
    bundle's ``network_def`` lives in ``inference.json``, which ``train.json`` reads)."""
    cfg = json.loads((BUNDLE / "configs" / "inference.json").read_text(encoding="utf-8"))
    ours = dict(cfg["network_def"], out_channels=2)
    ch, strides = list(ours["channels"]), list(ours["strides"])
    monai = {"spatial_dims": 2, "in_channels": 1, "out_channels": 2}
    return {  # both of ours with the bundle's widths and preset; the bundle ships one of them (its ``variant``)
        "ours dual attention": {**ours, "variant": "dual_attention"},
        "ours resunet": {**ours, "variant": "resunet"},
        "MONAI UNet": {"_target_": "UNet", **monai, "channels": ch, "strides": strides, "num_res_units": 2},
        "MONAI AttentionUnet": {"_target_": "AttentionUnet", **monai, "channels": ch, "strides": strides},
        "MONAI SegResNet": {"_target_": "SegResNet", **monai, "init_filters": ch[0]},
    }


def _select(names: Optional[Sequence[str]]) -> List[str]:
    defs = network_defs()
    if not names:
        return list(defs)
    chosen = []
    for s in names:  # an exact name or slug first, else every name containing it
        exact = [n for n in defs if s.lower() == n.lower() or slug(s) == slug(n)]
        chosen += [n for n in exact or [n for n in defs if s.lower() in n.lower()] if n not in chosen]
    if not chosen:
        raise ValueError(f"--networks {list(names)} match none of {list(defs)}")
    return chosen


# ----------------------------------------------------------------------------------------------------- training
def train_one(name: str, args: argparse.Namespace) -> Dict[str, Any]:
    """One bundle training run for network ``name``; writes ``<workdir>/<slug>/run.json`` and returns it."""
    import torch

    net_def = network_defs()[name]
    out = Path(args.workdir).resolve() / slug(name)
    out.mkdir(parents=True, exist_ok=True)
    import importlib.util

    drop = ["ProgressBar"] + ([] if importlib.util.find_spec("tensorboard") else ["TensorBoardStatsHandler"])
    cfg = _bundle_train()
    train_handlers = [h for h in cfg["train"]["handlers"] if not any(d in h["_target_"] for d in drop)]
    val_handlers = [h for h in cfg["validate"]["handlers"] if not any(d in h["_target_"] for d in drop)]
    overrides: Dict[str, Any] = {
        "network_def": net_def,
        "data_dir": str(Path(args.data).resolve()),
        "max_epochs": args.epochs,
        "val_interval": args.val_interval,
        "batch_size": args.batch_size,
        "num_workers": args.workers,
        "device": f"$torch.device('{args.device}')",
        "ckpt_dir": str(out),
        "output_dir": str(out / "eval"),
        "train#handlers": train_handlers,
        "validate#handlers": val_handlers,
        "initialize": [
            f"$monai.utils.set_determinism(seed={args.seed})",
            "$setattr(torch.backends.cudnn, 'benchmark', torch.cuda.is_available())",
        ],
    }
    if args.max_train:
        overrides["train_datalist"] = (
            f"$cranialseg.data.load_datalist_section(@datalist_file, 'training')[:{args.max_train}]"
        )
        overrides["val_datalist"] = (
            f"$cranialseg.data.load_datalist_section(@datalist_file, 'validation')[:{max(1, args.max_train // 4)}]"
        )
    if args.image_size:
        overrides["image_size"] = list(args.image_size)
    if args.device == "cpu":
        overrides["amp"] = False
    wf = bundle_workflow(BUNDLE, "train.json", workflow_type="train", **overrides)
    t0 = time.perf_counter()
    wf.initialize()
    network = wf.parser.get_parsed_content("network")
    row: Dict[str, Any] = {"name": name, "network_def": net_def, "status": "running", "weights": "model.pt"}
    (out / "run.json").write_text(json.dumps(row, indent=2), encoding="utf-8")
    trainer = wf.parser.get_parsed_content("train#trainer")
    evaluator = wf.parser.get_parsed_content("validate#evaluator")
    stopped: List[int] = []
    if args.max_minutes > 0:  # a guard, so a slow machine still leaves validated weights before a time limit
        from ignite.engine import Events

        def guard(engine: Any) -> None:
            if (time.perf_counter() - t1) / 60 > args.max_minutes and engine.state.epoch < engine.state.max_epochs:
                if engine.state.epoch % max(1, args.val_interval):
                    evaluator.run(engine.state.epoch)
                stopped.append(engine.state.epoch)
                engine.terminate()

        trainer.add_event_handler(Events.EPOCH_COMPLETED, guard)
    t1 = time.perf_counter()
    wf.run()
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    t2 = time.perf_counter()
    row.update(
        {
            "status": f"stopped by --max-minutes after epoch {stopped[0]}" if stopped else "complete",
            "epochs_run": stopped[0] if stopped else args.epochs,
            "params": int(sum(p.numel() for p in network.parameters() if p.requires_grad)),
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "image_size": wf.parser.get_parsed_content("image_size"),
            "num_training": len(wf.parser.get_parsed_content("train_datalist")),
            "num_validation": len(wf.parser.get_parsed_content("val_datalist")),
            "best_val_dice": round(float(evaluator.state.best_metric), 4),
            "best_val_epoch": int(evaluator.state.best_metric_epoch),
            "setup_minutes": round((t1 - t0) / 60, 3),
            "train_minutes": round((t2 - t1) / 60, 3),
            "device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu",
            "workers": args.workers,
        }
    )
    wf.finalize()
    (out / "run.json").write_text(json.dumps(row, indent=2), encoding="utf-8")
    return row


def train_all(args: argparse.Namespace) -> List[Dict[str, Any]]:
    names = _select(args.networks)
    rows: List[Dict[str, Any]] = []
    if not args.parallel or len(names) == 1:
        for name in names:
            print(f"== training {name}", flush=True)
            try:
                rows.append(train_one(name, args))
                print(f"   {rows[-1]}", flush=True)
            except Exception as e:  # noqa: BLE001 - recorded, the other networks still run
                traceback.print_exc()
                rows.append({"name": name, "status": "error", "reason": f"{type(e).__name__}: {e}"[:400]})
        return rows
    cpus = os.cpu_count() or 2
    workers = max(0, cpus // len(names) - 1) if args.workers < 0 else args.workers
    procs = []
    log_dir = Path(args.workdir) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--train-one", name, "--workers", str(workers)]
        cmd += _passthrough(args)
        env = dict(os.environ, OMP_NUM_THREADS="1")
        log = open(log_dir / f"{slug(name)}.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
        procs.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log))
        print(f"== started {name} (pid {procs[-1][1].pid}, {workers} workers, log {log.name})", flush=True)
    for name, proc, log in procs:
        code = proc.wait()
        log.close()
        run = Path(args.workdir) / slug(name) / "run.json"
        if code == 0 and run.is_file():
            rows.append(json.loads(run.read_text(encoding="utf-8")))
            print(f"   {name}: {rows[-1]['train_minutes']} min, val Dice {rows[-1]['best_val_dice']}", flush=True)
        else:
            rows.append({"name": name, "status": "error", "reason": f"exit code {code}, see {log.name}"})
            print(f"   {name} failed (exit {code}), see {log.name}", flush=True)
    return rows


def _passthrough(args: argparse.Namespace) -> List[str]:
    out = ["--data", str(args.data), "--workdir", str(args.workdir), "--device", args.device]
    out += ["--epochs", str(args.epochs), "--val-interval", str(args.val_interval)]
    out += ["--batch-size", str(args.batch_size), "--seed", str(args.seed), "--max-train", str(args.max_train)]
    out += ["--max-minutes", str(args.max_minutes)]
    if args.image_size:
        out += ["--image-size", *map(str, args.image_size)]
    return out


# ------------------------------------------------------------------------------------------------------ scoring
def _load_network(run_dir: Path, run: dict, device: str):
    import torch
    from monai.bundle import ConfigParser

    net = ConfigParser({"net": copy.deepcopy(run["network_def"])}).get_parsed_content("net")
    state = torch.load(run_dir / run.get("weights", "model.pt"), map_location=device, weights_only=True)
    net.load_state_dict(state)
    return net.to(device).eval()


def predict_original_grid(net, image, image_size: Sequence[int], device: str = "cpu"):
    """Head mask of a ``(x, y)`` grey image on its own grid: percentile normalisation (1-99 %), bilinear
    anti-aliased resize to ``image_size``, forward, bilinear resize of the softmax back, argmax, largest connected
    region with holes filled (the bundle's evaluation and inference path)."""
    import numpy as np
    import torch
    from monai.transforms import FillHoles, KeepLargestConnectedComponent, Resize, ScaleIntensityRangePercentiles

    img = torch.as_tensor(np.asarray(image, dtype=np.float32))[None]
    img = ScaleIntensityRangePercentiles(1, 99, 0.0, 1.0, clip=True)(img)
    small = Resize(list(image_size), mode="bilinear", anti_aliasing=True)(img)
    with torch.no_grad():
        logits = net(torch.as_tensor(small)[None].float().to(device))[0].float().cpu()
    probs = torch.softmax(logits, 0)
    back = Resize(list(img.shape[1:]), mode="bilinear")(probs)
    mask = torch.as_tensor(back).argmax(0, keepdim=True)
    mask = FillHoles(applied_labels=[1])(KeepLargestConnectedComponent(applied_labels=[1])(mask))
    return np.asarray(mask[0]).astype(np.uint8)


def score_run(
    run_dir: Path,
    items: List[dict],
    hc18_dir: Path,
    image_size: Optional[Sequence[int]],
    threads: int,
    timing_repeats: int,
) -> Dict[str, Any]:
    """Score one trained run on ``items`` (datalist entries with ``source``) at the original resolution; the network
    grid is the run's own, else ``image_size``, else the bundle's."""
    import numpy as np
    import torch
    from PIL import Image

    from cranialseg.demo.hc18 import hc18_head_mask, read_hc18_csv
    from cranialseg.metrics.fetal_head import head_outline_offset_mm, score_head_case, summarize_head_cases
    from cranialseg.utils import read_bundle_config

    torch.set_num_threads(threads)
    # every network learns the same masks (filled annotations), whose outline lies 1.38 px of the frame outside the
    # measured ellipse: the bundle's offset, in pixels of the bundle's grid (not of this run's grid)
    config = read_bundle_config(str(ROOT / "bundle" / "fetal_head_us_segmentation"))
    outline, outline_grid = config.get_parsed_content("head_outline_offset"), config.get_parsed_content("image_size")
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    net = _load_network(run_dir, run, "cpu")
    table = read_hc18_csv(hc18_dir / "pixel_size_and_HC.csv")
    size = run.get("image_size") or list(image_size or outline_grid)
    cases, times = [], []
    for item in items:
        name = item["source"]
        image = np.asarray(Image.open(hc18_dir / "images" / name).convert("L"), dtype=np.float32).T
        label = hc18_head_mask(hc18_dir / "annotations" / f"{Path(name).stem}_Annotation.png")
        pixel, hc = table[name]
        t0 = time.perf_counter()
        pred = predict_original_grid(net, image, size)
        times.append(time.perf_counter() - t0)
        offset = head_outline_offset_mm(image.shape, [pixel, pixel], outline, outline_grid)
        scores = score_head_case(pred, label, [pixel, pixel], hc, offset)
        cases.append({"case": name, "outline_offset_mm": round(offset, 5), **scores})
    if timing_repeats > 0 and items:  # repeat the timing on the first image (after the loop warmed up)
        name = items[0]["source"]
        image = np.asarray(Image.open(hc18_dir / "images" / name).convert("L"), dtype=np.float32).T
        for _ in range(timing_repeats):
            t0 = time.perf_counter()
            predict_original_grid(net, image, size)
            times.append(time.perf_counter() - t0)
    summary = summarize_head_cases(cases)
    return {
        **{k: run.get(k) for k in ("name", "status", "params", "epochs", "epochs_run", "train_minutes")},
        **{k: run.get(k) for k in ("best_val_dice", "device", "batch_size", "image_size")},
        "inference_ms_per_image": round(1000 * statistics.median(times[1:] or times), 1),
        "inference_threads": threads,
        "summary": summary,
        "cases": cases,
    }


def score_all(args: argparse.Namespace) -> Dict[str, Any]:
    from cranialseg.data.datalist import find_datalist

    datalist = find_datalist(args.data)
    if datalist is None:
        raise FileNotFoundError(f"--data {args.data}: no datalist.json (prepare with scripts/prepare_hc18.py)")
    lists = json.loads(Path(datalist).read_text(encoding="utf-8"))
    items = lists[args.score_section][:: max(1, args.score_every)]  # every k-th: the gestational range kept
    items = items[: args.max_score] if args.max_score else items
    if not items:
        raise ValueError(
            f"{datalist}: no {args.score_section!r} images to score (a copy prepared with --sections training "
            "validation has none): give --data a folder prepared with that section, e.g. the full-resolution one"
        )
    work = Path(args.workdir)
    rows = []
    names = _select(args.networks)
    for name in names:
        run_dir = work / slug(name)
        if not (run_dir / "run.json").is_file():
            rows.append({"name": name, "status": "not run", "reason": f"no {run_dir / 'run.json'}"})
            continue
        print(f"== scoring {name} on {len(items)} {args.score_section} images", flush=True)
        row = score_run(run_dir, items, Path(args.hc18_dir), args.image_size, args.threads, 5)
        rows.append(row)
        s = row["summary"]
        print(
            f"   Dice {s['dice']['mean']}  HD {s['hd_mm']['mean']} mm  HC |diff| {s['hc_abs_diff_mm']['mean']} mm  "
            f"{row['inference_ms_per_image']} ms/image",
            flush=True,
        )
    split = lists.get("split", {})
    train_runs = [r for r in rows if r.get("train_minutes") is not None]
    payload = {
        "benchmark": "hc18_side_by_side",
        "machine_scoring": machine_info(),
        "training_device": sorted({str(r.get("device")) for r in train_runs}),
        "recipe_summary": (
            "bundle fetal_head_us_segmentation train.json for every network (DiceCE, AdamW, cosine, ultrasound "
            f"augmentation, image_size {rows[0].get('image_size') if rows else None}), same batch and "
            "epoch limit (a run stopped by --max-minutes has fewer: see epochs and train min); "
            f"split by subject {split.get('subjects')} subjects / {split.get('images')} images (seed "
            f"{split.get('seed')}); scored on "
            + (f"one image in {args.score_every} of " if args.score_every > 1 else "")
            + f"the {args.score_section} subjects ({len(items)} images) at the original 800x540 grid"
        ),
        "split": split,
        "anchors": HC18_ANCHORS,
        "rows": rows,
    }
    out = Path(args.out) if args.out else RESULTS_DIR / "hc18_side_by_side.json"
    if args.no_publish:
        write_results(out, payload)
        return payload
    return publish_results(out, payload, render_hc18)


# ---------------------------------------------------------------------------------------------------------- CLI
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="prepared HC18 folder (scripts/prepare_hc18.py)")
    p.add_argument("--workdir", type=Path, default=ROOT / "outputs" / "benchmark_hc18", help="runs and weights")
    p.add_argument("--networks", nargs="+", default=None, help=f"names or substrings of {list(network_defs())}")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (training)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--val-interval", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--image-size", type=int, nargs=2, default=None, help="(x, y) network grid (bundle default)")
    p.add_argument("--workers", type=int, default=-1, help="data workers per run (-1: CPUs / runs - 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-minutes", type=float, default=0, help="stop a run (validated) after this (0: never)")
    p.add_argument("--max-train", type=int, default=0, help="first N training cases only (smoke runs)")
    p.add_argument("--parallel", action="store_true", help="one process per network, concurrently")
    p.add_argument("--train-one", default=None, help=argparse.SUPPRESS)
    p.add_argument("--score-only", action="store_true", help="score saved runs (no training)")
    p.add_argument("--score", action="store_true", help="score right after training")
    p.add_argument("--hc18-dir", type=Path, default=HC18_DIR, help="original HC18 folder (PNGs, annotations, CSV)")
    p.add_argument("--score-section", default="test", choices=["test", "validation", "training"])
    p.add_argument("--max-score", type=int, default=0, help="first N images of the section only")
    p.add_argument("--score-every", type=int, default=1, help="every k-th image of the section (sorted by subject)")
    p.add_argument("--threads", type=int, default=2, help="torch threads for scoring")
    p.add_argument("--out", type=Path, default=None, help="scores JSON (default benchmarks/results/...)")
    p.add_argument("--no-publish", action="store_true", help="write the JSON only")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> Any:
    args = parse_args(argv)
    warnings.simplefilter("ignore")
    if args.train_one:
        if args.workers < 0:
            args.workers = 0
        train_one(args.train_one, args)
        return 0
    if not args.score_only:
        if args.workers < 0 and not args.parallel:
            args.workers = max(0, (os.cpu_count() or 2) - 1)
        t0 = time.perf_counter()
        rows = train_all(args)
        summary = {"wall_minutes": round((time.perf_counter() - t0) / 60, 2), "parallel": args.parallel, "runs": rows}
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        (Path(args.workdir) / "training_summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        print(f"training wall {summary['wall_minutes']} min; wrote {Path(args.workdir) / 'training_summary.json'}")
        if not args.score:
            return summary
    return score_all(args)


if __name__ == "__main__":
    main()
