"""Tests of the HC18 preparation (cranialseg.demo.hc18 and its thin CLI) on real HC18 images."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from monai.transforms import LoadImage
from PIL import Image, ImageDraw
from skimage.measure import regionprops

from cranialseg.demo.hc18 import hc18_head_mask, prepare_hc18, ramanujan_circumference, read_hc18_csv

REPO = Path(__file__).resolve().parents[2]
CASES = ["000_HC.png", "004_HC.png", "057_HC.png", "123_HC.png", "237_HC.png"]


def fitted_circumference_mm(mask: np.ndarray, spacing) -> float:
    """Circumference (Ramanujan) of the ellipse with the mask's second moments, in mm (isotropic-ish spacing)."""
    props = regionprops(mask.astype(np.uint8))[0]
    return ramanujan_circumference(props.axis_major_length / 2, props.axis_minor_length / 2) * float(np.mean(spacing))


def test_ramanujan_known_values():
    assert ramanujan_circumference(1.0, 1.0) == pytest.approx(2 * np.pi)
    assert ramanujan_circumference(5.0, 3.0) == pytest.approx(25.52699, abs=1e-4)  # exact 25.52699...


def test_outline_annotation_is_filled(tmp_path):
    img = Image.new("L", (80, 60), 0)
    ImageDraw.Draw(img).ellipse((10, 10, 70, 50), outline=255, width=2)
    img.save(tmp_path / "x.png")
    mask = hc18_head_mask(tmp_path / "x.png")
    assert mask.shape == (80, 60)  # (x, y)
    assert mask[40, 30] and not mask[2, 2]
    assert abs(mask.sum() - np.pi * 30.5 * 20.5) / (np.pi * 30.5 * 20.5) < 0.05


@pytest.mark.shared
def test_prepare_hc18_real_images(shared_data, tmp_path):
    src = shared_data / "hc18_fetal_head_us"
    path = prepare_hc18(src, tmp_path, cases=CASES)
    dl = json.loads(path.read_text())
    table = read_hc18_csv(src / "pixel_size_and_HC.csv")
    assert len(table) >= 300
    # fixed split: positions 4, 9, ... in the sorted list of usable images are validation (004 here)
    assert [Path(i["image"]).name for i in dl["validation"]] == ["004_HC.nii.gz"]
    assert len(dl["training"]) == 4
    usable = [p.name for p in (src / "images").glob("*.png") if p.name in table]
    assert len(usable) + len(dl["skipped_without_pixel_size"]) == len(list((src / "images").glob("*.png")))
    load = LoadImage(image_only=True)
    for item in dl["training"] + dl["validation"]:
        img = load(tmp_path / item["image"])
        lab = load(tmp_path / item["label"]).numpy()
        assert img.shape == lab.shape == (800, 540)
        pixel_mm, hc_mm = table[Path(item["image"]).name.replace(".nii.gz", ".png")]
        np.testing.assert_allclose(np.diag(img.affine.numpy())[:2], [pixel_mm, pixel_mm], rtol=1e-6)
        assert set(np.unique(lab)) == {0, 1}
        circ = fitted_circumference_mm(lab > 0, [pixel_mm, pixel_mm])
        assert abs(circ - hc_mm) / hc_mm < 0.03, (item["image"], circ, hc_mm)
        # the filled area matches the fitted ellipse's area
        props = regionprops((lab > 0).astype(np.uint8))[0]
        ellipse_area = np.pi * props.axis_major_length * props.axis_minor_length / 4
        assert abs(props.area - ellipse_area) / ellipse_area < 0.02


@pytest.mark.shared
def test_prepare_hc18_resized_cli(shared_data, tmp_path):
    src = shared_data / "hc18_fetal_head_us"
    spec = importlib.util.spec_from_file_location("_prepare_hc18_cli", REPO / "scripts" / "prepare_hc18.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    code = cli.main(
        [
            "--src",
            str(src),
            "--dst",
            str(tmp_path),
            "--size",
            "384",
            "256",
            "--cases",
            "000_HC.png",
            "057_HC.png",
        ]
    )
    assert code == 0
    dl = json.loads((tmp_path / "datalist.json").read_text())
    table = read_hc18_csv(src / "pixel_size_and_HC.csv")
    for item in dl["training"]:
        pixel_mm, hc_mm = table[Path(item["image"]).name.replace(".nii.gz", ".png")]
        lab = LoadImage(image_only=True)(tmp_path / item["label"])
        assert lab.shape == (384, 256)
        spacing = np.diag(lab.affine.numpy())[:2]
        np.testing.assert_allclose(spacing, [pixel_mm * 800 / 384, pixel_mm * 540 / 256], rtol=1e-6)
        np.testing.assert_allclose(item["pixel_mm"], spacing, rtol=1e-6)
        circ = fitted_circumference_mm(lab.numpy() > 0, spacing)
        assert abs(circ - hc_mm) / hc_mm < 0.04


def test_prepare_hc18_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="pixel_size_and_HC.csv"):
        prepare_hc18(tmp_path, tmp_path / "out")
    (tmp_path / "pixel_size_and_HC.csv").write_text("filename,pixel size(mm),head circumference (mm)\na.png,x,1\n")
    with pytest.raises(ValueError, match="line 2"):
        prepare_hc18(tmp_path, tmp_path / "out")
