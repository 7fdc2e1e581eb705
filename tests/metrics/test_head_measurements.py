"""Head ellipse fit, pixel spacing of uncalibrated frames, measurement JSON and the HC18 CSV."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from cranialseg.io.writers import HC18_CSV_HEADER, SaveHeadMeasurementsd, write_hc18_csv
from cranialseg.metrics.ellipse import fit_head_ellipse, ramanujan_circumference
from cranialseg.metrics.fetal_head import head_measurements, head_outline_offset_mm, score_head_case
from cranialseg.transforms.pixel_spacing import PixelSpacing, read_pixel_spacing_csv


def ellipse_mask(shape, center, a, b, theta, spacing=(1.0, 1.0)) -> np.ndarray:
    """A filled ellipse on an (x, y) grid; centre and semi-axes in mm, ``theta`` from x towards y."""
    x = np.arange(shape[0])[:, None] * spacing[0] - center[0]
    y = np.arange(shape[1])[None, :] * spacing[1] - center[1]
    u = x * math.cos(theta) + y * math.sin(theta)
    v = -x * math.sin(theta) + y * math.cos(theta)
    return (u / a) ** 2 + (v / b) ** 2 <= 1.0


@pytest.mark.parametrize(
    "spacing,center,a,b,theta",
    [
        ((0.1, 0.1), (40.0, 27.0), 30.0, 20.0, 0.5),  # HC18-like: 800 x 540 at 0.1 mm
        ((0.1, 0.2), (40.0, 54.0), 25.0, 15.0, 2.0),  # anisotropic pixels, axis order matters
        ((0.25, 0.25), (100.0, 67.0), 60.0, 59.0, 1.0),  # nearly a circle
    ],
)
def test_fit_recovers_a_known_ellipse(spacing, center, a, b, theta):
    mask = ellipse_mask((800, 540), center, a, b, theta, spacing)
    fit = fit_head_ellipse(mask, spacing)
    hc = ramanujan_circumference(a, b)
    assert fit["head_circumference_mm"] == pytest.approx(hc, rel=0.005)
    assert fit["center_x_mm"] == pytest.approx(center[0], abs=0.1)
    assert fit["center_y_mm"] == pytest.approx(center[1], abs=0.1)
    assert fit["biparietal_diameter_mm"] == pytest.approx(2 * b, rel=0.01)
    assert fit["occipitofrontal_diameter_mm"] == pytest.approx(2 * a, rel=0.01)
    assert 0 <= fit["angle_rad"] < math.pi
    if a - b > 1:  # the direction of the long axis (modulo pi), whichever semi-axis the fit calls a
        long_angle = (
            fit["angle_rad"] if fit["semi_axis_a_mm"] > fit["semi_axis_b_mm"] else fit["angle_rad"] + math.pi / 2
        )
        diff = (long_angle - theta) % math.pi
        assert min(diff, math.pi - diff) < 0.02


def test_ramanujan_matches_the_exact_perimeter():
    from scipy.special import ellipe

    a, b = 5.0, 3.0
    exact = 4 * a * ellipe(1 - (b / a) ** 2)
    assert ramanujan_circumference(a, b) == pytest.approx(exact, rel=1e-5)
    assert ramanujan_circumference(2.0, 2.0) == pytest.approx(4 * math.pi)


def test_no_head_gives_no_ellipse():
    assert fit_head_ellipse(np.zeros((50, 40))) is None
    tiny = np.zeros((50, 40))
    tiny[10:13, 10:13] = 1
    assert fit_head_ellipse(tiny) is None
    doc = head_measurements(np.zeros((1, 50, 40)), (0.1, 0.1))
    assert doc["head_found"] is False and "ellipse" not in doc and "no head" in doc["note"]


def test_largest_region_is_measured():
    mask = ellipse_mask((200, 150), (100, 75), 50, 30, 0.0)
    mask[5:12, 5:12] = True  # a speck elsewhere
    fit = fit_head_ellipse(mask, (1.0, 1.0))
    assert fit["center_x_mm"] == pytest.approx(100, abs=0.2)


def test_pixel_spacing_from_csv_argument_or_none(tmp_path):
    table = tmp_path / "px.csv"
    table.write_text("filename,pixel size(mm),head circumference (mm)\n001_HC.png,0.12,100\n")
    assert read_pixel_spacing_csv(table) == {"001_HC.png": 0.12}
    meta = {"spacing_source": "none: 1 mm assumed", "filename_or_obj": "/x/001_HC.png"}
    img = PixelSpacing(pixel_spacing=0.3, pixel_spacing_csv=table)(MetaTensor(torch.zeros(1, 8, 6), meta=dict(meta)))
    np.testing.assert_allclose(np.diag(img.affine.numpy())[:2], [0.12, 0.12])  # the CSV row wins
    assert img.meta["spacing_source"].startswith("pixel_spacing_csv") and img.meta["spacing_units"] == "mm"
    other = MetaTensor(torch.zeros(1, 8, 6), meta={**meta, "filename_or_obj": "/x/002_HC.png"})
    img = PixelSpacing(pixel_spacing=0.3, pixel_spacing_csv=table)(other)
    np.testing.assert_allclose(np.diag(img.affine.numpy())[:2], [0.3, 0.3])  # not listed: the argument
    img = PixelSpacing()(MetaTensor(torch.zeros(1, 8, 6), meta=dict(meta)))
    assert img.meta["spacing_units"] == "pixel"
    calibrated = MetaTensor(torch.zeros(1, 8, 6), affine=torch.diag(torch.tensor([0.2, 0.2, 1.0, 1.0])))
    calibrated.meta.update({"spacing_source": "PixelSpacing", "filename_or_obj": "/x/001_HC.png"})
    img = PixelSpacing(pixel_spacing_csv=table)(calibrated)
    np.testing.assert_allclose(np.diag(img.affine.numpy())[:2], [0.2, 0.2])  # DICOM keeps its own
    with pytest.raises(ValueError, match="pixel_spacing"):
        PixelSpacing(pixel_spacing=-1)
    with pytest.raises(FileNotFoundError, match="no such file"):
        PixelSpacing(pixel_spacing_csv=tmp_path / "missing.csv")


def _case(tmp_path, name: str) -> dict:
    return {"id": name.split(".")[0], "source": str(tmp_path / "in" / name), "output_dir": str(tmp_path / "out")}


def test_measurements_json_and_hc18_csv(tmp_path):
    (tmp_path / "out").mkdir()
    spacing = (0.15, 0.15)
    mask = ellipse_mask((200, 140), (15.0, 10.5), 9.0, 6.0, 0.3, spacing)
    affine = torch.diag(torch.tensor([*spacing, 1.0, 1.0], dtype=torch.float64))
    meta = {"spacing_units": "mm", "spacing_source": "pixel_spacing argument"}
    pred = MetaTensor(torch.as_tensor(mask[None], dtype=torch.float32), affine=affine)
    image = MetaTensor(torch.rand(1, 200, 140), affine=affine, meta=dict(meta))
    writer = SaveHeadMeasurementsd("pred")
    out = writer({"pred": pred, "original_image": image, "case": _case(tmp_path, "005_HC.png")})
    assert set(out["outputs"]) == {"measurements", "overlay"}
    doc = json.loads((tmp_path / "out" / "005_HC_measurements.json").read_text())
    assert doc["head_found"] and doc["units"] == "mm" and doc["source"] == "005_HC.png" and doc["case"] == "005_HC"
    assert doc["head_circumference_mm"] == pytest.approx(ramanujan_circumference(9.0, 6.0), rel=0.01)
    assert doc["biparietal_diameter_mm"] == pytest.approx(12.0, rel=0.02)
    assert doc["occipitofrontal_diameter_mm"] == pytest.approx(18.0, rel=0.02)
    assert set(doc["ellipse"]) == {"center_x_mm", "center_y_mm", "semi_axis_a_mm", "semi_axis_b_mm", "angle_rad"}
    assert (tmp_path / "out" / "005_HC_overlay.png").is_file()
    # a frame without a head and one without spacing are left out of the CSV and listed
    empty = MetaTensor(torch.zeros(1, 200, 140), affine=affine)
    writer({"pred": empty, "original_image": image, "case": _case(tmp_path, "006_HC.png")})
    px_image = MetaTensor(image.clone(), meta={"spacing_units": "pixel"})
    writer({"pred": MetaTensor(pred.clone()), "original_image": px_image, "case": _case(tmp_path, "007_HC.png")})
    doc_px = json.loads((tmp_path / "out" / "007_HC_measurements.json").read_text())
    assert doc_px["units"] == "pixel" and "head_circumference_px" in doc_px and "pixels" in doc_px["note"]
    summary = write_hc18_csv(tmp_path / "out")
    rows = list(csv.reader((tmp_path / "out" / "hc18_ellipses.csv").open()))
    assert tuple(rows[0]) == HC18_CSV_HEADER
    assert [r[0] for r in rows[1:]] == ["005_HC.png"]
    values = dict(zip(rows[0][1:], map(float, rows[1][1:])))
    assert values["center_x_mm"] == pytest.approx(15.0, abs=0.1)
    assert values["center_y_mm"] == pytest.approx(10.5, abs=0.1)
    assert sorted([values["semi_axes_a_mm"], values["semi_axes_b_mm"]]) == pytest.approx([6.0, 9.0], rel=0.02)
    assert summary["no_head"] == ["006_HC.png"] and summary["no_spacing"] == ["007_HC.png"]


def test_outline_offset_moves_the_fitted_ellipse_inwards(tmp_path):
    """A mask drawn 1.5 px outside an ellipse (a filled annotation keeps its line) measures the ellipse itself once
    the offset is taken off: the circumference by 2 pi x 1.5 px less, the centre and angle unchanged."""
    spacing = (0.1, 0.1)
    a, b, theta = 30.0, 20.0, 0.5
    grown = ellipse_mask((800, 540), (40.0, 27.0), a + 0.15, b + 0.15, theta, spacing)
    plain, moved = fit_head_ellipse(grown, spacing), fit_head_ellipse(grown, spacing, outline_offset_mm=0.15)
    assert plain["head_circumference_mm"] - moved["head_circumference_mm"] == pytest.approx(
        2 * math.pi * 0.15, rel=0.02
    )
    assert moved["head_circumference_mm"] == pytest.approx(ramanujan_circumference(a, b), rel=0.002)
    assert sorted([moved["semi_axis_a_mm"], moved["semi_axis_b_mm"]]) == pytest.approx([b, a], abs=0.02)
    assert (moved["center_x_mm"], moved["angle_rad"]) == (plain["center_x_mm"], plain["angle_rad"])
    assert moved["outline_offset_mm"] == 0.15
    assert fit_head_ellipse(grown, spacing, outline_offset_mm=25.0) is None  # an offset beyond the short axis
    with pytest.raises(ValueError, match="outline_offset_mm"):
        fit_head_ellipse(grown, spacing, outline_offset_mm=-1.0)
    # the same offset from pixels of the network's grid, for HC18's 800 x 540 frame seen at 384 x 256
    offset = head_outline_offset_mm((800, 540), spacing, 0.15 / 0.1 / np.mean([800 / 384, 540 / 256]), (384, 256))
    assert offset == pytest.approx(0.15)
    reference = ramanujan_circumference(a, b)
    scored = score_head_case(grown, grown, spacing, reference, outline_offset_mm=offset)
    assert scored["dice"] == 1.0 and abs(scored["hc_diff_mm"]) < 0.2
    assert score_head_case(grown, grown, spacing, reference)["hc_diff_mm"] == pytest.approx(0.94, abs=0.05)
    # the writer takes it in the network's pixels and records it
    affine = torch.diag(torch.tensor([*spacing, 1.0, 1.0], dtype=torch.float64))
    image = MetaTensor(torch.rand(1, 800, 540), affine=affine, meta={"spacing_units": "mm"})
    pred = MetaTensor(torch.as_tensor(grown[None], dtype=torch.float32), affine=affine)
    (tmp_path / "out").mkdir()
    px = 0.15 / 0.1 / np.mean([800 / 384, 540 / 256])
    writer = SaveHeadMeasurementsd("pred", write_overlay=False, outline_offset=px, network_size=(384, 256))
    writer({"pred": pred, "original_image": image, "case": _case(tmp_path, "001_HC.png")})
    doc = json.loads((tmp_path / "out" / "001_HC_measurements.json").read_text())
    assert doc["head_circumference_mm"] == pytest.approx(reference, rel=0.002)
    assert doc["outline_offset_mm"] == pytest.approx(0.15, abs=1e-4)


def test_overlay_draws_the_fitted_ellipse(tmp_path):
    from PIL import Image

    from cranialseg.io.overlays import save_head_overlay

    spacing = (0.2, 0.2)
    mask = ellipse_mask((160, 120), (16.0, 12.0), 10.0, 6.0, 0.0, spacing)  # centre at pixel (80, 60)
    path = save_head_overlay(np.zeros((1, 160, 120)), mask[None], tmp_path / "o.png", spacing=spacing)
    rgb = np.asarray(Image.open(path))
    factor = rgb.shape[0] // 120
    assert rgb.shape[:2] == (120 * factor, 160 * factor)  # rows = y, columns = x, enlarged
    rows, cols = np.nonzero(np.all(rgb == (255, 0, 255), axis=-1))  # the ellipse in magenta
    assert len(rows) > 100
    assert cols.mean() / factor - 0.5 == pytest.approx(80, abs=1.0)
    assert rows.mean() / factor - 0.5 == pytest.approx(60, abs=1.0)
    assert (cols.max() - cols.min()) / factor == pytest.approx(2 * 10.0 / 0.2, abs=2.0)  # long axis along x


@pytest.mark.parametrize(
    "name", ["cranialseg.metrics.ellipse", "cranialseg.metrics.fetal_head", "cranialseg.transforms.pixel_spacing"]
)
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0 and result.failed == 0


def test_evaluation_overlay_draws_the_measured_ellipse(tmp_path):
    """HeadEvaluationReport's best/worst overlays draw the ellipse it measures: the outline offset taken off."""
    from PIL import Image

    from cranialseg.handlers.head_evaluation_report import HeadEvaluationReport

    spacing = (0.2, 0.2)
    mask = ellipse_mask((160, 120), (16.0, 12.0), 10.0, 6.0, 0.0, spacing)
    widths = {}
    for px in (0.0, 10.0):  # 10 px of the frame itself (network_size None): 2 mm off each semi-axis
        report = HeadEvaluationReport(tmp_path / str(px), num_overlays=1, outline_offset=px)
        for name in ("a", "b"):
            report.add_case(name, np.zeros((1, 160, 120)), mask[None], mask[None], spacing, None)
        summary = report.write()
        rgb = np.asarray(Image.open(summary["overlays"]["best"][0]["path"]))
        cols = np.nonzero(np.all(rgb == (255, 0, 255), axis=-1))[1]
        widths[px] = (cols.max() - cols.min()) / (rgb.shape[0] // 120)
    assert widths[0.0] == pytest.approx(2 * 10.0 / 0.2, abs=2.0)
    assert widths[0.0] - widths[10.0] == pytest.approx(2 * 2.0 / 0.2, abs=2.0)


@pytest.mark.parametrize(
    "offset,size,match",
    [
        (-1, None, "head_outline_offset"),
        ("x", None, "head_outline_offset"),
        (0.5, (384,), "network_size"),
        (0.5, (384, 0), "network_size"),
    ],
)
def test_outline_offset_settings_are_checked_where_they_are_given(tmp_path, offset, size, match):
    from cranialseg.handlers.head_evaluation_report import HeadEvaluationReport

    with pytest.raises(ValueError, match=match):
        SaveHeadMeasurementsd("pred", outline_offset=offset, network_size=size)
    with pytest.raises(ValueError, match=match):
        HeadEvaluationReport(tmp_path, outline_offset=offset, network_size=size)
