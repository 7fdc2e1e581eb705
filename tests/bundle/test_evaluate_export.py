"""evaluate.json (CSV, JSON, overlays), ONNX export + ONNX Runtime inference, TorchScript export."""

from __future__ import annotations

import csv
import json
import math
import shutil

import nibabel as nib
import numpy as np
import pytest
import torch

from cranialseg.data.screening import case_name
from tests.bundle.helpers import (
    CT_BUNDLE,
    TINY_CT_OVERRIDES,
    TINY_US_OVERRIDES,
    US_BUNDLE,
    all_items,
    run_workflow,
    save_tiny_checkpoint,
)


def evaluate_tiny(bundle: str, overrides: dict, datalist, tmp_path, **extra):
    """``evaluate.json`` on the ``validation`` cases of ``datalist`` with a tiny untrained checkpoint; the output
    folder."""
    save_tiny_checkpoint(bundle, tmp_path, overrides)
    out = tmp_path / "eval"
    run_workflow(
        bundle,
        ["train.json", "evaluate.json"],
        bundle_root=str(tmp_path),
        datalist_file=str(datalist),
        output_dir=str(out),
        eval_section="validation",
        **extra,
        **overrides,
    )
    return out


def assert_metrics_saver_agrees(out, class_names) -> None:
    """MONAI's MetricsSaver files next to the report: its per-case Dice (the evaluator's ``MeanDice``, columns
    ``class0 ..`` the foreground classes, ``nan`` where the label lacks the class) equals the report's Dice."""
    rows = [r for r in csv.DictReader(open(out / "metrics_per_case.csv")) if r["status"] == "ok"]
    saved = {case_name(r["filename"]): r for r in csv.DictReader(open(out / "val_mean_dice_raw.csv"))}
    assert set(saved) == {r["case"] for r in rows}
    compared = 0
    for row in rows:
        for k, name in enumerate(class_names[1:]):
            monai_dice = float(saved[row["case"]][f"class{k}"])
            true_size = next(float(v) for key, v in row.items() if key.startswith(f"{name}_true_volume"))
            if true_size > 0:
                assert monai_dice == pytest.approx(float(row[f"{name}_dice"]), abs=1e-4), (row["case"], name)
                compared += 1
            else:  # MONAI: nan (ignore_empty); the report: 0 if predicted, null if in neither
                assert math.isnan(monai_dice) and row[f"{name}_dice"] in ("", "0.0"), (row["case"], name)
    assert compared > 0
    assert (out / "metrics.csv").read_text().startswith("val_mean_dice,")
    assert (out / "val_mean_dice_summary.csv").read_text().startswith("class,mean,median,std,notnans")


def test_ct_evaluation_report(ct_demo, tmp_path):
    # the network grid (4.8 mm) differs from the images' (3.6 mm): metrics on the original grid
    out = evaluate_tiny(CT_BUNDLE, TINY_CT_OVERRIDES, ct_demo, tmp_path, pixdim=[4.8, 4.8, 10.0])
    expected_cases = len(json.loads(ct_demo.read_text())["validation"])
    rows = list(csv.DictReader(open(out / "metrics_per_case.csv")))
    assert len(rows) == expected_cases
    for column in ("ventricles_dice", "SDH_iou", "IPH_hd95_mm", "IVH_asd_mm", "EDH_volume_error_ml"):
        assert column in rows[0]
    summary = json.loads((out / "metrics_summary.json").read_text())
    assert summary["num_cases"] == expected_cases
    assert set(summary["per_class"]) == {"ventricles", "EDH", "SDH", "IPH", "IVH"}
    assert {"sensitivity", "specificity"} <= set(summary["detection"])
    assert summary["detection"]["source"] == "image_head"  # the CT network's image-level head
    assert {"sensitivity", "specificity"} <= set(summary["detection_from_mask"])
    for name in ("EDH", "SDH", "IPH", "IVH"):
        assert {"roc_auc", "sensitivity"} <= set(summary["per_class"][name]["detection_head"])
    for case in summary["cases"]:  # metrics on the original 64 x 64 x 16 grid at 3.6 x 3.6 x 10 mm
        assert case["grid"] == [64, 64, 16] and case["spacing_mm"] == [3.6, 3.6, 10.0]
    assert all(r["detection_source"] == "image_head" for r in rows)
    assert summary["overlays"]["best"] and summary["overlays"]["worst"]
    for entry in summary["overlays"]["best"] + summary["overlays"]["worst"]:
        assert (out / entry["png"].split("/")[-1]).is_file()
    assert_metrics_saver_agrees(out, ["background", "ventricles", "EDH", "SDH", "IPH", "IVH"])


def test_us_evaluation_on_the_original_grid(us_demo, tmp_path):
    # the network sees 64 x 64; the phantoms are 96 x 96 at 0.8 mm
    out = evaluate_tiny(US_BUNDLE, TINY_US_OVERRIDES, us_demo, tmp_path)
    summary = json.loads((out / "metrics_summary.json").read_text())
    assert summary["num_cases"] == len(json.loads(us_demo.read_text())["validation"])
    for case in summary["cases"]:
        assert case["grid"] == [96, 96] and case["spacing_mm"] == [0.8, 0.8]
    assert summary["detection"]["source"] == "mask"  # the ultrasound network has no image-level head
    assert "mean_abs_volume_error_mm2" in summary["per_class"]["ventricles"]
    assert_metrics_saver_agrees(out, ["background", "ventricles", "IVH_clot"])


def test_onnx_runtime_matches_torch(us_demo, tmp_path):
    pytest.importorskip("onnxruntime")
    save_tiny_checkpoint(US_BUNDLE, tmp_path, TINY_US_OVERRIDES)
    run_workflow(US_BUNDLE, ["inference.json"], run_id="export_onnx", bundle_root=str(tmp_path), **TINY_US_OVERRIDES)
    assert (tmp_path / "models" / "model.onnx").is_file()
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(all_items(us_demo)[0]["image"], inputs / "case.nii.gz")
    for engine, flag in (("torch", False), ("ort", True)):
        run_workflow(
            US_BUNDLE,
            ["inference.json"],
            bundle_root=str(tmp_path),
            input_dir=str(inputs),
            output_dir=str(tmp_path / engine),
            use_onnxruntime=flag,
            **TINY_US_OVERRIDES,
        )
    a = np.asarray(nib.load(tmp_path / "torch" / "case_seg.nii.gz").dataobj)
    b = np.asarray(nib.load(tmp_path / "ort" / "case_seg.nii.gz").dataobj)
    assert (a == b).mean() > 0.999


def test_torchscript_export_matches(tmp_path):
    from monai.bundle import ckpt_export

    ckpt = save_tiny_checkpoint(CT_BUNDLE, tmp_path, TINY_CT_OVERRIDES)
    configs = CT_BUNDLE / "configs"
    overrides = {"bundle_root": str(tmp_path), "network_def#channels": [8, 16, 32, 64], "network_def#num_heads": 2}
    ckpt_export(
        net_id="network_def",
        filepath=str(tmp_path / "model.ts"),
        ckpt_file=str(ckpt),
        meta_file=str(configs / "metadata.json"),
        config_file=str(configs / "inference.json"),
        **overrides,
    )
    scripted = torch.jit.load(str(tmp_path / "model.ts"))
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(configs / "inference.json"))
    parser.update(overrides)
    net = parser.get_parsed_content("network_def")
    net.load_state_dict(torch.load(ckpt, weights_only=True))
    x = torch.rand(1, 3, 32, 32, 16)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), net.eval()(x), atol=1e-4, rtol=1e-4)
