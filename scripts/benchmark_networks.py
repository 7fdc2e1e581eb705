"""Benchmark the networks on CPU: parameters, FLOPs, median forward latency and peak memory, side by side.

Measures this project's ``DAResUNet`` (the dual-attention default and each ``variant``) next to MONAI's ``UNet``
(``num_res_units=2``, same channels), ``AttentionUnet`` (same channels) and ``SegResNet`` (``init_filters`` =
first channel count), on a 2D batch ``4x1x256x256`` (3 classes, the ultrasound task) and a 3D volume
``1x1x96x96x96`` (6 classes, the CT task), plus the default network through TorchScript and ONNX Runtime.

- FLOPs: ``torch.utils.flop_counter`` on the meta device (matmuls, convolutions; no element-wise work).
- Latency: median of ``--repeats`` no-grad forwards after ``--warmup`` untimed ones, ``--threads`` torch threads.
- Peak memory: growth of the process's resident-set high-water mark during the timed forwards (``/proc``).
- A configuration whose estimated attention memory exceeds ``--max-gb`` (the dense attention matrices of the
  windowed self-attention, five alive at once) is recorded as skipped with the reason; one whose first
  forward exceeds ``--max-forward-s`` keeps that single timing (``"status": "partial"``).

Results: one JSON file (``benchmarks/results/networks_cpu.json`` by default) with the machine block of
:func:`benchmarking.machine_info` (``scripts/benchmarking.py``), the rows and the goal checks (ours <= 1.3x MONAI
``UNet`` latency; ONNX Runtime >= 2x eager); ``scripts/update_benchmark_tables.py`` turns it into the table in
``benchmarks/README.md``.

Example:
    python scripts/benchmark_networks.py --threads 2
    python scripts/benchmark_networks.py --tiny --out /tmp/networks.json   # a smoke run in seconds
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch

from benchmarking import (
    RESULTS_DIR,
    PeakRSS,
    count_flops,
    count_parameters,
    load_average,
    machine_info,
    matmul_peak_gflops,
    publish_results,
    time_call,
)
from update_benchmark_tables import render_networks

__all__ = ["main", "model_specs", "estimate_attention_gb"]

LATENCY_GOAL = 1.3  # ours / MONAI UNet, same channels
ORT_GOAL = 2.0  # eager / ONNX Runtime
ATTENTION_LIVE_COPIES = 5  # logits, softmax, relu^2 and the two weighted terms are alive at once in SAL


def sal_levels_of(net: torch.nn.Module) -> List[int]:
    """The levels whose skip refinement holds a sparse attention layer (the network's resolved ``sal_levels``)."""
    from cranialseg.networks.blocks import SparseAttentionLayer

    refine = getattr(net, "refine", [])
    return [i for i, level in enumerate(refine) if any(isinstance(m, SparseAttentionLayer) for m in level.modules())]


def _first_level_stride(settings: Dict[str, Any]) -> int:
    """The first level's stride of a network's settings: ``input_stride``, or 2 for the efficient preset (its
    first level strided by ``strides[0]``, as MONAI UNet's; the deepest level keeps the resolution above, so the
    estimate's worst level is unchanged)."""
    return int(settings.get("input_stride", 2 if settings.get("preset") == "efficient" else 1))


def estimate_attention_gb(
    input_shape: Sequence[int],
    channels: Sequence[int],
    sal_levels: Optional[Sequence[int]],
    *,
    window: int = 8,
    num_heads: int = 8,
    stride: int = 2,
    input_stride: int = 1,
    live_copies: int = ATTENTION_LIVE_COPIES,
) -> float:
    """Peak memory (GB) of the windowed attention matrices of the worst self-attention level (fp32).

    Each level ``i`` sees ``spatial / (input_stride * stride**i)``; its ``(batch * windows, heads, n, n)`` matrices
    (``n`` tokens per window, the window shrunk to the map) take ``4 * live_copies`` bytes per element.
    """
    batch, spatial = input_shape[0], list(input_shape[2:])
    levels = range(len(channels)) if sal_levels is None else sal_levels
    worst = 0.0
    for i in levels:
        size = [max(1, s // (input_stride * stride**i)) for s in spatial]
        win = [min(window, s) for s in size]
        n_windows = math.prod(math.ceil(s / w) for s, w in zip(size, win))
        heads = min(num_heads, channels[i])
        n = math.prod(win)
        worst = max(worst, batch * n_windows * heads * n * n * 4.0 * live_copies / 1e9)
    return round(worst, 2)


def model_specs(spatial_dims: int, channels: Sequence[int]) -> List[Dict[str, Any]]:
    """The networks to compare: name, family, settings and a factory building the module (out channels = task)."""
    from monai.networks.nets import AttentionUnet, SegResNet, UNet

    from cranialseg.networks import DAResUNet

    out = 3 if spatial_dims == 2 else 6
    strides = (2,) * (len(channels) - 1)
    ch = tuple(channels)

    def ours(variant: str, **kw: Any) -> Callable[[], torch.nn.Module]:
        return lambda: DAResUNet(spatial_dims, 1, out, channels=ch, strides=strides, variant=variant, **kw)

    heads_per_level = [max(1, min(8, c // 16)) for c in ch]  # (1, 2, 4, 8, 8) for the default widths
    specs: List[Dict[str, Any]] = [
        {"name": "ours dual_attention (default)", "family": "ours", "variant": "dual_attention", "sal_levels": None},
        {
            "name": "ours dual_attention sal_levels=(2,3,4)",
            "family": "ours",
            "variant": "dual_attention",
            "sal_levels": [2, 3, 4],
        },
        {
            "name": "ours dual_attention num_heads=channels/16",
            "family": "ours",
            "variant": "dual_attention",
            "sal_levels": None,
            "num_heads": heads_per_level,
        },
        {  # MONAI UNet's layout: the first level strided (its first channels run at half resolution)
            "name": "ours dual_attention lean (input_stride=2, num_heads=channels/16)",
            "family": "ours",
            "variant": "dual_attention",
            "sal_levels": None,
            "num_heads": heads_per_level,
            "input_stride": 2,
        },
        {"name": "ours resunet", "family": "ours", "variant": "resunet", "sal_levels": None},
        {
            "name": "ours resunet lean (input_stride=2)",
            "family": "ours",
            "variant": "resunet",
            "sal_levels": None,
            "input_stride": 2,
        },
        {"name": "ours csr_unet", "family": "ours", "variant": "csr_unet", "sal_levels": None},
        {"name": "ours attention_gated", "family": "ours", "variant": "attention_gated", "sal_levels": None},
        {  # issue 15: levels at MONAI UNet's resolutions, one-conv decoder, image fused on the first level's grid
            "name": "ours dual_attention efficient (preset, sal_levels from 2)",
            "family": "ours",
            "variant": "dual_attention",
            "sal_levels": [2, 3, 4][: max(0, len(ch) - 2)],
            "preset": "efficient",
        },
    ]
    for s in specs:
        kw: Dict[str, Any] = {} if s["sal_levels"] is None else {"sal_levels": tuple(s["sal_levels"])}
        if s.get("num_heads"):
            kw["num_heads"] = tuple(s["num_heads"])
        if s.get("input_stride"):
            kw["input_stride"] = s["input_stride"]
        if s.get("preset"):
            kw["preset"] = s["preset"]
        s["factory"] = ours(s["variant"], **kw)
        s["settings"] = {"channels": list(ch), "strides": list(strides), "variant": s["variant"], **kw}
    specs += [
        {
            "name": "MONAI UNet (num_res_units=2)",
            "family": "monai",
            "factory": lambda: UNet(spatial_dims, 1, out, channels=ch, strides=strides, num_res_units=2),
            "settings": {"channels": list(ch), "strides": list(strides), "num_res_units": 2},
        },
        {
            "name": "MONAI AttentionUnet",
            "family": "monai",
            "factory": lambda: AttentionUnet(spatial_dims, 1, out, channels=ch, strides=strides),
            "settings": {"channels": list(ch), "strides": list(strides)},
        },
        {
            "name": "MONAI SegResNet",
            "family": "monai",
            "factory": lambda: SegResNet(spatial_dims, init_filters=max(8, ch[0]), in_channels=1, out_channels=out),
            "settings": {"init_filters": max(8, ch[0]), "blocks_down": [1, 2, 2, 4]},
        },
    ]
    return specs


def _measure(fn: Callable[[], Any], args: argparse.Namespace) -> Dict[str, Any]:
    """First call (timed, guards the budget), then warm-up and timed repeats under the peak-RSS probe."""
    t0 = time.perf_counter()
    with PeakRSS() as first_mem:
        fn()
    first = time.perf_counter() - t0
    row: Dict[str, Any] = {"first_call_s": round(first, 4), "first_call_peak_rss_delta_mb": first_mem.delta_mb}
    if first > args.max_forward_s:
        row.update(
            status="partial",
            reason=f"first forward took {first:.0f} s > {args.max_forward_s:.0f} s: one timing only",
            latency={"median_s": round(first, 4), "repeats": 1},
            peak_rss_delta_mb=first_mem.delta_mb,
            peak_rss_mb=first_mem.peak_mb,
        )
        return row
    with PeakRSS() as mem:
        row["latency"] = time_call(
            fn, warmup=max(0, args.warmup - 1), repeats=args.repeats, max_seconds=args.max_seconds_per_config
        )
    row.update(status="ok", peak_rss_delta_mb=mem.delta_mb, peak_rss_mb=mem.peak_mb)
    return row


def _flops(factory: Callable[[], torch.nn.Module], shape: Sequence[int]) -> Optional[int]:
    try:
        with torch.device("meta"):
            net = factory().eval()
            x = torch.empty(*shape)
        return count_flops(net, x)
    except Exception:  # noqa: BLE001 - a model the meta device cannot run: FLOPs unknown, not fatal
        return None


def _export_rows(
    spec: Dict[str, Any], net: torch.nn.Module, x: torch.Tensor, eager: Dict[str, Any], args: argparse.Namespace
) -> List[Dict[str, Any]]:
    """TorchScript and ONNX Runtime rows for one of our networks (same input, same threads)."""
    from cranialseg.networks.export import export_onnx, export_torchscript

    rows = []
    base = {k: eager[k] for k in ("name", "family", "spatial_dims", "input_shape", "params", "gflops", "settings")}
    with tempfile.TemporaryDirectory(prefix="bench_net_") as tmp:
        if "torchscript" in args.backends:
            row = {**base, "backend": "torchscript"}
            try:
                t0 = time.perf_counter()
                path = export_torchscript(net, Path(tmp) / "net.ts")
                scripted = torch.jit.load(str(path)).eval()
                row["export_s"] = round(time.perf_counter() - t0, 2)
                with torch.no_grad():
                    torch.testing.assert_close(scripted(x), net(x), rtol=1e-3, atol=1e-3)
                    row.update(_measure(lambda: scripted(x), args))
            except Exception as e:  # noqa: BLE001 - recorded in the results, the run goes on
                row.update(status="error", reason=f"{type(e).__name__}: {e}"[:500])
            rows.append(row)
        if "onnxruntime" in args.backends:
            row = {**base, "backend": "onnxruntime"}
            try:
                import onnxruntime as ort

                t0 = time.perf_counter()
                path = Path(tmp) / "net.onnx"
                if args.onnx_exporter == "dynamo":  # dynamic batch and spatial sizes (slow to export)
                    export_onnx(net, path, list(x.shape))
                else:  # the bundle's path: TorchScript-based exporter, fixed ROI, dynamic batch
                    export_onnx(net, path, list(x.shape), dynamic_spatial=False, opset=17)
                row["onnx_exporter"] = args.onnx_exporter
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = args.threads
                opts.inter_op_num_threads = 1
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
                row["export_s"] = round(time.perf_counter() - t0, 2)
                name = sess.get_inputs()[0].name
                feed = {name: x.numpy()}
                with torch.no_grad():
                    ref = net(x).numpy()
                got = sess.run(None, feed)[0]
                row["max_abs_diff_vs_eager"] = float(abs(got - ref).max())
                row["onnxruntime_version"] = ort.__version__
                row.update(_measure(lambda: sess.run(None, feed), args))
            except Exception as e:  # noqa: BLE001
                row.update(status="error", reason=f"{type(e).__name__}: {e}"[:500])
            rows.append(row)
    return rows


def run_dims(spatial_dims: int, args: argparse.Namespace) -> List[Dict[str, Any]]:
    """Every model (and the export backends for ours) on one input shape."""
    if spatial_dims == 2:
        shape = [args.batch2d, 1, args.size2d, args.size2d]
    else:
        shape = [1, 1, args.size3d, args.size3d, args.size3d]
    rows: List[Dict[str, Any]] = []
    exported = False
    for spec in model_specs(spatial_dims, args.channels):
        if args.models and not any(m in spec["name"] for m in args.models):
            continue
        torch.manual_seed(0)
        net = spec["factory"]().eval()
        flops = _flops(spec["factory"], shape)
        row: Dict[str, Any] = {
            "name": spec["name"],
            "family": spec["family"],
            "backend": "eager",
            "spatial_dims": spatial_dims,
            "input_shape": shape,
            "params": count_parameters(net),
            "gflops": None if flops is None else round(flops / 1e9, 3),
            "settings": spec["settings"],
            "load_average": load_average(),
        }
        sal = spec.get("variant") == "dual_attention"
        if sal:
            row["attention_estimate_gb"] = estimate_attention_gb(
                shape, args.channels, sal_levels_of(net), input_stride=_first_level_stride(spec["settings"])
            )
        print(f"[{spatial_dims}D] {spec['name']}: params {row['params']:,}, GFLOPs {row['gflops']}", flush=True)
        if sal and row["attention_estimate_gb"] > args.max_gb:
            row.update(
                status="skipped",
                reason=(
                    f"estimated attention memory {row['attention_estimate_gb']} GB > {args.max_gb} GB "
                    f"(8-token windows at full resolution); run sal_levels=(2,3,4) instead"
                ),
            )
            rows.append(row)
            print(f"    skipped: {row['reason']}", flush=True)
            continue
        x = torch.rand(*shape)
        try:
            with torch.no_grad():
                row.update(_measure(lambda net=net, x=x: net(x), args))
        except Exception as e:  # noqa: BLE001
            row.update(status="error", reason=f"{type(e).__name__}: {e}"[:500])
            traceback.print_exc()
        rows.append(row)
        print(f"    eager: {row.get('latency', {}).get('median_s')} s, +{row.get('peak_rss_delta_mb')} MB", flush=True)
        # export backends: the default network, or the first dual-attention one that ran
        if sal and not exported and row["status"] == "ok" and set(args.backends) - {"eager"}:
            exported = True
            for r in _export_rows(spec, net, x, row, args):
                r["load_average"] = load_average()
                rows.append(r)
                print(f"    {r['backend']}: {r.get('latency', {}).get('median_s')} s ({r['status']})", flush=True)
        del net
    return rows


def _median(
    rows: List[Dict[str, Any]], dims: int, name_prefix: str, backend: str = "eager", key: str = "median_s"
) -> Optional[float]:
    found = [
        r for r in rows if r["spatial_dims"] == dims and r["name"].startswith(name_prefix) and r["backend"] == backend
    ]
    found.sort(key=lambda r: r["name"] != name_prefix)  # an exact name first ("ours resunet", not "... lean")
    for r in found:
        if r.get("status") in ("ok", "partial"):
            return r["latency"].get(key, r["latency"]["median_s"])
    return None


def goals(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Goal checks per dimensionality: ours / MONAI UNet latency and eager / ONNX Runtime speed-up."""
    out = []
    for dims in sorted({r["spatial_dims"] for r in rows}):
        unet = _median(rows, dims, "MONAI UNet")
        for ours in (
            "ours dual_attention (default)",
            "ours dual_attention sal_levels",
            "ours dual_attention num_heads",
            "ours dual_attention lean",
            "ours resunet",
            "ours resunet lean",
        ):
            t = _median(rows, dims, ours)
            if t is not None and unet:
                ratio = round(t / unet, 2)
                t_min, unet_min = _median(rows, dims, ours, key="min_s"), _median(rows, dims, "MONAI UNet", key="min_s")
                out.append(
                    {
                        "goal": f"{ours} latency <= {LATENCY_GOAL}x MONAI UNet",
                        "spatial_dims": dims,
                        "value": ratio,
                        "value_from_min_times": round(t_min / unet_min, 2) if t_min and unet_min else None,
                        "met": ratio <= LATENCY_GOAL,
                    }
                )
        for prefix in ("ours dual_attention (default)", "ours dual_attention sal_levels"):
            eager, onnx = _median(rows, dims, prefix), _median(rows, dims, prefix, "onnxruntime")
            script = _median(rows, dims, prefix, "torchscript")
            if eager and onnx:
                speed = round(eager / onnx, 2)
                e_min, o_min = (
                    _median(rows, dims, prefix, key="min_s"),
                    _median(rows, dims, prefix, "onnxruntime", "min_s"),
                )
                out.append(
                    {
                        "goal": f"{prefix}: ONNX Runtime >= {ORT_GOAL}x eager",
                        "spatial_dims": dims,
                        "value": speed,
                        "value_from_min_times": round(e_min / o_min, 2) if e_min and o_min else None,
                        "met": speed >= ORT_GOAL,
                        "torchscript_speedup": None if not script else round(eager / script, 2),
                    }
                )
    return out


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "networks_cpu.json", help="results JSON")
    p.add_argument("--dims", type=int, nargs="+", default=[2, 3], choices=[2, 3])
    p.add_argument("--threads", type=int, default=2, help="torch and ONNX Runtime intra-op threads")
    p.add_argument("--channels", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    p.add_argument("--batch2d", type=int, default=4)
    p.add_argument("--size2d", type=int, default=256)
    p.add_argument("--size3d", type=int, default=96)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-seconds-per-config", type=float, default=60.0, help="stop repeating after this")
    p.add_argument("--max-gb", type=float, default=16.0, help="skip configurations estimated above this")
    p.add_argument("--max-forward-s", type=float, default=120.0, help="one timing only above this")
    p.add_argument(
        "--backends", nargs="+", default=["eager", "torchscript", "onnxruntime"],
        choices=["eager", "torchscript", "onnxruntime"], help="backends for ours (MONAI nets: eager)",
    )  # fmt: skip
    p.add_argument(
        "--onnx-exporter", default="torchscript", choices=["torchscript", "dynamo"],
        help="torchscript: fixed ROI, the bundle's export_onnx (fast); dynamo: dynamic shapes (minutes to export)",
    )  # fmt: skip
    p.add_argument("--models", nargs="*", default=None, help="substrings of model names to keep (default all)")
    p.add_argument("--tiny", action="store_true", help="smoke setting: 1x1x32x32 / 1x1x32^3, channels 8..128")
    args = p.parse_args(argv)
    if args.tiny:
        args.channels, args.batch2d, args.size2d, args.size3d = [8, 16, 32, 64, 128], 1, 32, 32
        args.repeats, args.warmup = min(args.repeats, 2), min(args.warmup, 1)
    return args


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    warnings.simplefilter("ignore")  # exporter and tracer chatter
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    machine = machine_info()
    peak = matmul_peak_gflops(n=512 if args.tiny else 2048)
    rows: List[Dict[str, Any]] = []
    for dims in args.dims:
        rows += run_dims(dims, args)
    payload = {
        "benchmark": "networks",
        "tiny": args.tiny,
        "machine": machine,
        "load_average_end": load_average(),
        "matmul_peak": peak,
        "settings": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k not in ("out", "models")
        },
        "notes": [
            "CPU, no-grad forward, fp32; FLOPs from torch.utils.flop_counter (matmul/conv only) on the meta device.",
            "peak_rss_delta_mb: growth of the process's resident high-water mark during the timed forwards.",
            "Timings taken on a shared machine under load: see machine.load_average and each row's load_average.",
            "ONNX Runtime keeps its memory arena from the first call, so its growth during the timed calls reads "
            "near 0: see first_call_peak_rss_delta_mb.",
        ],
        "rows": rows,
        "goals": goals(rows),
        "wall_s": None,
    }
    payload["wall_s"] = round(time.perf_counter() - t0, 1)
    return publish_results(args.out, payload, render_networks)


if __name__ == "__main__":
    main()
