"""EvaluationReport lists failed cases (screened out before, or failing during the evaluation) and goes on."""

from __future__ import annotations

import csv
import json
from types import SimpleNamespace

import torch
from monai.data import MetaTensor

from cranialseg.data import ScreenCases
from cranialseg.handlers import EvaluationReport


def item(name, label_shape=(4, 4)):
    pred = torch.zeros(3, 4, 4)
    pred[1, 1:3, 1:3] = 1
    pred[0] = 1 - pred[1]
    label = torch.zeros(3, *label_shape)
    label[1, 1:3, 1:3] = 1
    label[0] = 1 - label[1]
    meta = {"filename_or_obj": f"/data/{name}.nii.gz"}
    return {
        "pred": MetaTensor(pred, meta=meta),
        "label": MetaTensor(label, meta={"filename_or_obj": f"/l/{name}.nii.gz"}),
    }


def test_report_goes_on_past_a_failing_case_and_lists_it(tmp_path):
    screened = [{"case": "c0", "file": "/l/c0.nii.gz", "error": "/l/c0.nii.gz: label has unexpected values [255]"}]
    report = EvaluationReport(tmp_path, ["background", "ventricles", "IVH"], failed_cases=screened)
    report.reset()
    for batch in ([item("c1")], [item("c2", label_shape=(4, 5))], [item("c3")]):
        report.collect(SimpleNamespace(state=SimpleNamespace(output=batch, batch=batch)))
    summary = report.write()
    assert summary["num_cases"] == 2 and summary["per_class"]["ventricles"]["dice"] == 1.0
    assert summary["per_class"]["IVH"]["dice"] is None  # absent from prediction and label: null, not 0 or 1
    assert summary["num_failed"] == 2
    assert [f["case"] for f in summary["failed_cases"]] == ["c0", "c2"]
    assert summary["failed_cases"][1]["file"] == "/l/c2.nii.gz" and "shape" in summary["failed_cases"][1]["error"]
    assert json.loads((tmp_path / "metrics_summary.json").read_text())["num_failed"] == 2
    rows = list(csv.DictReader(open(tmp_path / "metrics_per_case.csv")))
    assert [(r["case"], r["status"]) for r in rows] == [("c1", "ok"), ("c3", "ok"), ("c0", "failed"), ("c2", "failed")]
    assert rows[0]["IVH_dice"] == "" and rows[0]["ventricles_dice"] == "1.0"


def test_screen_keeps_usable_cases_and_names_the_file():
    def load(item):
        if "bad" in item["label"]:
            raise RuntimeError("applying transform") from ValueError(f"{item['label']}: unreadable")
        return item

    screen = ScreenCases(load)
    kept = screen([{"image": "a.nii.gz", "label": "a_l.nii.gz"}, {"image": "b.nii.gz", "label": "bad.nii.gz"}])
    assert kept == [{"image": "a.nii.gz", "label": "a_l.nii.gz"}]
    assert screen.failures == [
        {
            "case": "b",
            "image": "b.nii.gz",
            "label": "bad.nii.gz",
            "file": "bad.nii.gz",
            "error": "bad.nii.gz: unreadable",
        }
    ]
