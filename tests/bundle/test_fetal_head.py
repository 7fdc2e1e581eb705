"""The fetal-head (HC18) bundle: training from a prepared HC18 folder, evaluation on the original grid, inference
with measurements on PNG (CSV spacing), ultrasound DICOM (PixelSpacing) and 2D NIfTI (affine), shipped weights."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from cranialseg.data.screening import case_name
from cranialseg.metrics.ellipse import ramanujan_circumference
from tests.bundle.helpers import BUNDLES, run_workflow
from tests.scripts.test_prepare_hc18 import make_hc18_folder

BUNDLE = BUNDLES / "fetal_head_us_segmentation"
HC18 = Path(__file__).resolve().parents[3] / "shared" / "data" / "hc18_fetal_head_us"
TINY = {"image_size": [64, 48], "network_def#channels": [8, 16, 32, 64, 128], "network_def#num_heads": 2}


class ThresholdNet(torch.nn.Module):
    """Two logits from the normalised intensity: head where it is above 0.5 (a fixed, exact segmenter)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([0.5 - x, x - 0.5], dim=1) * 20.0


def head_picture(size=(200, 136), center=(100, 68), axes=(60, 38)) -> np.ndarray:
    """Rows x columns uint8 picture: a bright filled ellipse on dark noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[: size[1], : size[0]]
    inside = ((xx - center[0]) / axes[0]) ** 2 + ((yy - center[1]) / axes[1]) ** 2 <= 1
    return np.where(inside, rng.integers(200, 255, inside.shape), rng.integers(0, 60, inside.shape)).astype(np.uint8)


def test_score_head_case_gives_the_recorded_figures():
    """Dice (now MONAI's compute_dice) and HD / HD95 as the hand-written Dice of 8b87d97 gave them."""
    from cranialseg.metrics.fetal_head import score_head_case

    rows, cols = np.mgrid[:50, :40]
    label = ((rows - 25) / 15) ** 2 + ((cols - 20) / 12) ** 2 <= 1
    pred = ((rows - 24) / 14) ** 2 + ((cols - 22) / 13) ** 2 <= 1
    pred[5:8, 30:35] = True  # a stray island
    m = score_head_case(pred, label, (0.3, 0.2))
    assert m["dice"] == pytest.approx(2 * 497 / (582 + 559), abs=1e-9)  # 582 and 559 px, 497 shared
    assert m["hd_mm"] == pytest.approx(2.6907, abs=1e-4) and m["hd95_mm"] == pytest.approx(2.2804, abs=1e-4)
    empty = np.zeros_like(label)
    assert score_head_case(empty, empty, (1.0, 1.0))["dice"] == 1.0  # no head in either: agreement
    missed = score_head_case(empty, label, (1.0, 1.0))
    assert missed["dice"] == 0.0 and missed["hd_mm"] is None and missed["hc_mm"] is None


def write_us_dicom(path: Path, picture: np.ndarray, spacing_mm: float) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"  # Ultrasound Image Storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientID = "US", "anon"
    ds.Rows, ds.Columns = picture.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    ds.PixelSpacing = [spacing_mm, spacing_mm]
    ds.PixelData = picture.tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_inference_measures_png_dicom_nifti(tmp_path):
    picture = head_picture()
    picture[10:18, 10:18] = 250  # a bright speck away from the head: not part of the mask
    picture[64:72, 96:104] = 5  # a dark spot inside the head: filled
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(picture).save(inputs / "001_HC.png")
    write_us_dicom(inputs / "us.dcm", picture, 0.2)
    nib.save(nib.Nifti1Image(picture.T.astype(np.float32), np.diag([0.15, 0.15, 1.0, 1.0])), inputs / "frame.nii.gz")
    Image.fromarray(picture).save(inputs / "nospacing.png")
    table = tmp_path / "pixel_size_and_HC.csv"
    table.write_text("filename,pixel size(mm),head circumference (mm)\n001_HC.png,0.1,100\n")
    out = tmp_path / "out"
    run_workflow(
        BUNDLE,
        ["inference.json"],
        input_dir=str(inputs),
        output_dir=str(out),
        pixel_spacing_csv=str(table),
        network=ThresholdNet(),
        image_size=[128, 96],
        head_outline_offset=0.0,  # the threshold's outline is the drawn ellipse itself (no annotation line)
        device="$torch.device('cpu')",
    )
    hc_px = ramanujan_circumference(60, 38)
    expected = {"001_HC": 0.1, "us": 0.2, "frame": 0.15}
    for case, spacing in expected.items():
        doc = json.loads((out / f"{case}_measurements.json").read_text())
        assert doc["units"] == "mm" and doc["head_found"], doc
        assert doc["pixel_spacing_mm"] == pytest.approx([spacing, spacing], rel=1e-5)
        assert doc["head_circumference_mm"] == pytest.approx(hc_px * spacing, rel=0.02), case
        assert doc["biparietal_diameter_mm"] == pytest.approx(2 * 38 * spacing, rel=0.03)
        assert doc["ellipse"]["center_x_mm"] == pytest.approx(100 * spacing, abs=2 * spacing)
        assert doc["ellipse"]["center_y_mm"] == pytest.approx(68 * spacing, abs=2 * spacing)
        assert (out / f"{case}_overlay.png").is_file() and (out / f"{case}_seg.nii.gz").is_file()
    seg = np.asarray(Image.open(out / "001_HC_seg.png")) > 0  # rows x columns, like the input
    assert seg.shape == picture.shape and not seg[10:18, 10:18].any() and seg[64:72, 96:104].all()
    assert json.loads((out / "001_HC_measurements.json").read_text())["spacing_source"].startswith("pixel_spacing_csv")
    assert json.loads((out / "us_measurements.json").read_text())["spacing_source"] == "PixelSpacing"
    nospacing = json.loads((out / "nospacing_measurements.json").read_text())
    assert nospacing["units"] == "pixel" and nospacing["head_circumference_px"] == pytest.approx(hc_px, rel=0.02)
    rows = list(csv.reader((out / "hc18_ellipses.csv").open()))
    assert rows[0] == ["filename", "center_x_mm", "center_y_mm", "semi_axes_a_mm", "semi_axes_b_mm", "angle_rad"]
    assert sorted(r[0] for r in rows[1:]) == ["001_HC.png", "frame.nii.gz", "us.dcm"]
    summary = json.loads((out / "hc18_ellipses_summary.json").read_text())
    assert summary["no_spacing"] == ["nospacing.png"]


@pytest.fixture(scope="module")
def prepared_hc18(tmp_path_factory):
    from cranialseg.demo.hc18 import prepare_hc18

    root = tmp_path_factory.mktemp("hc18")
    src = make_hc18_folder(root / "src", subjects=range(10))
    return Path(prepare_hc18(src, root / "prepared", fractions=(0.6, 0.2, 0.2))).parent


@pytest.mark.slow
def test_training_from_prepared_folder(prepared_hc18, tmp_path):
    wf = run_workflow(
        BUNDLE,
        ["train.json"],
        run_id="training",
        data_dir=str(prepared_hc18),
        bundle_root=str(tmp_path),
        max_epochs=1,
        batch_size=2,
        device="$torch.device('cpu')",
        **TINY,
    )
    assert len(wf.parser.get_parsed_content("train_datalist")) == len(
        json.loads((prepared_hc18 / "datalist.json").read_text())["training"]
    )
    state = torch.load(tmp_path / "models" / "model.pt", weights_only=True)
    wf.parser.get_parsed_content("network_def", instantiate=True).load_state_dict(state, strict=True)


def test_evaluation_on_the_original_grid(prepared_hc18, tmp_path):
    """evaluate.json with an exact segmenter: Dice ~1, HD small, and the CSV's head circumference."""
    run_workflow(
        BUNDLE,
        ["train.json", "evaluate.json"],
        run_id="evaluating",
        data_dir=str(prepared_hc18),
        bundle_root=str(tmp_path),
        output_dir=str(tmp_path / "eval"),
        network=ThresholdNet(),
        head_outline_offset=0.0,  # the threshold's outline is the drawn ellipse itself
        device="$torch.device('cpu')",
        **{"validate#handlers": [h for h in _eval_handlers() if "CheckpointLoader" not in h["_target_"]]},
        **TINY,
    )
    summary = json.loads((tmp_path / "eval" / "head_metrics_summary.json").read_text())
    n_test = len(json.loads((prepared_hc18 / "datalist.json").read_text())["test"])
    assert summary["summary"]["num_cases"] == n_test > 0
    assert summary["summary"]["dice"]["mean"] > 0.97
    assert summary["summary"]["hc_abs_diff_mm"]["mean"] < 0.03 * 12  # HC ~ 10-30 mm here: within ~3 %
    assert summary["summary"]["hd_mm"]["mean"] < 1.0  # mm, pixels of 0.1-0.3 mm
    rows = list(csv.DictReader((tmp_path / "eval" / "head_metrics_per_case.csv").open()))
    assert len(rows) == n_test and {"dice", "hd_mm", "hc_diff_mm", "hc_abs_diff_mm"} <= set(rows[0])
    for row in rows:  # on the original 200 x 136 grid at the CSV's pixel size
        assert float(row["reference_hc_mm"]) == pytest.approx(
            ramanujan_circumference(60.5, 38.5) * _pixel(row), rel=1e-3
        )
    # MONAI's MetricsSaver next to the report: the evaluator's MeanDice per image, the same Dice
    saved = csv.DictReader((tmp_path / "eval" / "val_mean_dice_raw.csv").open())
    monai_dice = {case_name(r["filename"]): float(r["class0"]) for r in saved}
    assert monai_dice == pytest.approx({r["case"]: float(r["dice"]) for r in rows}, abs=2e-4)
    assert list((tmp_path / "eval").glob("overlay_best_1_*.png")) and list(
        (tmp_path / "eval").glob("overlay_worst_1_*.png")
    )


def _pixel(row: dict) -> float:
    return 0.1 + 0.01 * int(row["case"].split("_")[0])


def _eval_handlers() -> list:
    return json.loads((BUNDLE / "configs" / "evaluate.json").read_text())["validate#handlers"]


def test_training_without_datalist_names_the_preparation(tmp_path):
    with pytest.raises(Exception) as info:  # MONAI wraps the config expression's error
        run_workflow(BUNDLE, ["train.json"], run_id="training", data_dir=str(tmp_path), bundle_root=str(tmp_path))
    chain, error = [], info.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, FileNotFoundError) and "prepare_hc18.py" in str(e) for e in chain), chain


@pytest.mark.slow
@pytest.mark.shared
@pytest.mark.skipif(not (BUNDLE / "models" / "model.pt").is_file(), reason="no shipped fetal-head weights")
def test_shipped_weights_on_held_out_hc18_subjects(shared_data, tmp_path):
    """The shipped weights on 8 test-subject images (never seen in training) spread over the gestational range,
    original grid. Weights 0.3.0 (2026-12-05): Dice 0.958-0.987, mean 0.973; HC absolute difference mean 1.82 mm
    (0.07-4.05), near all 128 test images (Dice 0.974, HC 1.52 mm); the bounds are the bundle's goals (HC <= 2.5 mm)
    with a small margin on Dice. The 0.2.0 weights (Dice 0.938-0.982, HC 2.85 mm) would fail them. The first 8 test
    images alone are all early-pregnancy heads, the hardest: a sample of them says little of the bundle."""
    from cranialseg.demo.hc18 import hc18_subject, prepare_hc18, read_hc18_csv, split_subjects

    src = shared_data / "hc18_fetal_head_us"
    names = sorted(read_hc18_csv(src / "pixel_size_and_HC.csv"))
    split = split_subjects([hc18_subject(n) for n in names])
    test_names = [n for n in names if split[hc18_subject(n)] == "test"][::16][:8]  # every 16th of 128, by subject
    prepare_hc18(src, tmp_path / "data", cases=test_names)
    run_workflow(
        BUNDLE,
        ["train.json", "evaluate.json"],
        run_id="evaluating",
        data_dir=str(tmp_path / "data"),
        output_dir=str(tmp_path / "eval"),
        device="$torch.device('cpu')",
    )
    summary = json.loads((tmp_path / "eval" / "head_metrics_summary.json").read_text())["summary"]
    assert summary["num_cases"] == 8 and summary["no_head_found"] == 0
    assert summary["dice"]["mean"] >= 0.965, summary
    rows = list(csv.DictReader((tmp_path / "eval" / "head_metrics_per_case.csv").open()))
    assert min(float(r["dice"]) for r in rows) >= 0.95, rows
    assert summary["hc_abs_diff_mm"]["mean"] <= 2.5, summary


def test_evaluation_goes_on_past_a_bad_label(prepared_hc18, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(prepared_hc18, data)
    test_items = json.loads((data / "datalist.json").read_text())["test"]
    bad = data / test_items[0]["label"]
    img = nib.load(bad)
    nib.save(nib.Nifti1Image(np.full(img.shape, 3, np.uint8), img.affine), bad)  # label 3: not in {0, 1}
    run_workflow(
        BUNDLE,
        ["train.json", "evaluate.json"],
        run_id="evaluating",
        data_dir=str(data),
        bundle_root=str(tmp_path),
        output_dir=str(tmp_path / "eval"),
        network=ThresholdNet(),
        head_outline_offset=0.0,  # the threshold's outline is the drawn ellipse itself
        device="$torch.device('cpu')",
        **{"validate#handlers": [h for h in _eval_handlers() if "CheckpointLoader" not in h["_target_"]]},
        **TINY,
    )
    summary = json.loads((tmp_path / "eval" / "head_metrics_summary.json").read_text())["summary"]
    assert summary["num_cases"] == len(test_items) - 1
    (failed,) = summary["failed_cases"]
    assert Path(failed["file"]).name == bad.name and failed["error"]
    rows = list(csv.DictReader((tmp_path / "eval" / "head_metrics_per_case.csv").open()))
    assert [r["status"] for r in rows].count("failed") == 1 and rows[-1]["error"]
