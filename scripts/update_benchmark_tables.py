"""Regenerate the benchmark tables (markdown) from the JSON results and write them into ``benchmarks/README.md``.

Reads ``benchmarks/results/{networks,inference,inference_us,training,quality_hc18,quality_phantoms}_cpu.json``
(whichever exist), renders one table per file with its date, machine, threads and load average, replaces the
block between ``<!-- BEGIN GENERATED TABLES -->`` and ``<!-- END GENERATED TABLES -->`` in ``benchmarks/README.md``
(the text around it is kept; the markers are added when missing) and prints the tables, to paste into README.

Example:
    python scripts/update_benchmark_tables.py
    python scripts/update_benchmark_tables.py --results-dir /tmp/res --readme /tmp/README.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

__all__ = [
    "main",
    "render_all",
    "render_phantoms_side_by_side",
    "render_inference",
    "render_networks",
    "render_phantoms",
    "render_quality",
    "render_training",
    "replace_block",
]

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- BEGIN GENERATED TABLES -->", "<!-- END GENERATED TABLES -->"


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _table(header: Sequence[str], rows: List[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _machine_line(payload: Dict[str, Any]) -> str:
    m = payload.get("machine", {})
    v = m.get("versions", {})
    return (
        f"_{m.get('date_utc', '?')}, {m.get('cpu', '?')} ({m.get('logical_cpus', '?')} logical CPUs, "
        f"{m.get('torch_threads', '?')} torch threads), load average at start {m.get('load_average')} / end "
        f"{payload.get('load_average_end')} (shared machine: timings are noisy), torch {v.get('torch')}, "
        f"MONAI {v.get('monai')}, ONNX Runtime {v.get('onnxruntime')}, commit {m.get('git_commit')}._"
    )


def _latency(r: Dict[str, Any]) -> Any:
    return (r.get("latency") or {}).get("median_s")


def _status(r: Dict[str, Any]) -> str:
    s = r.get("status", "?")
    return s if s == "ok" else f"{s}: {r.get('reason', '')}"


def render_networks(payload: Dict[str, Any]) -> str:
    """Table of ``benchmark_networks.py`` results: one row per network and backend, then the goal checks."""
    out = ["### Networks: parameters, FLOPs, CPU forward latency and memory", "", _machine_line(payload), ""]
    peak = payload.get("matmul_peak", {})
    out.append(f"Measured fp32 matmul peak: {peak.get('median_gflops')} GFLOP/s (n={peak.get('n')}).")
    for dims in sorted({r["spatial_dims"] for r in payload["rows"]}):
        rows = [r for r in payload["rows"] if r["spatial_dims"] == dims]
        shape = "x".join(str(s) for s in rows[0]["input_shape"])
        out += ["", f"**{dims}D, input {shape}**", ""]
        body = [
            [
                r["name"],
                r["backend"],
                r["params"],
                r["gflops"],
                _latency(r),
                (r.get("latency") or {}).get("min_s"),
                r.get("peak_rss_delta_mb"),
                _status(r),
            ]
            for r in rows
        ]
        header = ["network", "backend", "params", "GFLOPs", "median s", "min s", "peak MB", "status"]
        out.append(_table(header, body))
    if payload.get("goals"):
        out += ["", "Goals:", ""]
        body = [
            [f"{g['spatial_dims']}D", g["goal"], g["value"], g.get("value_from_min_times"), g["met"]]
            for g in payload["goals"]
        ]
        out.append(_table(["dims", "goal", "value (medians)", "value (min times)", "met (medians)"], body))
    return "\n".join(out)


def render_inference(payload: Dict[str, Any]) -> str:
    """Table of ``benchmark_inference.py`` results: one row per case, path and sliding-window setting."""
    out = ["### Sliding-window inference (CPU)", "", _machine_line(payload), ""]
    peak = payload.get("matmul_peak", {})
    out.append(f"Measured fp32 matmul peak: {peak.get('median_gflops')} GFLOP/s (n={peak.get('n')}).")
    for case in payload.get("cases", []):
        out += ["", f"**{case['name']}** ({case.get('source')}, shape {case.get('shape')}, ROI {case.get('roi')})", ""]
        body = [
            [
                r["path"],
                r.get("overlap"),
                r.get("sw_batch_size"),
                _latency(r),
                r.get("mvoxels_per_s"),
                r.get("peak_rss_delta_mb"),
                r.get("flops_per_voxel"),
                r.get("fraction_of_matmul_peak"),
                _status(r),
            ]
            for r in case["rows"]
        ]
        header = ["path", "overlap", "sw batch", "median s", "Mvox/s", "peak MB", "FLOP/voxel", "of peak", "status"]
        out.append(_table(header, body))
    for d in payload.get("dicom_read") or []:
        out += [
            "",
            f"DICOM folder read with `cranialseg.io.load_image` ({d.get('source')}, {d.get('files')} files -> "
            f"{d.get('shape')}): {_fmt(_latency(d))} s median, +{_fmt(d.get('peak_rss_delta_mb'))} MB, {_status(d)}.",
        ]
    if payload.get("not_run"):
        out += ["", "Not run: " + "; ".join(payload["not_run"])]
    if payload.get("goals"):
        out += ["", "Goals:", ""]
        body = [[g["goal"], g["value"], g["met"]] for g in payload["goals"]]
        out.append(_table(["goal", "value", "met"], body))
    return "\n".join(out)


def render_training(payload: Dict[str, Any]) -> str:
    """Table of ``benchmark_training.py`` results: samples/s and peak memory per training step."""
    out = ["### Training step throughput (CPU)", "", _machine_line(payload), ""]
    body = [
        [
            f"{r['spatial_dims']}D",
            r["name"],
            "x".join(str(s) for s in r["input_shape"]),
            r["params"],
            _latency(r),
            r.get("samples_per_s"),
            r.get("peak_rss_delta_mb"),
            _status(r),
        ]
        for r in payload["rows"]
    ]
    header = ["dims", "network", "batch", "params", "median s/step", "samples/s", "peak MB", "status"]
    out.append(_table(header, body))
    if payload.get("not_run"):
        out += ["", "Not run: " + "; ".join(payload["not_run"])]
    return "\n".join(out)


def _mean_sd(metrics: Dict[str, Any], key: str) -> Any:
    """``mean ± sd`` when the metrics hold ``<key>_sd`` (several seeds), else the mean."""
    mean, sd = metrics.get(key), metrics.get(f"{key}_sd")
    return mean if mean is None or not sd else f"{_fmt(mean)} ± {_fmt(sd, 2)}"


def render_quality(payload: Dict[str, Any]) -> str:
    """Table of ``benchmark_quality.py`` results: validation Dice / IoU / HD95 / HC error per network."""
    out = ["### Segmentation quality on HC18 (real fetal-head ultrasound)", "", _machine_line(payload), ""]
    out.append(f"Recipe and budget: {payload.get('recipe_summary', '?')}")
    out.append("")
    body = []
    for r in payload.get("rows", []):
        m = r.get("metrics") or {}
        body.append(
            [
                r["name"],
                r.get("params"),
                len(r.get("seeds_run", [])),
                *(_mean_sd(m, key) for key in ("dice", "iou", "hd95_mm", "hc_abs_error_mm")),
                r.get("train_s"),
                _status(r),
            ]
        )
    header = ["network", "params", "seeds", "Dice", "IoU", "HD95 mm", "HC abs err mm", "train s", "status"]
    out.append("Metrics: mean ± sd over seeds (sd shown with more than one seed).")
    out.append("")
    out.append(_table(header, body))
    if payload.get("anchors"):
        out += ["", "Anchors: " + payload["anchors"]]
    if payload.get("not_run"):
        out += ["", "Not run: " + "; ".join(payload["not_run"])]
    return "\n".join(out)


def _rates(d: Optional[Dict[str, Any]]) -> str:
    if not d:
        return "–"
    text = f"{_fmt(d.get('sensitivity'))} / {_fmt(d.get('specificity'))}"
    return text + (f" (AUC {_fmt(d['roc_auc'])})" if d.get("roc_auc") is not None else "")


def render_phantoms(payload: Dict[str, Any]) -> str:
    """Tables of ``benchmark_phantoms.py`` results: shipped weights on unseen phantoms, per class, vs thresholds."""
    out = ["### Segmentation quality on unseen demo phantoms (shipped weights)", "", _machine_line(payload)]
    names = {"ct": "3D head CT", "us": "2D cranial ultrasound"}
    for task, r in payload.get("tasks", {}).items():
        out += [
            "",
            f"**{names.get(task, task)}** (`{r['bundle']}`, {r['num_cases']} phantoms, seed {r['seed']}, "
            f"mean foreground Dice {_fmt(r.get('mean_dice'))}; {r.get('wall_s')} s)",
            "",
        ]
        body = []
        for name, c in r["per_class"].items():
            unit = {"ml": "mL", "mm2": "mm²"}.get(c.get("volume_unit") or "", c.get("volume_unit") or "")
            volume = None if c.get("mean_abs_volume_error") is None else f"{_fmt(c['mean_abs_volume_error'])} {unit}"
            detection = c.get("detection_head") or c.get("detection_mask")
            body.append(
                [
                    name,
                    c.get("cases_with_class"),
                    c.get("dice"),
                    c.get("iou"),
                    c.get("hd95_mm"),
                    c.get("asd_mm"),
                    volume,
                    c.get("threshold_baseline_dice"),
                    _rates(detection),
                ]
            )
        header = ["class", "cases with it", "Dice", "IoU", "HD95 mm", "ASD mm", "abs volume error", "threshold Dice"]
        out.append(_table(header + ["detection sens / spec"], body))
        det, mask = r.get("detection") or {}, r.get("detection_from_mask") or {}
        if det:
            out += [
                "",
                f"Any haemorrhage/lesion, image level ({det.get('source')}): sensitivity / specificity {_rates(det)}; "
                f"from the predicted masks: {_rates(mask)}.",
            ]
        real = r.get("real_normal_ct")
        if real and real.get("status") == "ok":
            vols = ", ".join(f"{k} {_fmt(v)}" for k, v in real["volume_ml"].items())
            probs = ", ".join(f"{k} {_fmt(v)}" for k, v in (real.get("image_level") or {}).items())
            out += [
                "",
                f"Real normal head CT (`{real['series']}`, no haemorrhage; through `inference.json`): predicted "
                f"haemorrhage {_fmt(real['haemorrhage_ml'])} mL (goal < {_fmt(real['goal_ml'])} mL: "
                f"{'met' if real['goal_met'] else 'NOT met'}); mL per class: {vols}"
                + (f"; image-level probabilities: {probs}." if probs else "."),
            ]
    if payload.get("notes"):
        out += ["", " ".join(payload["notes"])]
    return "\n".join(out)


def render_phantoms_side_by_side(payload: Dict[str, Any]) -> str:
    """Tables of ``benchmark_phantoms.py --side-by-side``: ours and MONAI's networks trained with one recipe."""
    out = ["### Demo phantoms: ours and MONAI's networks trained side by side", "", _machine_line(payload)]
    names = {"ct": "3D head CT", "us": "2D cranial ultrasound"}
    for task, r in payload.get("tasks", {}).items():
        classes = list(next((row["per_class"] for row in r["rows"] if row.get("per_class")), {}))
        units = {"ml": "mL", "mm2": "mm²"}
        unit = next(
            (units.get(c.get("volume_unit"), c.get("volume_unit")) for row in r["rows"] if row.get("per_class")
             for c in row["per_class"].values() if c.get("volume_unit")), "",
        )  # fmt: skip
        out += [
            "",
            f"**{names.get(task, task)}** (`{r['bundle']}`): {r['recipe']}; scored on {r['num_cases']} unseen "
            f"phantoms (seed {r['seed']}). Per class: Dice (mean abs volume error, {unit}).",
            "",
        ]
        body = []
        for row in r["rows"]:
            if row.get("status") != "ok":
                body.append([row["name"], row.get("params"), None, None, None] + [None] * len(classes) + [None])
                continue
            cells = [
                f"{_fmt(c.get('dice'))} ({_fmt(c.get('mean_abs_volume_error'))})"
                for c in (row["per_class"].get(name, {}) for name in classes)
            ]
            det = row.get("detection") or {}
            body.append(
                [row["name"], row["params"], round(row["train_s"] / 60, 1), row.get("best_val_dice"), row["mean_dice"]]
                + cells
                + [f"{_rates(det)} ({det.get('source', '-')})" if det else "-"]
            )
        base = r.get("threshold_baseline") or {}
        body.append(
            ["threshold baseline", None, None, None, None]
            + [_fmt(base.get(name, base.get(name.split("_")[0]))) for name in classes]
            + [None]
        )
        header = ["network", "params", "train min", "best val Dice", "unseen mean Dice"] + classes
        out.append(_table(header + ["any lesion sens / spec"], body))
    if payload.get("notes"):
        out += ["", " ".join(payload["notes"])]
    return "\n".join(out)


RENDERERS: Dict[str, Callable[[Dict[str, Any]], str]] = {
    "networks_cpu.json": render_networks,
    "inference_cpu.json": render_inference,
    "inference_us_cpu.json": render_inference,
    "training_cpu.json": render_training,
    "quality_hc18_cpu.json": render_quality,
    "quality_phantoms_cpu.json": render_phantoms,
    "quality_phantoms_side_by_side_cpu.json": render_phantoms_side_by_side,
}


def render_all(results_dir: Path) -> str:
    """All tables for the result files present in ``results_dir``, in a fixed order."""
    parts = []
    for name, render in RENDERERS.items():
        path = results_dir / name
        if path.is_file():
            parts.append(render(json.loads(path.read_text(encoding="utf-8"))))
    return "\n\n".join(parts) if parts else "_No benchmark results yet._"


def replace_block(text: str, block: str) -> str:
    """``text`` with the generated block replaced (or appended with its markers when they are missing)."""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        return f"{head}{BEGIN}\n{block}\n{END}{tail}"
    sep = "" if not text or text.endswith("\n") else "\n"
    return f"{text}{sep}\n{BEGIN}\n{block}\n{END}\n"


_README_HEAD = """# Benchmarks

Reproducible figures for cranialseg: network cost, sliding-window inference, training throughput and
segmentation quality on real ultrasound (HC18) and on unseen demo phantoms. Each script writes a JSON file under
`results/` (with date, machine, load average and library versions); `python scripts/update_benchmark_tables.py`
regenerates the tables below from them. Nothing here runs in the test suite (one smoke test per script runs a
tiny setting).

```bash
python scripts/benchmark_networks.py     # params, FLOPs, latency, memory; eager vs TorchScript vs ONNX Runtime
python scripts/benchmark_inference.py    # sliding-window inference on a 512x512x40 CT volume and a US frame
python scripts/benchmark_training.py     # training samples/s and peak memory
python scripts/benchmark_quality.py      # HC18 quality, one recipe for every network (bundle train.json)
python scripts/benchmark_phantoms.py     # shipped weights on unseen demo phantoms, per class, vs thresholds
python scripts/update_benchmark_tables.py
```
"""


def main(argv: Optional[Sequence[str]] = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results-dir", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--readme", type=Path, default=ROOT / "benchmarks" / "README.md")
    args = p.parse_args(argv)
    block = render_all(args.results_dir)
    text = args.readme.read_text(encoding="utf-8") if args.readme.is_file() else _README_HEAD
    args.readme.parent.mkdir(parents=True, exist_ok=True)
    args.readme.write_text(replace_block(text, block), encoding="utf-8")
    print(block)
    return block


if __name__ == "__main__":
    main()
