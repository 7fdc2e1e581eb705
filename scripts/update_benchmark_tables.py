"""Regenerate the benchmark tables (markdown) from the JSON results and write them into ``benchmarks/README.md``.

Reads the files of :data:`RENDERERS` under ``benchmarks/results/`` (whichever exist), renders each with its date,
machine, threads and load average, and replaces the block between ``<!-- BEGIN GENERATED TABLES -->`` and
``<!-- END GENERATED TABLES -->`` in ``benchmarks/README.md`` (the text around it is kept; the markers are added when
missing); README.md only links there. Tables are pandas ``DataFrame.to_markdown`` (the ``bench`` extra: pandas,
tabulate); the benchmark scripts print theirs through the same ``render_*`` functions.

Example:
    python scripts/update_benchmark_tables.py
    python scripts/update_benchmark_tables.py --results-dir /tmp/res --readme /tmp/README.md
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Union

from cranialseg.utils.atomic import atomic_write

__all__ = [
    "main",
    "render_all",
    "render_bundle_networks",
    "render_hc18",
    "render_hc18_side_by_side",
    "render_inference",
    "render_networks",
    "render_phantoms",
    "render_phantoms_side_by_side",
    "render_quality",
    "render_training",
    "replace_block",
]

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- BEGIN GENERATED TABLES -->", "<!-- END GENERATED TABLES -->"
TASK_NAMES = {"ct": "3D head CT", "us": "2D cranial ultrasound"}
UNITS = {"ml": "mL", "mm2": "mm²"}

#: A column: a dotted key of the row (``"latency.median_s"``) or a function of the row.
Column = Union[str, Callable[[Dict[str, Any]], Any]]


def _fmt(v: Any, digits: int = 3) -> str:
    """One cell: 3 significant digits, thousands separators, ``–`` for missing, yes/no for booleans."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _table(rows: Sequence[Dict[str, Any]], columns: Optional[Dict[str, Column]] = None) -> str:
    """Markdown table of ``rows`` (one line each) with ``columns`` (header -> dotted key or function of the row);
    without ``columns``, the first row's keys are the headers and the keys."""
    if columns is None:
        columns = {k: k for k in rows[0]}
    import pandas as pd

    flat = pd.json_normalize(list(rows)).astype(object)
    missing = [None] * len(rows)
    data = {h: [c(r) for r in rows] if callable(c) else flat.get(c, missing) for h, c in columns.items()}
    return pd.DataFrame(data).map(_fmt).to_markdown(index=False, disable_numparse=True)


def _machine_line(payload: Dict[str, Any]) -> str:
    m = payload.get("machine", {})
    v = m.get("versions", {})
    return (
        f"_{m.get('date_utc', '?')}, {m.get('cpu', '?')} ({m.get('logical_cpus', '?')} logical CPUs, "
        f"{m.get('torch_threads', '?')} torch threads), load average at start {m.get('load_average')} / end "
        f"{payload.get('load_average_end')} (shared machine: timings are noisy), torch {v.get('torch')}, "
        f"MONAI {v.get('monai')}, ONNX Runtime {v.get('onnxruntime')}, commit {m.get('git_commit')}._"
    )


def _peak_line(payload: Dict[str, Any]) -> str:
    peak = payload.get("matmul_peak", {})
    return f"Measured fp32 matmul peak: {peak.get('median_gflops')} GFLOP/s (n={peak.get('n')})."


def _status(r: Dict[str, Any]) -> str:
    s = r.get("status", "?")
    return s if s == "ok" else f"{s}: {r.get('reason', '')}"


def _shape(key: str) -> Callable[[Dict[str, Any]], str]:
    return lambda r: "x".join(str(s) for s in r[key])


def _not_run(payload: Dict[str, Any]) -> list:
    return ["", "Not run: " + "; ".join(payload["not_run"])] if payload.get("not_run") else []


def render_networks(payload: Dict[str, Any]) -> str:
    """Table of ``benchmark_networks.py`` results: one row per network and backend, then the goal checks."""
    out = ["### Networks: parameters, FLOPs, CPU forward latency and memory", "", _machine_line(payload), ""]
    out.append(_peak_line(payload))
    columns: Dict[str, Column] = {"network": "name", "backend": "backend", "params": "params", "GFLOPs": "gflops"}
    columns.update({"median s": "latency.median_s", "min s": "latency.min_s", "peak MB": "peak_rss_delta_mb"})
    for dims in sorted({r["spatial_dims"] for r in payload["rows"]}):
        rows = [r for r in payload["rows"] if r["spatial_dims"] == dims]
        out += ["", f"**{dims}D, input {_shape('input_shape')(rows[0])}**", ""]
        out.append(_table(rows, {**columns, "status": _status}))
    if payload.get("goals"):
        goals = {"dims": lambda g: f"{g['spatial_dims']}D", "goal": "goal", "value (medians)": "value"}
        goals.update({"value (min times)": "value_from_min_times", "met (medians)": "met"})
        out += ["", "Goals:", "", _table(payload["goals"], goals)]
    return "\n".join(out)


def render_inference(payload: Dict[str, Any]) -> str:
    """Table of ``benchmark_inference.py`` results: one row per case, path and sliding-window setting."""
    out = ["### Sliding-window inference (CPU)", "", _machine_line(payload), "", _peak_line(payload)]
    columns: Dict[str, Column] = {"path": "path", "overlap": "overlap", "sw batch": "sw_batch_size"}
    columns.update({"median s": "latency.median_s", "Mvox/s": "mvoxels_per_s", "peak MB": "peak_rss_delta_mb"})
    columns.update({"FLOP/voxel": "flops_per_voxel", "of peak": "fraction_of_matmul_peak", "status": _status})
    for case in payload.get("cases", []):
        out += ["", f"**{case['name']}** ({case.get('source')}, shape {case.get('shape')}, ROI {case.get('roi')})", ""]
        out.append(_table(case["rows"], columns))
    for d in payload.get("dicom_read") or []:
        out += [
            "",
            f"DICOM folder read with `cranialseg.io.load_image` ({d.get('source')}, {d.get('files')} files -> "
            f"{d.get('shape')}): {_fmt((d.get('latency') or {}).get('median_s'))} s median, "
            f"+{_fmt(d.get('peak_rss_delta_mb'))} MB, {_status(d)}.",
        ]
    out += _not_run(payload)
    if payload.get("goals"):
        out += ["", "Goals:", "", _table(payload["goals"], {"goal": "goal", "value": "value", "met": "met"})]
    return "\n".join(out)


def render_training(payload: Dict[str, Any]) -> str:
    """Table of ``benchmark_training.py`` results: samples/s and peak memory per training step."""
    columns: Dict[str, Column] = {"dims": lambda r: f"{r['spatial_dims']}D", "network": "name"}
    columns.update({"batch": _shape("input_shape"), "params": "params", "median s/step": "latency.median_s"})
    columns.update({"samples/s": "samples_per_s", "peak MB": "peak_rss_delta_mb", "status": _status})
    out = ["### Training step throughput (CPU)", "", _machine_line(payload), "", _table(payload["rows"], columns)]
    return "\n".join(out + _not_run(payload))


def render_bundle_networks(payload: Dict[str, Any]) -> str:
    """Table of ``benchmark_training.py --compare-bundles``: each bundle network's cost over MONAI UNet (nru 1 / 2)."""
    refs = {"monai_unet_nru1": "UNet nru1", "monai_unet_nru2": "UNet nru2"}
    rows = []
    for r in payload["rows"]:
        row = {"bundle network": r["bundle"], "input": "x".join(map(str, r["input_shape"]))}
        if r.get("status") != "ok":
            rows.append({**row, "preset": f"error: {r.get('reason')}"})
            continue
        for name in [k for k in r["params"] if not k.startswith("monai_unet")] + list(refs):
            cells = {"preset": name, "params": r["params"][name], "kFLOP/voxel": r["kflop_per_voxel"][name]}
            for kind in ("step", "forward"):
                cells[f"{kind} s"] = r[f"{kind}_median_s"][name]
                for ref, label in refs.items():
                    ratio = r[f"{kind}_ratio"].get(f"{name}/{ref}")
                    cells[f"{kind} / {label}"] = f"{ratio['median']:.2f}" if ratio else "1" if name == ref else "–"
            rows.append({**row, **cells})
    headers = ["bundle network", "input", "preset", "params", "kFLOP/voxel", "step s", "step / UNet nru1"]
    headers += ["step / UNet nru2", "forward s", "forward / UNet nru1", "forward / UNet nru2"]
    m = payload["machine"]
    footer = (
        f"_{m['date_utc']}, {m['cpu']}, {m['torch_threads']} torch thread(s), load average start {m['load_average']} "
        f"/ end {payload['load_average_end']}, commit {m['git_commit']}; medians of per-round ratios._"
    )
    return "\n".join([_table(rows, {h: h for h in headers}), "", footer])


def _mean_sd(metrics: Dict[str, Any], key: str) -> Any:
    """``mean ± sd`` when the metrics hold ``<key>_sd`` (several seeds), else the mean."""
    mean, sd = metrics.get(key), metrics.get(f"{key}_sd")
    return mean if mean is None or not sd else f"{_fmt(mean)} ± {_fmt(sd, 2)}"


def render_quality(payload: Dict[str, Any]) -> str:
    """Table of ``benchmark_quality.py`` results: validation Dice / IoU / HD95 / HC error per network."""
    out = ["### Segmentation quality on HC18 (real fetal-head ultrasound)", "", _machine_line(payload), ""]
    out += [f"Recipe and budget: {payload.get('recipe_summary', '?')}", ""]
    columns: Dict[str, Column] = {"network": "name", "params": "params", "seeds": lambda r: len(r.get("seeds_run", []))}
    for header, key in (("Dice", "dice"), ("IoU", "iou"), ("HD95 mm", "hd95_mm"), ("HC abs err mm", "hc_abs_error_mm")):
        columns[header] = lambda r, key=key: _mean_sd(r.get("metrics") or {}, key)
    columns.update({"train s": "train_s", "status": _status})
    out += ["Metrics: mean ± sd over seeds (sd shown with more than one seed).", ""]
    out.append(_table(payload.get("rows", []), columns))
    if payload.get("anchors"):
        out += ["", "Anchors: " + payload["anchors"]]
    return "\n".join(out + _not_run(payload))


def render_hc18(payload: Dict[str, Any]) -> str:
    """Table of ``benchmark_hc18.py --score-only``: test-subject Dice, HD, HC difference and speed per network."""

    def stat(key: str, digits: int = 3) -> Callable[[Dict[str, Any]], str]:
        def cell(r: Dict[str, Any]) -> Optional[str]:
            if "summary" not in r:  # not run: the reason in the first metric's column
                return f"{r.get('status')}: {r.get('reason')}" if key == "dice" else None
            s = r["summary"].get(key)
            if not s or s.get("mean") is None:
                return "-"
            return f"{s['mean']:.{digits}f}" + (f" ± {s['sd']:.{digits}f}" if s.get("sd") is not None else "")

        return cell

    columns: Dict[str, Column] = {"network": "name", "params": lambda r: r.get("params") or "-"}
    columns["epochs"] = lambda r: r.get("epochs_run") or r.get("epochs") or "-"
    columns.update({"train min": lambda r: r.get("train_minutes") or "-", "Dice": stat("dice")})
    columns.update({"HD mm": stat("hd_mm", 2), "HC abs diff mm": stat("hc_abs_diff_mm", 2)})
    columns.update({"HC diff mm": stat("hc_diff_mm", 2), "ms/image": "inference_ms_per_image"})
    return _table(payload["rows"], columns)


def render_hc18_side_by_side(payload: Dict[str, Any]) -> str:
    """``benchmark_hc18.py`` results with their title, machine, recipe and anchors (the table: :func:`render_hc18`)."""
    title = payload.get("title", "five networks, one recipe, one budget")
    out = [f"### HC18 side by side: {title} (real fetal-head ultrasound)", ""]
    if payload.get("machine_scoring"):
        out += [_machine_line({"machine": payload["machine_scoring"]}), ""]
    out += [f"Recipe and budget: {payload.get('recipe_summary', '?')}", ""]
    if payload.get("training_command"):
        out += [f"Training: `{payload['training_command']}`", ""]
    out.append(render_hc18(payload))
    out += [f"\nNote: {note}" for note in payload.get("notes", [])]
    if payload.get("anchors"):
        out += ["", "Anchors: " + str(payload["anchors"])]
    return "\n".join(out)


def _rates(d: Optional[Dict[str, Any]]) -> str:
    if not d:
        return "–"
    text = f"{_fmt(d.get('sensitivity'))} / {_fmt(d.get('specificity'))}"
    return text + (f" (AUC {_fmt(d['roc_auc'])})" if d.get("roc_auc") is not None else "")


def _volume_error(c: Dict[str, Any]) -> Optional[str]:
    unit = UNITS.get(c.get("volume_unit") or "", c.get("volume_unit") or "")
    return None if c.get("mean_abs_volume_error") is None else f"{_fmt(c['mean_abs_volume_error'])} {unit}"


def render_phantoms(payload: Dict[str, Any]) -> str:
    """Tables of ``benchmark_phantoms.py`` results: shipped weights on unseen phantoms, per class, vs thresholds."""
    out = ["### Segmentation quality on unseen demo phantoms (shipped weights)", "", _machine_line(payload)]
    columns: Dict[str, Column] = {"class": "name", "cases with it": "cases_with_class", "Dice": "dice", "IoU": "iou"}
    columns.update({"HD95 mm": "hd95_mm", "ASD mm": "asd_mm", "abs volume error": _volume_error})
    columns["threshold Dice"] = "threshold_baseline_dice"
    columns["detection sens / spec"] = lambda c: _rates(c.get("detection_head") or c.get("detection_mask"))
    for task, r in payload.get("tasks", {}).items():
        out += [
            "",
            f"**{TASK_NAMES.get(task, task)}** (`{r['bundle']}`, {r['num_cases']} phantoms, seed {r['seed']}, "
            f"mean foreground Dice {_fmt(r.get('mean_dice'))}; {r.get('wall_s')} s)",
            "",
            _table([{"name": name, **c} for name, c in r["per_class"].items()], columns),
        ]
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
        views = r.get("real_views")
        if views and views.get("status") == "ok":
            out += [
                "",
                f"Real neonatal cranial ultrasound views (`{views['views']}`, {views['num_views']} screen captures, no "
                f"IVH reported; through `inference.json`): a clot (>= {views['clot_min_pixels']} px) in "
                f"{views['views_with_clot']} of {views['num_views']} views ("
                + ", ".join(f"{k} {a} of {b}" for k, (a, b) in (views.get("views_with_clot_by_plane") or {}).items())
                + "), clot pixels per view median "
                f"{_fmt(views['clot_px_median'])}, max {views['clot_px_max']}.",
                "",
                _table(views["per_view"]),
            ]
    if payload.get("notes"):
        out += ["", " ".join(payload["notes"])]
    return "\n".join(out)


def render_phantoms_side_by_side(payload: Dict[str, Any]) -> str:
    """Tables of ``benchmark_phantoms.py --side-by-side``: ours and MONAI's networks trained with one recipe."""
    out = ["### Demo phantoms: ours and MONAI's networks trained side by side", "", _machine_line(payload)]

    def ok(value: Callable[[Dict[str, Any]], Any]) -> Callable[[Dict[str, Any]], Any]:
        return lambda r: value(r) if r.get("status") == "ok" else None

    def class_cell(name: str) -> Callable[[Dict[str, Any]], Any]:
        def cell(r: Dict[str, Any]) -> Any:
            if "baseline" in r:
                return r["baseline"].get(name, r["baseline"].get(name.split("_")[0]))
            c = r["per_class"].get(name, {}) if r.get("status") == "ok" else None
            return None if c is None else f"{_fmt(c.get('dice'))} ({_fmt(c.get('mean_abs_volume_error'))})"

        return cell

    def detection(r: Dict[str, Any]) -> str:
        det = r.get("detection") or {}
        return f"{_rates(det)} ({det.get('source', '-')})" if det else "-"

    for task, r in payload.get("tasks", {}).items():
        scored = [row["per_class"] for row in r["rows"] if row.get("per_class")]
        classes = list(scored[0]) if scored else []
        unit = next((UNITS.get(c["volume_unit"], c["volume_unit"]) for pc in scored for c in pc.values()
                     if c.get("volume_unit")), "")  # fmt: skip
        out += [
            "",
            f"**{TASK_NAMES.get(task, task)}** (`{r['bundle']}`): {r['recipe']}; scored on {r['num_cases']} unseen "
            f"phantoms (seed {r['seed']}). Per class: Dice (mean abs volume error, {unit}).",
            "",
        ]
        columns: Dict[str, Column] = {"network": "name", "params": "params"}
        columns["train min"] = ok(lambda row: round(row["train_s"] / 60, 1))
        columns["best val Dice"] = ok(lambda row: row.get("best_val_dice"))
        columns["unseen mean Dice"] = ok(lambda row: row["mean_dice"])
        columns.update({name: class_cell(name) for name in classes})
        columns["any lesion sens / spec"] = ok(detection)
        baseline = {"name": "threshold baseline", "baseline": r.get("threshold_baseline") or {}}
        out.append(_table(r["rows"] + [baseline], columns))
    if payload.get("notes"):
        out += ["", " ".join(payload["notes"])]
    return "\n".join(out)


def render_bundle_inference(payload: Dict[str, Any]) -> str:
    """Tables of ``benchmark_bundle_inference.py``: the bundles' own inference by stage, then the network by path."""
    out = ["### Bundle inference on the CPU, by stage (`benchmark_bundle_inference.py`)"]
    runs = [r for r in payload.get("runs", []) if "median_wall_s" in r]
    paths = [r for r in payload.get("runs", []) if "speedup_vs_eager" in r]
    stages = ("read", "resample", "network", "invert", "postprocess", "write")
    if runs:
        columns: Dict[str, Column] = {"run": "tag", "bundle": "bundle", "input": "input"}
        columns["overrides"] = lambda r: ", ".join(sorted(r.get("overrides") or {})) or "-"
        columns.update({f"{k} s": f"median_stages_s.{k}" for k in stages})
        columns["wall s"] = "median_wall_s"
        columns["date, threads, load"] = lambda r: f"{r['date']}, {r['threads']}, {r['load_average'][0]:.1f}"
        out += ["", "Median of the timed runs after a warm-up; stages sum to the wall time.", "", _table(runs, columns)]
    if paths:
        rows = [
            {"run": r["tag"], "input": "x".join(str(s) for s in r["input"]), "path": k, "speedup": v,
             "agreement": f"{100 * r['argmax_agreement'][k]:.3f} %", "warm-up s": r["warmup_s"].get(k),
             "median s": sorted(r["seconds"][k])[len(r["seconds"][k]) // 2]}
            for r in paths for k, v in r["speedup_vs_eager"].items()
        ]  # fmt: skip
        out += [
            "",
            "The network alone on one sliding-window batch, by path (speed-up over eager float32; argmax agreement "
            "with it):",
            "",
            _table(rows),
        ]
    return "\n".join(out)


def render_skull_band(payload: Dict[str, Any]) -> str:
    """Table of ``skull_band_profile.py``: median HU (share at blood density) by distance to bone, per source."""
    out = ["### The blood-dense band under the skull: real head CT and the CT phantoms", "", _machine_line(payload)]

    def cell(rows: Sequence[Dict[str, Any]]) -> str:
        med = [r["median_hu"] for r in rows if r["median_hu"] is not None]
        blood = [r["blood_fraction"] for r in rows if r["blood_fraction"] is not None]
        if not med:
            return "–"
        if len(med) == 1:
            return f"{_fmt(med[0])} ({blood[0]:.0%})"
        return f"{_fmt(min(med))}-{_fmt(max(med))} ({min(blood):.0%}-{max(blood):.0%})"

    table = []
    for src in payload.get("sources", []):
        cases = src.get("cases") or [src["profile"]]
        row: Dict[str, Any] = {"source": src["source"]}
        for b, edge in enumerate(cases[0]):
            row[f"{_fmt(edge['from_mm'])}-{_fmt(edge['to_mm'])} mm"] = cell([c[b] for c in cases])
        table.append(row)
    if table:
        out += [
            "",
            "Median HU of the intracranial voxels by in-plane distance to bone (> 150 HU), in brackets the share at "
            "acute-blood density (50-100 HU); phantoms: the range over the cases.",
            "",
            _table(table),
        ]
    out += _not_run(payload)
    return "\n".join(out)


#: Result file name -> its renderer, in the order of the tables in ``benchmarks/README.md``.
RENDERERS: Dict[str, Callable[[Dict[str, Any]], str]] = {
    "networks_cpu.json": render_networks,
    "inference_cpu.json": render_inference,
    "inference_us_cpu.json": render_inference,
    "training_cpu.json": render_training,
    "hc18_side_by_side_23min_cpu.json": render_hc18_side_by_side,
    "hc18_side_by_side_cpu.json": render_hc18_side_by_side,
    "quality_phantoms_cpu.json": render_phantoms,
    "quality_phantoms_side_by_side_cpu.json": render_phantoms_side_by_side,
    "bundle_inference_cpu.json": render_bundle_inference,
    "skull_band_profile.json": render_skull_band,
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


def main(argv: Optional[Sequence[str]] = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results-dir", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--readme", type=Path, default=ROOT / "benchmarks" / "README.md")
    args = p.parse_args(argv)
    block = render_all(args.results_dir)
    text = args.readme.read_text(encoding="utf-8") if args.readme.is_file() else "# Benchmarks\n"
    atomic_write(args.readme, lambda tmp: tmp.write_text(replace_block(text, block), encoding="utf-8"), overwrite=True)
    print(block)
    return block


if __name__ == "__main__":
    main()
