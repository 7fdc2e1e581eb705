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

Example:
    python scripts/benchmark_training.py
    python scripts/benchmark_training.py --tiny --out /tmp/training.json   # smoke run
"""

from __future__ import annotations

import argparse
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch

from cranialseg.benchmarking import (
    RESULTS_DIR,
    PeakRSS,
    count_parameters,
    lean_input_stride,
    load_average,
    machine_info,
    publish_results,
    time_call,
)

__all__ = ["main", "train_network_def"]

ROOT = Path(__file__).resolve().parents[1]
BUNDLES = {2: "cranial_us_ventricle_segmentation", 3: "head_ct_haemorrhage_segmentation"}


def train_network_def(bundle: str) -> Dict[str, Any]:
    """The ``network_def`` of a bundle's ``configs/train.json``, references and expressions resolved (no
    ``_target_``)."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(ROOT / "bundle" / bundle / "configs" / "train.json"))
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
    args = p.parse_args(argv)
    if args.tiny:
        args.batch2d, args.size2d, args.batch3d, args.size3d = 2, 32, 1, 32
        args.channels = args.channels or [4, 8, 16, 32, 64]
        args.repeats = 1
    return args


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
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
    return publish_results(args.out, payload, "render_training")


if __name__ == "__main__":
    main()
