"""Benchmark one training step on CPU: samples/s and peak memory, this project's networks vs MONAI ``UNet``.

A step is forward, ``DiceCELoss`` (softmax, one-hot labels), backward and an Adam update, fp32, on random
inputs and labels: 2D batch ``8x1x256x256`` (ultrasound bundle network, 3 classes) and 3D batch
``2x3x96x96x96`` (head CT bundle network, 3 CT windows in, 6 classes). "Ours" is each bundle's
``network_def`` (``bundle/<name>/configs/train.json``); ``--models`` also takes ``default`` (the dual-attention
default ``DAResUNet`` with 16-32-64-128-256 channels), ``resunet`` and ``lean`` (the bundle network with
``input_stride`` 2 in-plane: its first level at half resolution, as MONAI ``UNet``'s). MONAI ``UNet`` uses the
same channels and strides with ``num_res_units=2``. The median of ``--repeats`` steps after ``--warmup`` is
reported, with the growth of the resident-set high-water mark during those steps. GPU with AMP is recorded as not
run on a machine without a GPU.

``--compare-bundles`` (issue 15) instead times, interleaved in one run, each bundle's own ``network_def`` at its own
training input (``batch_size`` x ``roi_size`` of ``train.json``, plus larger sizes from ``--us-sizes`` /
``--ct-sizes``) in its ``"faithful"`` and ``"efficient"`` presets against MONAI ``UNet`` with the same channels and
strides, ``num_res_units`` 1 (the bundles' value) and 2 (one ``UNet`` residual unit per convolution pair, the
count of our residual block): one training step (forward, ``DiceCELoss``, backward, Adam) and one no-grad forward.
Every round runs each network once in turn, so a change in machine load hits all of them alike; the ratios to
``UNet`` are computed per round and their median reported (results:
``benchmarks/results/bundle_networks_vs_unet_cpu.json``).

Example:
    python scripts/benchmark_training.py
    python scripts/benchmark_training.py --tiny --out /tmp/training.json   # smoke run
    python scripts/benchmark_training.py --compare-bundles --threads 1
"""

from __future__ import annotations

import argparse
import math
import statistics
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
    lean_input_stride,
    load_average,
    machine_info,
    publish_results,
    time_call,
)
from update_benchmark_tables import render_bundle_networks, render_training

__all__ = ["compare_bundles", "main", "train_network_def"]

ROOT = Path(__file__).resolve().parents[1]
BUNDLES = {2: "cranial_us_ventricle_segmentation", 3: "head_ct_haemorrhage_segmentation"}


def train_network_def(bundle: str) -> Dict[str, Any]:
    """The ``network_def`` a bundle trains (kept in ``configs/inference.json``, which ``train.json`` reads),
    references and expressions resolved (no ``_target_``)."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(ROOT / "bundle" / bundle / "configs" / "inference.json"))
    keys = [k for k in dict(parser.get("network_def")) if k != "_target_"]
    return {k: parser.get_parsed_content(f"network_def#{k}") for k in keys}


def _build(model: str, dims: int, net_def: Dict[str, Any], channels: Optional[Sequence[int]]) -> torch.nn.Module:
    from monai.networks.nets import UNet

    from cranialseg.networks import DAResUNet

    kw = {k: v for k, v in net_def.items() if k not in ("spatial_dims", "in_channels", "out_channels")}
    if channels:  # --tiny: narrower networks, same structure
        kw["channels"] = list(channels)[: len(kw["channels"])]
    cin, cout = net_def["in_channels"], net_def["out_channels"]
    if model == "ours":
        return DAResUNet(dims, cin, cout, **kw)
    if model == "resunet":
        return DAResUNet(dims, cin, cout, **{**kw, "variant": "resunet"})
    if model == "lean":
        return DAResUNet(dims, cin, cout, **{**kw, "input_stride": lean_input_stride(dims)})
    if model == "default":
        ch = list(channels) if channels else [16, 32, 64, 128, 256]
        return DAResUNet(dims, cin, cout, channels=ch, strides=[2] * (len(ch) - 1))
    if model == "monai_unet":
        return UNet(dims, cin, cout, channels=kw["channels"], strides=kw["strides"], num_res_units=2)
    raise ValueError(f"unknown model {model!r}; expected 'ours', 'resunet', 'lean', 'default' or 'monai_unet'.")


def run(dims: int, model: str, args: argparse.Namespace) -> Dict[str, Any]:
    """Time training steps of one network on one input size."""
    from monai.losses import DiceCELoss

    bundle = BUNDLES[dims]
    net_def = train_network_def(bundle)
    size = args.size2d if dims == 2 else args.size3d
    batch = args.batch2d if dims == 2 else args.batch3d
    shape = [batch, int(net_def["in_channels"])] + [size] * dims
    torch.manual_seed(0)
    net = _build(model, dims, net_def, args.channels).train()
    row: Dict[str, Any] = {
        "name": {"ours": f"ours ({bundle} network_def)", "monai_unet": "MONAI UNet (num_res_units=2)"}.get(
            model, f"ours {model}"
        ),
        "model": model,
        "spatial_dims": dims,
        "input_shape": shape,
        "params": count_parameters(net),
        "load_average": load_average(),
    }
    x = torch.rand(*shape)
    y = torch.randint(0, int(net_def["out_channels"]), [batch, 1] + [size] * dims)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return float(loss)

    try:
        t0 = time.perf_counter()
        step()  # first step: allocations, optimizer state
        row["first_step_s"] = round(time.perf_counter() - t0, 3)
        with PeakRSS() as mem:
            timing = time_call(step, warmup=max(0, args.warmup - 1), repeats=args.repeats, max_seconds=args.max_seconds)
        row.update(
            status="ok",
            latency=timing,
            samples_per_s=round(batch / timing["median_s"], 3),
            peak_rss_delta_mb=mem.delta_mb,
            peak_rss_mb=mem.peak_mb,
        )
    except Exception as e:  # noqa: BLE001 - recorded in the results
        traceback.print_exc()
        row.update(status="error", reason=f"{type(e).__name__}: {e}"[:400])
    print(f"[{dims}D] {row['name']}: {row.get('latency', {}).get('median_s')} s/step ({row['status']})", flush=True)
    return row


#: The presets compared with ``--compare-bundles``: the settings that make each (the rest is the bundle's network_def)
PRESET_SETTINGS = {
    "faithful": {"preset": "faithful", "sparse_norm": "none"},
    "efficient": {"preset": "efficient", "sparse_norm": "sum"},
}
_PRESET_KEYS = ("preset", "sparse_norm", "stride_layout", "decoder_block", "full_res_channels", "input_stride")
STEP_GOAL, FORWARD_GOAL = 2.0, 1.5  # issue 15 goal 1: ours / MONAI UNet, same channels and strides


def bundle_training_input(bundle: str) -> List[int]:
    """``[batch_size, in_channels, *roi_size]`` of a bundle's ``train.json`` (its training input)."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(ROOT / "bundle" / bundle / "configs" / "train.json"))
    roi = [int(v) for v in parser.get_parsed_content("roi_size")]
    return [int(parser.get_parsed_content("batch_size")), int(train_network_def(bundle)["in_channels"])] + roi


def _comparison_networks(net_def: Dict[str, Any], presets: Sequence[str], channels: Optional[Sequence[int]]):
    """``{name: module}``: the bundle network in each preset and MONAI UNet (num_res_units 1 and 2)."""
    from monai.networks.nets import UNet

    from cranialseg.networks import DAResUNet

    kw = {k: v for k, v in net_def.items() if k not in ("spatial_dims", "in_channels", "out_channels", *_PRESET_KEYS)}
    if channels:  # --tiny
        kw["channels"] = list(channels)[: len(kw["channels"])]
        kw["num_heads"] = 2
    dims, cin, cout = int(net_def["spatial_dims"]), int(net_def["in_channels"]), int(net_def["out_channels"])
    nets: Dict[str, torch.nn.Module] = {}
    for preset in presets:
        torch.manual_seed(0)
        nets[preset] = DAResUNet(dims, cin, cout, **{**kw, **PRESET_SETTINGS[preset]})
    for nru in (1, 2):
        torch.manual_seed(0)
        nets[f"monai_unet_nru{nru}"] = UNet(
            dims, cin, cout, channels=kw["channels"], strides=kw["strides"], num_res_units=nru
        )
    return nets


def _interleaved(fns: Dict[str, Callable[[], Any]], rounds: int) -> Dict[str, List[float]]:
    """Seconds per call of every function, one call of each per round in turn, after one untimed round."""
    for fn in fns.values():
        fn()
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return times


def _ratios(times: Dict[str, List[float]], ours: str, ref: str) -> Dict[str, float]:
    per_round = [a / b for a, b in zip(times[ours], times[ref])]
    return {"median": round(statistics.median(per_round), 3), "min": round(min(per_round), 3),
            "max": round(max(per_round), 3)}  # fmt: skip


def compare_case(bundle: str, shape: Sequence[int], presets: Sequence[str], args: argparse.Namespace) -> Dict[str, Any]:
    """Interleaved training-step and forward times of one bundle's networks vs MONAI UNet on one input shape."""
    from monai.losses import DiceCELoss

    net_def = train_network_def(bundle)
    nets = _comparison_networks(net_def, presets, args.channels)
    shape = list(shape)
    x = torch.rand(*shape)
    y = torch.randint(0, int(net_def["out_channels"]), [shape[0], 1] + shape[2:])
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    opts = {k: torch.optim.Adam(n.parameters(), lr=1e-4) for k, n in nets.items()}

    def step(name: str) -> Callable[[], None]:
        def run_step() -> None:
            net, opt = nets[name].train(), opts[name]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(x), y).backward()
            opt.step()

        return run_step

    def forward(name: str) -> Callable[[], None]:
        def run_forward() -> None:
            with torch.no_grad():
                nets[name].eval()(x)

        return run_forward

    row: Dict[str, Any] = {
        "bundle": bundle,
        "spatial_dims": int(net_def["spatial_dims"]),
        "input_shape": shape,
        "bundle_input": shape == bundle_training_input(bundle),
        "params": {k: count_parameters(n) for k, n in nets.items()},
        "load_average_start": load_average(),
    }
    try:
        voxels = math.prod(shape[2:])
        one = torch.rand(*([1] + shape[1:]))
        row["kflop_per_voxel"] = {k: round(count_flops(n.eval(), one) / voxels / 1e3, 1) for k, n in nets.items()}
        for kind, make, rounds in (("step", step, args.rounds), ("forward", forward, args.rounds)):
            times = _interleaved({k: make(k) for k in nets}, rounds)
            row[f"{kind}_median_s"] = {k: round(statistics.median(v), 4) for k, v in times.items()}
            row[f"{kind}_times_s"] = {k: [round(t, 4) for t in v] for k, v in times.items()}
            row[f"{kind}_ratio"] = {
                f"{p}/{ref}": _ratios(times, p, ref) for p in presets for ref in ("monai_unet_nru1", "monai_unet_nru2")
            }
        row["status"] = "ok"
    except Exception as e:  # noqa: BLE001 - recorded in the results
        traceback.print_exc()
        row.update(status="error", reason=f"{type(e).__name__}: {e}"[:400])
    row["load_average_end"] = load_average()
    for kind in ("step", "forward"):
        for key, r in row.get(f"{kind}_ratio", {}).items():
            print(f"[{bundle} {'x'.join(map(str, shape))}] {kind} {key}: {r['median']}", flush=True)
    return row


def compare_bundles(args: argparse.Namespace) -> Dict[str, Any]:
    """Issue 15 goal 1: each bundle's network (faithful and efficient) vs MONAI UNet, interleaved; writes JSON."""
    t0 = time.perf_counter()
    machine = machine_info()
    rows: List[Dict[str, Any]] = []
    for dims in args.dims:
        bundle = BUNDLES[dims]
        own = bundle_training_input(bundle)
        if args.tiny:
            own = own[:2] + [32] * dims
        rows.append(compare_case(bundle, own, ["faithful", "efficient"], args))
        for size in (args.us_sizes if dims == 2 else args.ct_sizes) or []:
            shape = own[:2] + [int(v) for v in size.split("x")]
            rows.append(compare_case(bundle, shape, ["efficient"], args))
    goals = []
    for r in rows:
        for ref in ("monai_unet_nru1", "monai_unet_nru2"):
            if r.get("status") != "ok" or f"efficient/{ref}" not in r["step_ratio"]:
                continue
            step, fwd = r["step_ratio"][f"efficient/{ref}"]["median"], r["forward_ratio"][f"efficient/{ref}"]["median"]
            goals.append(
                {
                    "bundle": r["bundle"],
                    "input_shape": r["input_shape"],
                    "reference": ref,
                    "step_ratio": step,
                    "forward_ratio": fwd,
                    "step_goal_met": step <= STEP_GOAL,
                    "forward_goal_met": fwd <= FORWARD_GOAL,
                }
            )
    payload = {
        "benchmark": "bundle_networks_vs_unet",
        "tiny": args.tiny,
        "machine": machine,
        "load_average_end": load_average(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "out"},
        "notes": [
            "Each bundle's network_def (configs/train.json) with preset faithful (sparse_norm none) and efficient "
            "(sparse_norm sum) vs MONAI UNet(channels, strides, num_res_units=1 and 2), random init.",
            "step: forward + DiceCELoss(softmax, one-hot) + backward + Adam, fp32, segmentation output only (the CT "
            "bundle's image-level head adds a pooled linear layer). forward: no-grad, eval mode.",
            "Interleaved: one untimed round, then each round runs every network once in turn; ratios per round, "
            "median over rounds. Faithful is timed at the bundle's own input only (its larger sizes take minutes).",
            "kflop_per_voxel: torch.utils.flop_counter on one sample (convolutions and matmuls only).",
            f"Goals (issue 15): step <= {STEP_GOAL}x and forward <= {FORWARD_GOAL}x MONAI UNet.",
        ],
        "rows": rows,
        "goals": goals,
        "not_run": ["GPU with AMP: no GPU on this machine"],
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    return publish_results(args.out, payload, render_bundle_networks)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "training_cpu.json")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dims", type=int, nargs="+", default=[2, 3], choices=[2, 3])
    p.add_argument("--models", nargs="+", default=["ours", "lean", "monai_unet"],
                   choices=["ours", "lean", "monai_unet", "resunet", "default"])  # fmt: skip
    p.add_argument("--batch2d", type=int, default=8)
    p.add_argument("--size2d", type=int, default=256)
    p.add_argument("--batch3d", type=int, default=2)
    p.add_argument("--size3d", type=int, default=96)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-seconds", type=float, default=120.0, help="stop repeating after this")
    p.add_argument("--channels", type=int, nargs="*", default=None, help="override widths (smoke runs)")
    p.add_argument("--tiny", action="store_true", help="smoke setting: batch 2 at 32^2 and 1 at 32^3, narrow")
    p.add_argument("--compare-bundles", action="store_true",
                   help="issue 15: bundle network_defs (faithful, efficient) vs MONAI UNet, interleaved")  # fmt: skip
    p.add_argument("--rounds", type=int, default=5, help="--compare-bundles: timed rounds")
    p.add_argument("--us-sizes", nargs="*", default=["256x256"], help="--compare-bundles: extra US ROI sizes")
    p.add_argument("--ct-sizes", nargs="*", default=["128x128x32"], help="--compare-bundles: extra CT ROI sizes")
    args = p.parse_args(argv)
    if args.compare_bundles and args.out == RESULTS_DIR / "training_cpu.json":
        args.out = RESULTS_DIR / "bundle_networks_vs_unet_cpu.json"
    if args.tiny:
        args.batch2d, args.size2d, args.batch3d, args.size3d = 2, 32, 1, 32
        args.channels = args.channels or [4, 8, 16, 32, 64]
        args.repeats = 1
        args.rounds = 1
        args.us_sizes, args.ct_sizes = [], []
    return args


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    if args.compare_bundles:
        return compare_bundles(args)
    t0 = time.perf_counter()
    machine = machine_info()
    rows: List[Dict[str, Any]] = [run(d, m, args) for d in args.dims for m in args.models]
    goals = []
    for d in args.dims:
        got = {r["model"]: r for r in rows if r["spatial_dims"] == d and r.get("status") == "ok"}
        if "ours" in got and "monai_unet" in got:
            goals.append(
                {
                    "spatial_dims": d,
                    "ours_over_unet_step_time": round(
                        got["ours"]["latency"]["median_s"] / got["monai_unet"]["latency"]["median_s"], 2
                    ),
                }
            )
    payload = {
        "benchmark": "training",
        "tiny": args.tiny,
        "machine": machine,
        "load_average_end": load_average(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "out"},
        "notes": [
            "CPU fp32 training step: forward + DiceCELoss + backward + Adam; random inputs and labels.",
            "peak_rss_delta_mb: growth of the process's resident high-water mark during the timed steps.",
            "Timings taken on a shared 2-core machine under load: see load_average fields.",
        ],
        "rows": rows,
        "comparison": goals,
        "not_run": ["GPU with AMP: no GPU on this machine"],
    }
    payload["wall_s"] = round(time.perf_counter() - t0, 1)
    return publish_results(args.out, payload, render_training)


if __name__ == "__main__":
    main()
