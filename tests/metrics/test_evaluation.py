"""Per-case metrics on known masks and the evaluation report files."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from cranialseg.handlers import EvaluationReport
from cranialseg.metrics import case_metrics, detection_rates, summarize_cases


def _squares():
    pred = np.zeros((1, 20, 20))
    label = np.zeros((1, 20, 20))
    label[0, 4:10, 4:10] = 1  # 36 px
    pred[0, 4:10, 6:12] = 1  # 36 px, overlap 24
    return pred, label


def test_dice_iou_hd_asd_volume_known_values():
    pred, label = _squares()
    m = case_metrics(pred, label, (0.5, 2.0), ["bg", "a", "b"])["a"]
    assert m["dice"] == pytest.approx(2 * 24 / 72, abs=1e-4)
    assert m["iou"] == pytest.approx(24 / 48, abs=1e-4)
    assert m["hd95_mm"] == pytest.approx(4.0)  # 2 columns shift x 2.0 mm
    assert m["pred_volume_mm2"] == m["true_volume_mm2"] == 36.0 and m["volume_error_mm2"] == 0.0
    assert 0 < m["asd_mm"] < 4.0
    absent = case_metrics(pred, label, (1.0, 1.0), ["bg", "a", "b"])["b"]
    assert absent["dice"] is None and absent["hd95_mm"] is None


def test_volume_in_ml_and_detection_flags():
    label = np.zeros((1, 10, 10, 10))
    label[0, :5, :5, :4] = 2  # 100 voxels of 8 mm3 = 0.8 mL
    pred = np.zeros_like(label)
    m = case_metrics(pred, label, (2.0, 2.0, 2.0), ["bg", "a", "b"], lesion_classes=[2])
    assert m["b"]["true_volume_ml"] == 0.8 and m["b"]["volume_error_ml"] == -0.8 and m["b"]["dice"] == 0.0
    assert m["lesion_present_true"] is True and m["lesion_present_pred"] is False


def test_detection_rates():
    flags = [(True, True), (True, False), (False, False), (False, True), (False, False)]
    cases = [{"lesion_present_true": t, "lesion_present_pred": p} for t, p in flags]
    rates = detection_rates(cases)
    assert rates["sensitivity"] == 0.5 and rates["specificity"] == pytest.approx(2 / 3, abs=1e-4)


def test_report_writes_csv_json_and_overlays(tmp_path):
    report = EvaluationReport(tmp_path, ["bg", "a", "b"], lesion_classes=[2], min_lesion_voxels=1)
    pred, label = _squares()
    report.add_case("good", label, label, label, (1.0, 1.0))
    report.add_case("shifted", label, pred, label, (1.0, 1.0))
    summary = report.write()
    assert summary["per_class"]["a"]["dice"] == pytest.approx((1.0 + 2 * 24 / 72) / 2, abs=1e-4)
    assert summary["overlays"]["best"][0]["case"] == "good" and summary["overlays"]["worst"][0]["case"] == "shifted"
    assert json.loads((tmp_path / "metrics_summary.json").read_text())["num_cases"] == 2
    rows = list(csv.DictReader(open(tmp_path / "metrics_per_case.csv")))
    assert [r["case"] for r in rows] == ["good", "shifted"] and float(rows[1]["a_dice"]) == pytest.approx(0.6667)
    assert (tmp_path / "overlay_best_good.png").is_file() and (tmp_path / "overlay_worst_shifted.png").is_file()
    assert summarize_cases([], ["bg", "a"])["mean_dice"] is None


def test_detection_from_the_image_head_and_per_class_auc():
    label = np.zeros((1, 8, 8, 4))
    label[0, :2, :2, :2] = 2  # class b present
    pred = np.zeros_like(label)  # the mask misses it
    names = ["bg", "a", "b", "c"]
    m = case_metrics(pred, label, (1.0,) * 3, names, lesion_classes=[2, 3], presence_probs=[0.8, 0.1])
    assert m["lesion_present_pred"] is True and m["lesion_present_mask"] is False
    assert m["detection_source"] == "image_head"
    assert m["b"]["present_true"] and m["b"]["present_prob"] == 0.8 and m["b"]["present_pred_head"]
    assert m["c"]["present_true"] is False and m["c"]["present_pred_head"] is False
    with pytest.raises(ValueError, match="1 presence probabilities for 2"):
        case_metrics(pred, label, (1.0,) * 3, names, lesion_classes=[2, 3], presence_probs=[0.8])
    empty = np.zeros_like(label)
    cases = [
        {"name": "pos", "metrics": m},
        {
            "name": "neg",
            "metrics": case_metrics(pred, empty, (1.0,) * 3, names, lesion_classes=[2, 3], presence_probs=[0.3, 0.6]),
        },
    ]
    summary = summarize_cases(cases, names)
    assert summary["detection"]["source"] == "image_head"
    assert summary["detection"]["sensitivity"] == 1.0 and summary["detection"]["specificity"] == 0.0  # c at 0.6
    assert summary["detection"]["roc_auc"] == 1.0  # any lesion: max probability 0.8 (positive) > 0.6 (negative)
    assert summary["detection_from_mask"]["sensitivity"] == 0.0
    head_b = summary["per_class"]["b"]["detection_head"]
    assert head_b["roc_auc"] == 1.0 and head_b["sensitivity"] == 1.0 and head_b["specificity"] == 1.0
    assert summary["per_class"]["c"]["detection_head"]["roc_auc"] is None  # c never present


def test_roc_auc_ties_count_half():
    from cranialseg.metrics.evaluation import roc_auc

    assert roc_auc([0.5, 0.5, 0.1], [True, False, False]) == 0.75
    assert roc_auc([0.1, 0.9], [True, False]) == 0.0
    assert roc_auc([0.3], [True]) is None


def test_report_reads_presence_logits_and_batch_items(tmp_path):
    import torch

    class Engine:
        class state:
            pass

    report = EvaluationReport(tmp_path, ["bg", "a", "b"], lesion_classes=[2], min_lesion_voxels=1)
    pred, label = _squares()
    Engine.state.output = [{"pred": torch.as_tensor(pred), "presence_logits": torch.tensor([2.0])}]
    Engine.state.batch = [{"label": torch.as_tensor(label), "image": torch.as_tensor(label)}]
    report.collect(Engine)
    metrics = report.cases[0]["metrics"]
    assert metrics["b"]["present_prob"] == pytest.approx(0.8808, abs=1e-4)  # sigmoid(2)
    assert metrics["lesion_present_pred"] is True and metrics["lesion_present_true"] is False
    Engine.state.batch = [{}]
    with pytest.raises(KeyError, match="no 'label'"):
        report.collect(Engine)
