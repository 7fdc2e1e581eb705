"""Ultrasound DICOM (grey, RGB, YBR JPEG, palette; frames and cines) and PNG/JPEG screen captures."""

from __future__ import annotations

import zipfile

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_color_lut

from cranialseg.io import load_image
from tests.io.builders import deid_ultrasound

BT601 = np.array([0.299, 0.587, 0.114], np.float32)


def test_rgb_frame_becomes_bt601_luma_in_x_y_order():
    path = get_testdata_file("US1_UNCR.dcm")
    array, meta = load_image(path)
    rgb = pydicom.dcmread(path).pixel_array.astype(np.float32)
    assert array.shape == (640, 480)  # (x, y) = (columns, rows)
    np.testing.assert_allclose(array, (rgb @ BT601).T, atol=1e-3)
    assert meta["modality"] == "US" and meta["spatial_dims"] == 2 and meta["num_frames"] == 1
    assert meta["spacing_source"].startswith("none") and "1 mm" in meta["geometry_fixes"][0]
    np.testing.assert_array_equal(meta["affine"], np.eye(4))


def test_palette_colour_with_region_calibration():
    path = get_testdata_file("OBXXXX1A.dcm")
    array, meta = load_image(path)
    ds = pydicom.dcmread(path)
    rgb = apply_color_lut(ds.pixel_array, ds).astype(np.float32) / 257.0
    np.testing.assert_allclose(array, (rgb @ BT601).T, atol=1e-3)
    region = ds.SequenceOfUltrasoundRegions[0]
    assert meta["spacing_source"].startswith("SequenceOfUltrasoundRegions")
    np.testing.assert_allclose(meta["spacing"], [10 * region.PhysicalDeltaX, 10 * region.PhysicalDeltaY])


def test_ybr_jpeg_cine_is_x_y_frames():
    path = get_testdata_file("examples_ybr_color.dcm")  # 30 frames, YBR_FULL_422, JPEG baseline
    array, meta = load_image(path)
    assert array.shape == (320, 240, 30) and meta["num_frames"] == 30 and meta["spatial_dims"] == 2
    rgb = pydicom.dcmread(path).pixel_array.astype(np.float32)  # pydicom's own YBR -> RGB
    luma_from_rgb = np.moveaxis(rgb @ BT601, 0, -1).transpose(1, 0, 2)
    assert np.abs(array - luma_from_rgb).mean() < 1.0  # Y kept directly; RGB round trip only adds rounding
    assert "Y channel" in meta["conversions"][0]


def test_long_jpeg_cine_frame_order():
    path = get_testdata_file("color3d_jpeg_baseline.dcm")  # 120 frames
    array, _ = load_image(path)
    y = pydicom.pixels.pixel_array(pydicom.dcmread(path), as_rgb=False, index=57)[..., 0]
    assert array.shape == (640, 480, 120)
    np.testing.assert_array_equal(array[..., 57], y.T)


def test_greyscale_cine_from_deid_data(tmp_path):
    with zipfile.ZipFile(deid_ultrasound("GREYSCALE_CINE.zip")) as zf:
        zf.extractall(tmp_path)
    path = tmp_path / "GREYSCALE_CINE.dcm"
    array, meta = load_image(path)
    frames = pydicom.dcmread(path).pixel_array
    assert frames.shape == (27, 600, 800) and array.shape == (800, 600, 27)
    np.testing.assert_array_equal(array[..., 26], frames[26].T)
    assert meta["spacing_source"].startswith("SequenceOfUltrasoundRegions")


@pytest.mark.parametrize(
    "name,spacing,source",
    [("GREYSCALE_IMAGE.dcm", 0.064904689685, "Sequence"), ("RGB_IMAGE.dcm", 0.237872, "PixelSpacing")],
)
def test_deid_frames_spacing(name, spacing, source):
    array, meta = load_image(deid_ultrasound(name))
    assert array.shape == (1024, 768)
    assert meta["spacing_source"].startswith(source)
    np.testing.assert_allclose(meta["spacing"], [spacing, spacing], rtol=1e-6)
    np.testing.assert_allclose(np.diag(meta["affine"]), [spacing, spacing, 1, 1], rtol=1e-6)


def test_rgb_png_and_jpeg(tmp_path):
    rgb = np.zeros((5, 7, 3), np.uint8)
    rgb[1, 2] = (255, 0, 0)
    rgb[3, 6] = (10, 200, 30)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    array, meta = load_image(tmp_path / "a.png", pixel_spacing=(0.2, 0.3))
    assert array.shape == (7, 5)
    np.testing.assert_allclose(array, (rgb.astype(np.float32) @ BT601).T, atol=1e-3)
    np.testing.assert_allclose(np.diag(meta["affine"]), [0.2, 0.3, 1, 1])
    Image.fromarray(rgb).save(tmp_path / "a.jpg", quality=95)
    jpeg, meta_j = load_image(tmp_path / "a.jpg")
    assert jpeg.shape == (7, 5) and meta_j["geometry_fixes"] == ["no pixel calibration: 1 mm pixels assumed"]
    grey16 = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000).astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "g.png")
    np.testing.assert_array_equal(load_image(tmp_path / "g.png")[0], grey16.T.astype(np.float32))


def test_neonatal_screen_capture(shared_data):
    files = sorted((shared_data / "neonatal_cranial_us" / "StandardViews").rglob("*.png"))
    files += sorted((shared_data / "neonatal_cranial_us" / "StandardViews").rglob("*.jpg"))
    assert files, "no screen captures found"
    path = files[0]
    array, meta = load_image(path)
    with Image.open(path) as img:
        w, h = img.size
        rgb = np.asarray(img.convert("RGB"), np.float32)
    assert array.shape == (w, h) and (w, h) in {(1442, 898), (850, 648)}
    np.testing.assert_allclose(array, (rgb @ BT601).T, atol=1e-3)
    assert meta["spacing_source"].startswith("none")
