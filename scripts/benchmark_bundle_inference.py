"""Time a bundle's own inference, end to end and by stage, as a user runs it (``inference.json`` on a folder).

Goal 3 of the efficiency issue: what a user waits for one real study, from reading the DICOM files to the SEG
written. The bundle's ``batch_inference`` runs unchanged (its pre-processing, inferer, post-processing and writers
as parsed from the configs, with ``--override KEY=VALUE`` settings applied as on the ``monai.bundle`` command
line); each stage is timed by wrapping the ``__call__`` of the classes it is made of, so the sum of the stages is
checked against the case's wall time. Stages: ``read`` (``LoadCranialImaged``), ``resample`` (orientation,
spacing, windows and the other pre-processing), ``network`` (the sliding-window inferer), ``invert`` (``Invertd``:
back to the input grid), ``postprocess`` (activations, argmax, lesion filter), ``write`` (each writer). The first
run warms up (imports, allocator); ``--repeats`` runs follow, and the JSON keeps every run and the median.

Example:
    python scripts/benchmark_bundle_inference.py                                  # the GE series, CT bundle
    python scripts/benchmark_bundle_inference.py --override overlap=0.25 --tag overlap_0.25
    python scripts/benchmark_bundle_inference.py --input ../shared/data/neonatal_cranial_us \\
        --bundle cranial_us_ventricle_segmentation
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED_GE = ROOT.parent / "shared" / "data" / "head_ct_dicom_ge_tilt"

READ = {"LoadCranialImaged", "LoadImaged"}
INVERT = {"Invertd"}


def _stage_of(name: str, section: str) -> str:
    if name in READ:
        return "read"
    if name in INVERT:
        return "invert"
    return "resample" if section == "preprocessing" else "postprocess"


class StageTimer:
    """Wall time per stage, from ``__call__`` wrappers installed on the classes of the bundle's objects."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = defaultdict(float)
        self.by_class: Dict[str, float] = defaultdict(float)
        self._patched: List[tuple] = []
        self._depth = 0
        self.network_input_shape: Optional[List[int]] = None

    def patch(self, cls: type, stage: str) -> None:
        if any(c is cls for c, _ in self._patched):
            return
        original = cls.__call__
        timer = self

        def timed(obj, *args, **kwargs):
            if timer._depth:  # nested (e.g. Invertd running the pre-processing's inverse): count once, outside
                return original(obj, *args, **kwargs)
            timer._depth += 1
            if stage == "network" and args and hasattr(args[0], "shape"):
                timer.network_input_shape = list(args[0].shape)
            start = time.perf_counter()
            try:
                return original(obj, *args, **kwargs)
            finally:
                timer._depth -= 1
                timer.seconds[stage] += time.perf_counter() - start
                timer.by_class[cls.__name__] += time.perf_counter() - start

        cls.__call__ = timed
        self._patched.append((cls, original))

    def restore(self) -> None:
        for cls, original in self._patched:
            cls.__call__ = original
        self._patched.clear()


def _parse_override(text: str) -> tuple[str, Any]:
    key, _, value = text.partition("=")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def run_once(bundle: str, input_dir: Path, overrides: Dict[str, Any], out_root: Path) -> Dict[str, Any]:
    """Parse the bundle's inference.json, run its batch inference on ``input_dir``, return timings per stage."""
    from cranialseg.utils import read_bundle_config

    parser = read_bundle_config(str(ROOT / "bundle" / bundle))
    parser.read_meta(str(ROOT / "bundle" / bundle / "configs" / "metadata.json"))
    out = Path(tempfile.mkdtemp(dir=out_root))
    parser.update(
        {
            "input_dir": str(input_dir),
            "output_dir": str(out),
            "overwrite": True,
            **overrides,
        }
    )
    start = time.perf_counter()
    batch = parser.get_parsed_content("batch_inference")
    setup = time.perf_counter() - start
    timer = StageTimer()
    for section, objs in (
        ("preprocessing", batch.preprocessing.transforms),
        ("postprocessing", batch.postprocessing.transforms),
    ):
        for t in objs:
            timer.patch(type(t), _stage_of(type(t).__name__, section))
    timer.patch(type(batch.inferer), "network")
    for w in batch.writers:
        timer.patch(type(w), "write")
    try:
        start = time.perf_counter()
        summary = batch.run()
        wall = time.perf_counter() - start
    finally:
        timer.restore()
    cases = summary.get("cases", [])
    result = {
        "setup_s": round(setup, 3),
        "wall_s": round(wall, 3),
        "case_seconds": [c.get("seconds") for c in cases],
        "stages_s": {k: round(v, 3) for k, v in sorted(timer.seconds.items())},
        "classes_s": {k: round(v, 3) for k, v in sorted(timer.by_class.items(), key=lambda kv: -kv[1])},
        "network_input_shape": timer.network_input_shape,
        "failures": summary.get("failures", []),
        "volumes_ml": {
            c["name"]: {k: v.get("volume_ml") for k, v in c.get("volumes", {}).items() if isinstance(v, dict)}
            for c in cases
        },
    }
    result["stages_sum_s"] = round(sum(timer.seconds.values()), 3)
    shutil.rmtree(out, ignore_errors=True)
    return result


def network_paths(bundle: str, paths: Sequence[str], repeats: int) -> Dict[str, Any]:
    """The bundle's network on one sliding-window batch (``sw_batch_size`` x ``roi_size``, its trained weights):
    eager float32, bfloat16 autocast on the CPU, ``torch.compile`` (inductor), both together, interleaved ``repeats``
    times after a warm-up (compile time reported apart); agreement of the argmax with eager float32."""
    from cranialseg.utils import read_bundle_config

    parser = read_bundle_config(str(ROOT / "bundle" / bundle))
    net = parser.get_parsed_content("network_def").eval()
    net.load_state_dict(torch.load(ROOT / "bundle" / bundle / "models" / "model.pt", map_location="cpu"))
    in_channels = int(parser.get_parsed_content("network_def#in_channels"))
    shape = [int(parser.get_parsed_content("sw_batch_size")), in_channels, *parser.get_parsed_content("roi_size")]
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(0))
    runners: Dict[str, Any] = {"eager_fp32": net}
    out: Dict[str, Any] = {"bundle": bundle, "input": shape, "seconds": {}, "argmax_agreement": {}}
    with torch.no_grad():
        reference = net(x)
        for path in paths:
            start = time.perf_counter()
            if path == "bf16_autocast":

                def run(t, _net=net):
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        return _net(t)

                runners[path] = run
            elif path == "torch_compile":
                runners[path] = torch.compile(net, dynamic=False)
            elif path == "compile_bf16":
                compiled = torch.compile(net, dynamic=False)

                def run_compiled(t, _net=compiled):
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        return _net(t)

                runners[path] = run_compiled
            elif path != "eager_fp32":
                raise SystemExit(f"unknown path {path!r}: eager_fp32, bf16_autocast, torch_compile, compile_bf16")
            y = runners[path](x).float()  # warm-up (and compilation)
            out.setdefault("warmup_s", {})[path] = round(time.perf_counter() - start, 2)
            out["argmax_agreement"][path] = round(float((y.argmax(1) == reference.argmax(1)).float().mean()), 6)
        for _ in range(repeats):
            for path, runner in runners.items():
                start = time.perf_counter()
                runner(x)
                out["seconds"].setdefault(path, []).append(round(time.perf_counter() - start, 3))
    med = {k: statistics.median(v) for k, v in out["seconds"].items()}
    out["speedup_vs_eager"] = {k: round(med["eager_fp32"] / v, 2) for k, v in med.items()}
    return out


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", default="head_ct_haemorrhage_segmentation")
    p.add_argument("--input", type=Path, default=SHARED_GE, help="a study folder (or a folder of studies)")
    p.add_argument("--override", action="append", default=[], help="KEY=VALUE, as on the monai.bundle command line")
    p.add_argument("--repeats", type=int, default=2, help="timed runs after one warm-up run")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--tag", default="bundle_default")
    p.add_argument(
        "--network-paths",
        nargs="*",
        default=None,
        help="instead of the end-to-end run: time the network alone on one window batch by path "
        "(eager_fp32 bf16_autocast torch_compile compile_bf16)",
    )
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bundle_inference_cpu.json")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = dict(_parse_override(o) for o in args.override)
    if args.network_paths is not None:
        record = {
            "tag": args.tag,
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "threads": torch.get_num_threads(),
            "load_average": list(os.getloadavg()),
            **network_paths(args.bundle, ["eager_fp32", *args.network_paths], max(args.repeats, 1)),
        }
        print(json.dumps(record, indent=1))
        _append(args.out, record)
        return record
    if not args.input.exists():
        raise SystemExit(f"{args.input}: not found (the GE series lives in ../shared/data; pass --input FOLDER)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs = tmp / "in" / args.input.name
        inputs.parent.mkdir()
        if args.input.is_dir():  # only the image files: the shared folder also holds a licence text
            shutil.copytree(args.input, inputs, ignore=shutil.ignore_patterns("*.txt", "*.md", "LICENSE*"))
        else:
            inputs.mkdir()
            shutil.copy(args.input, inputs)
        runs = [run_once(args.bundle, tmp / "in", overrides, tmp) for _ in range(1 + args.repeats)]
    timed = runs[1:] or runs
    stages = sorted({k for r in timed for k in r["stages_s"]})
    record = {
        "tag": args.tag,
        "bundle": args.bundle,
        "input": str(args.input.relative_to(ROOT.parent) if args.input.is_relative_to(ROOT.parent) else args.input),
        "overrides": overrides,
        "threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "median_wall_s": round(statistics.median(r["wall_s"] for r in timed), 2),
        "median_stages_s": {k: round(statistics.median(r["stages_s"].get(k, 0.0) for r in timed), 2) for k in stages},
        "volumes_ml": timed[-1]["volumes_ml"],
        "runs": runs,
    }
    print(json.dumps({k: record[k] for k in ("tag", "median_wall_s", "median_stages_s", "volumes_ml")}, indent=1))
    _append(args.out, record)
    return record


def _append(path: Path, record: Dict[str, Any]) -> None:
    """Add ``record`` to the results file (replacing an earlier record of its tag), atomically."""
    from cranialseg.utils import write_json

    results = json.loads(path.read_text()) if path.is_file() else {"runs": []}
    results["runs"] = [r for r in results["runs"] if r.get("tag") != record["tag"]] + [record]
    write_json(path, results, overwrite=True)


if __name__ == "__main__":
    main()
