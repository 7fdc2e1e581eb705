#!/usr/bin/env python
"""Offline model-zoo checks of MONAI bundles; exits non-zero when any check fails.

Checks, per bundle folder:

* required files (configs, docs, LICENSE, ``models/model.pt``) and JSON indented by 4 spaces;
* ``configs/metadata.json`` against the bundle metadata schema (``monai.bundle verify_metadata`` with a local
  schema file, no download; when no ``--schema`` is given and ``../shared/schemas`` is absent, as in a fresh
  clone, this one check is skipped with a note), the official schema URL, ``changelog`` holding ``version``,
  ``required_packages_version`` and a ``channel_def`` on every input and output;
* the ids MONAI Label and the zoo tools read: ``inference.json`` (``network_def``, ``preprocessing``, ``inferer``,
  ``postprocessing``, ``device``, ``bundle_root``), ``train.json`` (``bundle_root``, ``device``,
  ``train#trainer#max_epochs``, ``train#dataset#data``, a plain-list ``train#handlers``, ``validate#dataset#data``,
  a ``CheckpointSaver`` writing ``model.pt``), ``run`` ids of every command;
* one copy of each setting: a key of ``inference.json`` (``network_def``, ``pixdim``, ``class_names``, ...) that
  ``train.json``, ``evaluate.json`` or ``multi_gpu_train.json`` also defines must be read from ``inference.json``
  (``@inference_config``), except the per-workflow plumbing in ``PER_WORKFLOW_IDS``;
* ``models/model.pt``: a plain state_dict loadable with ``torch.load(..., weights_only=True)``, at most 25 MB,
  loading strictly into ``network_def``;
* a fake-input forward through ``network_data_format`` (``monai.bundle verify_net_in_out``);
* TorchScript export (``monai.bundle ckpt_export``) whose output equals the eager network's.

Example:
    python scripts/verify_bundle.py bundle/head_ct_haemorrhage_segmentation bundle/cranial_us_ventricle_segmentation
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

OFFICIAL_SCHEMA = (
    "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/0.8.1/meta_schema_20240725.json"
)
REQUIRED_FILES = (
    "configs/metadata.json",
    "configs/train.json",
    "configs/evaluate.json",
    "configs/inference.json",
    "configs/multi_gpu_train.json",
    "configs/logging.conf",
    "docs/README.md",
    "docs/data_license.txt",
    "LICENSE",
    "models/model.pt",
)
INFERENCE_IDS = ("network_def", "preprocessing", "inferer", "postprocessing", "device", "bundle_root", "run")
#: ids every config file defines for its own workflow (MONAI Label sets ``bundle_root`` and ``device`` in each)
PER_WORKFLOW_IDS = (
    "imports",
    "bundle_root",
    "device",
    "amp_dtype",
    "amp",
    "output_dir",
    "network",
    "initialize",
    "run",
    "finalize",
)
#: configs read on top of ``train.json`` (``inference.json`` is the one home of the settings they share)
TRAIN_FAMILY = ("train.json", "evaluate.json", "multi_gpu_train.json")
TRAIN_IDS = (
    "bundle_root",
    "device",
    "network_def",
    "train#trainer#max_epochs",
    "train#dataset#data",
    "train#handlers",
    "validate#dataset#data",
    "run",
    "training",
)
README_SECTIONS = ("overview", "data", "training configuration", "performance", "commands", "references", "licen")
MAX_MODEL_BYTES = 25 * 1024 * 1024

__all__ = ["verify_bundle", "main"]


class Report:
    """Collects failures with the bundle and check they belong to."""

    def __init__(self, bundle: Path) -> None:
        self.bundle = bundle
        self.failures: list[str] = []
        self.passed: list[str] = []
        self.skipped: list[str] = []

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        (self.passed if ok else self.failures).append(name if ok else f"{name}: {detail}")
        return ok


def _json_indent_ok(path: Path) -> str | None:
    text = path.read_text()
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        return f"invalid JSON: {e}"
    for number, line in enumerate(text.splitlines(), 1):
        spaces = len(line) - len(line.lstrip(" "))
        if "\t" in line[: spaces + 1] or spaces % 4:
            return f"line {number} is not indented by a multiple of 4 spaces"
    return None


def _has(config: dict, dotted: str) -> bool:
    node = config
    for part in dotted.split("#"):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def check_files(report: Report) -> None:
    for rel in REQUIRED_FILES:
        report.check(f"file {rel}", (report.bundle / rel).is_file(), "missing")
    for path in sorted((report.bundle / "configs").glob("*.json")):
        problem = _json_indent_ok(path)
        report.check(f"json {path.name}", problem is None, problem or "")
    readme = report.bundle / "docs" / "README.md"
    if readme.is_file():
        text = readme.read_text().lower()
        missing = [s for s in README_SECTIONS if s not in text]
        report.check("README sections", not missing, f"no section mentioning {missing}")
    license_file = report.bundle / "LICENSE"
    if license_file.is_file():
        report.check("LICENSE Apache-2.0", "apache license" in license_file.read_text().lower(), "not Apache-2.0")


def check_metadata(report: Report, schema: Path | None, require_schema: bool = True) -> dict:
    path = report.bundle / "configs" / "metadata.json"
    if not path.is_file():
        return {}
    meta = json.loads(path.read_text())
    report.check("metadata schema URL", meta.get("schema") == OFFICIAL_SCHEMA, f"schema is {meta.get('schema')!r}")
    report.check(
        "metadata changelog", meta.get("version") in meta.get("changelog", {}), "no changelog entry for version"
    )
    report.check("metadata required_packages_version", bool(meta.get("required_packages_version")), "empty or missing")
    fmt = meta.get("network_data_format", {})
    for section in ("inputs", "outputs"):
        for name, spec in fmt.get(section, {}).items():
            ok = isinstance(spec, dict) and isinstance(spec.get("channel_def"), dict) and spec["channel_def"]
            ok = ok and len(spec["channel_def"]) == spec.get("num_channels")
            report.check(f"channel_def {section}.{name}", bool(ok), "missing or not one name per channel")
    if schema is None and not require_schema:
        report.skipped.append("metadata schema")
        return meta
    if schema is None or not Path(schema).is_file():
        report.check("metadata schema", False, f"schema file {schema} not found (pass --schema)")
        return meta
    from monai.bundle import verify_metadata

    try:
        verify_metadata(meta_file=str(path), filepath=str(schema))
        report.check("metadata schema", True)
    except Exception as e:  # noqa: BLE001 - any validation error is a failed check
        report.check("metadata schema", False, f"{type(e).__name__}: {e}")
    return meta


def settings_defined_twice(configs: Path) -> list[str]:
    """``"file: key"`` for each setting of ``inference.json`` that a training-side config gives its own value.

    A value that reads the setting from ``inference.json`` (``$@inference_config...('key')``, or a ``network_def``
    whose ``_target_`` is ``component_factory(@inference_config, 'network_def', ...)``) is not a second copy; an
    overlay id such as ``network_def#channels`` counts as a copy of ``network_def``.
    """
    inference_file = configs / "inference.json"
    if not inference_file.is_file():
        return []
    inference = json.loads(inference_file.read_text())
    twice = []
    for name in TRAIN_FAMILY:
        path = configs / name
        if not path.is_file():
            continue
        for key, value in json.loads(path.read_text()).items():
            top = key.replace("::", "#").split("#")[0]
            if top not in inference or top in PER_WORKFLOW_IDS:
                continue
            target = value.get("_target_", "") if isinstance(value, dict) else value
            if key == top and isinstance(target, str) and "@inference_config" in target and f"'{top}'" in target:
                continue
            twice.append(f"{name}: {key}")
    return twice


def check_one_copy(report: Report) -> None:
    twice = settings_defined_twice(report.bundle / "configs")
    report.check("one copy of each setting", not twice, f"also defined in inference.json: {twice}")


def check_config_ids(report: Report) -> None:
    configs = report.bundle / "configs"
    needed = {"inference.json": INFERENCE_IDS, "train.json": TRAIN_IDS, "evaluate.json": ("run",)}
    for name, ids in needed.items():
        path = configs / name
        if not path.is_file():
            continue
        config = json.loads(path.read_text())
        missing = [i for i in ids if not _has(config, i)]
        report.check(f"ids in {name}", not missing, f"missing {missing}")
    train = configs / "train.json"
    if train.is_file():
        config = json.loads(train.read_text())
        handlers = config.get("train", {}).get("handlers")
        report.check("train#handlers is a list", isinstance(handlers, list), "MONAI Label edits it as a list")
        savers = [
            h
            for h in config.get("validate", {}).get("handlers", [])
            if isinstance(h, dict) and h.get("_target_", "").endswith("CheckpointSaver")
        ]
        ok = any(s.get("key_metric_filename") == "model.pt" and s.get("save_key_metric") for s in savers)
        report.check("best checkpoint to models/model.pt", ok, "no CheckpointSaver with key_metric_filename model.pt")


def check_weights_and_export(report: Report, meta: dict, export: bool) -> None:
    import torch
    from monai.bundle import ConfigParser, verify_net_in_out

    configs = report.bundle / "configs"
    model = report.bundle / "models" / "model.pt"
    overrides = {"bundle_root": str(report.bundle), "device": "$torch.device('cpu')"}
    parser = ConfigParser()
    parser.read_config(str(configs / "inference.json"))
    parser.update(overrides)
    network = parser.get_parsed_content("network_def", instantiate=True)
    if model.is_file():
        size = model.stat().st_size
        report.check("model.pt size", size <= MAX_MODEL_BYTES, f"{size / 2**20:.1f} MB > 25 MB")
        try:
            state = torch.load(model, map_location="cpu", weights_only=True)
            plain = isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())
            report.check("model.pt plain state_dict", plain, "not a dict of tensors")
            network.load_state_dict(state, strict=True)
            report.check("model.pt loads into network_def", True)
        except Exception as e:  # noqa: BLE001
            report.check("model.pt loads into network_def", False, f"{type(e).__name__}: {e}")
    try:
        verify_net_in_out(
            net_id="network_def",
            meta_file=str(configs / "metadata.json"),
            config_file=str(configs / "inference.json"),
            device="cpu",
            n=1,
            any=1,
            bundle_root=str(report.bundle),
        )
        report.check("verify_net_in_out", True)
    except Exception as e:  # noqa: BLE001
        report.check("verify_net_in_out", False, f"{type(e).__name__}: {e}")
    if not export:
        return
    from monai.bundle import ckpt_export

    with tempfile.TemporaryDirectory() as tmp:
        ts_file = Path(tmp) / "model.ts"
        try:
            ckpt_file = None
            if model.is_file():  # ckpt_export loads without map_location: a GPU-saved model.pt fails on a CPU
                ckpt_file = Path(tmp) / "model_cpu.pt"
                torch.save(torch.load(model, map_location="cpu", weights_only=True), ckpt_file)
            ckpt_export(
                net_id="network_def",
                filepath=str(ts_file),
                ckpt_file=None if ckpt_file is None else str(ckpt_file),
                meta_file=str(configs / "metadata.json"),
                config_file=str(configs / "inference.json"),
                **overrides,
            )
            scripted = torch.jit.load(str(ts_file))
            spec = next(iter(meta["network_data_format"]["inputs"].values()))
            shape = [int(eval(str(s).replace("n", "1"), {}, {})) for s in spec["spatial_shape"]]  # noqa: S307
            x = torch.rand(1, int(spec["num_channels"]), *shape)
            network.eval()
            with torch.no_grad():
                same = torch.allclose(scripted(x), network(x), atol=1e-4)
            report.check("TorchScript export", same, "scripted output differs from the eager network")
        except Exception as e:  # noqa: BLE001
            report.check("TorchScript export", False, f"{type(e).__name__}: {e}")


def verify_bundle(
    bundle: str | Path, schema: str | Path | None = None, export: bool = True, require_schema: bool = True
) -> Report:
    """Run every check on one bundle folder and return the :class:`Report`.

    ``schema=None`` with ``require_schema=False`` skips the metadata schema check (listed in ``report.skipped``);
    otherwise a missing schema file is a failure.
    """
    report = Report(Path(bundle))
    if not report.bundle.is_dir():
        report.check("bundle folder", False, f"{bundle} is not a folder")
        return report
    check_files(report)
    meta = check_metadata(report, Path(schema) if schema else None, require_schema)
    check_config_ids(report)
    check_one_copy(report)
    if (report.bundle / "configs" / "inference.json").is_file() and meta:
        check_weights_and_export(report, meta, export)
    return report


def main(argv: list[str] | None = None) -> int:
    repo = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "bundles",
        nargs="*",
        default=sorted(str(p.parent.parent) for p in (repo / "bundle").glob("*/configs/metadata.json")),
    )
    parser.add_argument(
        "--schema",
        default=None,
        help="local copy of meta_schema_20240725.json (no download); default ../shared/schemas/ (or "
        "$CRANIALSEG_SHARED/schemas/), the schema check is skipped with a note when that is absent",
    )
    parser.add_argument("--skip-export", action="store_true", help="skip the TorchScript export check")
    args = parser.parse_args(argv)
    logging.getLogger("monai").setLevel(logging.WARNING)
    schema, require_schema = args.schema, True
    if schema is None:
        shared = Path(os.environ.get("CRANIALSEG_SHARED", repo.parent / "shared"))
        schema = shared / "schemas" / "meta_schema_20240725.json"
        if not schema.is_file():
            print(
                f"note: no bundle metadata schema at {schema} (a clone without ../shared): the metadata schema check "
                "is skipped; pass --schema FILE or set CRANIALSEG_SHARED to run it"
            )
            schema, require_schema = None, False
    failed = 0
    for bundle in args.bundles:
        report = verify_bundle(bundle, schema, export=not args.skip_export, require_schema=require_schema)
        name = Path(bundle).resolve().name
        for item in report.failures:
            print(f"FAIL {name}: {item}")
        skipped = f", {len(report.skipped)} skipped ({', '.join(report.skipped)})" if report.skipped else ""
        print(f"{name}: {len(report.passed)} checks passed, {len(report.failures)} failed{skipped}")
        failed += len(report.failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
