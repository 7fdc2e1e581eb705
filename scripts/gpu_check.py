"""The Python steps of ``scripts/gpu_check.sh`` (issue 19): one sub-command per check, exit status 0 = pass.

Each sub-command prints what it measured; a one-line note for the summary goes to ``$GPU_CHECK_NOTE`` when set.
Run through ``scripts/gpu_check.sh``; the sub-commands are also usable one by one, e.g.
``python scripts/gpu_check.py forward --bundle ct --data /tmp/gc/data_ct --device cuda``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
BUNDLES = {"ct": "head_ct_haemorrhage_segmentation", "us": "cranial_us_ventricle_segmentation"}
#: small demo data for checking this script on a CPU (CRANIALSEG_GPU_CHECK_TINY=1)
TINY = {"ct": {"shape": (64, 64, 16), "spacing": (3.6, 3.6, 10.0)}, "us": {"size": (96, 96), "spacing": 0.8}}


def note(text: str) -> None:
    """Print ``text`` and keep it as the check's one-line note for the summary."""
    print(text)
    path = os.environ.get("GPU_CHECK_NOTE")
    if path:
        Path(path).write_text(text.replace("\n", " ")[:300])


def configs(bundle: str) -> Path:
    return REPO / "bundle" / BUNDLES[bundle] / "configs"


def parser_for(bundle: str, config: str, **overrides):
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(configs(bundle) / config))
    parser.update(overrides)
    return parser


#: modules the checks import (directly or through the bundle configs)
NEEDED = (
    "monai", "ignite", "pydicom", "nibabel", "highdicom", "fire", "tqdm", "tensorboard", "onnx", "onnxruntime",
    "skimage", "scipy", "PIL", "cranialseg",
)  # fmt: skip


def cmd_env(args) -> int:
    import importlib

    missing = []
    for name in NEEDED:
        try:
            importlib.import_module(name)
        except Exception as e:  # noqa: BLE001 - report every missing or broken module at once
            missing.append(f"{name} ({type(e).__name__}: {str(e)[:80]})")
    if missing:
        note("missing modules: " + "; ".join(missing))
        return 1
    import monai

    import cranialseg

    cuda = torch.cuda.is_available()
    info = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "monai": monai.__version__,
        "cranialseg": cranialseg.__version__,
        "cuda_available": cuda,
        "gpus": torch.cuda.device_count() if cuda else 0,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "bf16_supported": bool(cuda and torch.cuda.is_bf16_supported()),
    }
    print(json.dumps(info, indent=1))
    note(f"torch {info['torch']}, monai {info['monai']}, {info['gpus']} GPU(s) {info['gpu'] or ''}".strip())
    if args.device == "cuda" and not cuda:
        print("CUDA requested (CRANIALSEG_GPU_CHECK_DEVICE=cuda) but torch.cuda.is_available() is False")
        return 1
    return 0


def cmd_data(args) -> int:
    from cranialseg.demo import ensure_demo_data

    kw = TINY[args.task] if os.environ.get("CRANIALSEG_GPU_CHECK_TINY") == "1" else {}
    path = ensure_demo_data(args.root, task=args.task, num_cases=args.num_cases, seed=0, **kw)
    content = json.loads(Path(path).read_text())
    note(f"{args.task}: " + ", ".join(f"{len(content[k])} {k}" for k in ("training", "validation", "test")))
    return 0


def cmd_amp_defaults(args) -> int:
    """The bundles' resolved AMP settings: bfloat16 on a CUDA device with bf16, float32 (AMP off) on CPU."""
    from cranialseg.utils import amp_dtype

    device = torch.device("cuda:0" if args.device == "cuda" else "cpu")
    expected = amp_dtype(device)  # the dtype any network gets (bf16 where supported, else None unless fp16-safe)
    found, ok = [], True
    for bundle in ("us", "ct"):
        for config in ("train.json", "inference.json"):
            p = parser_for(bundle, config)
            dev, amp, dtype = (p.get_parsed_content(k) for k in ("device", "amp", "amp_dtype"))
            safe = bool(p.get_parsed_content("fp16_safe"))
            want = expected if expected is not None or not safe else amp_dtype(device, fp16_safe=True)
            good = dev.type == device.type and amp == (dtype is not None) and dtype == want
            if bundle == "ct" and dtype == torch.float16 and not safe:
                good = False
            ok &= good
            found.append(f"{bundle}/{config}: device={dev} amp={amp} dtype={dtype}{'' if good else ' (WRONG)'}")
    note("; ".join(found))
    return 0 if ok else 1


def _checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _non_finite(state: dict) -> list[str]:
    return [k for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all()]


def cmd_trained(args) -> int:
    """After 1 epoch: model.pt finite, and the optimizer took steps (GradScaler skipping every step = stall)."""
    from cranialseg.handlers import latest_checkpoint

    ckpt_dir = Path(args.ckpt_dir)
    model = ckpt_dir / "model.pt"
    if not model.is_file():
        print(f"{model} not written (validation did not run or CheckpointSaver failed)")
        return 1
    bad = _non_finite(_checkpoint(model))
    full = latest_checkpoint(ckpt_dir)
    if full is None:
        print(f"no training checkpoint*.pt in {ckpt_dir}")
        return 1
    opt = _checkpoint(full)["optimizer"]
    steps = [float(s["step"]) for s in opt.get("state", {}).values() if "step" in s]
    taken = int(max(steps)) if steps else 0
    note(f"model.pt finite: {not bad}; optimizer steps taken: {taken} (expected {args.expect_steps})")
    if bad:
        print(f"non-finite tensors in {model}: {bad[:10]}")
    return 0 if not bad and taken >= args.expect_steps else 1


def _summary(folder: str) -> dict:
    return json.loads((Path(folder) / "metrics_summary.json").read_text())


def cmd_compare_eval(args) -> int:
    """Evaluation under the default AMP against float32: both finite, per-class Dice within ``tol``."""
    amp, ref = _summary(args.amp_dir), _summary(args.fp32_dir)
    diffs, ok = {}, amp["num_cases"] == ref["num_cases"] and amp["num_cases"] > 0
    for name, stats in ref["per_class"].items():
        a, r = amp["per_class"][name]["dice"], stats["dice"]
        if a is None or r is None:
            ok &= a is None and r is None
            continue
        ok &= math.isfinite(a) and math.isfinite(r)
        diffs[name] = (round(a, 4), round(r, 4))
        ok &= abs(a - r) <= args.tol
    text = ", ".join(f"{k} {a:.3f}/{r:.3f}" for k, (a, r) in diffs.items())
    note(f"{amp['num_cases']} cases, Dice AMP/fp32: {text}; mean {amp['mean_dice']}/{ref['mean_dice']}")
    return 0 if ok else 1


def cmd_inferred(args) -> int:
    summary = json.loads((Path(args.out) / "run_summary.json").read_text())
    failures = summary.get("failures") or []
    n_ok = summary.get("num_succeeded", len(summary.get("cases", [])))
    segs = sorted(Path(args.out).glob(f"*{args.suffix}"))
    note(f"{n_ok} of {summary.get('num_cases')} cases, {len(failures)} failed, {len(segs)} *{args.suffix}")
    for f in failures:
        print(f"FAILED {f.get('name')}: {f.get('error')}")
    return 0 if not failures and n_ok >= args.expect and len(segs) >= args.expect else 1


def _bundle_input(bundle: str, data_root: str, device: torch.device) -> torch.Tensor:
    """One validation image of the demo data, pre-processed like inference, cropped to the ROI (centre)."""
    from monai.transforms import CenterSpatialCrop, SpatialPad

    p = parser_for(bundle, "inference.json")
    content = json.loads((Path(data_root) / "datalist.json").read_text())
    image = str(Path(data_root) / content["validation"][0]["image"])
    pre = p.get_parsed_content("preprocessing")
    x = pre({"image": image})["image"]
    roi = p.get_parsed_content("roi_size")
    x = CenterSpatialCrop(roi)(SpatialPad(roi)(x))
    return x.as_tensor().unsqueeze(0).float().to(device)


def _shipped_network(bundle: str, device: torch.device):
    from cranialseg.networks import load_network

    p = parser_for(bundle, "inference.json")
    ckpt = configs(bundle).parent / "models" / "model.pt"
    return load_network(p.get_parsed_content("network_def"), ckpt, device), bool(p.get_parsed_content("fp16_safe"))


def cmd_forward(args) -> int:
    """Shipped weights on a demo image: float32 reference, then bf16 and fp16 autocast; finiteness and agreement.

    bf16 must be finite and close to float32 (the bundles' default AMP on such GPUs). fp16 must be finite when
    the bundle declares the network ``fp16_safe``; otherwise a non-finite fp16 output is reported, not failed
    (the bundle's default AMP never picks float16 for it).
    """
    from cranialseg.utils import activation_range, fp16_overflows

    device = torch.device("cuda:0" if args.device == "cuda" else "cpu")
    net, fp16_safe = _shipped_network(args.bundle, device)
    x = _bundle_input(args.bundle, args.data, device)
    with torch.no_grad():
        ref = net(x).float()
    top = max(activation_range(net, x).values())
    parts, ok = [f"fp32 max activation {top:.4g}"], bool(torch.isfinite(ref).all())
    ref_lab = ref.argmax(1)
    for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        try:
            with torch.no_grad(), torch.autocast(device_type=device.type, dtype=dtype):
                out = net(x).float()
        except RuntimeError as e:  # e.g. a CPU build without fp16 autocast for an op
            parts.append(f"{name} not run ({type(e).__name__}: {str(e)[:60]})")
            ok &= name == "fp16" and not fp16_safe
            continue
        finite = bool(torch.isfinite(out).all())
        diff = float((out - ref).abs().amax()) if finite else float("inf")
        agree = float((out.argmax(1) == ref_lab).float().mean()) if finite else 0.0
        parts.append(f"{name} finite={finite} max|diff|={diff:.3g} argmax agreement={agree:.4f}")
        required = name == "bf16" or fp16_safe
        if required:
            ok &= finite and agree >= 0.98
        elif not finite:
            parts[-1] += " (expected: not fp16_safe, the default AMP never picks fp16)"
    if fp16_safe and fp16_overflows({"max": top}):
        parts.append("fp16_safe=true but activations exceed 65504/4")
        ok = False
    note(f"fp16_safe={fp16_safe}; " + "; ".join(parts))
    return 0 if ok else 1


def cmd_export_net(args) -> int:
    """``cranialseg.networks.export_onnx`` of the shipped network on ``device``; ONNX Runtime agrees with torch."""
    import onnxruntime as ort

    from cranialseg.networks.export import export_onnx

    device = torch.device("cuda:0" if args.device == "cuda" else "cpu")
    net, _ = _shipped_network(args.bundle, device)
    x = _bundle_input(args.bundle, args.data, device)
    path = export_onnx(net, args.out, tuple(x.shape))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.cpu().numpy()})[0]
    with torch.no_grad():
        want = net(x).float().cpu().numpy()
    diff = float(abs(got - want).max())
    note(f"network on {device}, exported {Path(path).name}; ONNX Runtime vs torch max|diff| {diff:.3g}")
    return 0 if diff < 1e-2 else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("env")
    s.add_argument("--device", default="cuda")
    s = sub.add_parser("data")
    s.add_argument("--task", required=True, choices=("ct", "us"))
    s.add_argument("--root", required=True)
    s.add_argument("--num-cases", type=int, default=6)
    s = sub.add_parser("amp_defaults")
    s.add_argument("--device", default="cuda")
    s = sub.add_parser("trained")
    s.add_argument("--ckpt-dir", required=True)
    s.add_argument("--expect-steps", type=int, default=1)
    s = sub.add_parser("compare_eval")
    s.add_argument("--amp-dir", required=True)
    s.add_argument("--fp32-dir", required=True)
    s.add_argument("--tol", type=float, default=0.02)
    s = sub.add_parser("inferred")
    s.add_argument("--out", required=True)
    s.add_argument("--expect", type=int, default=1)
    s.add_argument("--suffix", default="_seg.nii.gz")
    for name in ("forward", "export_net"):
        s = sub.add_parser(name)
        s.add_argument("--bundle", required=True, choices=("ct", "us"))
        s.add_argument("--data", required=True)
        s.add_argument("--device", default="cuda")
        if name == "export_net":
            s.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    return globals()[f"cmd_{args.cmd}"](args)


if __name__ == "__main__":
    sys.exit(main())
