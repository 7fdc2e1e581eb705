"""Count how often batch inference opens each DICOM file of a series (header reads, full reads, all opens).

Runs a bundle's ``inference.json`` (tiny network, random weights: reads do not depend on the weights) on a
generated 16-slice demo CT series and prints JSON: per-file counts of ``pydicom.dcmread`` calls with
``stop_before_pixels``/``defer_size`` (header) or without (full), deferred-value reads, and every ``open()``.

Usage (from a checkout; ``--repo`` picks the tree whose code and configs run, e.g. an older checkout):
    python scripts/count_dicom_reads.py --repo . --out /tmp/reads.json
"""

from __future__ import annotations

import argparse
import builtins
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=".", help="checkout whose cranialseg package and bundle configs run")
    parser.add_argument("--out", default=None, help="write the JSON result here too")
    args = parser.parse_args()
    repo = Path(args.repo).resolve()
    sys.path.insert(0, str(repo))
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import pydicom
    import pydicom.filereader
    import torch
    from monai.bundle import ConfigParser, ConfigWorkflow

    from cranialseg.demo import ensure_demo_data

    work = Path(tempfile.mkdtemp())
    datalist = ensure_demo_data(
        work / "demo", task="ct", num_cases=1, seed=0, shape=(64, 64, 16), spacing=(3.6, 3.6, 10.0)
    )
    item = json.loads(Path(datalist).read_text())
    first = next(i for section in ("training", "validation", "test") for i in item.get(section, []))
    series = (Path(datalist).parent / first["dicom"]).resolve()
    files = sorted(str(p) for p in series.rglob("*") if p.is_file())
    bundle = repo / "bundle" / "head_ct_haemorrhage_segmentation"
    overrides = {"roi_size": [32, 32, 8], "network_def#channels": [8, 16, 32, 64], "network_def#num_heads": 2}
    cfg = ConfigParser()
    cfg.read_config(str(bundle / "configs" / "inference.json"))
    cfg.update({"bundle_root": str(work / "root"), **overrides})
    torch.manual_seed(0)
    (work / "root" / "models").mkdir(parents=True)
    torch.save(cfg.get_parsed_content("network_def").state_dict(), work / "root" / "models" / "model.pt")

    header, full, deferred, opens = Counter(), Counter(), Counter(), Counter()
    real_dcmread, real_open = pydicom.dcmread, builtins.open
    real_deferred = pydicom.filereader.read_deferred_data_element

    def dcmread(fp, *a, **kw):
        name = os.path.realpath(os.fspath(fp)) if isinstance(fp, (str, os.PathLike)) else None
        if name is not None:
            (header if kw.get("stop_before_pixels") or kw.get("defer_size") else full)[name] += 1
        return real_dcmread(fp, *a, **kw)

    def deferred_read(fileobj_type, filename_or_obj, timestamp, raw_data_elem):
        if isinstance(filename_or_obj, (str, os.PathLike)):
            deferred[os.path.realpath(os.fspath(filename_or_obj))] += 1
        return real_deferred(fileobj_type, filename_or_obj, timestamp, raw_data_elem)

    def counting_open(file, *a, **kw):
        if isinstance(file, (str, os.PathLike)):
            opens[os.path.realpath(os.fspath(file))] += 1
        return real_open(file, *a, **kw)

    pydicom.dcmread = pydicom.filereader.dcmread = dcmread
    pydicom.filereader.read_deferred_data_element = deferred_read
    builtins.open = counting_open
    try:
        workflow = ConfigWorkflow(
            config_file=str(bundle / "configs" / "inference.json"),
            meta_file=str(bundle / "configs" / "metadata.json"),
            logging_file=False,
            bundle_root=str(work / "root"),
            input_dir=str(series.parent),
            output_dir=str(work / "out"),
            **overrides,
        )
        workflow.initialize()
        workflow.run()
    finally:
        pydicom.dcmread = pydicom.filereader.dcmread = real_dcmread
        pydicom.filereader.read_deferred_data_element = real_deferred
        builtins.open = real_open
    keys = [os.path.realpath(f) for f in files]
    summary = json.loads((work / "out" / "run_summary.json").read_text())

    def per_file(counter: Counter) -> dict:
        values = [counter[k] for k in keys]
        return {"min": min(values), "max": max(values), "total": sum(values)}

    result = {
        "repo": str(repo),
        "num_files": len(files),
        "succeeded": summary["num_succeeded"],
        "outputs": sorted(summary["cases"][0]["outputs"]) if summary["cases"] else [],
        "header_reads_per_file": per_file(header),
        "full_reads_per_file": per_file(full),
        "deferred_value_reads_per_file": per_file(deferred),
        "opens_per_file": per_file(opens),
    }
    text = json.dumps(result, indent=4)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
