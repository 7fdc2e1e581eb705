"""Per-case metrics on known masks and the evaluation report files."""

from __future__ import annotations

import csv
import json
import warnings

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


def _ellipse(shape, centre, radii) -> np.ndarray:
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radii)) <= 1.0


def _anisotropic_3d_case():
    """Overlapping ellipsoids (a, b), a class only in the label (c), one only in the prediction (d), one absent (e)."""
    shape = (40, 36, 12)
    label, pred = np.zeros(shape), np.zeros(shape)
    label[_ellipse(shape, (20, 18, 6), (12, 10, 4))] = 1
    pred[_ellipse(shape, (21, 17, 6), (11, 11, 4))] = 1
    label[_ellipse(shape, (10, 10, 5), (4, 3, 2))] = 2
    pred[_ellipse(shape, (11, 10, 6), (5, 3, 2))] = 2
    label[_ellipse(shape, (30, 28, 3), (3, 3, 1))] = 3
    pred[_ellipse(shape, (32, 6, 9), (2, 2, 1))] = 4
    return pred[None], label[None]


# case_metrics of the hand-written implementation (8b87d97: pair counts, get_surface_distance, np.percentile) on
# these cases; MONAI's metrics must give the same figures. Unrounded, the largest difference was 1.2e-7 mm (ASD,
# float32 sums); Dice, IoU and HD95 were equal.
RECORDED_3D = {  # class: (dice, iou, hd95_mm, asd_mm) at 0.45 x 0.45 x 5.0 mm
    "a": (0.8982, 0.8153, 0.9, 0.2108),
    "b": (0.5755, 0.404, 1.7556, 0.6653),
    "c": (0.0, 0.0, None, None),
    "d": (0.0, 0.0, None, None),
    "e": (None, None, None, None),
}
RECORDED_2D = {(0.3, 0.2, 1.0): (0.8712, 0.7717, 2.2804, 0.4781), (0.5, 0.5): (0.8712, 0.7717, 4.5616, 1.0132)}


def _assert_recorded(entry: dict, recorded: tuple) -> None:
    for key, value, tol in zip(("dice", "iou", "hd95_mm", "asd_mm"), recorded, (1e-6, 1e-6, 1e-4, 1e-4)):
        if value is None:
            assert entry[key] is None, (key, entry[key])
        else:
            assert entry[key] == pytest.approx(value, abs=tol), (key, entry[key], value)


def test_monai_metrics_give_the_recorded_figures_3d_anisotropic():
    pred, label = _anisotropic_3d_case()
    names = ["bg", "a", "b", "c", "d", "e"]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*(all 0|nan|inf).*")  # empty classes never reach MONAI
        m = case_metrics(pred, label, (0.45, 0.45, 5.0), names, lesion_classes=[2, 3])
    for name, recorded in RECORDED_3D.items():
        _assert_recorded(m[name], recorded)
    assert m["a"]["volume_error_ml"] == pytest.approx(0.0041) and m["c"]["true_volume_ml"] == pytest.approx(0.0314)
    assert m["c"]["present_true"] and not m["c"]["present_pred_mask"] and m["lesion_present_pred"] is True


def test_monai_metrics_give_the_recorded_figures_2d_label_map_and_one_hot():
    shape = (50, 40)
    label, pred = np.zeros(shape), np.zeros(shape)
    label[_ellipse(shape, (25, 20), (15, 12))] = 1
    pred[_ellipse(shape, (24, 22), (14, 13))] = 1
    pred[5:8, 30:35] = 1  # a stray island: HD95 and ASD feel it
    wh1, iso = (0.3, 0.2, 1.0), (0.5, 0.5)
    m = case_metrics(pred[None, ..., None], label[None, ..., None], wh1, ["bg", "head"])["head"]  # (W, H, 1)
    _assert_recorded(m, RECORDED_2D[wh1])
    assert m["pred_volume_mm2"] == pytest.approx(34.92) and m["volume_error_mm2"] == pytest.approx(1.38)
    one_hot = [np.stack([x == 0, x == 1]).astype(float) for x in (pred, label)]
    _assert_recorded(case_metrics(*one_hot, iso, ["bg", "head"])["head"], RECORDED_2D[iso])


def test_masks_at_the_image_border_and_a_far_voxel_give_the_recorded_figures():
    """The metrics crop to the classes' bounding box: masks touching the border and a stray far voxel are kept."""
    label, pred = np.zeros((1, 30, 30)), np.zeros((1, 30, 30))
    label[0, :10, :12] = 1
    pred[0, :12, 2:14] = 1
    label[0, 20:23, 20:23] = 2
    pred[0, 29, 29] = 2  # in the corner, alone
    m = case_metrics(pred, label, (1.0, 0.5), ["bg", "a", "b"])
    _assert_recorded(m["a"], (0.7576, 0.6098, 2.0, 0.9251))
    _assert_recorded(m["b"], (0.0, 0.0, 9.9876, 8.835))
    assert m["a"]["volume_error_mm2"] == 12.0 and m["b"]["pred_volume_mm2"] == 0.5


def test_roc_auc_recorded_values_and_single_class():
    from cranialseg.metrics.evaluation import roc_auc

    truth = [True, False, False, True, False, True]
    assert roc_auc([0.5, 0.5, 0.1, 0.9, 0.9, 0.3], truth) == pytest.approx(0.5556, abs=1e-6)  # 5 of 9 pairs
    assert roc_auc([0.2, 0.2], [True, False]) == 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # MONAI warns and gives nan on one class: we give None without asking it
        assert roc_auc([0.3, 0.8], [False, False]) is None
    with pytest.raises(ValueError, match="3 scores for 2 outcomes"):
        roc_auc([0.1, 0.2, 0.3], [True, False])


def test_detection_rates_skip_unknown_truth_and_give_none_without_negatives():
    cases = [
        {"lesion_present_true": True, "lesion_present_pred": True},
        {"lesion_present_true": True, "lesion_present_pred": False},
        {"lesion_present_true": True, "lesion_present_pred": True},
        {"lesion_present_true": None, "lesion_present_pred": True},  # unknown truth: not counted
        {"lesion_present_pred": False},
    ]
    rates = detection_rates(cases)
    counts = [rates[k] for k in ("true_positive", "false_negative", "true_negative", "false_positive")]
    assert counts == [2, 1, 0, 0]
    assert rates["sensitivity"] == pytest.approx(0.6667, abs=1e-6) and rates["specificity"] is None
    assert detection_rates([]) == {
        "true_positive": 0,
        "false_negative": 0,
        "true_negative": 0,
        "false_positive": 0,
        "sensitivity": None,
        "specificity": None,
    }


def test_docstring_examples():
    import doctest

    from cranialseg.metrics import evaluation

    result = doctest.testmod(evaluation, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted >= 5 and result.failed == 0
