"""Bad labels are named before they are used: training stops at start-up, evaluation lists the case and goes on."""

from __future__ import annotations

import csv
import json

import nibabel as nib
import numpy as np
import pytest

from cranialseg.data import root_error
from cranialseg.io import InputError
from tests.bundle.helpers import CT_BUNDLE, TINY_CT_OVERRIDES, TINY_US_OVERRIDES, US_BUNDLE, all_items, run_workflow
from tests.bundle.test_evaluate_export import evaluate_tiny


def write_bad_label(item, path, problem):
    """A copy of ``item``'s label with a value outside the label set, or on a smaller grid than the image."""
    img = nib.load(item["label"])
    data = np.asarray(img.dataobj).astype(np.uint8)
    if problem == "values":
        data[: data.shape[0] // 4] = 255
    else:
        data = data[:, : data.shape[1] * 3 // 4, ...]
        data = data[..., : data.shape[2] * 3 // 4] if data.ndim == 3 else data
    nib.save(nib.Nifti1Image(data, img.affine), path)
    return {**item, "label": str(path)}


def datalist(path, training, validation):
    path.write_text(json.dumps({"training": training, "validation": validation, "test": []}, indent=4))
    return path


@pytest.mark.parametrize(
    "bundle, overrides, problem, expected",
    [
        (US_BUNDLE, {**TINY_US_OVERRIDES, "batch_size": 2}, "values", "label has unexpected values [255]"),
        (CT_BUNDLE, {**TINY_CT_OVERRIDES, "pixdim": [3.6, 3.6, 10.0]}, "grid", "shape (64, 48, 12) differs from"),
    ],
)
def test_training_names_a_bad_label_before_it_starts(bundle, overrides, problem, expected, us_demo, ct_demo, tmp_path):
    items = all_items(us_demo if bundle == US_BUNDLE else ct_demo)
    bad = write_bad_label(items[1], tmp_path / "bad_label.nii.gz", problem)
    dl = datalist(tmp_path / "datalist.json", [items[0], bad], [items[2]])
    with pytest.raises(Exception) as err:
        run_workflow(
            bundle, ["train.json"], bundle_root=str(tmp_path), datalist_file=str(dl), max_epochs=1, **overrides
        )
    cause = root_error(err.value)
    assert isinstance(cause, InputError) and cause.path == str(tmp_path / "bad_label.nii.gz"), repr(err.value)
    assert expected in cause.problem
    assert not (tmp_path / "models" / "model.pt").exists()


def test_evaluation_goes_on_past_bad_cases(us_demo, tmp_path):
    items = all_items(us_demo)
    bad_values = write_bad_label(items[2], tmp_path / "bad_values.nii.gz", "values")
    bad_grid = write_bad_label(items[3], tmp_path / "bad_grid.nii.gz", "grid")
    dl = datalist(tmp_path / "datalist.json", [], [items[0], bad_values, items[1], bad_grid])
    out = evaluate_tiny(US_BUNDLE, TINY_US_OVERRIDES, dl, tmp_path)
    summary = json.loads((out / "metrics_summary.json").read_text())
    assert summary["num_cases"] == 2 and summary["num_failed"] == 2
    failed = {f["file"]: f for f in summary["failed_cases"]}
    assert set(failed) == {str(tmp_path / "bad_values.nii.gz"), str(tmp_path / "bad_grid.nii.gz")}
    assert "unexpected values [255]" in failed[str(tmp_path / "bad_values.nii.gz")]["error"]
    assert "shape (96, 72) differs from image" in failed[str(tmp_path / "bad_grid.nii.gz")]["error"]
    rows = list(csv.DictReader(open(out / "metrics_per_case.csv")))
    assert [r["status"] for r in rows] == ["ok", "ok", "failed", "failed"]
    assert rows[2]["case"] == "us_002" and "bad_values.nii.gz" in rows[2]["error"] and rows[2]["mean_dice"] == ""
