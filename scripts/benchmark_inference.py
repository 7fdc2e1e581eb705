"""Benchmark the bundles' sliding-window inference on CPU: wall time, voxels/s, peak memory, FLOPs, matmul peak.

For a 512x512x40 head CT volume (``cranialseg.demo`` phantom, or the real tilted GE series repeated to 40
slices with ``--ct-source real``) and a 1442x898 cranial ultrasound frame (the real neonatal standard view in
``../shared/data`` when present, else a demo phantom of that size), runs MONAI's ``SlidingWindowInferer`` with the
bundle's network, ROI and Gaussian blending (read from ``bundle/<name>/configs/inference.json``) through:

- ``monai_unet_eager``: MONAI ``UNet`` with the same channels and strides (``num_res_units=2``), eager;
- ``ours_eager``, ``ours_torchscript`` (scripted and frozen), ``ours_onnxruntime`` (the bundle's
  ``cranialseg.networks.export_onnx`` + ``OnnxRuntimeNetwork``), ``ours_torch_compile`` (inductor, CPU);
- ``ours_lean_eager``, ``ours_lean_onnxruntime``: the bundle network with ``input_stride`` 2 in-plane (its first
  level at half resolution, as MONAI ``UNet``'s; a different network, so kept out of the "best path" goal);

for each ``--overlaps`` x ``--sw-batch-sizes`` setting (a reduced grid for the CT volume by default: see
``--ct-grid``). GPU paths (CUDA eager, AMP fp16/bf16, channels-last) are recorded as not run on a machine
without a GPU. Also times reading a DICOM folder with ``cranialseg.io.load_image`` (the real GE series with
its gantry tilt, and the demo CT series at 512x512x40), and states FLOPs per voxel (network FLOPs of one ROI,
``torch.utils.flop_counter``, divided by its voxels), the sliding-window work (FLOPs per window x windows run)
and the fraction of the measured fp32 matmul peak each path reaches.

Weights are random (speed does not depend on them); the bundle resamples CT to its ``pixdim`` before the
inferer, so a real 512x512 CT at 0.45 mm becomes a smaller grid: the 512x512x40 grid here is the worst case.

Example:
    python scripts/benchmark_inference.py
    python scripts/benchmark_inference.py --tiny --out /tmp/inference.json   # smoke run
"""

from __future__ import annotations

import argparse
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from benchmarking import (
    RESULTS_DIR,
    PeakRSS,
    count_flops,
    count_parameters,
    lean_input_stride,
    load_average,
    machine_info,
    matmul_peak_gflops,
    publish_results,
    read_proc_status_mb,
    time_call,
    write_results,
)
from update_benchmark_tables import render_inference

__all__ = ["main", "bundle_settings", "ct_volume", "us_frame"]

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PATHS = (
    "monai_unet_eager",
    "ours_eager",
    "ours_torchscript",
    "ours_onnxruntime",
    "ours_torch_compile",
    "ours_lean_eager",
    "ours_lean_onnxruntime",
)
GPU_PATHS = ("cuda eager", "cuda AMP fp16", "cuda AMP bf16", "cuda channels-last", "cuda TorchScript/TensorRT")
CT_SECONDS_GOAL = 10.0
BEST_PATH_GOAL = 2.0
UNET_RATIO_GOAL = 1.3


def bundle_settings(bundle: str) -> Dict[str, Any]:
    """``network_def`` (references and expressions resolved), ``roi_size``, ``sw_batch_size``, ``overlap`` of a bundle's
    ``configs/inference.json``."""
    from monai.bundle import ConfigParser

    path = ROOT / "bundle" / bundle / "configs" / "inference.json"
    parser = ConfigParser()
    parser.read_config(str(path))

    def resolve(v: Any) -> Any:
        if isinstance(v, str) and v.startswith("@"):
            return parser.get_parsed_content(v[1:])
        return v

    net_def = {k: parser.get_parsed_content(f"network_def#{k}") for k in parser.get("network_def") if k != "_target_"}
    return {
        "config": str(path.relative_to(ROOT)),
        "network_def": net_def,
        "roi_size": [int(v) for v in resolve(parser.get("roi_size"))],
        "sw_batch_size": int(resolve(parser.get("sw_batch_size"))),
        "overlap": float(resolve(parser.get("overlap"))),
    }


def ct_volume(shape: Sequence[int], source: str) -> Dict[str, Any]:
    """A CT volume ``(x, y, z)`` in HU: the demo phantom at ``shape`` or the real GE series repeated along z."""
    real = SHARED / "head_ct_dicom_ge_tilt"
    if source == "real" and real.is_dir():
        from cranialseg.io import load_image

        arr, _ = load_image(real)
        reps = int(np.ceil(shape[2] / arr.shape[2]))
        vol = np.concatenate([arr] * reps, axis=2)[: shape[0], : shape[1], : shape[2]]
        return {"array": vol.astype(np.float32), "source": f"real GE series {real.name}, repeated along z"}
    from cranialseg.demo import generate_ct_phantom

    spacing = (230.0 / shape[0], 230.0 / shape[1], 5.0)
    ph = generate_ct_phantom(np.random.default_rng([0, 0]), shape=tuple(shape), spacing=spacing)
    return {"array": ph.hu.astype(np.float32), "affine": ph.affine, "source": "cranialseg.demo CT phantom"}


def us_frame(size: Sequence[int]) -> Dict[str, Any]:
    """A grey ultrasound frame ``(x, y)``: the real neonatal standard view of that size, else a demo phantom."""
    views = SHARED / "neonatal_cranial_us" / "StandardViews"
    if views.is_dir():
        from PIL import Image

        for png in sorted(views.rglob("*.png")):
            with Image.open(png) as im:
                if tuple(im.size) == tuple(size):
                    arr = np.asarray(im.convert("L"), dtype=np.float32).T  # (x, y) = (column, row)
                    return {"array": arr, "source": f"real {png.relative_to(SHARED)}"}
    from cranialseg.demo import generate_us_phantom

    ph = generate_us_phantom(np.random.default_rng([0, 0]), size=tuple(size))
    return {"array": ph.image.astype(np.float32), "source": "cranialseg.demo US phantom"}


class _Counter(torch.nn.Module):
    """Counts the windows the inferer sends through ``net``."""

    def __init__(self, net: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.net = net
        self.windows = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.windows += int(x.shape[0])
        return self.net(x)


def _build_path(path: str, net_def: Dict[str, Any], dims: int, roi: Sequence[int], tmp: Path) -> Dict[str, Any]:
    """The predictor of one path, with its build (export/compile) time."""
    from monai.networks.nets import UNet

    from cranialseg.networks import DAResUNet

    torch.manual_seed(0)
    kw = {k: v for k, v in net_def.items() if k not in ("spatial_dims", "in_channels", "out_channels")}
    cin, cout = net_def["in_channels"], net_def["out_channels"]
    t0 = time.perf_counter()
    if path == "monai_unet_eager":
        net = UNet(dims, cin, cout, channels=kw["channels"], strides=kw["strides"], num_res_units=2).eval()
        return {"predictor": net, "params": count_parameters(net), "flops_net": net, "build_s": 0.0}
    if path.startswith("ours_lean_"):  # the lean setting: the first level strided in-plane
        kw["input_stride"] = lean_input_stride(dims)
        path = "ours_" + path[len("ours_lean_") :]
    ours = DAResUNet(dims, cin, cout, **kw).eval()
    info: Dict[str, Any] = {"params": count_parameters(ours), "flops_net": ours}
    example = torch.rand(1, cin, *roi)
    if path == "ours_eager":
        predictor: Any = ours
    elif path == "ours_torchscript":
        predictor = torch.jit.optimize_for_inference(torch.jit.script(ours))
    elif path == "ours_onnxruntime":
        from cranialseg.networks import OnnxRuntimeNetwork, export_onnx

        onnx_file = export_onnx(ours, tmp / "model.onnx", list(example.shape), dynamic_spatial=False, opset=17)
        predictor = OnnxRuntimeNetwork(onnx_file)
    elif path == "ours_torch_compile":
        predictor = torch.compile(ours, dynamic=False)
        with torch.no_grad():
            predictor(example)  # compile now, so the timing excludes it
    else:
        raise ValueError(f"unknown path {path!r}; expected one of {PATHS}.")
    info["predictor"] = predictor
    info["build_s"] = round(time.perf_counter() - t0, 2)
    return info


def run_case(name: str, image: np.ndarray, bundle: str, grid: List[tuple], args: argparse.Namespace) -> Dict[str, Any]:
    """All requested paths and settings on one image (``(x, y[, z])`` array, one channel repeated as needed)."""
    from monai.inferers import SlidingWindowInferer

    s = bundle_settings(bundle)
    net_def = s["network_def"]
    dims = int(net_def["spatial_dims"])
    roi = args.roi if args.roi and len(args.roi) == dims else s["roi_size"]
    cin = int(net_def["in_channels"])
    x = torch.as_tensor(image, dtype=torch.float32)[None, None].repeat(1, cin, *([1] * dims))
    x = (x - x.mean()) / (x.std() + 1e-6)
    voxels = int(np.prod(image.shape))
    case: Dict[str, Any] = {
        "name": name,
        "bundle": bundle,
        "config": s["config"],
        "shape": list(image.shape),
        "roi": list(roi),
        "bundle_overlap": s["overlap"],
        "bundle_sw_batch_size": s["sw_batch_size"],
        "network_def": net_def,
        "rows": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench_inf_") as tmpdir:
        for path in args.paths:
            settings = [g for g in grid if g[0] == path]
            if not settings:
                continue
            row_base: Dict[str, Any] = {"path": path}
            try:
                built = _build_path(path, net_def, dims, roi, Path(tmpdir))
            except Exception as e:  # noqa: BLE001 - recorded, the other paths still run
                traceback.print_exc()
                for _, ov, sw in settings:
                    case["rows"].append(
                        {**row_base, "overlap": ov, "sw_batch_size": sw, "status": "error", "reason": repr(e)[:400]}
                    )
                continue
            try:
                meta_net = built["flops_net"]
                flops_roi = count_flops(meta_net, torch.rand(1, cin, *roi))
            except Exception:  # noqa: BLE001
                flops_roi = None
            for _, overlap, sw in settings:
                row = {
                    **row_base,
                    "overlap": overlap,
                    "sw_batch_size": sw,
                    "params": built["params"],
                    "build_s": built.get("build_s"),
                    "flops_per_voxel": None if flops_roi is None else round(flops_roi / float(np.prod(roi))),
                    "load_average": load_average(),
                }
                counter = _Counter(built["predictor"])
                inferer = SlidingWindowInferer(roi_size=roi, sw_batch_size=sw, overlap=overlap, mode="gaussian")
                try:
                    with torch.no_grad():
                        counter(torch.rand(sw, cin, *roi))  # warm-up: one batch of windows
                        counter.windows = 0
                        warmup = 0 if dims == 3 else args.warmup
                        with PeakRSS() as mem:
                            timing = time_call(
                                lambda inferer=inferer, counter=counter: inferer(x, counter),
                                warmup=warmup,
                                repeats=args.ct_repeats if dims == 3 else args.repeats,
                                max_seconds=args.max_seconds,
                            )
                    windows = counter.windows // (timing["repeats"] + warmup)  # windows of one pass
                    med = timing["median_s"]
                    row.update(
                        status="ok",
                        latency=timing,
                        windows=windows,
                        mvoxels_per_s=round(voxels / med / 1e6, 3),
                        peak_rss_delta_mb=mem.delta_mb,
                        peak_rss_mb=mem.peak_mb,
                    )
                    if flops_roi is not None:
                        gflops = flops_roi * windows / med / 1e9
                        row["achieved_gflops"] = round(gflops, 2)
                        row["fraction_of_matmul_peak"] = round(gflops / args.peak_gflops, 3)
                except Exception as e:  # noqa: BLE001
                    traceback.print_exc()
                    row.update(status="error", reason=f"{type(e).__name__}: {e}"[:400])
                print(
                    f"[{name}] {path} overlap {overlap} sw {sw}: {row.get('latency', {}).get('median_s')} s, "
                    f"{row.get('windows')} windows, +{row.get('peak_rss_delta_mb')} MB ({row['status']})",
                    flush=True,
                )
                case["rows"].append(row)
            del built
    return case


def dicom_read(args: argparse.Namespace, ct_case: Optional[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Time ``cranialseg.io.load_image`` on the real tilted GE series and on the demo CT series (if written)."""
    from cranialseg.io import load_image

    rows = []
    sources = []
    real = SHARED / "head_ct_dicom_ge_tilt"
    if real.is_dir():
        sources.append((real, f"real {real.name} (GE, 28 slices 512x512, 18.5 deg tilt, uneven gaps: resampled)"))
    tmp = None
    if ct_case is not None and ct_case.get("affine") is not None:
        from cranialseg.demo import write_ct_series

        tmp = tempfile.TemporaryDirectory(prefix="bench_dcm_")
        arr = ct_case["array"]
        write_ct_series(np.round(arr).astype(np.int16), ct_case["affine"], tmp.name)
        sources.append((Path(tmp.name), f"demo CT series {list(arr.shape)} ({arr.shape[2]} files)"))
    for folder, label in sources:
        row: Dict[str, Any] = {"source": label, "files": len(list(folder.glob("*.dcm")))}
        try:
            with PeakRSS() as mem:
                timing = time_call(lambda folder=folder: load_image(folder), warmup=1, repeats=args.repeats)
            arr, meta = load_image(folder)
            row.update(
                status="ok",
                latency=timing,
                shape=list(arr.shape),
                peak_rss_delta_mb=mem.delta_mb,
                geometry_fixes=[str(f) for f in (meta.get("geometry_fixes") or [])][:4],
            )
        except Exception as e:  # noqa: BLE001
            row.update(status="error", reason=f"{type(e).__name__}: {e}"[:400])
        print(f"[dicom] {label}: {row.get('latency', {}).get('median_s')} s ({row['status']})", flush=True)
        rows.append(row)
    if tmp is not None:
        tmp.cleanup()
    return rows


def _grid(
    paths: Sequence[str],
    overlaps: Sequence[float],
    sws: Sequence[int],
    reduced: bool,
    bundle: tuple,
    first: Optional[tuple] = None,
) -> list:
    """(path, overlap, sw) settings; ``reduced``: every path at the bundle's setting (and ``first``), the full grid
    for ours eager."""
    out = []
    for p in paths:
        for ov in overlaps:
            for sw in sws:
                if not reduced or p == "ours_eager" or (ov, sw) in (bundle, first):
                    out.append((p, ov, sw))
    return out


def goals(cases: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Goal checks: ours / UNet at the bundle setting, best path / ours eager, CT volume time."""
    out = []
    for case in cases:
        ok_rows = [r for r in case["rows"] if r.get("status") == "ok"]
        settings = [(r["overlap"], r["sw_batch_size"]) for r in ok_rows]
        key = (case["bundle_overlap"], case["bundle_sw_batch_size"])
        if settings and settings.count(key) < 2:  # compare where most paths ran
            key = max(set(settings), key=settings.count)
        at = {
            r["path"]: r["latency"]["median_s"]
            for r in case["rows"]
            if r.get("status") == "ok" and (r["overlap"], r["sw_batch_size"]) == key
        }
        if "ours_eager" in at and "monai_unet_eager" in at:
            v = round(at["ours_eager"] / at["monai_unet_eager"], 2)
            out.append({"goal": f"{case['name']} at {key}: ours eager <= {UNET_RATIO_GOAL}x MONAI UNet", "value": v,
                        "met": v <= UNET_RATIO_GOAL})  # fmt: skip
        ours = {p: t for p, t in at.items() if p.startswith("ours") and not p.startswith("ours_lean")}
        lean = {p: t for p, t in at.items() if p.startswith("ours_lean")}
        if "ours_lean_eager" in lean and "monai_unet_eager" in at:
            v = round(lean["ours_lean_eager"] / at["monai_unet_eager"], 2)
            out.append({"goal": f"{case['name']} at {key}: ours lean eager <= {UNET_RATIO_GOAL}x MONAI UNet",
                        "value": v, "met": v <= UNET_RATIO_GOAL})  # fmt: skip
        if "ours_eager" in ours and len(ours) > 1:
            best = min(ours, key=ours.get)
            v = round(ours["ours_eager"] / ours[best], 2)
            goal = f"{case['name']} at {key}: best path ({best}) >= {BEST_PATH_GOAL}x ours eager"
            out.append({"goal": goal, "value": v, "met": v >= BEST_PATH_GOAL})
        for group in (ours, lean) if case["name"].startswith("CT") else ():
            if group:
                best = min(group, key=group.get)
                out.append({"goal": f"{case['name']}: volume < {CT_SECONDS_GOAL} s on CPU ({best})",
                            "value": group[best], "met": group[best] < CT_SECONDS_GOAL})  # fmt: skip
    return out


def _payload(
    args: argparse.Namespace,
    machine: Dict[str, Any],
    peak: Dict[str, Any],
    cases: List[Dict[str, Any]],
    dicom: List[Dict[str, Any]],
    not_run: List[str],
    t0: float,
) -> Dict[str, Any]:
    return {
        "benchmark": "inference",
        "tiny": args.tiny,
        "machine": machine,
        "load_average_end": load_average(),
        "matmul_peak": peak,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "out"},
        "notes": [
            "CPU, fp32, no grad, random weights; SlidingWindowInferer with Gaussian blending, output on CPU.",
            "flops_per_voxel: network FLOPs of one ROI (torch.utils.flop_counter, matmul/conv only) / ROI voxels.",
            "fraction_of_matmul_peak: FLOPs per window x windows / median time / measured matmul GFLOP/s.",
            "Timings taken on a shared 2-core machine under load: see load_average fields.",
            f"process RSS at the end: {read_proc_status_mb('VmRSS')} MB.",
        ]
        + list(args.note or []),
        "cases": cases,
        "dicom_read": dicom,
        "not_run": not_run + [f"{p}: no GPU on this machine" for p in GPU_PATHS],
        "goals": goals(cases),
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "inference_cpu.json")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cases", nargs="+", default=["us", "ct"], choices=["ct", "us"])
    p.add_argument("--ct-shape", type=int, nargs=3, default=[512, 512, 40])
    p.add_argument("--ct-source", default="demo", choices=["demo", "real"])
    p.add_argument("--us-size", type=int, nargs=2, default=[1442, 898])
    p.add_argument("--paths", nargs="+", default=list(PATHS), choices=list(PATHS))
    p.add_argument("--overlaps", type=float, nargs="+", default=[0.25, 0.5])
    p.add_argument("--sw-batch-sizes", type=int, nargs="+", default=[1, 4])
    p.add_argument(
        "--ct-grid", default="reduced", choices=["reduced", "full"],
        help="reduced: every path at the bundle's overlap/sw_batch_size, the full grid for ours eager",
    )  # fmt: skip
    p.add_argument(
        "--ct-paths", nargs="+", choices=list(PATHS),
        default=["monai_unet_eager", "ours_eager", "ours_onnxruntime", "ours_lean_eager", "ours_lean_onnxruntime"],
        help="paths run on the CT volume with the reduced grid (first overlap, last sw batch size)",
    )  # fmt: skip
    p.add_argument(
        "--us-grid", default="reduced", choices=["reduced", "full"],
        help="reduced: every path at the bundle's setting and at first overlap / last sw batch; eager everywhere",
    )  # fmt: skip
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--ct-repeats", type=int, default=1)
    p.add_argument(
        "--warmup", type=int, default=1,
        help="untimed sliding-window passes before timing the US frame (torch.compile specialises on the last, "
        "smaller batch of windows during the first pass); the CT volume gets none (CPU budget)",
    )  # fmt: skip
    p.add_argument("--max-seconds", type=float, default=120.0, help="stop repeating a setting after this")
    p.add_argument("--roi", type=int, nargs="*", default=None, help="override the bundle's ROI (same dims)")
    p.add_argument("--note", action="append", help="a note to store in the JSON (repeatable)")
    p.add_argument("--no-dicom", action="store_true", help="skip the DICOM read timing")
    p.add_argument("--tiny", action="store_true", help="smoke setting: 64x64x16 CT, 160x128 US, eager paths")
    args = p.parse_args(argv)
    if args.tiny:
        args.ct_shape, args.us_size = [64, 64, 16], [160, 128]
        args.repeats, args.ct_repeats = 1, 1
        if args.paths == list(PATHS):
            args.paths = ["monai_unet_eager", "ours_eager"]
        args.overlaps, args.sw_batch_sizes = args.overlaps[:1], args.sw_batch_sizes[-1:]
    return args


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    machine = machine_info()
    peak = matmul_peak_gflops(n=512 if args.tiny else 2048)
    args.peak_gflops = peak["median_gflops"]
    cases, ct = [], None
    not_run: List[str] = []
    for which in args.cases:
        if which == "ct":
            ct = ct_volume(args.ct_shape, args.ct_source)
            bundle = "head_ct_haemorrhage_segmentation"
            s = bundle_settings(bundle)
            if args.ct_grid == "full":
                grid = _grid(args.paths, args.overlaps, args.sw_batch_sizes, False, (0, 0))
            else:  # the CPU budget: a few paths at one setting (time scales with the window count)
                grid = [(p, args.overlaps[0], args.sw_batch_sizes[-1]) for p in args.paths if p in args.ct_paths]
                skipped = [p for p in args.paths if p not in args.ct_paths]
                if skipped:
                    not_run.append(f"CT volume, {', '.join(skipped)}: CPU time budget (see the US frame)")
                not_run.append(
                    f"CT volume, overlap/sw_batch_size other than {args.overlaps[0]}/{args.sw_batch_sizes[-1]} "
                    "(--ct-grid full): CPU time budget; time scales with the window count"
                )
            name = "CT " + "x".join(map(str, args.ct_shape))
            case = run_case(name, ct["array"], bundle, grid, args)
            case["source"] = ct["source"]
        else:
            us = us_frame(args.us_size)
            s = bundle_settings("cranial_us_ventricle_segmentation")
            reduced = args.us_grid == "reduced"
            first = (args.overlaps[0], args.sw_batch_sizes[-1])
            grid = _grid(
                args.paths, args.overlaps, args.sw_batch_sizes, reduced, (s["overlap"], s["sw_batch_size"]), first
            )
            case = run_case("US " + "x".join(map(str, args.us_size)), us["array"],
                            "cranial_us_ventricle_segmentation", grid, args)  # fmt: skip
            case["source"] = us["source"]
        cases.append(case)
        write_results(args.out, _payload(args, machine, peak, cases, [], not_run + ["(partial: run in progress)"], t0))
    dicom = [] if args.no_dicom else dicom_read(args, ct)
    payload = _payload(args, machine, peak, cases, dicom, not_run, t0)
    return publish_results(args.out, payload, render_inference)


if __name__ == "__main__":
    main()
